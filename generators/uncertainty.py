"""uncertainty-v1 (closed loop, no RL): pool-based margin sampling.

Each round it renders ``k`` times the round's samples as uniform-v1 candidates (i.i.d. random valid
scenes, one uniformly chosen captionable pair each), asks the learner about all of them
(``ctx.query``, counted as feedback queries), and delivers the ``1/k`` the learner finds hardest:
the highest per-sample loss, which for the 2-way true-vs-negative choice falls as the margin of the
true caption over its negatives grows, so "highest loss" is "smallest margin" (ties: earlier
candidate first). Every candidate rendered is counted in ``scenes_rendered``, so its generation cost
is ``k`` times uniform-v1's renders plus ``k * budget`` queried samples.

``k`` (config key ``k``, default 4): candidates per delivered sample. 4 is a set value, not tuned
on the validation split; larger k selects harder and narrower data at a higher cost.
"""

from __future__ import annotations

import numpy as np

from rls3_bench.errors import UserError
from rls3_bench.generator import Generator, RoundContext
from rls3_bench.labels.sample import Sample
from rls3_bench.scene.random_scenes import random_spec

DEFAULT_K = 4


class UncertaintyGenerator(Generator):
    name = "uncertainty-v1"
    closed_loop = True

    def __init__(self, seed: int, config: dict | None = None) -> None:
        super().__init__(seed, config)
        unknown = sorted(set(self.config) - {"k"})
        if unknown:
            raise UserError(f"{self.name}: unknown config key(s) {', '.join(unknown)}; valid keys: k")
        k = self.config.get("k", DEFAULT_K)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise UserError(f"{self.name}: k must be an integer >= 1 (candidates per delivered sample), got {k!r}")
        self.k = k

    def _candidates(self, ctx: RoundContext, n: int) -> list[Sample]:
        """``n`` uniform-v1 samples, rendered in batches of the number still missing."""
        out: list[Sample] = []
        while len(out) < n:
            for scene in ctx.render_many([random_spec(self.rng, world=ctx.world) for _ in range(n - len(out))]):
                if scene.valid:
                    out.append(scene.samples[int(self.rng.integers(len(scene.samples)))])
        return out

    def generate_round(self, ctx: RoundContext) -> None:
        pool = self._candidates(ctx, self.k * ctx.remaining)
        loss = np.asarray(ctx.query(pool).loss, dtype=float)
        hardest = np.argsort(-loss, kind="stable")[: ctx.remaining]
        ctx.deliver([pool[int(i)] for i in sorted(hardest)])
