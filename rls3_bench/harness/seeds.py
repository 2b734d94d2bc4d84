"""Seed streams. Every random choice in the suite draws from a Generator made here.

Streams are ``SeedSequence([namespace, *keys])``: different namespaces give statistically independent
streams, so eval-set scenes come from seeds no generator can use, whatever seed a user passes.
"""

from __future__ import annotations

import numpy as np

#: one 32-bit word per purpose; never reuse or renumber (results depend on them)
NAMESPACES: dict[str, int] = {
    "eval": 0x0E7A1_5E7,
    "generator": 0x6E7E_7A70,
    "learner": 0x1EA7_7E75,
    "pretrain": 0x97E7_7A17,
    "preview": 0x97E7_1E33,
}


def seed_sequence(namespace: str, *keys: int) -> np.random.SeedSequence:
    if namespace not in NAMESPACES:
        raise KeyError(f"unknown seed namespace {namespace!r}; add it to NAMESPACES")
    if any(not isinstance(k, (int, np.integer)) or k < 0 for k in keys):
        raise ValueError(f"seed keys must be non-negative integers, got {keys}")
    return np.random.SeedSequence([NAMESPACES[namespace], *map(int, keys)])


def rng_for(namespace: str, *keys: int) -> np.random.Generator:
    """A fresh Generator for (namespace, keys): same arguments -> same stream, in any process."""
    return np.random.default_rng(seed_sequence(namespace, *keys))


def int_seed(namespace: str, *keys: int) -> int:
    """A 31-bit integer seed for libraries that take ints (torch, stable-baselines3)."""
    return int(seed_sequence(namespace, *keys).generate_state(1, dtype=np.uint32)[0] >> 1)
