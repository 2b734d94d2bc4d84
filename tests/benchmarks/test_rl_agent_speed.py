"""Speed of the RLS3 SAC agent's own work (run with ``pytest tests/benchmarks -m benchmark``).

Both use ``SacGenerator`` as a run builds it (``SAC_DEFAULTS``: batch 64, net [64, 64], one torch
thread inside the agent's scope):

* env step: the agent's action (SAC policy) + ``SceneEditEnv.step`` through a ``RoundContext`` on the
  harness (decode the edit, render at 128 px with TinyRenderer, label, caption, observation). The
  episode is long enough never to end during the measurement, so the learner query at an episode's
  end (``test_learner_speed_*``: ``feedback``) is not in it. Steps/s = 1 / mean time.
* update: one SAC gradient update (``model.train(gradient_steps=1)``: critic, actor and entropy
  coefficient, target update) on a filled replay buffer. Updates/s = 1 / mean time.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

import torch  # noqa: E402
from bench_scenes import report_rate  # noqa: E402
from rls3_generators.rls3_agent import SacGenerator  # noqa: E402
from rls3_generators.rls3_env import OBS_SIZE  # noqa: E402

from rls3_bench.backends.embedded import EmbeddedBackend  # noqa: E402
from rls3_bench.generator import Cost, RoundContext  # noqa: E402
from rls3_bench.harness.generation import Harness  # noqa: E402

pytestmark = pytest.mark.benchmark


def test_sac_env_step(benchmark):
    # learning_starts=0: every action comes from the SAC policy, not the uniform warm-up
    gen = SacGenerator(seed=0, config={"episode_steps": 10**6, "learning_starts": 0})
    cost = Cost()
    with EmbeddedBackend(image_size=128, renderer="tiny") as b:
        # no query function: a learner query (only at an episode's end) would raise
        gen.env.bind(RoundContext(0, 10**6, None, Harness(b, cost).render, None, cost))
        obs, _ = gen.env.reset(seed=0)
        state, rendered = {"obs": obs, "valid": 0}, cost.scenes_rendered

        def step():
            next_obs, _, terminated, truncated, info = gen.env.step(gen.act(state["obs"]))
            assert not (terminated or truncated)
            state["obs"], state["valid"] = next_obs, state["valid"] + info["valid"]
            return info

        rounds, warmup = 60, 3
        benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=warmup)
    assert state["obs"].shape == (OBS_SIZE,) and gen.env.t == rounds + warmup
    # one render per step, and one sample per valid edit
    assert cost.scenes_rendered - rendered == rounds + warmup and state["valid"] == len(gen.env.episode_samples) > 0
    report_rate(benchmark, 1, "steps")
    benchmark.extra_info["valid_fraction"] = state["valid"] / (rounds + warmup)


def test_sac_update(benchmark):
    gen = SacGenerator(seed=0)
    batch, buf = int(gen.cfg["batch_size"]), gen.model.replay_buffer
    rng = np.random.default_rng(0)
    for _ in range(int(gen.cfg["learning_starts"])):  # what the agent has stored when its updates begin
        obs, next_obs = rng.uniform(-1, 1, (2, 1, OBS_SIZE)).astype(np.float32)
        buf.add(obs, next_obs, rng.uniform(-1, 1, (1, 6)).astype(np.float32), rng.uniform(0, 1, 1), np.zeros(1), [{}])
    before = [p.detach().clone() for p in gen.model.actor.parameters()]
    n0 = gen.model._n_updates

    def update():
        with gen._agent_scope():  # the agent's own torch RNG and one thread, as in SacGenerator.observe
            gen.model.train(gradient_steps=1, batch_size=batch)

    rounds, warmup = 100, 5
    benchmark.pedantic(update, rounds=rounds, iterations=1, warmup_rounds=warmup)
    assert gen.model._n_updates - n0 == rounds + warmup
    assert any(not torch.equal(p, q) for p, q in zip(before, gen.model.actor.parameters(), strict=True))
    report_rate(benchmark, 1, "updates")
    benchmark.extra_info["batch_size"] = batch
