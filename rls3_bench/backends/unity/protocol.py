"""The wire protocol between the unity backend and a player built from ``unity/``.

The constants the C# side shares (``unity/Assets/Scripts/``), and the codec of the two rls3 side
channels: the scene request (Python -> Unity, one SceneSpec as UTF-8 JSON) and the scene graph
(Unity -> Python: settled poses, visibility, validity and the segmentation mask, checked field by
field into the :class:`~rls3_bench.backends.base.Observation` the embedded backend also returns).
Pure data: no mlagents-envs import, so the C# tests and the catalogue read it without the extra.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import uuid
from typing import Any

import numpy as np

from rls3_bench.backends.base import Observation, ObjectState
from rls3_bench.errors import short_repr
from rls3_bench.scene.spec import SceneSpec

# --- protocol constants (the C# side has the same values, see unity/Assets/Scripts/) ------------
#: ML-Agents communication API and C# package of Release 19; a player must speak a compatible API.
API_VERSION = "1.5.0"
PACKAGE_VERSION = "2.2.1-exp.1"
#: Version of our own scene request / scene graph messages (bump on any change to their fields).
SCENE_PROTOCOL = 1
#: Python -> Unity: one SceneSpec per message. Unity -> Python: one scene graph per message.
SCENE_REQUEST_CHANNEL = uuid.UUID("e58f1f7b-e70a-4283-9cd5-1d7be586c690")
SCENE_GRAPH_CHANNEL = uuid.UUID("00399db1-4cf8-4bfb-9821-cd95d670851e")
#: The agent's behaviour name (Python sees ``<name>?team=<id>``) and its camera sensor's name.
BEHAVIOR_NAME = "RoomAgent"
CAMERA_SENSOR = "CameraSensor"
#: Player argument that sets the camera sensor's width and height before the agent starts.
IMAGE_SIZE_ARG = "--rls3-image-size"

DEFAULT_TIMEOUT_S = 60.0
#: Seconds a player gets to exit by itself after Python closes the connection before it is killed.
DEFAULT_CLOSE_TIMEOUT_S = 10.0
#: ML-Agents' default base ports: players (5005 + worker id) and the Editor (5004).
PLAYER_BASE_PORT, EDITOR_PORT = 5005, 5004
#: worker ids tried when ``worker_id=None`` finds a port busy (parallel cells on one machine).
MAX_AUTO_WORKERS = 64
#: Simulation speed-up sent on the EngineConfigurationChannel, as ``mlagents-learn`` does (its default
#: is 20): the Academy steps in FixedUpdate, so at time scale 1 a player serves at most ~50 steps/s.
TIME_SCALE = 100.0



# --- scene messages -------------------------------------------------------------------------------
def encode_request(request_id: int, spec: SceneSpec, min_visible_fraction: float) -> bytes:
    """The scene request: UTF-8 JSON (ML-Agents' string helpers are ASCII-only, so raw bytes)."""
    return json.dumps({"protocol": SCENE_PROTOCOL, "request_id": request_id, "spec": spec.to_dict(),
                       "settings": {"min_visible_fraction": min_visible_fraction}}, allow_nan=False).encode("utf-8")


def encode_segmentation(seg: np.ndarray) -> dict[str, Any]:
    """``(H, W)`` object indices (-1 background) as the graph carries them: a PNG whose red channel is
    ``index + 1`` (what the C# SegmentationRenderer writes with ``Texture2D.EncodeToPNG``), base64."""
    from PIL import Image

    rgb = np.zeros(seg.shape + (3,), np.uint8)
    rgb[..., 0] = (seg.astype(np.int16) + 1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG", compress_level=1)
    return {"encoding": "png", "height": int(seg.shape[0]), "width": int(seg.shape[1]),
            "data": base64.b64encode(buf.getvalue()).decode("ascii")}


def decode_segmentation(d: Any, size: int, n_objects: int) -> np.ndarray:
    """The ``(size, size)`` int16 index mask from the graph's PNG (ValueError if it is not one)."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(d, dict) or d.get("encoding") != "png" or d.get("height") != size or d.get("width") != size:
        raise ValueError(f"segmentation must be a {size}x{size} png, got {short_repr(d, 120)}")
    try:
        with Image.open(io.BytesIO(base64.b64decode(d["data"], validate=True))) as im:
            if im.format != "PNG" or im.size != (size, size):
                raise ValueError(f"segmentation image is {im.format} {im.size[0]}x{im.size[1]}, expected a {size}x{size} PNG")
            red = np.asarray(im.convert("RGB"))[..., 0]
    except (UnidentifiedImageError, OSError, binascii.Error) as exc:
        raise ValueError(f"segmentation is not a readable base64 PNG ({exc})") from None
    seg = red.astype(np.int16) - 1
    if seg.max() >= n_objects:
        raise ValueError(f"segmentation names object index {int(seg.max())} of a {n_objects}-object scene")
    return seg


def _vec3(v: Any, what: str) -> tuple[float, float, float]:
    if not isinstance(v, list) or len(v) != 3 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v):
        raise ValueError(f"{what} must be 3 finite numbers, got {short_repr(v, 120)}")
    return (float(v[0]), float(v[1]), float(v[2]))


def observation_from_graph(spec: SceneSpec, graph: dict, image: np.ndarray, renderer: str) -> Observation:
    """The :class:`Observation` for ``spec`` from a scene graph and the camera frame (ValueError if malformed)."""
    size = image.shape[0]
    objs = graph.get("objects")
    if not isinstance(objs, list) or [o.get("asset") if isinstance(o, dict) else None for o in objs] != [o.asset for o in spec.objects]:
        raise ValueError(f"graph objects {short_repr(objs, 120)} do not match the spec's {[o.asset for o in spec.objects]}")
    seg = decode_segmentation(graph.get("segmentation"), size, len(objs))
    counts = np.bincount(seg.ravel() + 1, minlength=len(objs) + 1)[1:]
    states = []
    for i, o in enumerate(objs):
        n = o.get("visible_pixels")
        if not isinstance(n, int) or isinstance(n, bool) or n != counts[i]:
            raise ValueError(f"{o['asset']}: visible_pixels {n!r} but its segmentation has {int(counts[i])} pixels")
        c = o.get("centroid_px")
        if (c is None) != (n == 0) or (c is not None and (not isinstance(c, list) or len(c) != 2)):
            raise ValueError(f"{o['asset']}: centroid_px {short_repr(c, 120)} does not fit {n} visible pixels")
        support = o.get("support")
        if support is not None and not isinstance(support, str):
            raise ValueError(f"{o['asset']}: support must be a string or null, got {short_repr(support, 120)}")
        yaw = o.get("yaw_deg")
        if not isinstance(yaw, (int, float)) or isinstance(yaw, bool) or not math.isfinite(yaw):
            raise ValueError(f"{o['asset']}: yaw_deg must be a finite number, got {short_repr(yaw, 120)}")
        states.append(ObjectState(
            asset=o["asset"], position=_vec3(o.get("position"), "position"), yaw_deg=float(yaw),
            aabb_min=_vec3(o.get("aabb_min"), "aabb_min"), aabb_max=_vec3(o.get("aabb_max"), "aabb_max"),
            support=support, visible_pixels=n, centroid_px=(float(c[0]), float(c[1])) if c is not None else None,
        ))
    valid, reason = graph.get("valid"), graph.get("invalid_reason")
    if not isinstance(valid, bool) or (reason is None) != valid or (reason is not None and not isinstance(reason, str)):
        raise ValueError(f"valid {valid!r} and invalid_reason {short_repr(reason, 120)} do not fit together")
    return Observation(spec=spec, image=image, segmentation=seg, objects=tuple(states), valid=valid,
                       invalid_reason=reason, renderer=renderer)
