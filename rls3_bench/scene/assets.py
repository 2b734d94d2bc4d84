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

from dataclasses import dataclass, replace

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


def _for_double_objects(room: Room) -> Room:
    """World 2's version of a world-1 room, for objects at scale 2 (rls3_bench.scene.worlds).

    The main surfaces, shelves and cameras stay; what is sized for the objects grows with them: each
    riser is twice as high and as wide (an object on it must still be above its neighbours on the
    main surface, which are now twice as tall), and each kitchen's front piece is raised and widened
    so that a scale-2 object on it is still above and in front of one on the counter.
    """
    furniture = []
    for f in room.furniture:
        if f.support and f.id in RISERS:
            base = f.centre[2] - f.half_extents[2]
            hx, hy, hz = (2 * h for h in f.half_extents)
            f = replace(f, centre=(f.centre[0], f.centre[1], base + hz), half_extents=(hx, hy, hz))
        elif f.id in FRONT_PIECES_RAISED:
            top = FRONT_PIECES_RAISED[f.id]
            hx, hy = (2 * h for h in f.half_extents[:2])
            f = replace(f, centre=(f.centre[0], f.centre[1], top / 2), half_extents=(hx, hy, top / 2))
        furniture.append(replace(f, id=f"{f.id}-w2"))  # furniture ids are unique over all rooms
    return replace(room, id=f"{room.id}-w2", furniture=tuple(furniture))


#: the risers of the world-1 rooms (low boxes standing on a main surface)
RISERS = ("desk-organiser", "wooden-crate", "cake-stand", "bread-box", "spice-rack")
#: world 2's top height (m) of the kitchens' front pieces, higher than in world 1 for scale-2 objects
FRONT_PIECES_RAISED = {"bar-stool": 1.2, "plant-stand": 1.22}

ROOMS: dict[str, Room] = {r.id: r for r in (*_WORLD1_ROOMS, *map(_for_double_objects, _WORLD1_ROOMS))}
WORLD1_ROOM_IDS: tuple[str, ...] = tuple(sorted(r.id for r in _WORLD1_ROOMS))
WORLD2_ROOM_IDS: tuple[str, ...] = tuple(f"{r}-w2" for r in WORLD1_ROOM_IDS)

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
