"""uncertainty-v1: pool-based margin sampling through the real harness and embedded backend."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from rls3_generators.uncertainty import UncertaintyGenerator

from rls3_bench.errors import UserError
from rls3_bench.generator import Cost
from rls3_bench.harness.generation import Harness, produce_round
from rls3_bench.learners.base import Feedback, term_error_rates


@pytest.fixture(scope="module")
def backend():
    from rls3_bench.backends.embedded import EmbeddedBackend

    with EmbeddedBackend(image_size=64, renderer="tiny") as b:
        yield b


def recording_learner(log: list):
    """A stand-in learner whose loss is a hash of the sample id; remembers what it was asked."""

    def query(samples) -> Feedback:
        log.append(list(samples))
        loss = np.array([zlib.crc32(s.sample_id.encode()) % 1000 for s in samples], dtype=float)
        correct = loss < 500
        return Feedback(loss, correct, term_error_rates(samples, correct), 2 * len(samples))

    return query


@pytest.mark.parametrize("k", [1, 4])
def test_delivers_the_highest_loss_part_of_a_k_times_larger_pool(k, backend):
    log: list = []
    out = produce_round(
        UncertaintyGenerator(seed=0, config={"k": k}), Harness(backend, Cost()), 0, 12, None, recording_learner(log)
    )
    (pool,) = log
    assert len(pool) == 12 * k and len({s.sample_id for s in pool}) == 12 * k
    loss = {s.sample_id: zlib.crc32(s.sample_id.encode()) % 1000 for s in pool}
    cut = sorted(loss.values(), reverse=True)[11]
    delivered = [s.sample_id for s in out.delivered]
    assert all(loss[i] >= cut for i in delivered) and len(delivered) == 12
    assert delivered == [s.sample_id for s in pool if s.sample_id in set(delivered)]  # pool order kept
    assert out.cost.feedback_queries == 2 * 12 * k and out.cost.scenes_rendered >= 12 * k


def test_same_seed_same_samples(backend):
    runs = [
        produce_round(
            UncertaintyGenerator(seed=s), Harness(backend, Cost()), 0, 8, None, recording_learner([])
        ).delivered
        for s in (3, 3, 4)
    ]
    ids = [[s.sample_id for s in r] for r in runs]
    assert ids[0] == ids[1] != ids[2]


@pytest.mark.parametrize(
    "config, fragment",
    [({"k": 0}, "k must be an integer >= 1"), ({"k": 2.5}, "k must be"), ({"pool": 4}, "unknown config key")],
)
def test_bad_config_is_one_clear_error(config, fragment):
    with pytest.raises(UserError, match=fragment):
        UncertaintyGenerator(seed=0, config=config)
