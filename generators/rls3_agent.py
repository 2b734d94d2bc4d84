"""rls3-sac-v1 and rls3-random-v1: the RLS3 agent (Soft Actor-Critic) and the paper's baseline, a
random agent in the same environment and loop. rls3-sac-v2 and rls3-random-v2 are the same agents in
:class:`~rls3_generators.rls3_env.StackingSceneEditEnv`, whose placements can also land on the other
objects (the v1 environment drops an edited object at its furniture's top height only, so it cannot
put anything on a plate, book or bowl).

All run whole episodes of :class:`~rls3_generators.rls3_env.SceneEditEnv` (T steps each) until
the round is filled, bound to the round's :class:`RoundContext`, so every render and learner query
is counted by the harness:

1. **Episode** (the paper's process 1-3): reset to the next room of the cycle, T edits, one sample
   per valid edit, the learner queried on the episode's valid samples at its end (extrinsic reward).
2. **Subsampling** at rate eta: ``floor(eta * T0 + 0.5)`` of the episode's T0 valid samples, drawn
   without replacement with the generator's RNG and kept in step order, join the round's pool.
3. **Delivery**: as soon as the pool holds at least ``ctx.remaining`` samples, the *earliest* ones
   in pool order (episode order, then step order) are delivered and the round ends; the surplus of
   the last episode is dropped (samples belong to the round that rendered them). E, the number of
   episodes per round, is therefore whatever the budget needs, about
   ``round_size / (eta * validity * T)``.

The SAC agent is trained online across rounds, one gradient update per environment step after
``learning_starts`` steps of uniformly random warm-up actions (SB3's ``train_freq=1,
gradient_steps=1``), by a small custom loop over SB3's public pieces (``policy.predict``,
``replay_buffer.add``, ``SAC.train``) rather than ``SAC.learn``: ``learn`` drives a VecEnv that
resets itself inside the last step of an episode, which would start the next episode (and render
in the current round) before the round's accounting is done. Here episodes start and end exactly
where the round needs them.

Both classes only read the public Generator API; see docs/generators.md, section
"rls3-sac-v1: every choice the paper leaves open", for the defaults and their reasons.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
from rls3_generators.rls3_env import SceneEditEnv, StackingSceneEditEnv

from rls3_bench.errors import UserError
from rls3_bench.generator import Generator, RoundContext
from rls3_bench.labels.sample import Sample

#: the round structure and rewards shared by both agents (config keys; see docs/generators.md)
ENV_DEFAULTS: dict[str, Any] = {
    "episode_steps": 16,  # T
    "eta": 0.5,  # subsampling rate
    "r_valid": 0.01,  # intrinsic reward of a valid edit
    "r_invalid": 0.05,  # intrinsic penalty of an invalid (reverted) edit
    "w_ext": 1.0,  # weight of the extrinsic reward J2 = w_ext * learner error
}
#: SAC hyper-parameters (config keys)
SAC_DEFAULTS: dict[str, Any] = {
    "learning_starts": 256,
    "buffer_size": 20_000,
    "batch_size": 64,
    "gamma": 0.95,
    "learning_rate": 3e-4,
    "tau": 0.005,
    "net_arch": [64, 64],
    # the entropy temperature's start ("auto": SB3 then tunes it towards entropy -dim(action));
    # 1.0 is SB3's own start
    "ent_coef_init": 1.0,
}
#: rls3-sac-v2's replay buffer: about five 64-sample rounds of environment steps (~200 each)
V2_BUFFER_SIZE = 1024
#: consecutive episodes without a kept sample before a round gives up (the agent may not hang a run)
MAX_EMPTY_EPISODES = 100

# seed stream keys, below the generator's own seed (never reuse or renumber)
_ENV_STREAM, _ACTION_STREAM, _TORCH_STREAM, _BUFFER_STREAM = 1, 2, 3, 4


def _stream_int(seed: int, key: int) -> int:
    return int(np.random.SeedSequence([seed, key]).generate_state(1, dtype=np.uint32)[0] >> 1)


def _check_config(name: str, config: dict, defaults: dict) -> dict:
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise UserError(
            f"{name}: unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(defaults))}"
        )
    out = {**defaults, **config}
    if not (isinstance(out["episode_steps"], int) and out["episode_steps"] >= 1):
        raise UserError(f"{name}: episode_steps must be an integer >= 1, got {out['episode_steps']!r}")
    if not 0.0 < float(out["eta"]) <= 1.0:
        raise UserError(f"{name}: eta must be in (0, 1], got {out['eta']!r}")
    if float(out["r_valid"]) < 0 or float(out["r_invalid"]) < 0 or float(out["w_ext"]) < 0:
        raise UserError(f"{name}: r_valid, r_invalid and w_ext are magnitudes and must be >= 0")
    if "ent_coef_init" in out and not float(out["ent_coef_init"]) > 0:
        raise UserError(
            f"{name}: ent_coef_init must be > 0 (SAC's starting entropy temperature), got {out['ent_coef_init']!r}"
        )
    return out


class _EpisodicAgentGenerator(Generator):
    """The round structure shared by the SAC and the random agent; subclasses choose actions."""

    closed_loop = True
    DEFAULTS: dict[str, Any] = ENV_DEFAULTS
    #: the environment the agent acts in (v1: SceneEditEnv; v2: StackingSceneEditEnv)
    ENV_CLASS: type[SceneEditEnv] = SceneEditEnv

    def __init__(self, seed: int, config: dict | None = None) -> None:
        super().__init__(seed, config)
        self.cfg = _check_config(self.name, self.config, self.DEFAULTS)
        self.env = self.ENV_CLASS(
            episode_steps=self.cfg["episode_steps"],
            r_valid=self.cfg["r_valid"],
            r_invalid=self.cfg["r_invalid"],
            w_ext=self.cfg["w_ext"],
        )
        self.env_seeded = False
        self.env_steps = 0
        self.updates = 0
        self.episodes = 0
        #: one JSON-able dict per episode: RL reward and feasibility curves for figures
        self.history: list[dict] = []

    # --- what subclasses provide ---------------------------------------------------------------
    def act(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def observe(
        self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool
    ) -> None:
        """Called after every env step (the SAC agent stores the transition and trains)."""

    def episode_extra(self) -> dict:
        return {}

    # --- the round ------------------------------------------------------------------------------
    def generate_round(self, ctx: RoundContext) -> None:
        self.env.bind(ctx)
        try:
            pool: list[Sample] = []
            empty = 0
            while len(pool) < ctx.remaining:
                kept = self._episode(ctx)
                pool.extend(kept)
                empty = 0 if kept else empty + 1
                if empty >= MAX_EMPTY_EPISODES:
                    raise RuntimeError(
                        f"{self.name}: {MAX_EMPTY_EPISODES} episodes in a row without a valid edit; "
                        "the agent or the backend is stuck"
                    )
            ctx.deliver(pool[: ctx.remaining])
        finally:
            self.env.bind(None)

    def _episode(self, ctx: RoundContext) -> list[Sample]:
        # the env is seeded once, at its first episode; after that its RNG state carries on
        seed = None if self.env_seeded else _stream_int(self.seed, _ENV_STREAM)
        obs, _ = self.env.reset(seed=seed)
        self.env_seeded = True
        terminated = False
        while not terminated:
            action = self.act(obs)
            next_obs, reward, terminated, _, info = self.env.step(action)
            self.env_steps += 1
            self.observe(obs, action, reward, next_obs, terminated)
            obs = next_obs
        samples = self.env.episode_samples
        k = int(math.floor(self.cfg["eta"] * len(samples) + 0.5))
        idx = sorted(int(i) for i in self.rng.choice(len(samples), size=k, replace=False)) if k else []
        record = {
            "round": ctx.round_index,
            "episode": self.episodes,
            **info["episode"],
            "kept": k,
            "env_steps": self.env_steps,
            "rl_updates": self.updates,
            **self.episode_extra(),
        }
        self.history.append(record)
        self.episodes += 1
        return [samples[i] for i in idx]

    # --- cost and checkpoints --------------------------------------------------------------------
    def extra_cost(self) -> dict[str, int]:
        return {"rl_env_steps": self.env_steps, "rl_updates": self.updates}

    def state_dict(self) -> dict:
        return {
            "rng": self.rng.bit_generator.state,
            "env": self.env.state_dict(),
            "env_seeded": self.env_seeded,
            "env_steps": self.env_steps,
            "rl_updates": self.updates,
            "episodes": self.episodes,
            "history": [dict(h) for h in self.history],
        }

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.env.load_state_dict(state["env"])
        self.env_seeded = bool(state["env_seeded"])
        self.env_steps, self.updates, self.episodes = (
            int(state["env_steps"]),
            int(state["rl_updates"]),
            int(state["episodes"]),
        )
        self.history = [dict(h) for h in state["history"]]


class RandomAgentGenerator(_EpisodicAgentGenerator):
    """The paper's baseline: uniformly random actions in the same environment and round structure.

    It ignores the rewards, but still queries the learner at every episode's end (the extrinsic
    reward is computed and logged as for SAC), so its generation cost has the same structure as the
    SAC agent's and the two differ only in how actions are chosen.
    """

    name = "rls3-random-v1"

    def __init__(self, seed: int, config: dict | None = None) -> None:
        super().__init__(seed, config)
        self.env.action_space.seed(_stream_int(self.seed, _ACTION_STREAM))

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.env.action_space.sample()

    def state_dict(self) -> dict:
        return {**super().state_dict(), "action_rng": self.env.action_space.np_random.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.env.action_space.np_random.bit_generator.state = state["action_rng"]


def _seeded_buffer_class():
    from stable_baselines3.common.buffers import ReplayBuffer

    class SeededReplayBuffer(ReplayBuffer):
        """SB3's replay buffer drawing minibatches from its own Generator instead of numpy's global
        RNG, so the agent neither reads nor disturbs global state (and checkpoints are exact)."""

        rng: np.random.Generator = None  # set by the generator right after the model is built

        def sample(self, batch_size: int, env=None):
            upper = self.buffer_size if self.full else self.pos
            return self._get_samples(self.rng.integers(0, upper, size=batch_size), env=env)

    # importable by name (module __getattr__ below), so SB3's saved model refers to it by reference
    SeededReplayBuffer.__module__, SeededReplayBuffer.__qualname__ = __name__, "SeededReplayBuffer"
    return SeededReplayBuffer


_BUFFER_CLASS = None


def seeded_buffer_class():
    global _BUFFER_CLASS
    if _BUFFER_CLASS is None:
        _BUFFER_CLASS = _seeded_buffer_class()
    return _BUFFER_CLASS


def __getattr__(name: str):
    if name == "SeededReplayBuffer":
        return seeded_buffer_class()
    raise AttributeError(name)


#: replay-buffer fields written to checkpoints (only the filled part)
_BUFFER_FIELDS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


class SacGenerator(_EpisodicAgentGenerator):
    """RLS3's Soft Actor-Critic agent (stable-baselines3), trained online across rounds.

    The agent keeps its own torch RNG state and runs on one torch thread: both are swapped in around
    each of its calls (act, store + train) and swapped out after, so it neither slows nor reseeds the
    learner that shares the process, and the same seed gives the same actions.
    """

    name = "rls3-sac-v1"
    DEFAULTS = {**ENV_DEFAULTS, **SAC_DEFAULTS}

    def __init__(self, seed: int, config: dict | None = None) -> None:
        super().__init__(seed, config)
        self.warmup_rng = np.random.default_rng(np.random.SeedSequence([self.seed, _ACTION_STREAM]))
        self._torch_state = None
        self.model = None
        with self._construct():
            self.model = self._build()

    # --- isolation of the agent's randomness and threads ---------------------------------------
    @contextlib.contextmanager
    def _agent_scope(self):
        import torch

        threads = torch.get_num_threads()
        outer = torch.get_rng_state()
        torch.set_num_threads(1)
        if self._torch_state is not None:
            torch.set_rng_state(self._torch_state)
        try:
            yield
        finally:
            self._torch_state = torch.get_rng_state()
            torch.set_rng_state(outer)
            torch.set_num_threads(threads)

    @contextlib.contextmanager
    def _construct(self):
        """Building or loading an SB3 model seeds python's, numpy's and torch's global RNGs
        (``set_random_seed``); put them back afterwards."""
        py, npy = random.getstate(), np.random.get_state()
        try:
            with self._agent_scope():
                yield
        finally:
            random.setstate(py)
            np.random.set_state(npy)

    def _build(self):
        from stable_baselines3 import SAC

        c = self.cfg
        model = SAC(
            "MlpPolicy",
            self.env,
            seed=_stream_int(self.seed, _TORCH_STREAM),
            device="cpu",
            learning_starts=int(c["learning_starts"]),
            buffer_size=int(c["buffer_size"]),
            batch_size=int(c["batch_size"]),
            train_freq=1,
            gradient_steps=1,
            gamma=float(c["gamma"]),
            learning_rate=float(c["learning_rate"]),
            tau=float(c["tau"]),
            # at SB3's own start the plain "auto", so the saved models of runs made before the key
            # existed stay byte-identical
            ent_coef="auto" if float(c["ent_coef_init"]) == 1.0 else f"auto_{float(c['ent_coef_init'])!r}",
            policy_kwargs={"net_arch": list(c["net_arch"])},
            replay_buffer_class=seeded_buffer_class(),
            verbose=0,
        )
        self._finish(model)
        model.replay_buffer.rng = np.random.default_rng(np.random.SeedSequence([self.seed, _BUFFER_STREAM]))
        return model

    @staticmethod
    def _finish(model) -> None:
        from stable_baselines3.common.logger import Logger

        # SAC.train records to a logger that learn() would set up; ours writes nowhere
        model.set_logger(Logger(folder=None, output_formats=[]))

    # --- acting and learning -------------------------------------------------------------------
    def act(self, obs: np.ndarray) -> np.ndarray:
        if self.env_steps < self.cfg["learning_starts"]:
            return self.warmup_rng.uniform(-1.0, 1.0, size=self.env.action_space.shape).astype(np.float32)
        with self._agent_scope():
            action, _ = self.model.predict(obs, deterministic=False)
        return np.asarray(action, dtype=np.float32)

    def observe(self, obs, action, reward, next_obs, terminated) -> None:
        with self._agent_scope():
            self.model.replay_buffer.add(
                obs[None], next_obs[None], np.asarray(action)[None], np.array([reward]), np.array([terminated]), [{}]
            )
            self.model.num_timesteps = self.env_steps
            # SB3's rule: train once more than learning_starts transitions are stored
            if self.env_steps > self.cfg["learning_starts"]:
                self.model.train(gradient_steps=1, batch_size=int(self.cfg["batch_size"]))
                self.updates += 1

    def episode_extra(self) -> dict:
        import torch

        return {"ent_coef": round(float(torch.exp(self.model.log_ent_coef.detach()).item()), 6)}

    # --- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        torch_state = (
            None if self._torch_state is None else base64.b64encode(self._torch_state.numpy().tobytes()).decode("ascii")
        )
        return {
            **super().state_dict(),
            "warmup_rng": self.warmup_rng.bit_generator.state,
            "buffer_rng": self.model.replay_buffer.rng.bit_generator.state,
            "agent_torch_rng": torch_state,
        }

    def load_state_dict(self, state: dict) -> None:
        import torch

        super().load_state_dict(state)
        self.warmup_rng.bit_generator.state = state["warmup_rng"]
        self.model.replay_buffer.rng.bit_generator.state = state["buffer_rng"]
        raw = state["agent_torch_rng"]
        self._torch_state = (
            None if raw is None else torch.from_numpy(np.frombuffer(base64.b64decode(raw), dtype=np.uint8).copy())
        )

    def save_extra(self, folder) -> None:
        folder = Path(folder)
        # SB3's zip holds cloudpickled objects next to the weights: acceptable only because
        # checkpoints are our own files, written and read by this run; never part of a submission.
        with self._agent_scope():
            self.model.save(folder / "sac.zip")
        buf = self.model.replay_buffer
        n = buf.buffer_size if buf.full else buf.pos
        np.savez(folder / "replay_buffer.npz", **{f: getattr(buf, f)[:n] for f in _BUFFER_FIELDS})
        (folder / "replay_buffer.json").write_text(
            json.dumps({"pos": int(buf.pos), "full": bool(buf.full), "size": int(n)})
        )

    def load_extra(self, folder) -> None:
        from stable_baselines3 import SAC

        folder = Path(folder)
        if not (folder / "sac.zip").is_file():
            raise UserError(
                f"{self.name}: checkpoint folder {folder} has no sac.zip; "
                "delete the checkpoint to start the cell afresh"
            )
        buffer_rng = self.model.replay_buffer.rng
        saved_torch = self._torch_state
        with self._construct():
            model = SAC.load(folder / "sac.zip", env=self.env, device="cpu")
        self._torch_state = saved_torch  # SAC.load reseeded torch inside the scope; the saved state wins
        self._finish(model)
        meta = json.loads((folder / "replay_buffer.json").read_text())
        with np.load(folder / "replay_buffer.npz") as data:
            for f in _BUFFER_FIELDS:
                getattr(model.replay_buffer, f)[: meta["size"]] = data[f]
        model.replay_buffer.pos, model.replay_buffer.full = int(meta["pos"]), bool(meta["full"])
        model.replay_buffer.rng = buffer_rng
        self.model = model


class RandomAgentGeneratorV2(RandomAgentGenerator):
    """rls3-random-v1 in :class:`~rls3_generators.rls3_env.StackingSceneEditEnv`: its placements
    land on any support, objects included."""

    name = "rls3-random-v2"
    ENV_CLASS = StackingSceneEditEnv


class SacGeneratorV2(SacGenerator):
    """rls3-sac-v1 in :class:`~rls3_generators.rls3_env.StackingSceneEditEnv`: its placements land
    on any support, objects included, and its J2 is the episode's loss relative to a running baseline.
    Its replay buffer holds :data:`V2_BUFFER_SIZE` transitions, so rewards earned against a learner
    several rounds old are forgotten."""

    name = "rls3-sac-v2"
    ENV_CLASS = StackingSceneEditEnv
    DEFAULTS = {**SacGenerator.DEFAULTS, "buffer_size": V2_BUFFER_SIZE}
