"""The asset catalogue a Unity player is built with: objects, rooms and placement rules as plain data.

Exported to :data:`CATALOGUE_PATH` by ``python -m rls3_bench.backends.unity write-catalogue`` and read
by ``unity/Assets/Scripts/Catalogue.cs``; a player reports the digest it was built with, and the backend
refuses one built with another.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rls3_bench.backends.unity.protocol import SCENE_PROTOCOL
from rls3_bench.data.atomic import canonical_json

#: Where ``unity/`` keeps the exported catalogue the player builds its objects and rooms from.
CATALOGUE_PATH = Path("unity/Assets/StreamingAssets/rls3_catalogue.json")


def catalogue() -> dict[str, Any]:
    """Objects, rooms and placement rules as plain data, for the player's object and scene containers.

    Exported to :data:`CATALOGUE_PATH` (``python -m rls3_bench.backends.unity write-catalogue``) and
    read by ``unity/Assets/Scripts/Catalogue.cs``, so the player builds the same primitives and
    applies the same tolerances as the embedded backend. Frame: the SceneSpec's (z up, metres,
    degrees). ``[]`` for a colour means "the object's colour", ``""`` for a support "not a support"
    (Unity's JsonUtility has no nulls); ``footprint`` is a flat list of (x, y, bottom z) triples (it
    has no nested arrays either).
    """
    from rls3_bench.scene.assets import ACTIVE_OBJECTS, ASSETS, ROOMS
    from rls3_bench.backends import embedded as emb
    from rls3_bench.backends.geometry import centre_of_mass_xy, part_footprint, room_shell

    def vec(v):
        return [float(x) for x in v] if v is not None else []

    assets = [
        {"id": a.id, "name": a.name, "colour": vec(a.colour),
         "parts": [{"shape": q.shape, "size": vec(q.size), "offset": vec(q.offset), "colour": vec(q.colour)} for q in a.parts],
         # the embedded backend's ray samples and centre of mass, so both settle objects alike
         "footprint": [round(float(v), 9) for q in a.parts for v in part_footprint(q).ravel()],
         "com_xy": [round(float(v), 9) for v in centre_of_mass_xy(a)]}
        for a in ASSETS.values()
    ]
    rooms = [
        {"id": r.id, "name": r.name, "floor_colour": vec(r.floor_colour), "wall_colour": vec(r.wall_colour),
         "furniture": [{"id": f.id, "centre": vec(f.centre), "half_extents": vec(f.half_extents), "colour": vec(f.colour),
                        "support": f.support or ""} for f in r.furniture],
         "shell": [{"centre": vec(c), "half_extents": vec(h), "colour": vec(col)} for c, h, col in room_shell(r)],
         "camera_eye": vec(r.camera_eye), "camera_target": vec(r.camera_target), "camera_fov_deg": float(r.camera_fov_deg)}
        for r in ROOMS.values()
    ]
    rules = {"active_objects": ACTIVE_OBJECTS, "ray_lift_m": emb.RAY_LIFT_M, "overlap_tol_m": emb.OVERLAP_TOL_M,
             "centre_drop_tol_m": emb.CENTRE_DROP_TOL_M, "near_m": emb.NEAR_M, "far_m": emb.FAR_M, "park": vec(emb.PARK)}
    light = {k: (vec(v) if isinstance(v, tuple) else float(v)) for k, v in emb.LIGHT.items()}
    return {"schema_version": 1, "scene_protocol": SCENE_PROTOCOL, "assets": assets, "rooms": rooms, "rules": rules, "light": light}


def catalogue_digest() -> str:
    """SHA-256 of the canonical catalogue JSON; a player reports the digest it was built with."""
    return hashlib.sha256(canonical_json(catalogue()).encode("utf-8")).hexdigest()


def catalogue_json() -> str:
    """The text of :data:`CATALOGUE_PATH`: the catalogue plus its digest, indented for review (lists of
    numbers on one line)."""
    import re

    text = json.dumps({**catalogue(), "digest": catalogue_digest()}, indent=1, sort_keys=True)
    return re.sub(r"\[\s+([-0-9.,e\s]+?)\s+\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text) + "\n"

def main(argv: list[str] | None = None) -> int:
    """``python -m rls3_bench.backends.unity write-catalogue [PATH]``: export the catalogue for unity/."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rls3_bench.backends.unity")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("write-catalogue", help=f"write the asset catalogue the player is built with (default: {CATALOGUE_PATH})")
    p.add_argument("path", nargs="?", default=str(CATALOGUE_PATH))
    args = parser.parse_args(argv)
    from rls3_bench.data.atomic import atomic_write_text

    atomic_write_text(args.path, catalogue_json())
    print(f"wrote {args.path} (digest {catalogue_digest()[:12]})")
    return 0

