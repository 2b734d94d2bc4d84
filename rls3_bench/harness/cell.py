"""The RLS3 loop for one cell (track x generator x seed): rounds of generation -> captioning ->
learner feedback -> fine-tuning, with evaluation at every budget of the ladder.

Every generator runs under the same schedule: rounds of ``track.round_size`` samples, each
fine-tuned on for ``track.epochs_per_round`` passes in batches of ``recipe.batch_size``, in an order
drawn from the ``learner`` seed stream (shared by all generators of a seed, so runs are paired).
The learner starts from the same base weights with the same seed for every generator, and is
evaluated on the frozen test set at budget 0 and at each ladder budget. So one run per (generator,
seed) gives the whole accuracy-vs-samples curve, comparable point by point.

The loop is resumable: after each round it writes a checkpoint (learner, generator, costs, curve),
and :func:`run_cell` continues from the newest complete one. :class:`Cell` holds the loop's steps.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rls3_bench.analysis.blind import AXES
from rls3_bench.analysis.metrics import item_rows, slice_accuracies, summarize
from rls3_bench.data.atomic import atomic_write_json
from rls3_bench.errors import UserError
from rls3_bench.generator import BudgetViolation, Cost, Generator, Stage, get_generator_class
from rls3_bench.harness.generation import (
    GenerationLimits,
    GenerationWorker,
    GeneratorFailure,
    Harness,
    RoundOutput,
    can_run_ahead,
    eval_fence,
    generate_rounds,
    make_generator,
    open_backend,
    refuse_eval_items,
)
from rls3_bench.harness.seeds import int_seed, rng_for
from rls3_bench.harness.tracks import Track
from rls3_bench.labels.sample import TERMS, Sample, png_bytes
from rls3_bench.learners.base import Feedback

CHECKPOINT_SCHEMA = 1
#: delivered samples kept per run (one from each of the first rounds) for the gallery figure
GALLERY_SIZE = 4


def make_learner(track: Track, seed: int, device: str | None = None):
    from rls3_bench.learners import get_learner_class

    cls = get_learner_class(track.learner)
    return cls(
        track.model, track.weights, dict(track.recipe), device=device or track.device, seed=int_seed("learner", seed)
    )


@dataclass
class CellResult:
    """Everything one (track, generator, seed) run produced; the runner stores it as the RunRecord."""

    track: str
    generator: str
    generator_name: str
    seed: int
    curve: list[dict] = field(default_factory=list)  # one summary per evaluated budget (0 first)
    predictions: dict[int, list[dict]] = field(default_factory=dict)  # budget -> per-item predictions
    cost: dict = field(default_factory=dict)
    term_counts: dict[str, int] = field(default_factory=dict)  # term occurrences in the delivered data
    complexity_counts: dict[str, int] = field(default_factory=dict)
    round_log: list[dict] = field(default_factory=list)  # per round: loss, feedback error, seconds
    generator_history: list[dict] = field(default_factory=list)
    gallery: list[dict] = field(default_factory=list)  # a few delivered samples (spec + caption)
    renderer: str = ""
    pipelined: bool = False  # generation ran ahead of training in a worker process (rls3_bench.harness.generation)
    control: bool = False  # a control generator's run (Generator.control): a reference row, never ranked
    status: str = "complete"
    failure: str | None = None

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["predictions"] = {str(k): v for k, v in self.predictions.items()}
        return d

    def decided(self) -> dict:
        """What the cell decided: data, scores, losses, counters; not how it ran (timings, cache hits,
        pipelined or not). Equal for the same seed and thread count on one machine type."""
        d = {k: v for k, v in self.to_dict().items() if k not in ("cost", "round_log", "pipelined")}
        d["cost"] = {k: v for k, v in self.cost.items() if k not in ("seconds", "render_cache_hits")}
        d["round_log"] = [{k: v for k, v in r.items() if k != "seconds"} for r in self.round_log]
        return d


def _feedback_to_json(fb: Feedback | None) -> dict | None:
    if fb is None:
        return None
    return {
        "loss": fb.loss.tolist(),
        "correct": fb.correct.tolist(),
        "term_error": fb.term_error,
        "queries": fb.queries,
    }


def _feedback_from_json(d: dict | None) -> Feedback | None:
    if d is None:
        return None
    return Feedback(
        np.asarray(d["loss"], dtype=float),
        np.asarray(d["correct"], dtype=bool),
        {k: float(v) for k, v in d["term_error"].items()},
        int(d["queries"]),
    )


class Checkpoints:
    """Numbered checkpoint folders, each sealed by a ``MANIFEST.json`` of its files' SHA-256 and moved
    into place whole (temp folder + rename). The newest folder whose files match its manifest is the
    one to resume from; the one before it is kept, so a damaged newest checkpoint (a truncated file, a
    flipped bit) falls back to the previous round instead of crashing or starting over. ``LATEST``
    names the newest folder, for people reading the folder."""

    KEEP = 2
    MANIFEST = "MANIFEST.json"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def _files(cls, path: Path) -> dict[str, str]:
        import hashlib

        return {
            str(f.relative_to(path)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(path.rglob("*"))
            if f.is_file() and f.name != cls.MANIFEST
        }

    @classmethod
    def problem(cls, path: Path) -> str | None:
        """Why the checkpoint folder ``path`` cannot be resumed from, or None."""
        try:
            manifest = json.loads((path / cls.MANIFEST).read_text(encoding="utf-8"))
            files = cls._files(path)
        except (OSError, ValueError) as exc:
            return f"no readable manifest ({str(exc)[:80]})"
        if not isinstance(manifest, dict):
            return "the manifest is not a mapping"
        if manifest != files:
            bad = sorted(
                set(manifest) ^ set(files) | {k for k in set(manifest) & set(files) if manifest[k] != files[k]}
            )
            return f"files differ from the manifest: {', '.join(bad)[:120]}"
        return None

    def latest(self) -> Path | None:
        for path in sorted(self.folder.glob("round-*"), reverse=True):
            problem = self.problem(path)
            if problem is None:
                return path
            print(
                f"rls3-bench: warning: checkpoint {path} is damaged ({problem}); resuming from an earlier one",
                file=sys.stderr,
            )
        return None

    def write(self, round_index: int, write_fn: Callable[[Path], None]) -> None:
        from rls3_bench.data.atomic import atomic_write_json, atomic_write_text

        name = f"round-{round_index:05d}"
        tmp = self.folder / f".{name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir(parents=True)
            write_fn(tmp)
            atomic_write_json(tmp / self.MANIFEST, self._files(tmp))
            final = self.folder / name
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except BaseException:  # a full disk or an interrupt: leave no half-written folder behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        atomic_write_text(self.folder / "LATEST", name)
        for old in sorted(self.folder.glob("round-*"), reverse=True)[self.KEEP :]:
            shutil.rmtree(old, ignore_errors=True)


def run_cell(track: Track, generator: str, seed: int, **options) -> CellResult:
    """Run one cell to the top of ``track.budgets``; resumes from ``checkpoint_dir`` if it holds one.
    ``options`` are :class:`Cell`'s keyword arguments."""
    return Cell(track, generator, seed, **options).run()


class Cell:
    """One cell's loop as named steps: :meth:`resume`, then per round :meth:`generate_round`,
    :meth:`feedback`, :meth:`train_round`, :meth:`evaluate` (at ladder budgets) and
    :meth:`checkpoint`. :meth:`run` calls them in that order; an ExitStack owns the backend or the
    generation worker for the whole run.

    ``progress(stage, done, total)`` is called with stages "generate", "train", "eval".
    ``backend_options`` go to the backend the cell opens when ``backend`` is None (e.g. the unity
    backend's ``player``); machine-specific, so they are not part of the track; so is ``render_workers``:
    render processes for batches a generator proposes with ``ctx.render_many`` (results unchanged).
    ``pipeline``: make an open-loop generator's rounds in a worker process while the learner trains
    (:mod:`rls3_bench.harness.generation`; same records, less wall time; the CLI's ``--pipeline`` decides).
    Only when the cell opens its own backend; a given ``backend`` lives in this process, so
    generation then runs inline. Worker processes are spawned, and a spawned process re-imports the
    main module: a script that turns this (or ``render_workers``) on must keep its top-level code under
    ``if __name__ == "__main__":``.
    ``limits``: renders and seconds a generator's round may take (:class:`GenerationLimits`).
    ``learner_seed``: the seed of the learner's initialisation and data order, when it is to differ
    from ``seed`` (which then seeds the generator only): the variance study
    (:mod:`rls3_bench.analysis.variance`) varies one source at a time. Benchmark runs leave it None.
    """

    def __init__(
        self,
        track: Track,
        generator: str,
        seed: int,
        backend=None,
        learner=None,
        eval_items: list[Sample] | None = None,
        checkpoint_dir: Path | None = None,
        progress: Callable[[str, int, int], None] | None = None,
        generator_config: dict | None = None,
        backend_options: dict | None = None,
        pipeline: bool = False,
        render_workers: int = 1,
        limits: GenerationLimits | None = None,
        learner_seed: int | None = None,
    ) -> None:
        from rls3_bench.data.evalsets import load_eval_set

        self.track, self.seed = track, seed
        self.learner_seed = seed if learner_seed is None else learner_seed
        self.cls = get_generator_class(generator)
        self.gen: Generator = make_generator(self.cls, seed, track.generator_config, generator_config)
        self.generator_config = generator_config
        self.learner = learner if learner is not None else make_learner(track, self.learner_seed)
        self.items = eval_items if eval_items is not None else load_eval_set(track.eval_set, track.eval_set_hash)
        self.id_items = load_eval_set(track.id_eval_set, track.id_eval_set_hash) if track.id_eval_set else []
        self.fence = eval_fence(self.items + self.id_items)  # no generator may deliver an eval item
        self.rehearsal = self.load_rehearsal()
        self.limits = limits
        self.backend, self.backend_options, self.render_workers = backend, backend_options, render_workers
        self.pipelined = pipeline and backend is None and can_run_ahead(self.cls)
        self.progress = progress or (lambda stage, done, total: None)
        self.ckpt = Checkpoints(checkpoint_dir) if checkpoint_dir is not None else None
        self.cost = Cost()
        self.result = CellResult(
            track=track.key,
            generator=generator,
            generator_name=self.cls.name,
            seed=seed,
            renderer="",
            control=bool(self.cls.control),
            term_counts={t: 0 for t in TERMS},
            complexity_counts={"1": 0, "2": 0, "3": 0},
        )
        self.n_rounds = track.budgets[-1] // track.round_size
        self.batch_size = int(track.recipe.get("batch_size", 32))
        self.previous_feedback: Feedback | None = None
        self.start_round = 0

    def run(self) -> CellResult:
        """The cell to the top of the ladder; a generator that breaks its contract fails the cell
        (status "failed" with the reason) instead of raising."""
        resumed = self.resume()
        self.result.pipelined = self.pipelined
        # the backend (a Unity player process, maybe) or the generation worker starts last, once
        # nothing above can fail, and is closed whatever happens; a pipelined cell's backend lives in
        # its worker
        with contextlib.ExitStack() as resources:
            try:
                rounds = self.open_rounds(resources)
                if not resumed:
                    self.evaluate(0)
                for r in range(self.start_round, self.n_rounds):
                    self.run_round(r, rounds)
            except (BudgetViolation, GeneratorFailure) as exc:
                self.result.status, self.result.failure = "failed", str(exc)
        self.result.cost = self.cost.as_dict()
        return self.result

    def resume(self) -> bool:
        """Continue from the newest intact checkpoint, if any; whether there was one."""
        latest = self.ckpt.latest() if self.ckpt else None
        if latest is None:
            return False
        state = json.loads((latest / "loop.json").read_text())
        if (
            state.get("schema_version") != CHECKPOINT_SCHEMA
            or state.get("track_digest") != self.track.digest()
            or state.get("generator") != self.cls.name
            or state.get("seed") != self.seed
            or state.get("learner_seed", state.get("seed")) != self.learner_seed
        ):
            raise UserError(
                f"checkpoint {latest} belongs to another track/generator/seed or format; "
                "delete it to start this cell afresh"
            )
        self.learner.load(latest / "learner.safetensors")
        self.gen.load_state_dict(state["generator_state"])
        self.gen.load_extra(latest / "generator")
        self.cost = Cost.from_dict(state["cost"])
        self.result = CellResult(
            **{**state["result"], "predictions": {int(k): v for k, v in state["result"]["predictions"].items()}}
        )
        self.previous_feedback = _feedback_from_json(state["previous_feedback"])
        self.start_round = state["next_round"]
        return True

    def open_rounds(self, resources: contextlib.ExitStack) -> Iterator[RoundOutput]:
        """The cell's rounds from :func:`rls3_bench.harness.generation.generate_rounds`: in a worker
        process when pipelined, else here against the cell's backend."""
        if self.pipelined:
            return resources.enter_context(
                GenerationWorker(
                    self.track.to_dict(),
                    self.cls,
                    self.seed,
                    self.generator_config,
                    self.gen.state_dict(),
                    self.start_round,
                    self.n_rounds,
                    self.backend_options,
                    self.render_workers,
                    limits=self.limits,
                )
            )
        backend = self.backend
        if backend is None:
            backend = resources.enter_context(open_backend(self.track, self.backend_options, self.render_workers))
        self.result.renderer = backend.renderer
        closed = self.cls.closed_loop
        return generate_rounds(
            self.gen,
            Harness.for_track(backend, self.track),
            self.start_round,
            self.n_rounds,
            self.track.round_size,
            (lambda: self.previous_feedback) if closed else None,
            self.learner.feedback if closed else None,
            self.limits,
        )

    def run_round(self, r: int, rounds: Iterator[RoundOutput]) -> None:
        """Round ``r``: its data, feedback and training, an evaluation if a ladder budget is reached,
        the round's log line, and a checkpoint."""
        round_t0 = time.perf_counter()
        out = self.generate_round(r, rounds)
        fb_error = self.feedback(out.delivered)
        losses = self.train_round(r, out.delivered)
        budget = (r + 1) * self.track.round_size
        if budget in self.track.budgets:
            self.progress("eval", budget, self.track.budgets[-1])
            self.evaluate(budget)
        self.result.round_log.append(
            {
                "round": r,
                "budget": budget,
                "train_loss": float(np.mean(losses)),
                "feedback_error": fb_error,
                "seconds": time.perf_counter() - round_t0,
            }
        )
        self.cost.rl_env_steps = int(out.extra_cost.get("rl_env_steps", 0))
        self.cost.rl_updates = int(out.extra_cost.get("rl_updates", 0))
        self.result.cost = self.cost.as_dict()
        self.result.generator_history = list(out.history)
        self.checkpoint(r, out)

    def generate_round(self, r: int, rounds: Iterator[RoundOutput]) -> RoundOutput:
        """Processes 1-2: the round's delivered samples; counted, and the first kept for the gallery."""
        self.progress("generate", r * self.track.round_size, self.track.budgets[-1])
        t = time.perf_counter()
        out = next(rounds)
        refuse_eval_items(self.cls.name, r, out.delivered, self.fence)
        # how long the learner waited for this round's data: all of generation when inline, only
        # what the worker did not get done during the previous round's training when pipelined
        self.cost.seconds[Stage.GENERATION_WAIT] += time.perf_counter() - t
        self.cost.add(out.cost)
        self.result.renderer = out.renderer
        for s in out.delivered:
            self.result.complexity_counts[str(s.complexity)] += 1
            for term in s.terms:
                self.result.term_counts[term] += 1
        if len(self.result.gallery) < GALLERY_SIZE:
            # the image travels with the record, so figures never need the simulator
            s = out.delivered[0]
            self.result.gallery.append(
                {
                    "round": r,
                    "spec": s.spec.to_json(),
                    "caption": s.caption,
                    "sample_id": s.sample_id,
                    "png_b64": base64.b64encode(png_bytes(s.image)).decode("ascii"),
                }
            )
        return out

    def feedback(self, delivered: list[Sample]) -> float | None:
        """Process 3: a closed-loop generator's feedback on the round's data, before training on it;
        the learner's error rate on it (None when open loop)."""
        if not self.cls.closed_loop:
            return None
        t = time.perf_counter()
        self.previous_feedback = self.learner.feedback(delivered)
        self.cost.seconds[Stage.FEEDBACK] += time.perf_counter() - t
        self.cost.feedback_queries += self.previous_feedback.queries
        return float(1.0 - self.previous_feedback.correct.mean())

    def load_rehearsal(self) -> list[Sample]:
        """The track's rehearsal set (empty without one); refused if it holds an eval item."""
        from rls3_bench.data.evalsets import load_eval_set

        if not self.track.rehearsal_set:
            return []
        pool = load_eval_set(self.track.rehearsal_set, self.track.rehearsal_set_hash)
        if eval_fence(pool) & self.fence:
            raise UserError(
                f"rehearsal set {self.track.rehearsal_set} holds an item of the track's eval sets; "
                "a run must not train on them: name another rehearsal set"
            )
        return pool

    def rehearsal_round(self, r: int) -> list[Sample]:
        """Round ``r``'s share of the rehearsal set: the next ``rehearsal_per_round`` samples, in turn
        (wrapping around), so every generator's round ``r`` rehearses the same pairs."""
        n, pool = self.track.rehearsal_per_round, self.rehearsal
        return [pool[(r * n + i) % len(pool)] for i in range(n)] if pool else []

    def train_round(self, r: int, delivered: list[Sample]) -> list[float]:
        """Process 4: fine-tune on the round's batch (and its rehearsal share), in an order every
        generator shares; the losses."""
        self.progress("train", r * self.track.round_size, self.track.budgets[-1])
        t = time.perf_counter()
        losses = []
        batch = delivered + self.rehearsal_round(r)
        order_rng = rng_for("learner", self.learner_seed, r)
        for _epoch in range(self.track.epochs_per_round):
            order = order_rng.permutation(len(batch))
            for i in range(0, len(order), self.batch_size):
                losses.append(self.learner.train_step([batch[j] for j in order[i : i + self.batch_size]]))
        self.cost.seconds[Stage.TRAIN] += time.perf_counter() - t
        return losses

    def evaluate(self, budget: int) -> None:
        """The learner on the frozen test set: one curve point and the per-item predictions (and the
        in-distribution accuracy where the track has that set)."""
        t = time.perf_counter()
        ev = self.learner.evaluate(self.items)
        id_ev = self.learner.evaluate(self.id_items) if self.id_items else None
        self.cost.seconds[Stage.EVAL] += time.perf_counter() - t
        rows = item_rows(self.items, ev.predictions)
        point = {"budget": budget, **summarize(rows)}
        if id_ev is not None:  # accuracy on the training distribution beside the test set's, and per axis
            id_rows = item_rows(self.id_items, id_ev.predictions)
            point["id_accuracy"] = summarize(id_rows)["accuracy"]
            by_axis = slice_accuracies(self.id_items, id_rows)["flipped_axis"]
            point["id_per_axis"] = {a: by_axis[a] for a in AXES if a in by_axis}
        self.result.curve.append(point)
        self.result.predictions[budget] = [
            {
                "item_id": r["item_id"],
                "score_true": r["score_true"],
                "score_negative": r["score_negative"],
                "predicted_terms": list(r["predicted_terms"]) if r["predicted_terms"] is not None else None,
            }
            for r in rows
        ]

    def checkpoint(self, r: int, out: RoundOutput) -> None:
        """Everything needed to continue after round ``r`` (see :class:`Checkpoints`)."""
        if self.ckpt is None:
            return
        state = {
            "schema_version": CHECKPOINT_SCHEMA,
            "track_digest": self.track.digest(),
            "generator": self.cls.name,
            "seed": self.seed,
            **({"learner_seed": self.learner_seed} if self.learner_seed != self.seed else {}),
            "next_round": r + 1,
            "generator_state": out.generator_state,
            "cost": self.cost.as_dict(),
            "previous_feedback": _feedback_to_json(self.previous_feedback),
            "result": self.result.to_dict(),
        }

        def write(folder: Path) -> None:
            self.learner.save(folder / "learner.safetensors")
            (folder / "generator").mkdir()
            self.gen.save_extra(folder / "generator")
            atomic_write_json(folder / "loop.json", state)

        self.ckpt.write(r, write)
