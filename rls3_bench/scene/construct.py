"""Targeted scene construction: propose a scene in which object A is <terms> object B.

Used by the balanced eval sets and by the heuristic generators (``balanced-v1``, ``weakness-v1``).
Construction only *proposes*: the harness still renders the spec and labels the pair from geometry,
and callers keep the scene only if the label equals the target. So a wrong guess here can cost time,
never a wrong label.

Recipe: pick supports for A and B that give the vertical term (same surface for none, a surface
higher by more than B's height for above, stacking when there is no horizontal term); place B at a
random point of its surface; place A at distance r from B at an angle near the target sector's
centre, in the pair's viewing frame (see rls3_bench.labels.relations); add random distractors.
"""

from __future__ import annotations

import math

import numpy as np

from rls3_bench.labels.relations import OPPOSITE
from rls3_bench.labels.sample import TERMS
from rls3_bench.scene.assets import ACTIVE_OBJECTS, ASSETS, Furniture, Room, asset_height, footprint_radius
from rls3_bench.scene.random_scenes import STACK_BASES, jittered_camera, random_object, stacked_on
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec
from rls3_bench.scene.worlds import DEFAULT_WORLD, World

#: target sector centres (degrees; 0 = right, 90 = behind), keyed by (depth, lateral)
SECTOR_CENTRES: dict[tuple[str | None, str | None], float] = {
    (None, "right"): 0.0,
    ("behind", "right"): 45.0,
    ("behind", None): 90.0,
    ("behind", "left"): 135.0,
    (None, "left"): 180.0,
    ("in front", "left"): -135.0,
    ("in front", None): -90.0,
    ("in front", "right"): -45.0,
}
#: angular jitter around the sector centre: the labelled part of a sector is +-15 deg (45/2 - 7.5)
ANGLE_JITTER_DEG = 11.0
#: free space kept between a lower object's top and a higher surface (so "above" is not borderline)
VERTICAL_CLEARANCE_M = 0.02


def split_terms(terms) -> tuple[str | None, str | None, str | None]:
    """(vertical, depth, lateral) of a term set; raises ValueError for contradictory sets."""
    axes = {"above": 0, "below": 0, "in front": 1, "behind": 1, "left": 2, "right": 2}
    out: list[str | None] = [None, None, None]
    for t in terms:
        if t not in axes or out[axes[t]] is not None:
            raise ValueError(f"term set {tuple(terms)} is not 1-3 terms on distinct axes")
        out[axes[t]] = t
    if not any(out):
        raise ValueError("a target needs at least one term")
    return out[0], out[1], out[2]


def _on_surface(xy: np.ndarray, surface: Furniture, radius: float) -> bool:
    cx, cy, _ = surface.centre
    hx, hy = surface.half_extents[0] - radius, surface.half_extents[1] - radius
    return hx > 0 and hy > 0 and abs(xy[0] - cx) <= hx and abs(xy[1] - cy) <= hy


def _area(surface: Furniture) -> float:
    return surface.half_extents[0] * surface.half_extents[1]


def _place_at_sector(eye_xy: np.ndarray, b_xy: np.ndarray, theta_deg: float, r: float) -> np.ndarray:
    """A's xy at angle theta and distance r from B in the pair's viewing frame (fixed-point on the
    midpoint, which converges in a few steps because r is small against the camera distance).
    The frame is symmetric in A and B, so B from A is the same call with theta + 180."""
    a_xy = b_xy.copy()
    c, s = math.cos(math.radians(theta_deg)), math.sin(math.radians(theta_deg))
    for _ in range(4):
        forward = (a_xy + b_xy) / 2 - eye_xy
        forward /= np.linalg.norm(forward)
        right = np.array([forward[1], -forward[0]])
        a_xy = b_xy + r * (c * right + s * forward)
    return a_xy


def _vertical_options(
    room: Room, vertical: str | None, a_asset: str, b_asset: str, scale: float
) -> list[tuple[Furniture, Furniture]]:
    """(A's support, B's support) pairs that give the vertical term for these assets at ``scale``."""
    sup = room.supports
    if vertical is None:
        return [(s, s) for s in sup]
    if vertical == "above":
        return [
            (sa, sb)
            for sa in sup
            for sb in sup
            if sa.top >= sb.top + asset_height(ASSETS[b_asset], scale) + VERTICAL_CLEARANCE_M
        ]
    return [
        (sa, sb)
        for sa in sup
        for sb in sup
        if sb.top >= sa.top + asset_height(ASSETS[a_asset], scale) + VERTICAL_CLEARANCE_M
    ]


def _stacked_pair(
    vertical: str, room: Room, rng: np.random.Generator, base_asset: str, top_asset: str, scale: float
) -> tuple[PlacedObject, PlacedObject, int, int]:
    """Pure above/below: one object on a flat-topped base. Returns (first, second, index_a, index_b)."""
    base = random_object(base_asset, room, rng, scale=scale)
    top = stacked_on(top_asset, base, rng)
    # the base goes first so it is settled before the object dropped on it
    return (base, top, 1, 0) if vertical == "above" else (base, top, 0, 1)


def construct_spec(
    terms,
    rng: np.random.Generator,
    room_id: str | None = None,
    n_objects: int = ACTIVE_OBJECTS,
    attempts: int = 30,
    camera: CameraPose | None = None,
    assets: tuple[str, ...] | None = None,
    world: World = DEFAULT_WORLD,
) -> tuple[SceneSpec, int, int] | None:
    """A spec of ``world`` meant to have ``spec.objects[a]`` <terms> ``spec.objects[b]``, as ``(spec, a, b)``.

    ``camera`` and ``assets`` (A, B, then the distractors) fix what is otherwise drawn at random, so
    minimal-pair twins can share them; a stacked target then needs its lower object in
    :data:`STACK_BASES`. Returns None when ``attempts`` random tries found no placement (some targets
    are impossible in some rooms, e.g. "above and in front" where every higher surface is at the back).
    """
    vertical, depth, lateral = split_terms(terms)
    room = world.room(room_id, rng)
    scale = world.object_scale
    camera = jittered_camera(room, rng) if camera is None else camera
    eye_xy = np.asarray(camera.eye[:2])
    names = sorted(ASSETS)
    for _ in range(attempts):
        if assets is None:
            drawn = [names[i] for i in rng.choice(len(names), size=max(n_objects, 3), replace=False)]
            base_asset = STACK_BASES[int(rng.integers(len(STACK_BASES)))] if depth is None and lateral is None else None
            top_asset = next((a for a in drawn if a != base_asset), None)
        else:
            drawn = list(assets)
            base_asset, top_asset = (drawn[1], drawn[0]) if vertical == "above" else (drawn[0], drawn[1])
        if depth is None and lateral is None:
            if base_asset not in STACK_BASES:
                return None
            first, second, ia, ib = _stacked_pair(vertical, room, rng, base_asset, top_asset, scale)
            pair = [first, second]
        else:
            a_asset, b_asset = drawn[0], drawn[1]
            options = _vertical_options(room, vertical, a_asset, b_asset, scale)
            if not options:
                continue
            sa, sb = options[int(rng.integers(len(options)))]
            theta = SECTOR_CENTRES[(depth, lateral)] + rng.uniform(-ANGLE_JITTER_DEG, ANGLE_JITTER_DEG)
            # anchor the object on the smaller surface (a riser, a stool) at a random point and put
            # the other one relative to it: the other way round it would rarely land on the small one
            a_first = _area(sa) <= _area(sb)
            anchor, anchor_s, other, other_s = (a_asset, sa, b_asset, sb) if a_first else (b_asset, sb, a_asset, sa)
            anchor_obj = random_object(anchor, room, rng, surface=anchor_s, scale=scale)
            other_xy = _place_at_sector(
                eye_xy,
                np.asarray(anchor_obj.position[:2]),
                theta + (180.0 if a_first else 0.0),
                rng.uniform(*world.pair_distance_m),
            )
            if not _on_surface(other_xy, other_s, footprint_radius(ASSETS[other], scale)):
                continue
            other_obj = PlacedObject(
                other,
                (round(float(other_xy[0]), 4), round(float(other_xy[1]), 4), round(other_s.top, 4)),
                yaw_deg=round(float(rng.uniform(0, 360)), 2),
                scale=scale,
            )
            a_obj, b_obj = (anchor_obj, other_obj) if a_first else (other_obj, anchor_obj)
            pair, ia, ib = [a_obj, b_obj], 0, 1
        used = {o.asset for o in pair}
        distractors = [random_object(a, room, rng, scale=scale) for a in drawn if a not in used][: n_objects - 2]
        return SceneSpec(room.id, camera, tuple(pair + distractors)), ia, ib
    return None


def balanced_targets(per_complexity: int) -> list[tuple[str, ...]]:
    """Target term sets, ``per_complexity`` of each complexity, every term equally often within one.

    Complexity 1: the six terms. Complexity 3: the eight vertical x depth x lateral combinations.
    Complexity 2: vertical+lateral (4) and depth+lateral (4) once, and the two vertical+depth pairs
    that can be seen (above+behind, below+in front) twice: each term then has weight 4 of 12.
    """
    one = [(t,) for t in TERMS]
    two = [(v, lat) for v in ("above", "below") for lat in ("left", "right")]
    two += [(d, lat) for d in ("in front", "behind") for lat in ("left", "right")]
    two += [("above", "behind"), ("below", "in front")] * 2
    three = [(v, d, lat) for v in ("above", "below") for d in ("in front", "behind") for lat in ("left", "right")]
    out: list[tuple[str, ...]] = []
    for combos in (one, two, three):
        if per_complexity % len(combos):
            raise ValueError(f"per_complexity must be a multiple of {len(combos)}")
        out += combos * (per_complexity // len(combos))
    return out


def twin_target(terms, kind: str) -> tuple[tuple[str, ...], bool]:
    """The twin of a minimal pair: (its target terms, whether A and B exchange roles).

    A flip (``"flip:<term>"``) reverses that term for the same pair (A, B), so the flipped caption is
    true in the twin; a swap keeps the terms for the pair (B, A), so "B is <terms> A" is true in the
    twin. Either way the twin's true caption is the first scene's negative and vice versa.
    """
    terms = tuple(terms)
    if kind == "swap":
        return terms, True
    flipped = kind.removeprefix("flip:")
    if not kind.startswith("flip:") or flipped not in terms:
        raise ValueError(f"negative kind {kind!r} does not apply to {terms}")
    return tuple(OPPOSITE[t] if t == flipped else t for t in terms), False


def twin_negative_kind(kind: str) -> str:
    """The negative kind of a minimal pair's twin, whose true caption is the first item's negative:
    a swap stays a swap, ``"flip:<term>"`` becomes the flip of its opposite."""
    return kind if kind == "swap" else f"flip:{OPPOSITE[kind.removeprefix('flip:')]}"


def twin_groups(per_complexity: int) -> list[tuple[tuple[str, ...], str]]:
    """(target, negative kind) of each minimal-pair group, ``per_complexity // 2`` groups (two items
    each) per complexity, every term equally often within one.

    A flip group holds a term and its opposite, a swap group the same terms twice (A and B exchange
    roles). Per unit of 12 groups (24 items) -- complexity 1: per axis, one flip group from each
    side and a swap group of each term. Complexity 2: vertical and depth flips on vertical+lateral
    and depth+lateral targets, lateral flips on both, and the two visible vertical+depth pairs as
    swaps (their flips, "above and in front" or "below and behind", cannot be seen).
    Complexity 3: one flip per axis on two complementary combinations (alternating between two
    choices of them unit by unit) and six swaps.
    """
    if per_complexity % 24:
        raise ValueError("per_complexity must be a multiple of 24 (units of 12 minimal-pair groups)")
    one = [((t,), k) for t in TERMS for k in (f"flip:{t}", "swap")]
    two = [(("above", lat), "flip:above") for lat in ("left", "right")]
    two += [(("in front", lat), "flip:in front") for lat in ("left", "right")]
    two += [((x, "left"), "flip:left") for x in ("above", "below", "in front", "behind")]
    two += [(("above", "behind"), "swap"), (("below", "in front"), "swap")] * 2
    flips3 = [
        (("above", "in front", "left"), "flip:above"),
        (("below", "behind", "right"), "flip:below"),
        (("above", "in front", "left"), "flip:in front"),
        (("below", "behind", "right"), "flip:behind"),
        (("above", "in front", "left"), "flip:left"),
        (("below", "behind", "right"), "flip:right"),
    ]
    mirrored3 = [
        ((v, d, OPPOSITE[lat]), f"flip:{OPPOSITE[lat]}" if k == f"flip:{lat}" else k) for (v, d, lat), k in flips3
    ]
    swaps3 = [
        (c, "swap")
        for c in (
            ("above", "in front", "left"),
            ("below", "behind", "right"),
            ("above", "behind", "right"),
            ("below", "in front", "left"),
            ("above", "in front", "right"),
            ("below", "behind", "left"),
        )
    ]
    out: list[tuple[tuple[str, ...], str]] = []
    units = per_complexity // 24
    out += one * units + two * units
    for u in range(units):
        out += (flips3 if u % 2 == 0 else mirrored3) + swaps3
    return out
