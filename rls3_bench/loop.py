"""The RLS3 loop for one cell (track x generator x seed): rounds of generation -> captioning ->
learner feedback -> fine-tuning, with evaluation at every budget of the ladder.

Every generator runs under the same schedule: rounds of ``track.round_size`` samples, each
fine-tuned on for ``track.epochs_per_round`` passes in batches of ``recipe.batch_size``, in an order
drawn from the ``learner`` seed stream (shared by all generators of a seed, so runs are paired).
The learner starts from the same base weights with the same seed for every generator, and is
evaluated on the frozen test set at budget 0 and at each ladder budget. So one run per (generator,
seed) gives the whole accuracy-vs-samples curve, comparable point by point.

The loop is resumable: after each round it writes a checkpoint (learner, generator, costs, curve),
and :func:`run_cell` continues from the newest complete one.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rls3_bench.errors import UserError
from rls3_bench.generator import BudgetViolation, Cost, Generator, Rendered, RoundContext, get_generator_class
from rls3_bench.io import atomic_write_json
from rls3_bench.learners.base import Feedback
from rls3_bench.metrics import item_rows, summarize
from rls3_bench.samples import TERMS, Sample, png_bytes
from rls3_bench.seeds import int_seed, rng_for
from rls3_bench.tracks import Track

CHECKPOINT_SCHEMA = 1
#: delivered samples kept per run (one from each of the first rounds) for the gallery figure
GALLERY_SIZE = 4


class GeneratorFailure(RuntimeError):
    """A generator raised an exception of its own; its cell is recorded as failed with the reason."""


def generator_seed(run_seed: int, generator_name: str) -> int:
    """Each generator gets its own stream per run seed (no two generators share samples by accident)."""
    return int_seed("generator", run_seed, zlib.crc32(generator_name.encode()))


def make_learner(track: Track, seed: int, device: str | None = None):
    from rls3_bench.learners import get_learner_class

    cls = get_learner_class(track.learner)
    return cls(track.model, track.weights, dict(track.recipe), device=device or track.device, seed=int_seed("learner", seed))


@dataclass
class CellResult:
    """Everything one (track, generator, seed) run produced; the runner stores it as the RunRecord."""

    track: str
    generator: str
    generator_name: str
    seed: int
    curve: list[dict] = field(default_factory=list)           # one summary per evaluated budget (0 first)
    predictions: dict[int, list[dict]] = field(default_factory=dict)  # budget -> per-item predictions
    cost: dict = field(default_factory=dict)
    term_counts: dict[str, int] = field(default_factory=dict)  # term occurrences in the delivered data
    complexity_counts: dict[str, int] = field(default_factory=dict)
    round_log: list[dict] = field(default_factory=list)       # per round: loss, feedback error, seconds
    generator_history: list[dict] = field(default_factory=list)
    gallery: list[dict] = field(default_factory=list)         # a few delivered samples (spec + caption)
    renderer: str = ""
    status: str = "complete"
    failure: str | None = None

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["predictions"] = {str(k): v for k, v in self.predictions.items()}
        return d


class Harness:
    """Renders, labels and captions for generators, counting cost (one per cell)."""

    def __init__(self, backend, cost: Cost) -> None:
        from rls3_bench.relations import LabelConfig

        self.backend = backend
        self.cost = cost
        self.cfg = LabelConfig()

    def render(self, spec, pair: tuple[int, int] | None = None) -> Rendered:
        from rls3_bench.captions import make_sample
        from rls3_bench.relations import label_scene

        t0 = time.perf_counter()
        obs = self.backend.observe(spec)
        t1 = time.perf_counter()
        self.cost.scenes_rendered += 1
        self.cost.seconds["render"] += t1 - t0
        samples: tuple[Sample, ...] = ()
        reason = obs.invalid_reason
        if obs.valid:
            labels = [p for p in label_scene(obs, self.cfg) if p.captionable]
            if pair is not None:
                labels = [p for p in labels if (p.a, p.b) == tuple(pair)]
            samples = tuple(make_sample(obs, p) for p in labels)
            if not samples:
                reason = "requested pair not captionable" if pair is not None else "no captionable pair"
        if not samples:
            self.cost.invalid_scenes += 1
        self.cost.seconds["label_caption"] += time.perf_counter() - t1
        return Rendered(spec=spec, valid=bool(samples), reason=None if samples else reason, samples=samples, observation=obs)


def _feedback_to_json(fb: Feedback | None) -> dict | None:
    if fb is None:
        return None
    return {"loss": fb.loss.tolist(), "correct": fb.correct.tolist(), "term_error": fb.term_error, "queries": fb.queries}


def _feedback_from_json(d: dict | None) -> Feedback | None:
    if d is None:
        return None
    return Feedback(np.asarray(d["loss"], dtype=float), np.asarray(d["correct"], dtype=bool), {k: float(v) for k, v in d["term_error"].items()}, int(d["queries"]))


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

        return {str(f.relative_to(path)): hashlib.sha256(f.read_bytes()).hexdigest()
                for f in sorted(path.rglob("*")) if f.is_file() and f.name != cls.MANIFEST}

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
            bad = sorted(set(manifest) ^ set(files) | {k for k in set(manifest) & set(files) if manifest[k] != files[k]})
            return f"files differ from the manifest: {', '.join(bad)[:120]}"
        return None

    def latest(self) -> Path | None:
        for path in sorted(self.folder.glob("round-*"), reverse=True):
            problem = self.problem(path)
            if problem is None:
                return path
            print(f"rls3-bench: warning: checkpoint {path} is damaged ({problem}); resuming from an earlier one", file=sys.stderr)
        return None

    def write(self, round_index: int, write_fn: Callable[[Path], None]) -> None:
        from rls3_bench.io import atomic_write_json, atomic_write_text

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
        for old in sorted(self.folder.glob("round-*"), reverse=True)[self.KEEP:]:
            shutil.rmtree(old, ignore_errors=True)


def run_cell(
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
) -> CellResult:
    """Run one cell to the top of ``track.budgets``; resumes from ``checkpoint_dir`` if it holds one.

    ``progress(stage, done, total)`` is called with stages "generate", "train", "eval".
    ``backend_options`` go to the backend the cell opens when ``backend`` is None (e.g. the unity
    backend's ``player``); machine-specific, so they are not part of the track.
    """
    from rls3_bench.evalsets import load_eval_set

    cls = get_generator_class(generator)
    gen: Generator = cls(seed=generator_seed(seed, cls.name), config={**track.generator_config.get(cls.name, {}), **(generator_config or {})})
    learner = learner if learner is not None else make_learner(track, seed)
    items = eval_items if eval_items is not None else load_eval_set(track.eval_set, track.eval_set_hash)
    # the backend (a Unity player process, maybe) starts last, once nothing above can fail, and is
    # closed in the finally below whatever happens
    own_backend = backend is None
    if own_backend:
        from rls3_bench.backends import get_backend_class

        backend = get_backend_class(track.backend)(image_size=track.image_size, renderer=track.renderer, **(backend_options or {}))
    progress = progress or (lambda stage, done, total: None)

    cost = Cost()
    result = CellResult(track=track.key, generator=generator, generator_name=cls.name, seed=seed, renderer=backend.renderer,
                        term_counts={t: 0 for t in TERMS}, complexity_counts={"1": 0, "2": 0, "3": 0})
    harness = Harness(backend, cost)
    n_rounds = track.budgets[-1] // track.round_size
    batch_size = int(track.recipe.get("batch_size", 32))
    previous_feedback: Feedback | None = None
    start_round = 0
    ckpt = Checkpoints(checkpoint_dir) if checkpoint_dir is not None else None

    def evaluate(budget: int) -> None:
        t = time.perf_counter()
        ev = learner.evaluate(items)
        cost.seconds["eval"] += time.perf_counter() - t
        rows = item_rows(items, ev.predictions)
        result.curve.append({"budget": budget, **summarize(rows)})
        result.predictions[budget] = [
            {"item_id": r["item_id"], "score_true": r["score_true"], "score_negative": r["score_negative"],
             "predicted_terms": list(r["predicted_terms"]) if r["predicted_terms"] is not None else None}
            for r in rows
        ]

    try:
        # --- resume ---------------------------------------------------------------------------
        latest = ckpt.latest() if ckpt else None
        if latest is not None:
            state = json.loads((latest / "loop.json").read_text())
            if state.get("schema_version") != CHECKPOINT_SCHEMA or state.get("track_digest") != track.digest() or state.get("generator") != cls.name or state.get("seed") != seed:
                raise UserError(f"checkpoint {latest} belongs to another track/generator/seed or format; delete it to start this cell afresh")
            learner.load(latest / "learner.safetensors")
            gen.load_state_dict(state["generator_state"])
            gen.load_extra(latest / "generator")
            for k, v in state["cost"].items():
                setattr(cost, k, v) if k != "seconds" else cost.seconds.update(v)
            restored = CellResult(**{**state["result"], "predictions": {int(k): v for k, v in state["result"]["predictions"].items()}})
            result = restored
            result.renderer = backend.renderer
            previous_feedback = _feedback_from_json(state["previous_feedback"])
            start_round = state["next_round"]
        else:
            evaluate(0)

        for r in range(start_round, n_rounds):
            round_t0 = time.perf_counter()
            before = dict(cost.seconds)
            progress("generate", r * track.round_size, track.budgets[-1])
            ctx = RoundContext(r, track.round_size, previous_feedback if cls.closed_loop else None, harness.render,
                               learner.feedback if cls.closed_loop else None, cost)
            try:
                gen.generate_round(ctx)
            except BudgetViolation as exc:
                raise BudgetViolation(f"{cls.name}: {exc}") from None
            except (OSError, MemoryError):
                raise  # the machine's problem (full disk, memory), not the generator's: re-running resumes the cell
            except Exception as exc:  # a bug in the generator fails its cell; the other cells of the sweep go on
                raise GeneratorFailure(f"{cls.name} raised {type(exc).__name__} in round {r}: {' '.join(str(exc).split())[:200]}") from None
            if ctx.remaining:
                raise BudgetViolation(f"{cls.name}: round {r} delivered {len(ctx.delivered)} of {track.round_size} samples")
            gen_seconds = time.perf_counter() - round_t0
            # what the generator spent outside rendering, labelling and queries is its own (agent) time
            harness_seconds = sum(cost.seconds[k] - before[k] for k in ("render", "label_caption", "feedback"))
            cost.seconds["agent"] += max(gen_seconds - harness_seconds, 0.0)
            delivered = list(ctx.delivered)
            for s in delivered:
                result.complexity_counts[str(s.complexity)] += 1
                for t in s.terms:
                    result.term_counts[t] += 1
            if len(result.gallery) < GALLERY_SIZE:
                # the image travels with the record, so figures never need the simulator
                s = delivered[0]
                result.gallery.append({"round": r, "spec": s.spec.to_json(), "caption": s.caption, "sample_id": s.sample_id,
                                       "png_b64": base64.b64encode(png_bytes(s.image)).decode("ascii")})

            # process 3: the learner's feedback on this round's data, before training on it
            fb_error = None
            if cls.closed_loop:
                t = time.perf_counter()
                previous_feedback = learner.feedback(delivered)
                cost.seconds["feedback"] += time.perf_counter() - t
                cost.feedback_queries += previous_feedback.queries
                fb_error = float(1.0 - previous_feedback.correct.mean())

            # process 4: fine-tune on the round's batch, in an order every generator shares
            progress("train", r * track.round_size, track.budgets[-1])
            t = time.perf_counter()
            losses = []
            order_rng = rng_for("learner", seed, r)
            for _epoch in range(track.epochs_per_round):
                order = order_rng.permutation(len(delivered))
                for i in range(0, len(order), batch_size):
                    losses.append(learner.train_step([delivered[j] for j in order[i:i + batch_size]]))
            cost.seconds["train"] += time.perf_counter() - t

            budget = (r + 1) * track.round_size
            if budget in track.budgets:
                progress("eval", budget, track.budgets[-1])
                evaluate(budget)
            result.round_log.append({"round": r, "budget": budget, "train_loss": float(np.mean(losses)), "feedback_error": fb_error,
                                     "seconds": time.perf_counter() - round_t0})
            extra = gen.extra_cost()
            cost.rl_env_steps = int(extra.get("rl_env_steps", 0))
            cost.rl_updates = int(extra.get("rl_updates", 0))
            result.cost = cost.as_dict()
            result.generator_history = list(getattr(gen, "history", []))
            if ckpt is not None:
                state = {"schema_version": CHECKPOINT_SCHEMA, "track_digest": track.digest(), "generator": cls.name, "seed": seed,
                         "next_round": r + 1, "generator_state": gen.state_dict(), "cost": cost.as_dict(),
                         "previous_feedback": _feedback_to_json(previous_feedback), "result": result.to_dict()}

                def write(folder: Path) -> None:
                    learner.save(folder / "learner.safetensors")
                    (folder / "generator").mkdir()
                    gen.save_extra(folder / "generator")
                    atomic_write_json(folder / "loop.json", state)

                ckpt.write(r, write)
    except (BudgetViolation, GeneratorFailure) as exc:
        result.status, result.failure = "failed", str(exc)
    finally:
        if own_backend:
            backend.close()
    result.cost = cost.as_dict()
    result.generator_history = list(getattr(gen, "history", []))
    return result
