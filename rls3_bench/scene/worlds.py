"""Worlds: the rooms scenes are made in and the scale every object is placed at.

A world fixes what the camera sees of the objects. World 1 is the paper's: the objects at their
catalogue size (``PlacedObject.scale`` 1) in the five rooms of :mod:`rls3_bench.scene.assets`.
There the two objects of a pair cover 6-11 px of a 128-px render, less than one ViT patch, and no
tiny learner tried learns minimal pairs from the full view (docs/results/minimal-pairs). World 2
places every object at scale 2 (about a 17-px square at 128 px) in rooms whose risers and front
pieces are built for objects of that size, so that every relation, above and below included, can
still be constructed.

Scene proposals (:mod:`rls3_bench.scene.random_scenes`, :mod:`rls3_bench.scene.construct`) take a
world; a track and an eval set name theirs (``world``, default 1), the harness hands the track's to
generators as ``ctx.world`` and refuses a scene of another world, so a generator that ignores it
fails loudly instead of training the learner on the wrong world. A world is fixed once released:
changing one means a new version.
"""

from __future__ import annotations

from dataclasses import dataclass

from rls3_bench.errors import UserError
from rls3_bench.scene.assets import ROOMS, WORLD1_ROOM_IDS, WORLD2_ROOM_IDS, Room
from rls3_bench.scene.spec import SceneSpec


@dataclass(frozen=True)
class World:
    """
    :param version: the world's number (tracks and eval sets name it).
    :param object_scale: the ``PlacedObject.scale`` of every object.
    :param room_ids: the rooms, in the order generators cycle them.
    :param pair_distance_m: range of the distance between a constructed pair (targeted construction).
    :param labeller: the first labeller version that reads the world right (version 1 ignores an
        object's scale); commands that label without a track use it.
    :param validity_version: the embedded backend's validity rules a track of this world needs at
        least (``TrackConfig`` checks it); commands that render without a track use them.
    """

    version: int
    object_scale: float
    room_ids: tuple[str, ...]
    pair_distance_m: tuple[float, float]
    labeller: int
    validity_version: int

    @property
    def rooms(self) -> tuple[Room, ...]:
        return tuple(ROOMS[r] for r in self.room_ids)

    def room(self, room_id: str | None, rng=None) -> Room:
        """Room ``room_id`` of this world, or (``None``) one drawn uniformly with ``rng``."""
        if room_id is None:
            return ROOMS[self.room_ids[int(rng.integers(len(self.room_ids)))]]
        if room_id not in self.room_ids:
            raise ValueError(f"room {room_id!r} is not in world {self.version}; its rooms: {', '.join(self.room_ids)}")
        return ROOMS[room_id]

    def problem(self, spec: SceneSpec) -> str | None:
        """Why ``spec`` is not a scene of this world (its room, an object's scale), or None."""
        if spec.room not in self.room_ids:
            return f"room {spec.room!r} is not in world {self.version} (rooms: {', '.join(self.room_ids)})"
        for o in spec.objects:
            if o.scale != self.object_scale:
                return f"{o.asset} is at scale {o.scale}, world {self.version} places objects at {self.object_scale}"
        return None


WORLDS: dict[int, World] = {
    1: World(1, 1.0, WORLD1_ROOM_IDS, (0.15, 0.6), labeller=1, validity_version=1),
    2: World(2, 2.0, WORLD2_ROOM_IDS, (0.3, 0.8), labeller=2, validity_version=2),
}
#: the world of scene proposals that name none (the paper's)
DEFAULT_WORLD = WORLDS[1]


def world_of(spec: SceneSpec) -> World:
    """The world ``spec`` is a scene of (by its room and its objects' scale)."""
    for world in WORLDS.values():
        if world.problem(spec) is None:
            return world
    raise UserError(f"scene in room {spec.room!r} is of no world; make scenes with random_spec(rng, world=...)")


def get_world(version: int) -> World:
    if version not in WORLDS:
        raise UserError(f"unknown world {version!r}; valid worlds: {', '.join(map(str, WORLDS))}")
    return WORLDS[version]
