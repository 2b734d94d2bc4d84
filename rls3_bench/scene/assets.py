"""The asset catalogue (objects) and the rooms, built by the project from primitives.

Objects are compounds of boxes, cylinders and spheres, so nothing is downloaded and every backend
(PyBullet here, Unity in ``unity/``) can build the same shapes. Sizes are metres at scale 1.

Rooms follow the paper's five indoor scenes. Each room has furniture boxes; the ones marked as a
support offer their top face to objects. Every room has support surfaces at three heights (a main
table/counter, a higher shelf behind it, and a third piece in front to one side) so that ``above``
and ``below`` occur naturally, not only left/right/in front/behind. The front piece is lower than the
main surface in three rooms and higher in the two kitchens, and a low riser (a crate, a cake stand)
stands on one side of each main surface, so height does not give away depth ("above" is not always
"behind", and "above and to the left" happens with no depth term).
"""

from __future__ import annotations

from dataclasses import dataclass

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Part:
    """One primitive of an object, placed relative to the object's bottom centre.

    :param shape: ``"box"``, ``"cylinder"`` (axis along z) or ``"sphere"``.
    :param size: box: half extents (x, y, z); cylinder: (radius, height, 0); sphere: (radius, 0, 0).
    :param offset: centre of the primitive relative to the object's bottom centre (m).
    :param colour: ``None`` takes the object's colour (overridable per scene); else a fixed RGB.
    """

    shape: str
    size: tuple[float, float, float]
    offset: tuple[float, float, float]
    colour: RGB | None = None


@dataclass(frozen=True)
class Asset:
    """A named, visually distinct object. ``name`` is what captions call it."""

    id: str
    name: str
    colour: RGB
    parts: tuple[Part, ...]


def _cyl(r: float, h: float, z0: float = 0.0, x: float = 0.0, colour: RGB | None = None) -> Part:
    return Part("cylinder", (r, h, 0.0), (x, 0.0, z0 + h / 2), colour)


def _box(
    hx: float, hy: float, hz: float, x: float = 0.0, y: float = 0.0, z0: float = 0.0, colour: RGB | None = None
) -> Part:
    return Part("box", (hx, hy, hz), (x, y, z0 + hz), colour)


def _sphere(r: float, x: float = 0.0, z: float = 0.0, colour: RGB | None = None) -> Part:
    return Part("sphere", (r, 0.0, 0.0), (x, 0.0, z), colour)


DARK: RGB = (0.12, 0.12, 0.12)
STEEL: RGB = (0.62, 0.64, 0.66)

ASSETS: dict[str, Asset] = {
    a.id: a
    for a in (
        # The paper's object container ...
        Asset(
            "green-cup",
            "green cup",
            (0.15, 0.65, 0.2),
            (_cyl(0.035, 0.09), _box(0.012, 0.006, 0.022, x=0.043, z0=0.025)),
        ),
        Asset(
            "small-pot",
            "small pot",
            STEEL,
            (
                _cyl(0.06, 0.07),
                _box(0.016, 0.008, 0.006, x=0.07, z0=0.055),
                _box(0.016, 0.008, 0.006, x=-0.07, z0=0.055),
                _sphere(0.012, z=0.075, colour=DARK),
            ),
        ),
        Asset("pink-bowl", "pink bowl", (0.95, 0.45, 0.7), (_cyl(0.035, 0.015), _cyl(0.075, 0.04, z0=0.015))),
        Asset("plate", "plate", (0.95, 0.95, 0.92), (_cyl(0.1, 0.015),)),
        Asset("vase", "vase", (0.5, 0.25, 0.75), (_cyl(0.045, 0.15), _cyl(0.025, 0.06, z0=0.15))),
        Asset("yellow-bowl", "yellow bowl", (0.95, 0.85, 0.1), (_cyl(0.04, 0.015), _cyl(0.085, 0.045, z0=0.015))),
        Asset(
            "blender",
            "blender",
            (0.75, 0.88, 0.95),
            (_box(0.06, 0.06, 0.04, colour=DARK), _cyl(0.045, 0.16, z0=0.08), _cyl(0.02, 0.02, z0=0.24, colour=DARK)),
        ),
        Asset(
            "bird-sculpture",
            "bird sculpture",
            (0.8, 0.5, 0.2),
            (
                _box(0.045, 0.045, 0.01, colour=DARK),
                _sphere(0.045, z=0.065),
                _sphere(0.028, x=0.045, z=0.115),
                _box(0.015, 0.006, 0.006, x=0.08, z0=0.105, colour=DARK),
            ),
        ),
        # ... and ours, to reach a catalogue of distinct shapes and colours.
        Asset(
            "red-book",
            "red book",
            (0.8, 0.1, 0.1),
            (_box(0.07, 0.1, 0.02), _box(0.065, 0.095, 0.018, x=0.006, z0=0.002, colour=(0.95, 0.93, 0.85))),
        ),
        Asset("blue-bottle", "blue bottle", (0.1, 0.3, 0.85), (_cyl(0.03, 0.16), _cyl(0.013, 0.05, z0=0.16))),
        Asset(
            "orange-teapot",
            "orange teapot",
            (0.95, 0.5, 0.1),
            (_sphere(0.06, z=0.06), _box(0.03, 0.008, 0.008, x=0.075, z0=0.06), _sphere(0.012, z=0.125, colour=DARK)),
        ),
        Asset(
            "white-lamp",
            "white lamp",
            (0.96, 0.96, 0.96),
            (_cyl(0.05, 0.02, colour=DARK), _cyl(0.01, 0.18, z0=0.02, colour=DARK), _cyl(0.06, 0.07, z0=0.17)),
        ),
    )
}


@dataclass(frozen=True)
class Furniture:
    """An axis-aligned box of a room; ``support`` names the surface kind if objects may stand on it."""

    id: str
    centre: tuple[float, float, float]
    half_extents: tuple[float, float, float]
    colour: RGB
    support: str | None = None

    @property
    def top(self) -> float:
        return self.centre[2] + self.half_extents[2]


@dataclass(frozen=True)
class Room:
    """A room: walls and floor colours, furniture, and the default camera (eye, target, fov)."""

    id: str
    name: str
    floor_colour: RGB
    wall_colour: RGB
    furniture: tuple[Furniture, ...]
    camera_eye: tuple[float, float, float]
    camera_target: tuple[float, float, float]
    camera_fov_deg: float = 60.0

    @property
    def supports(self) -> tuple[Furniture, ...]:
        return tuple(f for f in self.furniture if f.support)


def _table(
    id: str, x: float, y: float, hx: float, hy: float, top: float, colour: RGB, kind: str, leg: RGB | None = None
) -> tuple[Furniture, ...]:
    """A top slab on four legs (legs are not supports)."""
    t = 0.02
    leg = leg or colour
    lh = (top - 2 * t) / 2
    legs = tuple(
        Furniture(f"{id}-leg{i}", (x + sx * (hx - 0.04), y + sy * (hy - 0.04), lh), (0.025, 0.025, lh), leg)
        for i, (sx, sy) in enumerate(((-1, -1), (1, -1), (-1, 1), (1, 1)))
    )
    return (Furniture(id, (x, y, top - t), (hx, hy, t), colour, kind),) + legs


def _block(id: str, x: float, y: float, hx: float, hy: float, top: float, colour: RGB, kind: str) -> Furniture:
    """A solid cabinet-like box from the floor up to ``top``."""
    return Furniture(id, (x, y, top / 2), (hx, hy, top / 2), colour, kind)


def _riser(
    id: str,
    x: float,
    y: float,
    on_top: float,
    colour: RGB,
    kind: str,
    hx: float = 0.12,
    hy: float = 0.1,
    height: float = 0.13,
) -> Furniture:
    """A low box standing on a main surface (a crate, a cake stand): objects on it are above their
    neighbours on the surface without being behind or in front of them."""
    return Furniture(id, (x, y, on_top + height / 2), (hx, hy, height / 2), colour, kind)


def _shelf(id: str, x: float, y: float, hx: float, hy: float, top: float, colour: RGB) -> Furniture:
    """A wall shelf board (floating)."""
    return Furniture(id, (x, y, top - 0.015), (hx, hy, 0.015), colour, "shelf")


WOOD: RGB = (0.55, 0.38, 0.22)
LIGHT_WOOD: RGB = (0.78, 0.64, 0.45)
WHITE: RGB = (0.9, 0.9, 0.88)

#: the paper's five rooms, for objects at their catalogue size (world 1)
_WORLD1_ROOMS: tuple[Room, ...] = (
    Room(
        "bedroom",
        "bedroom",
        (0.6, 0.5, 0.4),
        (0.78, 0.82, 0.9),
        _table("desk", 0.0, 0.1, 0.6, 0.3, 0.74, LIGHT_WOOD, "desk")
        + (
            _shelf("wall-shelf", 0.1, 0.58, 0.55, 0.12, 1.12, WOOD),
            _block("nightstand", -0.5, -0.45, 0.2, 0.18, 0.5, WOOD, "nightstand"),
            _riser("desk-organiser", -0.42, 0.12, 0.74, (0.25, 0.3, 0.35), "desk organiser"),
        ),
        camera_eye=(0.0, -1.45, 1.5),
        camera_target=(0.0, 0.1, 0.69),
        camera_fov_deg=54.0,
    ),
    Room(
        "living-room",
        "living room",
        (0.45, 0.35, 0.3),
        (0.85, 0.8, 0.7),
        _table("sideboard", 0.0, 0.2, 0.65, 0.25, 0.8, WOOD, "sideboard")
        + (
            _shelf("bookshelf", -0.1, 0.62, 0.6, 0.13, 1.2, (0.35, 0.25, 0.18)),
            _block("coffee-table", 0.45, -0.4, 0.25, 0.2, 0.45, LIGHT_WOOD, "coffee table"),
            _riser("wooden-crate", -0.4, 0.2, 0.8, (0.7, 0.55, 0.3), "crate"),
        ),
        camera_eye=(0.0, -1.45, 1.55),
        camera_target=(0.0, 0.15, 0.72),
        camera_fov_deg=54.0,
    ),
    Room(
        "dining-area",
        "dining area",
        (0.7, 0.65, 0.55),
        (0.9, 0.87, 0.8),
        _table("dining-table", 0.0, 0.05, 0.7, 0.35, 0.76, (0.45, 0.3, 0.2), "table")
        + (
            _shelf("dresser-shelf", 0.0, 0.62, 0.6, 0.12, 1.15, WHITE),
            _block("bench", -0.45, -0.55, 0.3, 0.14, 0.46, (0.45, 0.3, 0.2), "bench"),
            _riser("cake-stand", 0.38, 0.05, 0.76, (0.92, 0.92, 0.95), "cake stand"),
        ),
        camera_eye=(0.0, -1.5, 1.5),
        camera_target=(0.0, 0.1, 0.67),
        camera_fov_deg=54.0,
    ),
    Room(
        "kitchen-a",
        "kitchen",
        (0.55, 0.55, 0.55),
        (0.95, 0.95, 0.9),
        (
            _block("counter", 0.0, 0.2, 0.7, 0.3, 0.9, (0.3, 0.35, 0.45), "counter"),
            _shelf("kitchen-shelf", 0.0, 0.65, 0.6, 0.12, 1.3, WHITE),
            # higher than the counter and nearer the camera: "above and in front" happens too
            _block("bar-stool", 0.5, -0.5, 0.11, 0.11, 1.02, (0.2, 0.2, 0.2), "bar stool"),
            _riser("bread-box", -0.4, 0.2, 0.9, (0.6, 0.45, 0.3), "bread box"),
        ),
        camera_eye=(0.0, -1.35, 1.7),
        camera_target=(0.0, 0.2, 0.87),
        camera_fov_deg=54.0,
    ),
    Room(
        "kitchen-b",
        "kitchen",
        (0.75, 0.7, 0.6),
        (0.7, 0.82, 0.75),
        (
            _block("island", 0.0, 0.1, 0.65, 0.32, 0.92, (0.85, 0.85, 0.82), "island"),
            _shelf("open-shelf", 0.1, 0.62, 0.6, 0.12, 1.32, LIGHT_WOOD),
            # a tall plant stand in front of the island, for the same reason as kitchen-a's bar stool
            _block("plant-stand", -0.5, -0.5, 0.11, 0.11, 1.05, (0.6, 0.15, 0.15), "plant stand"),
            _riser("spice-rack", 0.38, 0.1, 0.92, (0.35, 0.2, 0.1), "spice rack"),
        ),
        camera_eye=(0.0, -1.4, 1.72),
        camera_target=(0.0, 0.15, 0.87),
        camera_fov_deg=54.0,
    ),
)


#: world 2's rooms (rls3_bench.scene.worlds), for objects at scale 2 (up to 0.52 m high, footprint
#: radii up to 0.24 m): the same five rooms, supports in the same order (main, shelf, front piece,
#: riser), resized so that every relation, above and below included, can be built with scaled
#: objects and every support stays in view:
#: * risers 0.32 m high (8 of the 12 assets fit under an object on one), 0.30 x 0.26 m, 0.15 m off
#:   the main surface's centre and 0.12 m behind its front edge, so the main surface has room for a
#:   scaled object on either side of a riser at its depth (the "above, left" / "above, right" flip
#:   pairs) and behind it;
#: * main surfaces 0.2 m wider and 0.22 m deeper (towards the camera), so a pair fits at world 2's
#:   0.3-0.8 m pair distances;
#: * shelves 0.40 m deep and 0.46 m above the main surface (a 0.42-m object fits under one on it);
#: * front pieces 0.32 m below the main top (0.32 m above it in the kitchens, whose stools and
#:   stands stand on legs so as not to hide the counter), 0.04 m in front of the main surface;
#: * cameras with the same direction and 54-degree view, 1.2-1.4x farther from a target up to 0.15 m
#:   higher: the least that keeps every support top and a 0.52-m object on any support inside the
#:   128-px image under any camera jitter. Objects then show about 1.4x their world-1 size in pixels.
#: Construction in these rooms: 720 minimal-pair groups (1,440 items) built with none failing, 0.20
#: groups per first scene (world 1: 0.10).
_WORLD2_ROOMS: tuple[Room, ...] = (
    Room(
        "bedroom-w2",
        "bedroom",
        (0.6, 0.5, 0.4),
        (0.78, 0.82, 0.9),
        _table("desk-w2", 0.0, -0.01, 0.7, 0.41, 0.74, LIGHT_WOOD, "desk")
        + (
            _shelf("wall-shelf-w2", 0.1, 0.66, 0.55, 0.2, 1.2, WOOD),
            _block("nightstand-w2", -0.425, -0.66, 0.25, 0.2, 0.42, WOOD, "nightstand"),
            _riser("desk-organiser-w2", -0.15, -0.17, 0.74, (0.25, 0.3, 0.35), "desk organiser", 0.15, 0.13, 0.32),
        ),
        camera_eye=(0.0, -2.08, 1.88),
        camera_target=(0.0, 0.1, 0.74),
        camera_fov_deg=54.0,
    ),
    Room(
        "living-room-w2",
        "living room",
        (0.45, 0.35, 0.3),
        (0.85, 0.8, 0.7),
        _table("sideboard-w2", 0.0, 0.09, 0.75, 0.36, 0.8, WOOD, "sideboard")
        + (
            _shelf("bookshelf-w2", -0.1, 0.69, 0.6, 0.2, 1.26, (0.35, 0.25, 0.18)),
            _block("coffee-table-w2", 0.38, -0.51, 0.25, 0.2, 0.48, LIGHT_WOOD, "coffee table"),
            _riser("wooden-crate-w2", -0.15, -0.02, 0.8, (0.7, 0.55, 0.3), "crate", 0.15, 0.13, 0.32),
        ),
        camera_eye=(0.0, -1.94, 1.95),
        camera_target=(0.0, 0.15, 0.87),
        camera_fov_deg=54.0,
    ),
    Room(
        "dining-area-w2",
        "dining area",
        (0.7, 0.65, 0.55),
        (0.9, 0.87, 0.8),
        _table("dining-table-w2", 0.0, -0.06, 0.8, 0.46, 0.76, (0.45, 0.3, 0.2), "table")
        + (
            _shelf("dresser-shelf-w2", 0.0, 0.7, 0.6, 0.2, 1.22, WHITE),
            _block("bench-w2", -0.38, -0.76, 0.3, 0.2, 0.44, (0.45, 0.3, 0.2), "bench"),
            _riser("cake-stand-w2", 0.15, -0.27, 0.76, (0.92, 0.92, 0.95), "cake stand", 0.15, 0.13, 0.32),
        ),
        camera_eye=(0.0, -2.15, 1.89),
        camera_target=(0.0, 0.1, 0.72),
        camera_fov_deg=54.0,
    ),
    Room(
        "kitchen-a-w2",
        "kitchen",
        (0.55, 0.55, 0.55),
        (0.95, 0.95, 0.9),
        (
            _block("counter-w2", 0.0, 0.09, 0.8, 0.41, 0.9, (0.3, 0.35, 0.45), "counter"),
            _shelf("kitchen-shelf-w2", 0.0, 0.73, 0.6, 0.2, 1.36, WHITE),
        )
        # higher than the counter and nearer the camera: "above and in front" happens too
        + _table("bar-stool-w2", 0.55, -0.51, 0.15, 0.15, 1.22, (0.2, 0.2, 0.2), "bar stool")
        + (_riser("bread-box-w2", -0.15, -0.07, 0.9, (0.6, 0.45, 0.3), "bread box", 0.15, 0.13, 0.32),),
        camera_eye=(0.0, -2.05, 2.08),
        camera_target=(0.0, 0.2, 0.87),
        camera_fov_deg=54.0,
    ),
    Room(
        "kitchen-b-w2",
        "kitchen",
        (0.75, 0.7, 0.6),
        (0.7, 0.82, 0.75),
        (
            _block("island-w2", 0.0, -0.01, 0.75, 0.43, 0.92, (0.85, 0.85, 0.82), "island"),
            _shelf("open-shelf-w2", 0.1, 0.7, 0.6, 0.2, 1.38, LIGHT_WOOD),
        )
        # a tall plant stand in front of the island, for the same reason as kitchen-a's bar stool
        + _table("plant-stand-w2", -0.55, -0.63, 0.15, 0.15, 1.24, (0.6, 0.15, 0.15), "plant stand")
        + (_riser("spice-rack-w2", 0.15, -0.19, 0.92, (0.35, 0.2, 0.1), "spice rack", 0.15, 0.13, 0.32),),
        camera_eye=(0.0, -2.18, 2.15),
        camera_target=(0.0, 0.15, 0.87),
        camera_fov_deg=54.0,
    ),
)


ROOMS: dict[str, Room] = {r.id: r for r in (*_WORLD1_ROOMS, *_WORLD2_ROOMS)}
WORLD1_ROOM_IDS: tuple[str, ...] = tuple(sorted(r.id for r in _WORLD1_ROOMS))
WORLD2_ROOM_IDS: tuple[str, ...] = tuple(sorted(r.id for r in _WORLD2_ROOMS))

#: How many objects per scene are active (edited by generators, captioned), as in the paper.
ACTIVE_OBJECTS = 3


def footprint_radius(asset: Asset, scale: float = 1.0) -> float:
    """Radius of the vertical cylinder around the bottom centre that contains the asset (m), any yaw."""
    r = 0.0
    for p in asset.parts:
        extent = p.size[0] if p.shape != "box" else (p.size[0] ** 2 + p.size[1] ** 2) ** 0.5
        r = max(r, (p.offset[0] ** 2 + p.offset[1] ** 2) ** 0.5 + extent)
    return r * scale


def asset_height(asset: Asset, scale: float = 1.0) -> float:
    """Height of the asset's top above its bottom (m)."""
    top = 0.0
    for p in asset.parts:
        half = {"box": p.size[2], "cylinder": p.size[1] / 2, "sphere": p.size[0]}[p.shape]
        top = max(top, p.offset[2] + half)
    return top * scale
