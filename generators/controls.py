"""Control generators: reference rows run beside the real generators, never ranked with them.

* ``control-flipped-v1`` (lower reference): uniform-v1's scenes and pairs, but each delivered
  sample's caption is independently replaced, with probability 1/2, by one of the sample's own
  guaranteed-false captions (``ctx.falsify``, the harness's operation, so no generator writes text).
  A caption is then true or false with equal odds whatever the image shows: the captions carry no
  information about the image, and a learner trained on them must learn nothing. If it ranks anywhere
  but significantly last, the board's tests or the learner's evaluation are broken.
* ``control-evalmatched-v1`` (upper reference): fresh samples from the eval sets' own construction
  process (:func:`rls3_bench.data.evalsets.build_eval_set`: the balanced schedule of target term
  sets in a seeded random order, rooms rotated per item and advanced after 20 failed scenes,
  targeted construction with 50 attempts, kept only when the labeler's label equals the target),
  drawn from the generator's own seed, never the eval namespace. What a generator that knew the test
  distribution exactly could reach.
* ``control-evalmatched-v2`` (upper reference for the minimal-pair sets ``spatial-v2-*``): fresh
  minimal pairs from the v2 construction (:func:`rls3_bench.data.evalsets.make_twin_group`: the
  term-balanced schedule of twin groups in a seeded random order, both scenes sharing objects, room
  and camera), drawn from the generator's own seed. Each group's two samples are delivered together;
  a round with one slot left takes the first and drops the twin.
* ``control-blind-v1`` (blind reference): uniform-v1's scenes and captions, drawn exactly as
  uniform-v1 draws them, with every delivered image replaced by one constant image (``ctx.blank``).
  The learner fine-tuned on it sees the captions' object and term statistics but no pixel that
  varies, so what it reaches on an eval set is what that set gives away without looking.
"""

from __future__ import annotations

from rls3_bench.data.evalsets import MAX_SCENES_PER_ITEM, make_twin_group
from rls3_bench.generator import Generator, RoundContext
from rls3_bench.labels.relations import LABELLERS
from rls3_bench.labels.sample import Sample
from rls3_bench.scene.construct import balanced_targets, construct_spec, twin_groups
from rls3_bench.scene.random_scenes import random_spec

#: probability that a delivered caption is replaced by a false one
FLIP_PROBABILITY = 0.5
#: eval-set recipe constants (rls3_bench.data.evalsets.build_eval_set)
ROOM_ADVANCE_AFTER = 20
CONSTRUCTION_ATTEMPTS = 50
SCHEDULE_PER_COMPLEXITY = 24


class FlippedCaptionsControl(Generator):
    """Uniform scenes whose captions are each false with probability 1/2: a control that must teach nothing.

    Each delivered sample is independently replaced, with probability ``FLIP_PROBABILITY``, by the
    harness's falsified copy (``ctx.falsify``), so a caption carries no information about its image.
    """

    name = "control-flipped-v1"
    control = True

    def generate_round(self, ctx: RoundContext) -> None:
        while ctx.remaining:
            scene = ctx.render(random_spec(self.rng, world=ctx.world))
            if scene.valid:
                sample = scene.samples[int(self.rng.integers(len(scene.samples)))]
                ctx.deliver([ctx.falsify(sample) if self.rng.random() < FLIP_PROBABILITY else sample])


class EvalMatchedControl(Generator):
    """Fresh scenes from the v1 eval sets' own construction recipe, drawn from training seeds: an upper reference.

    Targets follow the eval sets' balanced schedule (terms x complexities) and targeted construction,
    with the generator's own random stream, so no eval scene is reproduced.
    """

    name = "control-evalmatched-v1"
    control = True
    matches_eval_version = 1

    def __init__(self, seed: int, config: dict | None = None) -> None:
        super().__init__(seed, config)
        self._queue: list[tuple[str, ...]] = []
        self._items = 0  # samples made so far: the room rotation's position, as in the eval sets

    def _next_target(self) -> tuple[str, ...]:
        if not self._queue:
            cycle = balanced_targets(SCHEDULE_PER_COMPLEXITY)
            self._queue = [cycle[int(i)] for i in self.rng.permutation(len(cycle))[::-1]]
        return self._queue.pop()

    def _item(self, ctx: RoundContext, target: tuple[str, ...]) -> Sample:
        rooms = ctx.world.room_ids
        for attempt in range(MAX_SCENES_PER_ITEM):
            room = rooms[(self._items + attempt // ROOM_ADVANCE_AFTER) % len(rooms)]
            made = construct_spec(target, self.rng, room, attempts=CONSTRUCTION_ATTEMPTS, world=ctx.world)
            if made is None:
                continue
            spec, a, b = made
            scene = ctx.render(spec, pair=(a, b))
            if scene.valid and scene.samples[0].terms == target:
                return scene.samples[0]
        raise RuntimeError(f"{self.name}: no scene for {target} after {MAX_SCENES_PER_ITEM} tries")

    def generate_round(self, ctx: RoundContext) -> None:
        while ctx.remaining:
            ctx.deliver([self._item(ctx, self._next_target())])
            self._items += 1

    def state_dict(self) -> dict:
        return {**super().state_dict(), "queue": [list(t) for t in self._queue], "items": self._items}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._queue = [tuple(t) for t in state["queue"]]
        self._items = int(state["items"])


class EvalMatchedTwinsControl(Generator):
    """Fresh minimal pairs from the v2 eval sets' construction, drawn from training seeds: an upper reference.

    Groups follow the v2 sets' term-balanced schedule of (target, negative kind) and their twin
    construction, with the generator's own random stream, so no eval scene is reproduced.
    """

    name = "control-evalmatched-v2"
    control = True
    matches_eval_version = 2

    def __init__(self, seed: int, config: dict | None = None) -> None:
        super().__init__(seed, config)
        self._queue: list[tuple[tuple[str, ...], str]] = []
        self._groups = 0  # groups made so far: the room rotation's position, as in the eval sets

    def _next_group(self) -> tuple[tuple[str, ...], str]:
        if not self._queue:
            cycle = twin_groups(SCHEDULE_PER_COMPLEXITY)
            self._queue = [cycle[int(i)] for i in self.rng.permutation(len(cycle))[::-1]]
        return self._queue.pop()

    def generate_round(self, ctx: RoundContext) -> None:
        def label(terms, kind, spec, a, b):
            scene = ctx.render(spec, pair=(a, b))
            return scene.samples[0] if scene.valid and scene.samples[0].terms == terms else None

        # the construction's stack bases follow the v2 sets' labeller; the labels are the track's
        # (the harness labels every render), as for any generator
        cfg = LABELLERS[2]
        while ctx.remaining:
            target, kind = self._next_group()
            group = make_twin_group(label, cfg, target, kind, self.rng, self._groups, ctx.world)
            if group is None:
                raise RuntimeError(
                    f"{self.name}: no minimal pair for {target} / {kind} after {MAX_SCENES_PER_ITEM} tries"
                )
            ctx.deliver(list(group[: ctx.remaining]))
            self._groups += 1

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "queue": [[list(t), k] for t, k in self._queue],
            "groups": self._groups,
        }

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._queue = [(tuple(t), k) for t, k in state["queue"]]
        self._groups = int(state["groups"])


class BlindImagesControl(Generator):
    """uniform-v1's scenes and captions, every image one constant image (the learner's blind baseline)."""

    name = "control-blind-v1"
    control = True

    def generate_round(self, ctx: RoundContext) -> None:
        while ctx.remaining:
            scene = ctx.render(random_spec(self.rng, world=ctx.world))
            if scene.valid:
                ctx.deliver([ctx.blank(scene.samples[int(self.rng.integers(len(scene.samples)))])])
