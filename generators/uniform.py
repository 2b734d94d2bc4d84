"""uniform-v1: i.i.d. uniformly random valid scenes, one uniformly random captionable pair each."""

from __future__ import annotations

from rls3_bench.generator import Generator, RoundContext
from rls3_bench.scene.random_scenes import random_spec


class UniformGenerator(Generator):
    name = "uniform-v1"

    def generate_round(self, ctx: RoundContext) -> None:
        while ctx.remaining:
            scene = ctx.render(random_spec(self.rng, world=ctx.world))
            if scene.valid:
                ctx.deliver([scene.samples[int(self.rng.integers(len(scene.samples)))]])
