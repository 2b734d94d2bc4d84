"""SceneEditEnv: the RLS3 agent's environment (a ``gymnasium.Env``), built on the public Generator API.

One episode = one room and T scene edits. The environment never touches a simulator: it renders
through ``ctx.render`` and asks the learner through ``ctx.query`` of the :class:`RoundContext` that
the generator binds to it for the duration of a round (:meth:`SceneEditEnv.bind`). So every render
and every learner query it makes is counted by the harness, like any generator's.

**Episode.** :meth:`reset` moves to the next room of the cycle ``ctx.world.room_ids`` (rooms are cycled
over episodes, as in the paper) and draws a random valid scene of :data:`ACTIVE_OBJECTS` distinct
assets with :func:`rls3_bench.scene.random_scenes.random_spec` in the track's world (re-drawn until
``ctx.render`` calls it valid, at most ``max_reset_tries`` times); placements use the world's object
scale. The camera drawn there stays fixed for the episode: the agent
edits objects, not the view. The initial scene yields no sample (it is not an agent step).

**Action** ``Box(-1, 1, (6,))``, decoded by :meth:`decode` (a value ``a`` falls in bin
``min(floor((a + 1) / 2 * n), n - 1)`` of ``n`` equal bins):

* ``[0]`` which active slot to edit (3 bins);
* ``[1]`` which asset goes there: bins over the assets *not* held by the other two slots, in sorted
  order (10 of the 12): swapping with an object from the container, keeping the slot's current asset
  being one of the bins (then the edit is a pure move);
* ``[2]`` which support surface of the room (bins over ``room.supports``);
* ``[3]``, ``[4]`` x, y on that surface: ``centre + a * (half_extent - footprint_radius)``, so the
  whole footprint stays on the surface (0 where the surface is narrower than the object);
* ``[5]`` yaw: ``(a + 1) * 180`` degrees.

The object is placed at the surface's top height; the backend drops it onto whatever is below (an
object placed over another one stands on it if it is stable there).

**Step.** The edit is rendered. Valid (feasible and at least one captionable pair): reward
``+r_valid``, the scene becomes the edited one and yields **one sample**, a captionable pair chosen
uniformly with the env's RNG (the agent shapes *what is in the scene*; which pair gets captioned is
not part of its action, so it cannot pick the pair the learner fails on by position alone), appended
to the episode's samples. Invalid: reward ``-r_invalid`` and the edit is reverted (the scene keeps its
previous valid state). After T steps the episode ends with ``terminated=True`` (not ``truncated``:
the step fraction is part of the observation and the extrinsic reward is the episode's terminal
payoff, so the time limit is part of the task and must not be bootstrapped past, see Pardo et al.,
"Time Limits in Reinforcement Learning", ICML 2018). At that step the learner is queried on the
episode's valid samples and the **extrinsic reward** ``J2 = w_ext * (1 - mean(correct))`` (the
learner's mistakes are the reward; 0 if the episode has no valid sample) is added to the step's reward.

**Observation** ``Box(float32, (63,))``: one-hot room (5, the world's ``room_ids``); per slot (3): one-hot
asset (12, ``sorted(ASSETS)``), settled bottom-centre minus the room's camera target, in metres (3),
sin and cos of yaw (2); the learner's recent per-term error (6, :data:`TERMS` order; see
:meth:`bind`); the step fraction t/T (1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rls3_bench.generator import RoundContext
from rls3_bench.labels.sample import TERMS, Sample
from rls3_bench.scene.assets import ACTIVE_OBJECTS, ASSETS, ROOMS, asset_height, footprint_radius
from rls3_bench.scene.random_scenes import random_spec
from rls3_bench.scene.spec import PlacedObject, SceneSpec
from rls3_bench.scene.worlds import DEFAULT_WORLD, WORLDS

#: rooms per world (every world has the paper's five), the length of the observation's room one-hot
N_ROOMS = len(DEFAULT_WORLD.room_ids)
assert all(len(w.room_ids) == N_ROOMS for w in WORLDS.values())
ASSET_IDS: tuple[str, ...] = tuple(sorted(ASSETS))
#: per-slot features: one-hot asset, position (3), sin/cos yaw (2)
SLOT_FEATURES = len(ASSET_IDS) + 3 + 2
OBS_SIZE = N_ROOMS + ACTIVE_OBJECTS * SLOT_FEATURES + len(TERMS) + 1
#: observation bounds: positions are within a few metres of the camera target, the rest in [-1, 1]
OBS_BOUND = 5.0
#: the per-term error the agent assumes before the learner has shown one for a term
UNKNOWN_ERROR = 0.5


def bin_index(a: float, n: int) -> int:
    """Bin of ``a`` in [-1, 1] among ``n`` equal bins (out-of-range values are clipped)."""
    a = float(np.clip(a, -1.0, 1.0))
    return min(int(math.floor((a + 1.0) / 2.0 * n)), n - 1)


@dataclass(frozen=True)
class Edit:
    """A decoded action: put ``asset`` in ``slot``, on ``support`` at ``position`` with ``yaw_deg``."""

    slot: int
    asset: str
    support: str
    position: tuple[float, float, float]
    yaw_deg: float


class SceneEditEnv(gym.Env):
    """The RLS3 scene-editing MDP (see the module docstring for the encoding).

    :param episode_steps: T, agent steps per episode.
    :param r_valid: intrinsic reward of a valid edit (> 0).
    :param r_invalid: magnitude of the intrinsic penalty of an invalid edit (reward ``-r_invalid``).
    :param w_ext: weight of the extrinsic reward J2 at the episode's end.
    :param max_reset_tries: random scenes tried by :meth:`reset` before it gives up.

    Seeding: ``reset(seed=s)`` reseeds the env's RNG (``self.np_random``) *and* restarts the room
    cycle at the first room, so a seeded reset is reproducible on its own.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        episode_steps: int = 16,
        r_valid: float = 0.01,
        r_invalid: float = 0.05,
        w_ext: float = 1.0,
        max_reset_tries: int = 200,
    ) -> None:
        super().__init__()
        if episode_steps < 1:
            raise ValueError(f"episode_steps must be >= 1, got {episode_steps}")
        self.episode_steps = int(episode_steps)
        self.r_valid, self.r_invalid, self.w_ext = float(r_valid), float(r_invalid), float(w_ext)
        self.max_reset_tries = int(max_reset_tries)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(6,), dtype=np.float32)
        self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(OBS_SIZE,), dtype=np.float32)
        self.ctx: RoundContext | None = None
        self.world = DEFAULT_WORLD  # the bound round's world (rooms, object scale)
        # --- state (see state_dict) ---
        self.episode = 0  # episodes started (drives the room cycle)
        self.t = 0  # steps taken in the current episode
        self.scene: SceneSpec | None = None
        self.settled: tuple[tuple[tuple[float, float, float], float], ...] = ()  # (position, yaw) per slot
        self.term_error: dict[str, float] = {t: UNKNOWN_ERROR for t in TERMS}
        self.episode_samples: list[Sample] = []
        self.episode_valid = 0
        self.episode_intrinsic = 0.0
        self.last_episode: dict[str, Any] | None = None

    # --- binding to a round ------------------------------------------------------------------
    def bind(self, ctx: RoundContext | None) -> None:
        """Render and query through ``ctx`` from now on (``None`` unbinds).

        Binding folds ``ctx.previous_feedback.term_error`` into the observed per-term error: per term,
        a known (non-NaN) value replaces the old one, an unknown one keeps it. The env's own episode
        queries update it the same way, so the observation always holds the newest error seen per term.
        """
        self.ctx = ctx
        if ctx is not None:
            self.world = ctx.world
        if ctx is not None and ctx.previous_feedback is not None:
            self._merge_term_error(ctx.previous_feedback.term_error)

    def _merge_term_error(self, term_error: dict[str, float]) -> None:
        for t in TERMS:
            v = term_error.get(t, float("nan"))
            if v is not None and not math.isnan(v):
                self.term_error[t] = float(v)

    def _need_ctx(self) -> RoundContext:
        if self.ctx is None:
            raise RuntimeError(
                "SceneEditEnv is not bound to a RoundContext; call env.bind(ctx) inside generate_round first"
            )
        return self.ctx

    # --- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.episode = 0
        ctx = self._need_ctx()
        room = self.world.room_ids[self.episode % N_ROOMS]
        self.episode += 1
        for _ in range(self.max_reset_tries):
            rendered = ctx.render(random_spec(self.np_random, room, world=self.world))
            if rendered.valid:
                break
        else:
            raise RuntimeError(
                f"no valid random scene in room {room} after {self.max_reset_tries} tries; is the backend rendering?"
            )
        self._accept(rendered)
        self.t = 0
        self.episode_samples = []
        self.episode_valid = 0
        self.episode_intrinsic = 0.0
        return self._observation(), {"room": room}

    def step(self, action):
        ctx = self._need_ctx()
        if self.scene is None:
            raise RuntimeError("step() before reset()")
        edit = self.decode(np.asarray(action, dtype=np.float64))
        rendered = ctx.render(SceneSpec(self.scene.room, self.scene.camera, self.edited_objects(edit)))
        info: dict[str, Any] = {"valid": rendered.valid, "reason": rendered.reason, "sample_id": ""}
        if rendered.valid:
            self._accept(rendered)
            sample = rendered.samples[int(self.np_random.integers(len(rendered.samples)))]
            self.episode_samples.append(sample)
            self.episode_valid += 1
            info["sample_id"] = sample.sample_id
            reward = self.r_valid
        else:
            reward = -self.r_invalid  # the edit is reverted: self.scene keeps the last valid scene
        self.episode_intrinsic += reward
        self.t += 1
        terminated = self.t >= self.episode_steps
        if terminated:
            extrinsic, learner_error = self._extrinsic(ctx)
            reward += extrinsic
            self.last_episode = {
                "room": self.scene.room,
                "steps": self.t,
                "valid": self.episode_valid,
                "feasibility": self.episode_valid / self.t,
                "intrinsic_return": round(self.episode_intrinsic, 6),
                "extrinsic_reward": round(extrinsic, 6),
                "learner_error": learner_error,
            }
            info["episode"] = dict(self.last_episode)
        return self._observation(), float(reward), terminated, False, info

    # --- pieces --------------------------------------------------------------------------------
    def decode(self, action: np.ndarray) -> Edit:
        """The edit an action in [-1, 1]^6 stands for (see the module docstring)."""
        if self.scene is None:
            raise RuntimeError("decode() needs a current scene; call reset() first")
        room = ROOMS[self.scene.room]
        slot = bin_index(action[0], ACTIVE_OBJECTS)
        others = {o.asset for i, o in enumerate(self.scene.objects[:ACTIVE_OBJECTS]) if i != slot}
        candidates = [a for a in ASSET_IDS if a not in others]
        asset = candidates[bin_index(action[1], len(candidates))]
        support = room.supports[bin_index(action[2], len(room.supports))]
        r = footprint_radius(ASSETS[asset], self.world.object_scale)
        cx, cy, _ = support.centre
        hx, hy = max(support.half_extents[0] - r, 0.0), max(support.half_extents[1] - r, 0.0)
        x = cx + float(np.clip(action[3], -1, 1)) * hx
        y = cy + float(np.clip(action[4], -1, 1)) * hy
        yaw = (float(np.clip(action[5], -1, 1)) + 1.0) * 180.0
        return Edit(slot, asset, support.id, (round(x, 4), round(y, 4), round(support.top, 4)), round(yaw, 2))

    def edited_objects(self, edit: Edit) -> tuple[PlacedObject, ...]:
        """The scene's objects after ``edit``: the slot's object replaced in place."""
        objects = list(self.scene.objects)
        objects[edit.slot] = PlacedObject(
            edit.asset, edit.position, yaw_deg=edit.yaw_deg, scale=self.world.object_scale
        )
        return tuple(objects)

    def _accept(self, rendered) -> None:
        self.scene = rendered.spec
        states = rendered.observation.objects
        self.settled = tuple((tuple(s.position), float(s.yaw_deg)) for s in states[:ACTIVE_OBJECTS])

    def _extrinsic(self, ctx: RoundContext) -> tuple[float, float | None]:
        if not self.episode_samples:
            return 0.0, None
        fb = ctx.query(self.episode_samples)
        self._merge_term_error(fb.term_error)
        error = float(1.0 - np.mean(np.asarray(fb.correct, dtype=float)))
        return self.w_ext * error, round(error, 6)

    def _observation(self) -> np.ndarray:
        obs = np.zeros(OBS_SIZE, dtype=np.float32)
        room = ROOMS[self.scene.room]
        obs[self.world.room_ids.index(room.id)] = 1.0
        target = np.asarray(room.camera_target)
        base = N_ROOMS
        for k, (obj, (pos, yaw)) in enumerate(zip(self.scene.objects[:ACTIVE_OBJECTS], self.settled, strict=True)):
            o = base + k * SLOT_FEATURES
            obs[o + ASSET_IDS.index(obj.asset)] = 1.0
            o += len(ASSET_IDS)
            obs[o : o + 3] = np.clip(np.asarray(pos) - target, -OBS_BOUND, OBS_BOUND)
            obs[o + 3], obs[o + 4] = math.sin(math.radians(yaw)), math.cos(math.radians(yaw))
        o = base + ACTIVE_OBJECTS * SLOT_FEATURES
        obs[o : o + len(TERMS)] = [self.term_error[t] for t in TERMS]
        obs[-1] = self.t / self.episode_steps
        return obs

    # --- checkpointing -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """JSON-able state between episodes (checkpoints are taken at round ends = episode ends)."""
        return {
            "np_random": self.np_random.bit_generator.state,
            "episode": self.episode,
            "term_error": dict(self.term_error),
            "scene": self.scene.to_json() if self.scene is not None else None,
            "settled": [[list(p), y] for p, y in self.settled],
        }

    def load_state_dict(self, state: dict) -> None:
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = state["np_random"]
        self._np_random = rng
        self.episode = int(state["episode"])
        self.term_error = {t: float(state["term_error"][t]) for t in TERMS}
        self.scene = SceneSpec.from_json(state["scene"]) if state["scene"] is not None else None
        self.settled = tuple((tuple(p), float(y)) for p, y in state["settled"])
        self.t = self.episode_steps  # between episodes: the next call must be reset()


#: how far (m, per axis) an object dropped onto another may land from that object's centre; under
#: the labeler's ``min_horizontal_m`` (3 cm) the pair is purely above/below, beyond it not captioned
#: or, further out, unsupported, so the agent can make both pure and unstable stacks
STACK_OFFSET_M = 0.04
#: a drop starts this far above the top of the pile under it, as ``random_spec`` stacks objects
DROP_CLEARANCE_M = 0.01
#: an object whose bottom is within this of the pile's top so far stands on the pile
PILE_TOLERANCE_M = 0.005
#: weight of the newest episode in the running baseline of the learner's loss (about the last 10
#: episodes, which is about one 64-sample round)
BASELINE_RATE = 0.1
#: floor of the baseline in the J2 normalisation (a learner with ~0 loss must not blow J2 up)
BASELINE_FLOOR = 1e-3


class StackingSceneEditEnv(SceneEditEnv):
    """The scene-editing MDP of the v2 agents: placements land on any support, objects included.

    Differences from :class:`SceneEditEnv` (everything else, including the observation, is the same):

    * ``action[2]`` bins over the room's supports *followed by the two other active objects* (slot
      order). Choosing an object puts the edited one on it: x, y are that object's settled centre
      plus ``action[3:5] * STACK_OFFSET_M``.
    * The drop starts :data:`DROP_CLEARANCE_M` above the top of the pile under the footprint (the
      chosen support or object and whatever already stands on it there), so the backend settles the
      object on top of the pile rather than inside it. On bare furniture it starts at the top, as in v1.
    * The edited object moves to the end of the spec: the backend drops objects in spec order, so the
      object is dropped onto everything already standing. Slots follow spec order, so after an edit
      the edited object is the last slot (the observation always shows the current order).
    * **J2** is continuous and relative: ``w_ext * (L - b) / max(b, BASELINE_FLOOR)``, with ``L`` the
      learner's mean per-sample loss on the episode's samples (its true caption against all of the
      sample's negatives) and ``b`` a running mean of ``L`` over past episodes (rate
      :data:`BASELINE_RATE`; the first episode sets it, and earns 0). An episode is paid for being
      harder than the learner's current level, on a scale that does not shrink as the learner improves.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_baseline: float | None = None

    def decode(self, action: np.ndarray) -> Edit:
        if self.scene is None:
            raise RuntimeError("decode() needs a current scene; call reset() first")
        room = ROOMS[self.scene.room]
        active = self.scene.objects[:ACTIVE_OBJECTS]
        slot = bin_index(action[0], len(active))
        others = {o.asset for i, o in enumerate(active) if i != slot}
        candidates = [a for a in ASSET_IDS if a not in others]
        asset = candidates[bin_index(action[1], len(candidates))]
        bases = [i for i in range(len(active)) if i != slot]
        target = bin_index(action[2], len(room.supports) + len(bases))
        r = footprint_radius(ASSETS[asset], self.world.object_scale)
        dx, dy = (float(np.clip(a, -1, 1)) for a in action[3:5])
        if target < len(room.supports):
            support = room.supports[target]
            cx, cy, _ = support.centre
            x = cx + dx * max(support.half_extents[0] - r, 0.0)
            y = cy + dy * max(support.half_extents[1] - r, 0.0)
            floor, support_id = support.top, support.id
        else:
            base = bases[target - len(room.supports)]
            (bx, by, floor), _ = self.settled[base]
            x, y = bx + dx * STACK_OFFSET_M, by + dy * STACK_OFFSET_M
            support_id = f"object:{active[base].asset}"
        top = self.pile_top(floor, (x, y), r, exclude=slot)
        z = top + DROP_CLEARANCE_M if top > floor else top
        yaw = (float(np.clip(action[5], -1, 1)) + 1.0) * 180.0
        return Edit(slot, asset, support_id, (round(x, 4), round(y, 4), round(z, 4)), round(yaw, 2))

    def pile_top(self, floor: float, xy: tuple[float, float], radius: float, exclude: int) -> float:
        """Top height of what stands on ``floor`` under a footprint of ``radius`` at ``xy``: every
        other active object (not slot ``exclude``) whose footprint meets it and whose bottom is on the
        pile so far, lowest first. Objects on a higher surface (a shelf above) are not on the pile."""
        top = floor
        # strict=False: ``settled`` covers only the first ACTIVE_OBJECTS slots; later objects are not on a pile
        standing = [
            (pos, obj)
            for i, (obj, (pos, _)) in enumerate(zip(self.scene.objects, self.settled, strict=False))
            if i != exclude
        ]
        for pos, obj in sorted(standing, key=lambda t: t[0][2]):
            near = math.hypot(pos[0] - xy[0], pos[1] - xy[1]) < radius + footprint_radius(ASSETS[obj.asset], obj.scale)
            if near and pos[2] <= top + PILE_TOLERANCE_M:
                top = max(top, pos[2] + asset_height(ASSETS[obj.asset], obj.scale))
        return top

    def edited_objects(self, edit: Edit) -> tuple[PlacedObject, ...]:
        """The other objects in their order, then the edited one (dropped last, onto the pile)."""
        kept = tuple(o for i, o in enumerate(self.scene.objects) if i != edit.slot)
        return (*kept, PlacedObject(edit.asset, edit.position, yaw_deg=edit.yaw_deg, scale=self.world.object_scale))

    def _extrinsic(self, ctx: RoundContext) -> tuple[float, float | None]:
        if not self.episode_samples:
            return 0.0, None
        fb = ctx.query(self.episode_samples)
        self._merge_term_error(fb.term_error)
        loss = float(np.mean(np.asarray(fb.loss, dtype=float)))
        baseline = loss if self.loss_baseline is None else self.loss_baseline
        self.loss_baseline = baseline + BASELINE_RATE * (loss - baseline)
        error = float(1.0 - np.mean(np.asarray(fb.correct, dtype=float)))
        return self.w_ext * (loss - baseline) / max(baseline, BASELINE_FLOOR), round(error, 6)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "loss_baseline": self.loss_baseline}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.loss_baseline = state["loss_baseline"]
