"""The backend-independent scene description.

A :class:`SceneSpec` is data: which room, where the camera is, and which objects stand where. Generators
emit specs; backends (``embedded`` PyBullet, ``unity``) render them. Same spec + same backend and
renderer -> the same image, bit for bit.

Conventions (world frame, metres, degrees): ``z`` is up, the floor is ``z = 0``. An object's
``position`` is the centre of the bottom of its bounding box *before settling*; the backend drops it
straight down onto the first support under it (a furniture top or another object), so a generator may
give ``z`` as the height of the surface it aims at (or anything above it).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from rls3_bench.data.atomic import canonical_json
from rls3_bench.errors import SpecError
from rls3_bench.errors import short_repr as _short

SCHEMA_VERSION = 1

#: Limits a spec is checked against: positions must lie inside the room box, scales in a sane range.
ROOM_HALF_EXTENT_M = 3.0
ROOM_HEIGHT_M = 3.0
SCALE_RANGE = (0.5, 2.0)
FOV_RANGE_DEG = (20.0, 100.0)
MAX_OBJECTS = 8


def _vec(value: Any, n: int, what: str) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise SpecError(f"{what} must be a list of {n} numbers, got {_short(value)}; fix the SceneSpec")
    out = []
    for v in value:
        try:
            ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(float(v))
        except OverflowError:  # an integer too large for a float
            ok = False
        if not ok:
            raise SpecError(f"{what} must hold finite numbers, got {_short(value)}; fix the SceneSpec")
        out.append(float(v))
    return tuple(out)


def _num(value: Any, what: str) -> float:
    return _vec([value], 1, what)[0] if not isinstance(value, (list, tuple)) else _vec(value, 1, what)[0]


@dataclass(frozen=True)
class CameraPose:
    """A pinhole camera looking from ``eye`` at ``target`` with ``z`` up.

    :param eye: camera position (m, world frame).
    :param target: the point the optical axis passes through (m).
    :param fov_deg: vertical field of view (degrees); images are square.
    """

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov_deg: float = 60.0

    def __post_init__(self) -> None:
        eye = _vec(self.eye, 3, "camera.eye")
        target = _vec(self.target, 3, "camera.target")
        fov = _num(self.fov_deg, "camera.fov_deg")
        if not FOV_RANGE_DEG[0] <= fov <= FOV_RANGE_DEG[1]:
            raise SpecError(f"camera.fov_deg {fov} is outside {FOV_RANGE_DEG}; pick a field of view in that range")
        dx, dy, dz = (t - e for t, e in zip(target, eye, strict=True))
        if math.hypot(dx, dy) < 1e-3:
            raise SpecError(
                "camera looks straight up or down (eye and target share x, y); "
                "move the target so the view has a horizontal direction"
            )
        object.__setattr__(self, "eye", eye)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "fov_deg", fov)


@dataclass(frozen=True)
class PlacedObject:
    """One object of the asset catalogue placed in the room.

    :param asset: asset id from :data:`rls3_bench.scene.assets.ASSETS` (e.g. ``"green-cup"``).
    :param position: bottom-centre before settling (m, world frame), see the module docstring.
    :param yaw_deg: rotation about the vertical axis (degrees).
    :param scale: uniform scale factor in :data:`SCALE_RANGE`.
    :param colour: RGB in [0, 1], or ``None`` for the asset's own colour. Captions always use the
        asset's name, so a colour override must keep the object recognisable as that name
        (generators use it for small jitter only).
    """

    asset: str
    position: tuple[float, float, float]
    yaw_deg: float = 0.0
    scale: float = 1.0
    colour: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        from rls3_bench.scene.assets import ASSETS

        if not isinstance(self.asset, str) or self.asset not in ASSETS:
            raise SpecError(f"unknown asset {_short(self.asset)}; valid assets: {', '.join(sorted(ASSETS))}")
        pos = _vec(self.position, 3, f"position of {self.asset}")
        if max(abs(pos[0]), abs(pos[1])) > ROOM_HALF_EXTENT_M or not 0.0 <= pos[2] <= ROOM_HEIGHT_M:
            raise SpecError(
                f"position {list(pos)} of {self.asset} is outside the room "
                f"(|x|,|y| <= {ROOM_HALF_EXTENT_M}, 0 <= z <= {ROOM_HEIGHT_M}); move the object inside"
            )
        scale = _num(self.scale, f"scale of {self.asset}")
        if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
            raise SpecError(f"scale {scale} of {self.asset} is outside {SCALE_RANGE}; use a scale in that range")
        colour = self.colour
        if colour is not None:
            colour = _vec(colour, 3, f"colour of {self.asset}")
            if not all(0.0 <= c <= 1.0 for c in colour):
                raise SpecError(f"colour {list(colour)} of {self.asset} must be RGB in [0, 1]; fix the SceneSpec")
        object.__setattr__(self, "position", pos)
        object.__setattr__(self, "yaw_deg", _num(self.yaw_deg, f"yaw_deg of {self.asset}"))
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "colour", colour)


@dataclass(frozen=True)
class SceneSpec:
    """One scene: a room, a camera and the placed objects (the first three are the active ones).

    Frozen, hashable and JSON round-trippable. ``digest()`` is a content hash used to cache images
    and to name scenes.
    """

    room: str
    camera: CameraPose
    objects: tuple[PlacedObject, ...]
    schema_version: int = field(default=SCHEMA_VERSION)

    def __post_init__(self) -> None:
        from rls3_bench.scene.assets import ROOMS

        if self.schema_version != SCHEMA_VERSION or isinstance(self.schema_version, bool):
            raise SpecError(
                f"SceneSpec schema_version {_short(self.schema_version)} is not supported "
                f"(this is version {SCHEMA_VERSION}); regenerate the spec with this release"
            )
        if not isinstance(self.room, str) or self.room not in ROOMS:
            raise SpecError(f"unknown room {_short(self.room)}; valid rooms: {', '.join(sorted(ROOMS))}")
        if not isinstance(self.camera, CameraPose):
            raise SpecError("camera must be a CameraPose; build it with CameraPose(eye=..., target=...)")
        objects = tuple(self.objects)
        if not objects or len(objects) > MAX_OBJECTS or not all(isinstance(o, PlacedObject) for o in objects):
            raise SpecError(f"a scene needs 1 to {MAX_OBJECTS} PlacedObjects, got {len(objects)}; fix the objects list")
        assets = [o.asset for o in objects]
        if len(set(assets)) != len(assets):
            raise SpecError(
                f"asset ids repeat in one scene ({_short(assets)}); "
                "captions name objects by asset, so each may appear once"
            )
        object.__setattr__(self, "objects", objects)

    # --- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["camera"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["camera"].items()}
        d["objects"] = [{k: list(v) if isinstance(v, tuple) else v for k, v in o.items()} for o in d["objects"]]
        return d

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    def digest(self) -> str:
        """SHA-256 of the canonical JSON: equal specs share a digest."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, d: Any) -> SceneSpec:
        if not isinstance(d, dict):
            raise SpecError(f"a SceneSpec must be a JSON object, got {type(d).__name__}; see docs/scene_spec.md")
        allowed = {"room", "camera", "objects", "schema_version"}
        unknown = set(d) - allowed
        missing = {"room", "camera", "objects"} - set(d)
        if unknown or missing:
            raise SpecError(
                f"SceneSpec fields wrong (missing: {sorted(missing)}, "
                f"unknown: {_short(sorted(map(str, unknown)))}); expected {sorted(allowed)}"
            )
        cam = d["camera"]
        if not isinstance(cam, dict) or not {"eye", "target"} <= set(cam) or set(cam) - {"eye", "target", "fov_deg"}:
            raise SpecError("camera must be an object with 'eye', 'target' and optional 'fov_deg'; fix the SceneSpec")
        objs = d["objects"]
        if not isinstance(objs, list):
            raise SpecError("objects must be a list of placed objects; fix the SceneSpec")
        obj_fields = {"asset", "position", "yaw_deg", "scale", "colour"}
        placed = []
        for o in objs:
            if not isinstance(o, dict) or not {"asset", "position"} <= set(o) or set(o) - obj_fields:
                raise SpecError(
                    "each object needs 'asset' and 'position' and may have "
                    f"{sorted(obj_fields - {'asset', 'position'})}; got {_short(o)}"
                )
            placed.append(PlacedObject(**o))
        return cls(
            room=d["room"],
            camera=CameraPose(**cam),
            objects=tuple(placed),
            schema_version=d.get("schema_version", SCHEMA_VERSION),
        )

    @classmethod
    def from_json(cls, text: str) -> SceneSpec:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # ValueError: bad JSON, bad UTF-8, an integer of > 4300 digits
            raise SpecError(f"SceneSpec is not valid JSON ({str(exc)[:100]}); fix the file") from None
        return cls.from_dict(data)
