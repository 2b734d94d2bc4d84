"""Random scene proposals: the building blocks generators and eval sets share.

Every function takes an explicit ``numpy.random.Generator``; nothing here seeds or reads global state.
Scenes are made in a world (:mod:`rls3_bench.scene.worlds`: its rooms, its object scale), the
paper's world 1 unless one is given; a generator passes the track's, ``ctx.world``.
"""

from __future__ import annotations

import numpy as np

from rls3_bench.scene.assets import ACTIVE_OBJECTS, ASSETS, Furniture, Room, asset_height, footprint_radius
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec
from rls3_bench.scene.worlds import DEFAULT_WORLD, World

#: camera jitter around the room's default pose (m), so scenes are not all seen from one spot
CAMERA_JITTER_M = 0.08
#: assets with a flat top another object can stand on (stacking gives pure above/below pairs)
STACK_BASES = ("plate", "red-book", "pink-bowl", "yellow-bowl")
#: probability that an object after the first is stacked on an earlier stack base
STACK_PROBABILITY = 0.2


def jittered_camera(room: Room, rng: np.random.Generator) -> CameraPose:
    eye = np.asarray(room.camera_eye) + rng.uniform(-CAMERA_JITTER_M, CAMERA_JITTER_M, 3)
    target = np.asarray(room.camera_target) + rng.uniform(-CAMERA_JITTER_M / 2, CAMERA_JITTER_M / 2, 3)
    return CameraPose(
        tuple(round(float(v), 4) for v in eye), tuple(round(float(v), 4) for v in target), room.camera_fov_deg
    )


def point_on_surface(
    surface: Furniture, asset_id: str, rng: np.random.Generator, scale: float = 1.0
) -> tuple[float, float, float]:
    """A uniformly random bottom-centre on ``surface`` keeping the whole footprint on it."""
    r = footprint_radius(ASSETS[asset_id], scale)
    cx, cy, _ = surface.centre
    hx, hy = surface.half_extents[0] - r, surface.half_extents[1] - r
    x = cx + rng.uniform(-max(hx, 0.0), max(hx, 0.0))
    y = cy + rng.uniform(-max(hy, 0.0), max(hy, 0.0))
    return (round(float(x), 4), round(float(y), 4), round(surface.top, 4))


def random_object(
    asset_id: str, room: Room, rng: np.random.Generator, surface: Furniture | None = None, scale: float = 1.0
) -> PlacedObject:
    """``asset_id`` at ``scale`` at a random point of ``surface`` (a random support of ``room`` if None)."""
    surface = surface if surface is not None else room.supports[int(rng.integers(len(room.supports)))]
    return PlacedObject(
        asset_id,
        point_on_surface(surface, asset_id, rng, scale),
        yaw_deg=round(float(rng.uniform(0, 360)), 2),
        scale=scale,
    )


def stacked_on(asset_id: str, base: PlacedObject, rng: np.random.Generator) -> PlacedObject:
    """``asset_id`` dropped onto ``base`` (within 1 cm of its centre), at the base's scale; the backend
    settles it on top."""
    drop_from = base.position[2] + asset_height(ASSETS[base.asset], base.scale) + 0.01
    x, y = (base.position[i] + float(rng.uniform(-0.01, 0.01)) for i in range(2))
    return PlacedObject(
        asset_id,
        (round(x, 4), round(y, 4), round(drop_from, 4)),
        yaw_deg=round(float(rng.uniform(0, 360)), 2),
        scale=base.scale,
    )


def random_spec(
    rng: np.random.Generator,
    room_id: str | None = None,
    n_objects: int = ACTIVE_OBJECTS,
    world: World = DEFAULT_WORLD,
    camera: CameraPose | None = None,
    assets: tuple[str, ...] | None = None,
) -> SceneSpec:
    """A uniformly random scene of ``world``: room (``room_id``, or drawn), jittered camera,
    ``n_objects`` distinct assets at the world's scale on random supports, each later object stacked
    on an earlier flat-topped one with :data:`STACK_PROBABILITY`.

    ``camera`` and ``assets`` (in placement order) fix what is otherwise drawn, so a scene can be
    drawn again with the same view and objects (an in-distribution twin); left out, the draws are
    exactly as without them.

    The spec may be infeasible (overlaps, hidden objects); callers render it and keep it if valid.
    """
    room = world.room(room_id, rng)
    if assets is None:
        assets = tuple(sorted(ASSETS)[i] for i in rng.choice(len(ASSETS), size=n_objects, replace=False))
    if camera is None:
        camera = jittered_camera(room, rng)
    placed: list[PlacedObject] = []
    for asset_id in assets:
        bases = [p for p in placed if p.asset in STACK_BASES]
        if bases and rng.random() < STACK_PROBABILITY:
            placed.append(stacked_on(asset_id, bases[int(rng.integers(len(bases)))], rng))
        else:
            placed.append(random_object(asset_id, room, rng, scale=world.object_scale))
    return SceneSpec(room.id, camera, tuple(placed))
