"""Geometry both backends build scenes from, so the embedded backend and a Unity player (through the
exported catalogue, :mod:`rls3_bench.backends.unity.catalogue`) place, settle and enclose objects alike:
where an object's parts reach down (ray samples for settling), its centre of mass, the room's walls.
"""

from __future__ import annotations

import math

import numpy as np

from rls3_bench.scene.assets import Asset, Part, Room
from rls3_bench.scene.spec import ROOM_HALF_EXTENT_M, ROOM_HEIGHT_M

WALL_HALF_THICKNESS_M = 0.05
SIDE_WALL_X_M = 1.8


def _ring(radius: float, n: int) -> np.ndarray:
    a = np.arange(n) * (2 * math.pi / n)
    return np.c_[np.cos(a), np.sin(a)] * radius


def part_footprint(part: Part) -> np.ndarray:
    """(x, y, bottom_z) samples under one part at scale 1: where and how low the part reaches.

    Samples sit just inside the outline so rays do not graze the neighbouring surface's edge.
    """
    ox, oy, oz = part.offset
    if part.shape == "box":
        hx, hy, hz = part.size
        g = np.array([-0.97, 0.0, 0.97])
        xy = np.array([(a * hx, b * hy) for a in g for b in g])
        bottom = np.full(len(xy), oz - hz)
    elif part.shape == "cylinder":
        r, h, _ = part.size
        xy = np.r_[np.zeros((1, 2)), _ring(0.5 * r, 6), _ring(0.97 * r, 12)]
        bottom = np.full(len(xy), oz - h / 2)
    else:  # sphere: the lower the point, the nearer the axis
        r = part.size[0]
        rho = np.array([0.0] + [0.5] * 8 + [0.9] * 8)
        xy = np.r_[np.zeros((1, 2)), _ring(0.5 * r, 8), _ring(0.9 * r, 8)]
        bottom = oz - r * np.sqrt(1.0 - rho**2)
    return np.c_[xy + (ox, oy), bottom]


def part_volume(part: Part) -> float:
    if part.shape == "box":
        return 8.0 * part.size[0] * part.size[1] * part.size[2]
    if part.shape == "cylinder":
        return math.pi * part.size[0] ** 2 * part.size[1]
    return 4.0 / 3.0 * math.pi * part.size[0] ** 3


def centre_of_mass_xy(asset: Asset) -> np.ndarray:
    """Volume-weighted centre of the parts (uniform density), local xy at scale 1."""
    vols = np.array([part_volume(q) for q in asset.parts])
    offs = np.array([q.offset[:2] for q in asset.parts])
    return vols @ offs / vols.sum()


def room_shell(room: Room):
    """Floor, back wall (flush behind the rearmost furniture) and side walls: (centre, half extents, colour)."""
    back = max(f.centre[1] + f.half_extents[1] for f in room.furniture) + WALL_HALF_THICKNESS_M
    half_h = ROOM_HEIGHT_M / 2
    front = -ROOM_HALF_EXTENT_M
    side_half_y = (back - front) / 2
    t = WALL_HALF_THICKNESS_M
    return (
        ((0.0, 0.0, -t), (ROOM_HALF_EXTENT_M + 1.0, ROOM_HALF_EXTENT_M + 1.0, t), room.floor_colour),
        ((0.0, back, half_h), (SIDE_WALL_X_M + t, t, half_h), room.wall_colour),
        ((-SIDE_WALL_X_M, front + side_half_y, half_h), (t, side_half_y, half_h), room.wall_colour),
        ((SIDE_WALL_X_M, front + side_half_y, half_h), (t, side_half_y, half_h), room.wall_colour),
    )
