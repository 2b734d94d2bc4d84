"""Learners (model adapters): one interface, registered by name."""

from __future__ import annotations

from rls3_bench.harness.registry import Registry

LEARNERS: Registry = Registry("learner")
LEARNERS.register("clip", "rls3_bench.learners.clip:ClipLearner")
LEARNERS.register("paligemma", "rls3_bench.learners.paligemma:PaliGemmaLearner")


def get_learner_class(name: str):
    from rls3_bench.learners.base import Learner

    LEARNERS.base = Learner
    return LEARNERS.get(name)
