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
import contextlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rls3_bench.errors import UserError
from rls3_bench.harness.generation import (GenerationLimits, GenerationWorker, GeneratorFailure, Harness, RoundOutput, can_run_ahead, eval_fence,
                                   make_generator, open_backend, produce_round, refuse_eval_items)
from rls3_bench.generator import BudgetViolation, Cost, Generator, get_generator_class
from rls3_bench.data.atomic import atomic_write_json
from rls3_bench.learners.base import Feedback
from rls3_bench.analysis.metrics import item_rows, summarize
from rls3_bench.labels.sample import TERMS, Sample, png_bytes
from rls3_bench.harness.seeds import int_seed, rng_for
from rls3_bench.harness.tracks import Track

CHECKPOINT_SCHEMA = 1
#: delivered samples kept per run (one from each of the first rounds) for the gallery figure
GALLERY_SIZE = 4


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
    pipelined: bool = False  # generation ran ahead of training in a worker process (rls3_bench.harness.generation)
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
    pipeline: bool = False,
    render_workers: int = 1,
    limits: GenerationLimits | None = None,
) -> CellResult:
    """Run one cell to the top of ``track.budgets``; resumes from ``checkpoint_dir`` if it holds one.

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
    """
    from rls3_bench.data.evalsets import load_eval_set

    cls = get_generator_class(generator)
    gen: Generator = make_generator(cls, seed, track.generator_config, generator_config)
    learner = learner if learner is not None else make_learner(track, seed)
    items = eval_items if eval_items is not None else load_eval_set(track.eval_set, track.eval_set_hash)
    pipelined = pipeline and backend is None and can_run_ahead(cls)
    progress = progress or (lambda stage, done, total: None)

    cost = Cost()
    result = CellResult(track=track.key, generator=generator, generator_name=cls.name, seed=seed, renderer="",
                        term_counts={t: 0 for t in TERMS}, complexity_counts={"1": 0, "2": 0, "3": 0})
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

    # --- resume -------------------------------------------------------------------------------
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
        result = CellResult(**{**state["result"], "predictions": {int(k): v for k, v in state["result"]["predictions"].items()}})
        previous_feedback = _feedback_from_json(state["previous_feedback"])
        start_round = state["next_round"]

    # the backend (a Unity player process, maybe) or the generation worker starts last, once nothing
    # above can fail, and is closed by the finally below whatever happens; a pipelined cell's backend
    # lives in its worker
    result.pipelined = pipelined
    resources = contextlib.ExitStack()
    try:
        if pipelined:
            next_round = resources.enter_context(
                GenerationWorker(track.to_dict(), cls, seed, generator_config, gen.state_dict(), start_round, n_rounds, backend_options,
                                 render_workers, limits=limits)).next_round
        else:
            if backend is None:
                backend = resources.enter_context(open_backend(track, backend_options, render_workers))
            result.renderer = backend.renderer
            harness = Harness(backend, Cost())
            rounds = iter(range(start_round, n_rounds))
            next_round = lambda: produce_round(gen, harness, next(rounds), track.round_size,  # noqa: E731
                                               previous_feedback if cls.closed_loop else None,
                                               learner.feedback if cls.closed_loop else None, limits)
        if latest is None:
            evaluate(0)
        fence = eval_fence(items)

        for r in range(start_round, n_rounds):
            round_t0 = time.perf_counter()
            progress("generate", r * track.round_size, track.budgets[-1])
            t = time.perf_counter()
            out: RoundOutput = next_round()
            refuse_eval_items(cls.name, r, out.delivered, fence)
            # how long the learner waited for this round's data: all of generation when inline, only
            # what the worker did not get done during the previous round's training when pipelined
            cost.seconds["generation_wait"] += time.perf_counter() - t
            cost.add(out.cost)
            result.renderer = out.renderer
            delivered = out.delivered
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
            cost.rl_env_steps = int(out.extra_cost.get("rl_env_steps", 0))
            cost.rl_updates = int(out.extra_cost.get("rl_updates", 0))
            result.cost = cost.as_dict()
            result.generator_history = list(out.history)
            if ckpt is not None:
                ckpt_state = {"schema_version": CHECKPOINT_SCHEMA, "track_digest": track.digest(), "generator": cls.name, "seed": seed,
                              "next_round": r + 1, "generator_state": out.generator_state, "cost": cost.as_dict(),
                              "previous_feedback": _feedback_to_json(previous_feedback), "result": result.to_dict()}

                def write(folder: Path) -> None:
                    learner.save(folder / "learner.safetensors")
                    (folder / "generator").mkdir()
                    gen.save_extra(folder / "generator")
                    atomic_write_json(folder / "loop.json", ckpt_state)

                ckpt.write(r, write)
    except (BudgetViolation, GeneratorFailure) as exc:
        result.status, result.failure = "failed", str(exc)
    finally:
        resources.close()
    result.cost = cost.as_dict()
    return result
