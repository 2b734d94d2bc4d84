"""A cell's records against a committed golden fixture (tests/fixtures/golden_cell.json): one
test-track cell of an open-loop generator (uniform-v1) and one of a closed-loop RL generator
(rls3-sac-v1), seed 0, one torch thread.

The fixture holds what the cell decided: per round, the SHA-256 of the training batches the learner
received (sample ids, captions, scene specs and image bytes, in training order); per evaluated
budget, the SHA-256 of the evaluated item ids and the accuracy; the counters, term and complexity
counts, the gallery's captions and specs, and the status. Refactoring the harness must reproduce it.

Regenerate (only when sampling, labels or training change on purpose, with a new track or generator
version): ``python tests/test_golden_cell.py``.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import FIXTURES

pytest.importorskip("open_clip")  # the test track's learner is CLIP

GOLDEN = FIXTURES / "golden_cell.json"
GENERATORS = ("uniform-v1", "rls3-sac-v1")
SEED = 0


class RecordingLearner:
    """The cell's learner, with every training batch it receives hashed in order."""

    def __init__(self, learner) -> None:
        self._learner = learner
        self.batches: list[str] = []

    def __getattr__(self, name):
        return getattr(self._learner, name)

    def train_step(self, batch):
        h = hashlib.sha256()
        for s in batch:
            h.update(json.dumps([s.sample_id, s.caption, s.spec.to_json()], sort_keys=True).encode())
            h.update(hashlib.sha256(s.image.tobytes()).digest())
        self.batches.append(h.hexdigest())
        return self._learner.train_step(batch)


def golden_cell(track, items, backend, generator: str) -> dict:
    """What one cell decided, in the fixture's form."""
    from rls3_bench.harness.cell import make_learner, run_cell

    learner = RecordingLearner(make_learner(track, SEED))
    res = run_cell(track, generator, SEED, backend=backend, learner=learner, eval_items=items)
    per_round = len(learner.batches) // len(res.round_log)
    return {
        "status": res.status,
        "training_batches": [
            hashlib.sha256("".join(learner.batches[i : i + per_round]).encode()).hexdigest()
            for i in range(0, len(learner.batches), per_round)
        ],
        "eval_items": {
            str(b): hashlib.sha256("\n".join(p["item_id"] for p in ps).encode()).hexdigest()
            for b, ps in res.predictions.items()
        },
        "accuracy": {str(p["budget"]): p["accuracy"] for p in res.curve},
        "counters": {k: v for k, v in res.cost.items() if k != "seconds"},
        "term_counts": res.term_counts,
        "complexity_counts": res.complexity_counts,
        "gallery": [{k: g[k] for k in ("round", "sample_id", "caption", "spec")} for g in res.gallery],
    }


@pytest.fixture(scope="module")
def backend(track):
    from rls3_bench.backends.embedded import EmbeddedBackend

    with EmbeddedBackend(image_size=track.image_size, renderer=track.renderer) as b:
        yield b


@pytest.mark.parametrize("generator", GENERATORS)
def test_cell_reproduces_the_golden_fixture(track, items, backend, one_thread, generator):
    """Everything but the accuracies must match exactly: scenes, captions, images, counters and the
    order of training are integer or byte results of a seeded process. Accuracies come from float
    scores, whose last bits depend on the CPU's vector instructions, so a pair whose two scores are
    within rounding of each other may flip on another machine type: they may differ by up to two eval
    items (2 / len(items))."""
    if generator == "rls3-sac-v1":
        pytest.importorskip("stable_baselines3")  # its SAC agent
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))[generator]
    got = golden_cell(track, items, backend, generator)
    assert {k: v for k, v in got.items() if k != "accuracy"} == {k: v for k, v in want.items() if k != "accuracy"}
    assert got["accuracy"].keys() == want["accuracy"].keys()
    for budget, acc in want["accuracy"].items():
        assert got["accuracy"][budget] == pytest.approx(acc, abs=2 / len(items) + 1e-12), budget


if __name__ == "__main__":
    from conftest import torch_threads

    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.data.atomic import atomic_write_text
    from rls3_bench.data.evalsets import load_eval_set
    from rls3_bench.harness.tracks import load_track

    track = load_track(str(FIXTURES / "test-track.yaml"))
    items = load_eval_set(track.eval_set, track.eval_set_hash)
    with torch_threads(1), EmbeddedBackend(image_size=track.image_size, renderer=track.renderer) as backend:
        golden = {g: golden_cell(track, items, backend, g) for g in GENERATORS}
    atomic_write_text(GOLDEN, json.dumps(golden, indent=1, sort_keys=True) + "\n")
