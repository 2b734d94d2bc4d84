"""The contributor surface: everything a data generator needs, importable from one module.

::

    from rls3_bench.api import Generator, RoundContext, random_spec

    class MyGenerator(Generator):
        name = "my-generator-v1"

        def generate_round(self, ctx: RoundContext) -> None:
            while ctx.remaining:
                scene = ctx.render(random_spec(self.rng, world=ctx.world))
                if scene.valid:
                    ctx.deliver(scene.samples[:1])

Check it with ``rls3-bench check-generator my_module:MyGenerator`` before a run. docs/generators.md
describes each name below; this module only gathers them, so their homes can move without breaking
contributed generators.
"""

from __future__ import annotations

from rls3_bench.errors import UserError
from rls3_bench.generator import API_VERSION, BudgetViolation, Generator, Rendered, RoundContext
from rls3_bench.labels.sample import TERMS, Sample
from rls3_bench.learners.base import Feedback
from rls3_bench.scene.construct import balanced_targets, construct_spec
from rls3_bench.scene.random_scenes import random_spec
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec

__all__ = [
    "API_VERSION",
    "BudgetViolation",
    "CameraPose",
    "Feedback",
    "Generator",
    "PlacedObject",
    "Rendered",
    "RoundContext",
    "Sample",
    "SceneSpec",
    "TERMS",
    "UserError",
    "balanced_targets",
    "construct_spec",
    "random_spec",
]
