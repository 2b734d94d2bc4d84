"""Simulator backends: one interface (:class:`rls3_bench.backends.base.Backend`), registered by name."""

from __future__ import annotations

from rls3_bench.harness.registry import Registry

BACKENDS: Registry = Registry("backend")
BACKENDS.register("embedded", "rls3_bench.backends.embedded:EmbeddedBackend")
BACKENDS.register("unity", "rls3_bench.backends.unity:UnityBackend")


def get_backend_class(name: str):
    from rls3_bench.backends.base import Backend

    BACKENDS.base = Backend
    return BACKENDS.get(name)
