"""The control generators (control-flipped-v1, control-evalmatched-v1 and -v2, control-blind-v1), the
harness's ``ctx.falsify`` and ``ctx.blank`` and the ``control`` flag, on the real embedded backend and
the real harness."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from rls3_generators.controls import (
    BlindImagesControl,
    EvalMatchedControl,
    EvalMatchedTwinsControl,
    FlippedCaptionsControl,
)
from rls3_generators.uniform import UniformGenerator

from rls3_bench.generator import GENERATORS, BudgetViolation, Cost, RoundContext, get_generator_class
from rls3_bench.harness.generation import Harness, produce_round
from rls3_bench.labels.captions import falsified
from rls3_bench.labels.relations import OPPOSITE
from rls3_bench.labels.sample import TERMS
from rls3_bench.scene.construct import balanced_targets, twin_groups
from rls3_bench.scene.random_scenes import random_spec


@pytest.fixture(scope="module")
def backend():
    from rls3_bench.backends.embedded import EmbeddedBackend

    with EmbeddedBackend(image_size=64, renderer="tiny") as b:
        yield b


def some_samples(backend, n: int):
    harness = Harness(backend, Cost())
    rng = np.random.default_rng(0)
    out = []
    while len(out) < n:
        out.extend(harness.render(random_spec(rng)).samples)
    return out[:n]


def test_falsified_caption_is_the_samples_own_flip_and_the_truth_becomes_its_negative(backend):
    for s in some_samples(backend, 40):
        f = falsified(s)
        k = next(i for i, kind in enumerate(s.negative_kinds) if kind.startswith("flip:"))
        term = s.negative_kinds[k][len("flip:") :]
        assert f.caption == s.negatives[k]  # a caption the labeler already guarantees false
        assert set(f.terms) == (set(s.terms) - {term}) | {OPPOSITE[term]}
        assert f.negatives[0] == s.caption and f.negative_kinds[0] == f"flip:{OPPOSITE[term]}"
        assert s.caption not in f.negatives[1:] and f.caption not in f.negatives
        assert f.answer != s.answer and f.image is s.image and f.spec == s.spec
        assert f.sample_id == s.sample_id + ":false"


def test_falsify_counts_and_refuses_foreign_samples(backend):
    cost = Cost()
    harness = Harness(backend, cost)
    ctx = RoundContext(0, 4, None, harness.render, None, cost)
    rng = np.random.default_rng(1)
    foreign = some_samples(backend, 1)[0]
    with pytest.raises(BudgetViolation, match="not produced"):
        ctx.falsify(foreign)
    scene = next(r for r in (ctx.render(random_spec(rng)) for _ in range(50)) if r.valid)
    f = ctx.falsify(scene.samples[0])
    ctx.deliver([f, scene.samples[0]])
    assert cost.captions_falsified == 1 and cost.samples_delivered == 2


def run(cls, backend, rounds: int, size: int, seed: int = 0):
    gen = cls(seed=seed)
    harness = Harness(backend, Cost())
    total = Cost()
    delivered = []
    for r in range(rounds):
        out = produce_round(gen, harness, r, size)
        delivered += out.delivered
        total.add(out.cost)
    return delivered, total


def test_flipped_control_makes_captions_independent_of_the_image(backend):
    delivered, cost = run(FlippedCaptionsControl, backend, 2, 48)
    false = [s for s in delivered if s.sample_id.endswith(":false")]
    assert cost.captions_falsified == len(false) and 0.35 < len(false) / len(delivered) < 0.65
    # each false sample states the opposite of the scene's own label for one term
    harness = Harness(backend, Cost())
    for s in false:
        a, b = (int(x) for x in s.sample_id.split(":")[1:3])
        truth = harness.render(s.spec, pair=(a, b)).samples[0]
        assert s.caption in truth.negatives and s.negatives[0] == truth.caption
    # same seed, same data; another seed, other data
    again, _ = run(FlippedCaptionsControl, backend, 2, 48)
    other, _ = run(FlippedCaptionsControl, backend, 2, 48, seed=1)
    ids = [s.sample_id for s in delivered]
    assert ids == [s.sample_id for s in again] and ids != [s.sample_id for s in other]


def test_evalmatched_control_follows_the_eval_schedule(backend):
    cycle = balanced_targets(24)  # 72 targets: one full schedule
    delivered, _ = run(EvalMatchedControl, backend, 3, len(cycle) // 3)
    assert Counter(s.terms for s in delivered) == Counter(cycle)
    for k in (1, 2, 3):
        counts = Counter(t for s in delivered if s.complexity == k for t in s.terms)
        assert set(counts) == set(TERMS) and len(set(counts.values())) == 1
    rooms = Counter(s.spec.room for s in delivered)
    assert len(rooms) == 5  # rotated per item (and past rooms where a target keeps failing)


def test_evalmatched_state_round_trips(backend):
    gen = EvalMatchedControl(seed=2)
    harness = Harness(backend, Cost())
    produce_round(gen, harness, 0, 5)
    fresh = EvalMatchedControl(seed=2)
    fresh.load_state_dict(gen.state_dict())
    a = produce_round(gen, harness, 1, 5).delivered
    b = produce_round(fresh, harness, 1, 5).delivered
    assert [s.sample_id for s in a] == [s.sample_id for s in b]


def test_evalmatched_v2_delivers_minimal_pairs_on_the_v2_schedule(backend):
    """Consecutive samples are twins: same objects, room and camera, the other caption true."""
    cycle = twin_groups(24)  # 36 groups, 72 samples: one full schedule
    delivered, _ = run(EvalMatchedTwinsControl, backend, 3, 24, seed=4)
    assert len(delivered) == 72
    kinds = Counter()
    for first, twin in zip(delivered[::2], delivered[1::2], strict=True):
        assert first.spec.room == twin.spec.room and first.spec.camera == twin.spec.camera
        assert sorted(o.asset for o in first.spec.objects) == sorted(o.asset for o in twin.spec.objects)
        assert first.caption != twin.caption and first.caption in twin.negatives and twin.caption in first.negatives
        kinds[first.terms, "swap" if first.terms == twin.terms else "flip"] += 1
    assert sum(kinds.values()) == len(cycle)
    assert kinds == Counter((t, "swap" if k == "swap" else "flip") for t, k in cycle)
    # same seed, same data; resumed from its state, the same next round
    gen = EvalMatchedTwinsControl(seed=4)
    harness = Harness(backend, Cost())
    produce_round(gen, harness, 0, 24)
    fresh = EvalMatchedTwinsControl(seed=4)
    fresh.load_state_dict(gen.state_dict())
    a, b = (produce_round(g, harness, 1, 24).delivered for g in (gen, fresh))
    assert [s.sample_id for s in a] == [s.sample_id for s in b] == [s.sample_id for s in delivered[24:48]]


def test_only_the_controls_say_they_are_controls():
    flags = {name: get_generator_class(name).control for name in GENERATORS.names()}
    assert {n for n, c in flags.items() if c} == {
        "control-flipped-v1",
        "control-evalmatched-v1",
        "control-evalmatched-v2",
        "control-blind-v1",
    }


def test_blank_counts_keeps_the_caption_and_refuses_foreign_samples(backend):
    cost = Cost()
    harness = Harness(backend, cost)
    ctx = RoundContext(0, 4, None, harness.render, None, cost)
    with pytest.raises(BudgetViolation, match="not produced"):
        ctx.blank(some_samples(backend, 1)[0])
    rng = np.random.default_rng(1)
    scene = next(r for r in (ctx.render(random_spec(rng)) for _ in range(50)) if r.valid)
    s = scene.samples[0]
    b = ctx.blank(s)
    assert b.caption == s.caption and b.negatives == s.negatives and b.spec == s.spec
    assert b.image.shape == s.image.shape and b.image.dtype == s.image.dtype and len(np.unique(b.image)) == 1
    assert s.image.std() > 0  # the original still has its pixels
    ctx.deliver([b, s])
    assert cost.images_blanked == 1 and cost.samples_delivered == 2
    b.image[0, 0, 0] = 7  # edited after the harness made it: refused
    with pytest.raises(BudgetViolation, match="changed"):
        ctx.check_unchanged(b)


def test_blind_control_is_uniform_with_one_constant_image(backend):
    delivered, cost = run(BlindImagesControl, backend, 2, 24)
    reference, _ = run(UniformGenerator, backend, 2, 24)
    assert [s.sample_id for s in delivered] == [s.sample_id + ":blank" for s in reference]
    assert [s.caption for s in delivered] == [s.caption for s in reference]
    assert cost.images_blanked == len(delivered) == 48
    first = delivered[0].image
    assert all(np.array_equal(s.image, first) for s in delivered) and len(np.unique(first)) == 1
