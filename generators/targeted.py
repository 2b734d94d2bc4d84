"""Shared machinery of the heuristic generators: deliver a sample whose terms equal a target set."""

from __future__ import annotations

from rls3_bench.generator import RoundContext
from rls3_bench.labels.sample import Sample
from rls3_bench.scene.construct import construct_spec

#: scenes tried per target before the target is skipped (rare combinations in unlucky rooms)
MAX_TRIES = 40


def deliver_target(ctx: RoundContext, target: tuple[str, ...], rng) -> Sample | None:
    """Construct, render and deliver one sample with exactly ``target``; None if none was found."""
    for _ in range(MAX_TRIES):
        made = construct_spec(target, rng, world=ctx.world)
        if made is None:
            continue
        spec, a, b = made
        scene = ctx.render(spec, pair=(a, b))
        if scene.valid and scene.samples[0].terms == target:
            ctx.deliver([scene.samples[0]])
            return scene.samples[0]
    return None
