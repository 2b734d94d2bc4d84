"""weakness-v1 (heuristic, closed loop, no RL): more samples where the learner errs more.

Each round, every target term set of the balanced schedule gets weight ``floor + mean error of its
terms``, with the per-term error the learner showed on the previous round's samples (before training
on them). Target sets are drawn from those weights and built by targeted construction. The first
round (no feedback yet) is uniform over the schedule. A strong non-RL baseline: it sees the same
signal as the RL agent's extrinsic reward, but allocates greedily.
"""

from __future__ import annotations

import math

import numpy as np
from rls3_generators.targeted import deliver_target

from rls3_bench.generator import Generator, RoundContext
from rls3_bench.scene.construct import balanced_targets

#: weight every target keeps, so a term the learner has mastered is still revisited
FLOOR = 0.05


class WeaknessGenerator(Generator):
    name = "weakness-v1"
    closed_loop = True

    def target_weights(self, term_error: dict[str, float] | None) -> tuple[list[tuple[str, ...]], np.ndarray]:
        targets = sorted(set(balanced_targets(24)))
        if not term_error:
            return targets, np.full(len(targets), 1.0 / len(targets))
        known = [v for v in term_error.values() if not math.isnan(v)]
        fallback = float(np.mean(known)) if known else 0.5  # a term absent from last round: average error
        err = {t: (fallback if math.isnan(v) else v) for t, v in term_error.items()}
        w = np.array([FLOOR + np.mean([err[t] for t in target]) for target in targets])
        return targets, w / w.sum()

    def generate_round(self, ctx: RoundContext) -> None:
        fb = ctx.previous_feedback
        targets, p = self.target_weights(fb.term_error if fb is not None else None)
        while ctx.remaining:
            deliver_target(ctx, targets[int(self.rng.choice(len(targets), p=p))], self.rng)
