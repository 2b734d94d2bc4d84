"""The harness's generation side of the loop: render + label + caption for generators (with an
observation cache), one round of a generator, and a worker process that runs an open-loop
generator's rounds ahead of the learner.

Why a worker: open-loop generators never read the learner, so round r+1's scenes do not depend on
training on round r. :class:`GenerationWorker` runs such a generator (its own backend, same seed and
state) in a separate process up to ``depth`` rounds ahead and hands the loop each round's samples,
cost and generator state; the loop trains, evaluates and checkpoints exactly as it does inline. Both
paths take their rounds from :func:`generate_rounds`, and the generator's random stream is the same,
so the samples are the same, in the same order
(tests/test_pipelining.py compares whole records). Closed-loop generators stay inline: their rounds
depend on feedback about the newest data, and their queries on the newest learner.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rls3_bench.errors import UserError
from rls3_bench.generator import (
    BudgetViolation,
    Cost,
    Generator,
    Rendered,
    RoundContext,
    RoundTimeout,
    Stage,
    sample_digest,
)
from rls3_bench.harness.seeds import int_seed
from rls3_bench.labels.sample import Sample
from rls3_bench.learners.base import Feedback

#: observations kept by a harness's cache; a 128-px observation is ~70 kB, so ~20 MB at most
CACHE_SIZE = 256

#: scenes a generator may render per round, as a multiple of the round size (docs/generators.md)
RENDERS_PER_SAMPLE = 50
#: default wall time of a round: this many seconds per sample of the round, at least MIN_ROUND_SECONDS
#: (``rls3-bench run --round-seconds`` sets another)
SECONDS_PER_SAMPLE = 2.0
MIN_ROUND_SECONDS = 60.0
#: the counters a generator may report through ``extra_cost()``; the record has a field for each
EXTRA_COST_KEYS = ("rl_env_steps", "rl_updates")


class GeneratorFailure(RuntimeError):
    """A generator raised an exception of its own; its cell is recorded as failed with the reason."""


@dataclass(frozen=True)
class GenerationLimits:
    """What one round of a generator may spend: ``renders_per_sample`` x the round size in renders,
    and ``round_seconds`` of wall time (None: :data:`SECONDS_PER_SAMPLE` x the round size, at least
    :data:`MIN_ROUND_SECONDS`)."""

    renders_per_sample: int = RENDERS_PER_SAMPLE
    round_seconds: float | None = None

    def seconds(self, n_samples: int) -> float:
        if self.round_seconds is not None:
            return self.round_seconds
        return max(MIN_ROUND_SECONDS, SECONDS_PER_SAMPLE * n_samples)


def generator_seed(run_seed: int, generator_name: str) -> int:
    """Each generator gets its own stream per run seed (no two generators share samples by accident)."""
    return int_seed("generator", run_seed, zlib.crc32(generator_name.encode()))


def make_generator(cls: type[Generator], seed: int, track_config: dict, config: dict | None = None) -> Generator:
    """``cls`` for run seed ``seed``; a UserError (a bad config) passes through, any other failure of its
    constructor is a GeneratorFailure naming it."""
    try:
        return cls(seed=generator_seed(seed, cls.name), config={**track_config.get(cls.name, {}), **(config or {})})
    except (UserError, MemoryError):
        raise
    except BaseException as exc:  # noqa: B036 - sys.exit and a stray KeyboardInterrupt included, as in a round
        raise GeneratorFailure(
            f"{cls.name} raised {type(exc).__name__} when made for seed {seed}: {_one_line(exc)}"
        ) from None


class Harness:
    """Renders, labels and captions for generators, counting cost into ``self.cost``.

    Observations are cached by the spec's digest (LRU, :data:`CACHE_SIZE`), for generators that
    propose a scene again and duplicates within a ``render_many`` batch (no built-in repeats a spec:
    0 hits measured, docs/performance.md). Backends are deterministic per spec, so a hit returns what
    a render would; it still counts as a rendered scene (the generator asked for it), with its
    seconds saved and ``render_cache_hits`` counted.
    """

    def __init__(self, backend, cost: Cost, cache_size: int | None = None, labeller: int = 1, world: int = 1) -> None:
        from rls3_bench.labels.relations import LABELLERS
        from rls3_bench.scene.worlds import WORLDS

        self.backend = backend
        self.cost = cost
        self.cfg = LABELLERS[labeller]
        self.world = WORLDS[world]
        self.cache_size = CACHE_SIZE if cache_size is None else cache_size
        self._cache: OrderedDict[str, object] = OrderedDict()

    @classmethod
    def for_track(cls, backend, track) -> Harness:
        """A harness that labels with the track's labeller and holds generators to its world."""
        return cls(backend, Cost(), labeller=track.labeller, world=track.world)

    def _observe_all(self, specs) -> list:
        """Observations of ``specs`` in order: cached ones from the cache, the rest rendered in one
        batch (on the render workers when the backend is a :class:`rls3_bench.backends.render_pool.RenderPool`)."""
        keys = [s.digest() for s in specs]
        todo = {}
        for key, spec in zip(keys, specs, strict=True):
            if key not in self._cache and key not in todo:
                todo[key] = spec
        self.cost.render_cache_hits += len(keys) - len(todo)
        if todo:
            t0 = time.perf_counter()
            many = getattr(self.backend, "observe_many", None)
            fresh = many(list(todo.values())) if many is not None else [self.backend.observe(s) for s in todo.values()]
            self.cost.seconds[Stage.RENDER] += time.perf_counter() - t0
            for key, obs in zip(todo, fresh, strict=True):
                self._cache[key] = obs
        out = [self._cache[key] for key in keys]
        for key in keys:
            self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return out

    def render(self, spec, pair: tuple[int, int] | None = None) -> Rendered:
        return self.render_many([spec], [pair])[0]

    def render_many(self, specs, pairs) -> list[Rendered]:
        from rls3_bench.labels.captions import make_sample
        from rls3_bench.labels.relations import label_scene

        out = []
        for spec, pair, obs in zip(specs, pairs, self._observe_all(specs), strict=True):
            self.cost.scenes_rendered += 1
            t1 = time.perf_counter()
            samples: tuple[Sample, ...] = ()
            reason = obs.invalid_reason
            if obs.valid:
                labels = [p for p in label_scene(obs, self.cfg) if p.captionable]
                if pair is not None:
                    labels = [p for p in labels if (p.a, p.b) == tuple(pair)]
                samples = tuple(make_sample(obs, p) for p in labels)
                for s in samples:  # a generator cannot change the pixels in place by accident
                    s.image.flags.writeable = False
                if not samples:
                    reason = "requested pair not captionable" if pair is not None else "no captionable pair"
            if not samples:
                self.cost.invalid_scenes += 1
            self.cost.seconds[Stage.LABEL_CAPTION] += time.perf_counter() - t1
            out.append(
                Rendered(
                    spec=spec, valid=bool(samples), reason=None if samples else reason, samples=samples, observation=obs
                )
            )
        return out


@dataclass
class RoundOutput:
    """One generated round, as the loop consumes it (picklable: it crosses from the worker)."""

    delivered: list[Sample]
    cost: Cost  # this round's generation cost only (the loop adds it up)
    generator_state: dict  # the generator's state_dict after the round (for checkpoints)
    renderer: str  # the backend's renderer, recorded with the run
    extra_cost: dict = field(default_factory=dict)
    history: list = field(default_factory=list)


def produce_round(
    gen: Generator,
    harness: Harness,
    r: int,
    n_samples: int,
    previous_feedback=None,
    query_fn=None,
    limits: GenerationLimits | None = None,
) -> RoundOutput:
    """Run ``gen`` for round ``r`` against ``harness`` (whose cost is reset to this round's).

    Everything the generator's code does (the round, ``state_dict``, ``extra_cost``, ``history``) is
    contained: its exceptions, ``sys.exit`` and stray ``KeyboardInterrupt`` become a
    :class:`GeneratorFailure` naming it, which fails its cell only; the harness's own failures (the
    backend, the learner) and the user's Ctrl-C pass through unchanged.
    """
    limits = limits or GenerationLimits()
    seconds = limits.seconds(n_samples)
    cost = harness.cost = Cost()
    t0 = time.perf_counter()
    ctx = RoundContext(
        r,
        n_samples,
        previous_feedback,
        harness.render,
        query_fn,
        cost,
        harness.render_many,
        max_renders=limits.renders_per_sample * n_samples,
        deadline=time.monotonic() + seconds,
        world=harness.world,
    )
    name = type(gen).name
    with _contained(name, r, ctx, seconds):
        gen.generate_round(ctx)
        if ctx.remaining:
            raise BudgetViolation(f"round {r} delivered {len(ctx.delivered)} of {n_samples} samples")
        for s in ctx.delivered:  # changed after delivery, before the round ended
            ctx.check_unchanged(s)
        state = _json_state(name, gen.state_dict())
        extra = _extra_cost(name, gen.extra_cost())
        history = list(getattr(gen, "history", []))
    # what the generator spent outside rendering, labelling and queries is its own (agent) time
    harness_seconds = sum(cost.seconds[k] for k in (Stage.RENDER, Stage.LABEL_CAPTION, Stage.FEEDBACK))
    cost.seconds[Stage.AGENT] += max(time.perf_counter() - t0 - harness_seconds, 0.0)
    return RoundOutput(list(ctx.delivered), cost, state, harness.backend.renderer, extra, history)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


@contextlib.contextmanager
def _contained(name: str, r: int, ctx: RoundContext, seconds: float):
    """Run a generator's code for round ``r``: its failures become one-line BudgetViolation or
    GeneratorFailure naming it (see :func:`produce_round`), and it stops after ``seconds``."""
    interrupts = {"user": False}
    try:
        with _signals(interrupts, seconds):
            yield
    except BudgetViolation as exc:
        raise BudgetViolation(f"{name}: {exc}") from None
    except (GeneratorFailure, MemoryError):
        raise  # MemoryError: the machine's problem, not the generator's; re-running resumes the cell
    except RoundTimeout:
        raise GeneratorFailure(
            f"{name}: round {r} took longer than its limit of {seconds:g} s; make the generator faster, "
            "or raise the limit with `rls3-bench run --round-seconds`"
        ) from None
    except KeyboardInterrupt as exc:
        if interrupts["user"] or exc is ctx.harness_error:
            raise  # the user's Ctrl-C (or a stop signal): the run stops and resumes later
        raise GeneratorFailure(
            f"{name} raised KeyboardInterrupt in round {r} (no Ctrl-C was pressed); a generator must not "
            "raise KeyboardInterrupt"
        ) from None
    except SystemExit as exc:
        raise GeneratorFailure(
            f"{name} called sys.exit({exc.code!r}) in round {r}; a generator must return or raise, "
            "never exit the process"
        ) from None
    except BaseException as exc:
        if exc is ctx.harness_error:
            raise  # the backend's or learner's failure, not the generator's
        # a bug in the generator (OSError included: its own files) fails its cell; the other cells go on
        raise GeneratorFailure(f"{name} raised {type(exc).__name__} in round {r}: {_one_line(exc)}") from None


@contextlib.contextmanager
def _signals(interrupts: dict, seconds: float):
    """In the main thread: SIGINT/SIGTERM set ``interrupts["user"]`` before their usual handler runs,
    so a KeyboardInterrupt from the user is told apart from one the generator raised, and a SIGALRM
    after ``seconds`` raises RoundTimeout wherever the generator is (even asleep), unless the process
    runs a timer of its own, which this leaves alone. Every ctx call also checks the time limit
    (RoundContext.check_time), which is what holds outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise RoundTimeout

    def marking(previous):
        def handler(signum, frame):
            interrupts["user"] = True
            return previous(signum, frame)

        return handler

    timer = signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            if callable(saved[sig]):
                signal.signal(sig, marking(saved[sig]))
        if timer:
            signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _json_state(name: str, state) -> dict:
    """``state`` if checkpoints can store it (a JSON object), else a GeneratorFailure saying why."""
    from rls3_bench.data.atomic import canonical_json

    try:
        if not isinstance(state, dict):
            raise TypeError(f"it returned a {type(state).__name__}, not a dict")
        canonical_json(state)
    except (TypeError, ValueError, RecursionError) as exc:
        raise GeneratorFailure(
            f"{name}.state_dict() is not JSON ({_one_line(exc)}); return a dict of str, numbers, bools, "
            "None, lists and dicts with str keys (no sets, tuples of objects, arrays or NaN)"
        ) from None
    return state


def _extra_cost(name: str, extra) -> dict:
    """``extra`` if every key is a counter the record holds and every value a count, else a GeneratorFailure."""
    if not isinstance(extra, dict):
        raise GeneratorFailure(f"{name}.extra_cost() returned a {type(extra).__name__}; return a dict of counters")
    for key, value in extra.items():
        if key not in EXTRA_COST_KEYS:
            raise GeneratorFailure(
                f"{name}.extra_cost() reports {key!r}, which the record has no field for; report only "
                f"{', '.join(EXTRA_COST_KEYS)} there and anything else in the generator's history"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise GeneratorFailure(f"{name}.extra_cost()[{key!r}] is {value!r}; it must be a count (an int >= 0)")
    return dict(extra)


def eval_fence(items) -> frozenset[str]:
    """Sample ids and content digests of an eval set's items, which no generator may deliver."""
    return frozenset(s.sample_id for s in items) | frozenset(sample_digest(s) for s in items)


def refuse_eval_items(name: str, r: int, delivered, fence: frozenset[str]) -> None:
    """A BudgetViolation if a delivered sample is an eval item (same scene and pair, or same content)."""
    for s in delivered:
        if s.sample_id in fence or sample_digest(s) in fence:
            raise BudgetViolation(
                f"{name}: round {r} delivered sample {s.sample_id}, which is an item of the track's eval set; "
                "a generator must not train the learner on the test set"
            )


def generate_rounds(
    gen: Generator,
    harness: Harness,
    start_round: int,
    n_rounds: int,
    n_samples: int,
    previous_feedback: Callable[[], Feedback | None] | None = None,
    query_fn=None,
    limits: GenerationLimits | None = None,
) -> Iterator[RoundOutput]:
    """The one round source: rounds ``start_round..n_rounds-1`` of ``gen``, each made when it is asked
    for. The loop iterates it inline; the generation worker iterates it in its own process.
    ``previous_feedback`` is called as each round starts (closed loop: the learner's feedback on the
    round before, which the loop computes between rounds)."""
    for r in range(start_round, n_rounds):
        yield produce_round(
            gen, harness, r, n_samples, previous_feedback() if previous_feedback else None, query_fn, limits
        )


def rounds_with_frozen_learner(
    gen: Generator, track, learner=None, backend_options: dict | None = None
) -> Iterator[tuple[RoundOutput, Feedback | None]]:
    """What ``gen`` delivers, round by round in the track's round size as in a run, with ``learner``
    answering its queries and giving its feedback but never trained (None: no learner, for an
    open-loop generator): each round with the learner's feedback on it, without end (``rls3-bench
    export --generator``). Close it (or run it out of scope) to close its backend."""
    feedback = None
    with open_backend(track, backend_options) as backend:
        rounds = generate_rounds(
            gen,
            Harness.for_track(backend, track),
            0,
            sys.maxsize,
            track.round_size,
            lambda: feedback,
            learner.feedback if learner is not None else None,
        )
        for out in rounds:
            feedback = learner.feedback(out.delivered) if learner is not None else None
            yield out, feedback


def track_backend_options(track, backend_options: dict | None = None) -> dict:
    """The keyword arguments the track's backend is made with: the track's image size, renderer and
    (embedded backend only: other backends decide validity in their own simulator) validity rules,
    then the run's own options."""
    options = {"image_size": track.image_size, "renderer": track.renderer}
    if track.backend == "embedded" and track.validity_version != 1:
        options["validity_version"] = track.validity_version
    return {**options, **(backend_options or {})}


def open_backend(track, backend_options: dict | None = None, render_workers: int = 1):
    """The cell's simulator: the track's backend, or a pool of ``render_workers`` of them."""
    from rls3_bench.backends import get_backend_class

    options = track_backend_options(track, backend_options)
    if render_workers == 1:
        return get_backend_class(track.backend)(**options)
    if track.backend != "embedded":
        raise UserError(
            f"--render-workers {render_workers} needs the embedded backend (each {track.backend} player takes a "
            "port of its own); run cells side by side with --workers instead"
        )
    from rls3_bench.backends.render_pool import RenderPool

    return RenderPool(render_workers, track.backend, **options)


def can_run_ahead(cls: type[Generator]) -> bool:
    """Open loop, all state in ``state_dict`` (a generator with files of its own stays inline), and
    importable by a fresh process (a class defined inside a function is not)."""
    import pickle

    if cls.closed_loop or cls.save_extra is not Generator.save_extra or cls.load_extra is not Generator.load_extra:
        return False
    try:
        pickle.dumps(cls)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


class _Stop(BaseException):
    """The generation worker's loop process is gone (killed outright): unwind through the backend's
    close (and its render workers') and exit."""


def _worker_main(
    queue,
    track_dict: dict,
    cls: type[Generator],
    seed: int,
    config: dict | None,
    state: dict | None,
    start_round: int,
    n_rounds: int,
    backend_options: dict | None,
    render_workers: int,
    limits: GenerationLimits | None = None,
) -> None:
    """The worker process: generate rounds ``start_round..n_rounds-1`` into ``queue``, then "done"."""
    import os
    import queue as queue_mod
    import signal

    from rls3_bench.harness.tracks import track_from_dict

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the loop's process stops this one on Ctrl-C
    parent = os.getppid()

    def put(item) -> None:
        while True:  # a full queue whose reader was killed (kill -9) must not keep this process forever
            try:
                return queue.put(item, timeout=0.5)
            except queue_mod.Full:
                if os.getppid() != parent:
                    raise _Stop from None

    try:
        try:
            track = track_from_dict(track_dict)
            gen = make_generator(cls, seed, track.generator_config, config)
            if state is not None:
                gen.load_state_dict(state)
            with open_backend(track, backend_options, render_workers) as backend:
                for out in generate_rounds(
                    gen,
                    Harness.for_track(backend, track),
                    start_round,
                    n_rounds,
                    track.round_size,
                    limits=limits,
                ):
                    put(("round", out))
            put(("done", None))
        except _Stop:
            raise
        except (BudgetViolation, GeneratorFailure) as exc:
            put((type(exc).__name__, str(exc)))
        except BaseException as exc:  # anything else is re-raised in the loop's process with its message
            put(("error", f"{type(exc).__name__}: {exc}"))
        # Stay until the loop stops this process (GenerationWorker.__exit__), so the queue's feeder
        # thread can hand over the last rounds however slowly they are read; leave if the loop is gone.
        while os.getppid() == parent:
            time.sleep(0.2)
    except _Stop:
        pass
    os._exit(0)


class GenerationWorker:
    """An open-loop generator's rounds, made ``depth`` rounds ahead in a spawned process.

    Use as a context manager; :meth:`next_round` returns rounds in order. The process is stopped on
    exit whatever happens (it holds only its own backend, nothing on disk).
    """

    POLL_SECONDS = 1.0

    def __init__(
        self,
        track_dict: dict,
        cls: type[Generator],
        seed: int,
        config: dict | None,
        state: dict | None,
        start_round: int,
        n_rounds: int,
        backend_options: dict | None = None,
        render_workers: int = 1,
        depth: int = 2,
        limits: GenerationLimits | None = None,
    ) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # never fork a process that holds torch threads
        self._queue = ctx.Queue(maxsize=depth)
        # not a daemon: it may start render workers of its own; __exit__ stops it in every case, and it
        # exits by itself if this process is killed outright
        self._proc = ctx.Process(
            target=_worker_main,
            name="rls3-generation",
            args=(
                self._queue,
                track_dict,
                cls,
                seed,
                config,
                state,
                start_round,
                n_rounds,
                backend_options,
                render_workers,
                limits,
            ),
        )

    def __enter__(self) -> GenerationWorker:
        self._proc.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._proc.is_alive():
            self._proc.terminate()  # its render workers, if any, exit with it (tests/test_render_pool.py)
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._queue.close()
        self._queue.cancel_join_thread()

    def __iter__(self) -> GenerationWorker:
        return self

    def __next__(self) -> RoundOutput:
        return self.next_round()

    def next_round(self) -> RoundOutput:
        import queue as queue_mod

        while True:
            try:
                kind, payload = self._queue.get(timeout=self.POLL_SECONDS)
                break
            except queue_mod.Empty:
                if not self._proc.is_alive():
                    raise UserError(
                        f"the generation worker process died (exit code {self._proc.exitcode}); "
                        "re-run the same command to resume the cell"
                    ) from None
        if kind == "round":
            return payload
        if kind == "BudgetViolation":
            raise BudgetViolation(payload)
        if kind == "GeneratorFailure":
            raise GeneratorFailure(payload)
        raise RuntimeError(f"generation worker: {payload}" if kind == "error" else "generation worker finished early")
