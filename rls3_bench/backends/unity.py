"""The unity backend: a Unity player built from ``unity/``, driven over the ML-Agents protocol.

It speaks ML-Agents Release 19 (``mlagents-envs`` 0.28.0, C# ``com.unity.ml-agents`` 2.2.1-exp.1,
communication API 1.5.0) through the real :class:`mlagents_envs.environment.UnityEnvironment`: Python
is the gRPC server, the player the client (``docs/unity.md`` has the whole picture). One
:meth:`UnityBackend.observe` is one environment step:

1. The :class:`~rls3_bench.scene.spec.SceneSpec` goes to the player as UTF-8 JSON on the *scene request*
   side channel, queued before ``env.step()``; the C# side reads side channels before it applies the
   step (``RpcCommunicator.UpdateEnvironmentWithInput``), so the request is there when the agent acts.
2. The player's ``RoomAgent`` places the objects in the room, settles them, checks validity, renders
   its segmentation and answers on the *scene graph* side channel (settled poses, per-object
   visibility, validity, the segmentation mask) in the same message as its camera frame (a PNG,
   channels-last ``CameraSensor`` observation).
3. The backend turns both into the same :class:`~rls3_bench.backends.base.Observation` the embedded
   backend returns, so the labeler and captioner cannot tell where a scene came from.

Start-up (``player=None`` waits for the Unity Editor's Play button instead of launching a binary):
the backend binds a gRPC server on **loopback only** (mlagents-envs binds all interfaces; see
:class:`_LoopbackCommunicator`), launches the player with ``--mlagents-port`` and the image size,
sends ``RESET`` and checks what the player reports: its behaviour, its camera's size, the protocol
version of the scene channels, and the digest of the asset catalogue it was built with.

Failures (player missing, never connects, exits, hangs, speaks another communication version, sends
something malformed) raise :class:`UnityBackendError`, one line naming the problem and the fix; the
backend then kills the player's whole process group (no orphans) and stops its server (the port is
free again) before raising.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import hashlib
import io
import json
import logging
import math
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from rls3_bench.backends.base import Backend, Observation, ObjectState, check_image_size, check_min_visible_fraction
from rls3_bench.errors import UserError, require
from rls3_bench.data.atomic import canonical_json
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
#: Where ``unity/`` keeps the exported catalogue the player builds its objects and rooms from.
CATALOGUE_PATH = Path("unity/Assets/StreamingAssets/rls3_catalogue.json")

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


class UnityBackendError(UserError):
    """The Unity player could not be started, reached, or understood; the message says why and what to do."""


# --- the asset catalogue the player is built with -----------------------------------------------
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

    def vec(v):
        return [float(x) for x in v] if v is not None else []

    assets = [
        {"id": a.id, "name": a.name, "colour": vec(a.colour),
         "parts": [{"shape": q.shape, "size": vec(q.size), "offset": vec(q.offset), "colour": vec(q.colour)} for q in a.parts],
         # the embedded backend's ray samples and centre of mass, so both settle objects alike
         "footprint": [round(float(v), 9) for q in a.parts for v in emb._part_footprint(q).ravel()],
         "com_xy": [round(float(v), 9) for v in emb.centre_of_mass_xy(a)]}
        for a in ASSETS.values()
    ]
    rooms = [
        {"id": r.id, "name": r.name, "floor_colour": vec(r.floor_colour), "wall_colour": vec(r.wall_colour),
         "furniture": [{"id": f.id, "centre": vec(f.centre), "half_extents": vec(f.half_extents), "colour": vec(f.colour),
                        "support": f.support or ""} for f in r.furniture],
         "shell": [{"centre": vec(c), "half_extents": vec(h), "colour": vec(col)} for c, h, col in emb._shell(r)],
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
        raise ValueError(f"segmentation must be a {size}x{size} png, got {_short(d)}")
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


def _short(x: Any, n: int = 120) -> str:
    s = repr(x)
    return s if len(s) <= n else s[: n - 3] + "..."


def _vec3(v: Any, what: str) -> tuple[float, float, float]:
    if not isinstance(v, list) or len(v) != 3 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v):
        raise ValueError(f"{what} must be 3 finite numbers, got {_short(v)}")
    return (float(v[0]), float(v[1]), float(v[2]))


def observation_from_graph(spec: SceneSpec, graph: dict, image: np.ndarray, renderer: str) -> Observation:
    """The :class:`Observation` for ``spec`` from a scene graph and the camera frame (ValueError if malformed)."""
    size = image.shape[0]
    objs = graph.get("objects")
    if not isinstance(objs, list) or [o.get("asset") if isinstance(o, dict) else None for o in objs] != [o.asset for o in spec.objects]:
        raise ValueError(f"graph objects {_short(objs)} do not match the spec's {[o.asset for o in spec.objects]}")
    seg = decode_segmentation(graph.get("segmentation"), size, len(objs))
    counts = np.bincount(seg.ravel() + 1, minlength=len(objs) + 1)[1:]
    states = []
    for i, o in enumerate(objs):
        n = o.get("visible_pixels")
        if not isinstance(n, int) or isinstance(n, bool) or n != counts[i]:
            raise ValueError(f"{o['asset']}: visible_pixels {n!r} but its segmentation has {int(counts[i])} pixels")
        c = o.get("centroid_px")
        if (c is None) != (n == 0) or (c is not None and (not isinstance(c, list) or len(c) != 2)):
            raise ValueError(f"{o['asset']}: centroid_px {_short(c)} does not fit {n} visible pixels")
        support = o.get("support")
        if support is not None and not isinstance(support, str):
            raise ValueError(f"{o['asset']}: support must be a string or null, got {_short(support)}")
        yaw = o.get("yaw_deg")
        if not isinstance(yaw, (int, float)) or isinstance(yaw, bool) or not math.isfinite(yaw):
            raise ValueError(f"{o['asset']}: yaw_deg must be a finite number, got {_short(yaw)}")
        states.append(ObjectState(
            asset=o["asset"], position=_vec3(o.get("position"), "position"), yaw_deg=float(yaw),
            aabb_min=_vec3(o.get("aabb_min"), "aabb_min"), aabb_max=_vec3(o.get("aabb_max"), "aabb_max"),
            support=support, visible_pixels=n, centroid_px=(float(c[0]), float(c[1])) if c is not None else None,
        ))
    valid, reason = graph.get("valid"), graph.get("invalid_reason")
    if not isinstance(valid, bool) or (reason is None) != valid or (reason is not None and not isinstance(reason, str)):
        raise ValueError(f"valid {valid!r} and invalid_reason {_short(reason)} do not fit together")
    return Observation(spec=spec, image=image, segmentation=seg, objects=tuple(states), valid=valid,
                       invalid_reason=reason, renderer=renderer)


# --- mlagents-envs, loaded only when the backend is used -------------------------------------------
def _mlagents():
    """Import mlagents-envs (extra ``unity``) and build the classes that subclass it, once."""
    global _ML
    if _ML is None:
        import numpy

        if not hasattr(numpy, "bool"):  # mlagents-envs 0.28 uses np.bool (gone in numpy 1.24-1.26)
            numpy.bool = numpy.bool_
        require("mlagents_envs", "unity")
        from mlagents_envs import logging_util

        if logging_util._log_level == logging_util.NOTSET:
            # mlagents-envs logs to stdout, and passes the player's own output through unless its level
            # is above DEBUG; every failure reaches the user as a UnityBackendError, so keep both quiet
            # (players log to --unity-log-dir). A level set by the user is left alone.
            logging_util.set_log_level(logging_util.ERROR)
        try:
            _ML = _build_mlagents_classes()
        except TypeError as exc:  # "Descriptors cannot be created directly": protobuf >= 4
            raise UnityBackendError(f"mlagents-envs 0.28.0 cannot load its protobuf messages ({str(exc).splitlines()[0]}); "
                                    'it needs protobuf 3.20.3: pip install -c constraints.txt -e ".[unity]"') from None
    return _ML


_ML = None


def _build_mlagents_classes():
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    import grpc
    from mlagents_envs import exception as exc
    from mlagents_envs.communicator_objects.unity_message_pb2 import UnityMessageProto
    from mlagents_envs.communicator_objects.unity_to_external_pb2_grpc import add_UnityToExternalProtoServicer_to_server
    from mlagents_envs.environment import UnityEnvironment
    from mlagents_envs.rpc_communicator import RpcCommunicator, UnityToExternalServicerImplementation
    from mlagents_envs.side_channel.engine_configuration_channel import EngineConfigurationChannel
    from mlagents_envs.side_channel.outgoing_message import OutgoingMessage
    from mlagents_envs.side_channel.side_channel import SideChannel

    class SceneRequestChannel(SideChannel):
        """Python -> Unity: one scene request per ``observe``."""

        def __init__(self) -> None:
            super().__init__(SCENE_REQUEST_CHANNEL)

        def on_message_received(self, msg) -> None:  # the player never writes here
            logging.getLogger(__name__).warning("unexpected message on the scene request channel (ignored)")

        def send(self, payload: bytes) -> None:
            m = OutgoingMessage()
            m.set_raw_bytes(bytearray(payload))
            self.queue_message_to_send(m)

    class SceneGraphChannel(SideChannel):
        """Unity -> Python: scene graphs, kept as raw bytes until the backend reads them."""

        def __init__(self) -> None:
            super().__init__(SCENE_GRAPH_CHANNEL)
            self.received: list[bytes] = []

        def on_message_received(self, msg) -> None:
            self.received.append(bytes(msg.get_raw_bytes()))

        def take(self) -> list[bytes]:
            out, self.received = self.received, []
            return out

    class LoopbackCommunicator(RpcCommunicator):
        """mlagents-envs' gRPC server with three changes (the rest is 0.28.0's code path):

        * it binds ``localhost`` only: the stock server binds ``[::]`` (every interface, no auth);
          C# connects to ``localhost:<port>`` (RpcCommunicator.cs ``Initialize``), so loopback suffices;
        * no ``SO_REUSEPORT``: with it two servers could share a port and split one player's messages;
          without it a busy port fails the bind, and ``worker_id=None`` moves on to the next one;
        * it polls for the player's next message every 0.1 s (the stock loop polls every
          ``timeout // 10`` s, i.e. it spins for time-outs under 10 s and notices a dead player late),
          also before the second handshake message, which the stock ``initialize`` waits for forever.
        """

        poll_interval_s = 0.1

        def create_server(self) -> None:
            self.check_port(self.port)
            try:
                self.server = grpc.server(thread_pool=ThreadPoolExecutor(max_workers=4), options=(("grpc.so_reuseport", 0),))
                self.unity_to_external = UnityToExternalServicerImplementation()
                add_UnityToExternalProtoServicer_to_server(self.unity_to_external, self.server)
                if not self.server.add_insecure_port(f"localhost:{self.port}"):
                    raise OSError(f"cannot bind localhost:{self.port}")
                self.server.start()
                self.is_open = True
            except Exception:
                if self.server is not None:
                    self.server.stop(None)
                raise exc.UnityWorkerInUseException(self.worker_id) from None

        def poll_for_timeout(self, poll_callback=None) -> None:
            deadline = time.monotonic() + self.timeout_wait
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise exc.UnityTimeOutException(f"no message from the Unity player within {self.timeout_wait:g} s")
                if self.unity_to_external.parent_conn.poll(min(self.poll_interval_s, left)):
                    return
                if poll_callback:
                    poll_callback()

        def initialize(self, inputs, poll_callback=None):
            self.poll_for_timeout(poll_callback)
            aca_param = self.unity_to_external.parent_conn.recv().unity_output
            message = UnityMessageProto()
            message.header.status = 200
            message.unity_input.CopyFrom(inputs)
            self.unity_to_external.parent_conn.send(message)
            self.poll_for_timeout(poll_callback)  # the player's second, empty message (C# Initialize)
            self.unity_to_external.parent_conn.recv()
            return aca_param

        def close(self) -> None:
            if self.is_open:
                super().close()  # answers a pending request with status 400: the player quits
            if self.server is not None:
                self.server.stop(None).wait(5.0)  # the listening socket is closed when this returns

    class Environment(UnityEnvironment):
        """``UnityEnvironment`` on the loopback communicator; remembers the player's handshake and
        kills the player's whole process group on close (mlagents-envs kills only the process it
        started, which leaves e.g. an ``xvfb-run`` wrapper's children behind)."""

        close_timeout_s = DEFAULT_CLOSE_TIMEOUT_S
        handshake = None

        def _get_communicator(self, worker_id, base_port, timeout_wait):
            try:
                return LoopbackCommunicator(worker_id, base_port, timeout_wait)
            except BaseException:  # the half-built environment must not run _close at exit
                atexit.unregister(self._close)
                raise

        def _send_academy_parameters(self, init_parameters):
            out = super()._send_academy_parameters(init_parameters)
            self.handshake = out.rl_initialization_output
            type(self).last_handshake = self.handshake  # readable when the constructor then raises
            return out

        def _close(self, timeout=None) -> None:
            if getattr(self, "_communicator", None) is None:
                atexit.unregister(self._close)
                return
            process = getattr(self, "_process", None)
            wait = self.close_timeout_s if timeout is None else min(timeout, self.close_timeout_s)
            try:
                super()._close(wait)
            finally:
                if process is not None:
                    _kill_group(process)
                    with contextlib.suppress(Exception):
                        process.wait(1.0)
                with contextlib.suppress(Exception):
                    atexit.unregister(self._close)

    return SimpleNamespace(exc=exc, Environment=Environment, SceneRequestChannel=SceneRequestChannel,
                           SceneGraphChannel=SceneGraphChannel, EngineConfigurationChannel=EngineConfigurationChannel)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the player's process group (mlagents-envs starts it with ``start_new_session``, so the
    group id is its pid): whatever it left running dies with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(process.pid, signal.SIGKILL)


# --- the backend ---------------------------------------------------------------------------------
class UnityBackend(Backend):
    """Renders SceneSpecs in a Unity player. ``with UnityBackend(player="Room.x86_64") as b: b.observe(spec)``.

    :param image_size: side of the square camera frame; passed to a launched player as
        ``--rls3-image-size``. A player already running in the Editor must be set to this size.
    :param renderer: not used: the player decides how it renders and reports it (``renderer``
        property). Accepted so both backends take the same arguments.
    :param player: path of the player binary (``Room.x86_64``, or ``Room`` when ``Room.x86_64``
        exists), or ``None`` to wait for the Unity Editor (press Play; port 5004 by default).
    :param worker_id: offset from ``base_port``. ``None``: the first free one of 0..63 (parallel cells
        on one machine each get their own port). The Editor always uses 0.
    :param base_port: first port (default 5005 for a player, 5004 for the Editor).
    :param timeout_s: seconds to wait for the player to connect and for each answer.
    :param close_timeout_s: seconds a player gets to exit after the connection closes before it is killed.
    :param log_folder: folder for the player's log (``Player-<worker id>.log``).
    :param player_args: extra command-line arguments for the player (e.g. ``-force-vulkan``).
    :param min_visible_fraction: an active object must cover this fraction of the image (as embedded).
    :param time_scale: Unity ``Time.timeScale`` sent at start (see :data:`TIME_SCALE`).
    """

    name = "unity"

    def __init__(self, image_size: int = 128, renderer: str | None = None, *, player: str | os.PathLike | None = None,
                 worker_id: int | None = None, base_port: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 close_timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S, log_folder: str | os.PathLike | None = None,
                 player_args: tuple[str, ...] | list[str] = (), min_visible_fraction: float = 0.002,
                 time_scale: float = TIME_SCALE) -> None:
        self.check_options(image_size, renderer, player=player, worker_id=worker_id, base_port=base_port, timeout_s=timeout_s,
                           close_timeout_s=close_timeout_s, log_folder=log_folder, player_args=player_args,
                           min_visible_fraction=min_visible_fraction, time_scale=time_scale)
        player_args = [str(a) for a in player_args]
        self.image_size = image_size
        self.min_visible_fraction = float(min_visible_fraction)
        self.timeout_s = float(timeout_s)
        self.player = _resolve_player(player) if player is not None else None
        self.log_folder = Path(log_folder).resolve() if log_folder is not None else None
        self._env = None
        self._hung = False
        self._renderer = "unity"
        self._request_id = 0
        self._behavior: str | None = None
        self._camera_index = 0
        self.port: int | None = None
        self.player_info: dict[str, Any] = {}

        ml = self._ml = _mlagents()
        if base_port is None:
            base_port = PLAYER_BASE_PORT if self.player is not None else EDITOR_PORT
        if self.log_folder is not None:
            self.log_folder.mkdir(parents=True, exist_ok=True)
        self._requests = ml.SceneRequestChannel()
        self._graphs = ml.SceneGraphChannel()
        engine = ml.EngineConfigurationChannel()
        engine.set_configuration_parameters(time_scale=time_scale)
        args = [IMAGE_SIZE_ARG, str(image_size), *player_args]
        candidates = [worker_id] if worker_id is not None or self.player is None else range(MAX_AUTO_WORKERS)
        for wid in candidates:
            self.worker_id = wid = wid or 0
            try:
                ml.Environment.last_handshake = None
                env = ml.Environment(
                    file_name=str(self.player) if self.player is not None else None, worker_id=wid, base_port=base_port,
                    seed=0, no_graphics=False, timeout_wait=self.timeout_s, additional_args=args,
                    side_channels=[self._requests, self._graphs, engine],
                    log_folder=str(self.log_folder) if self.log_folder is not None else None,
                )
                env.close_timeout_s = float(close_timeout_s)
            except ml.exc.UnityWorkerInUseException:
                if worker_id is not None or self.player is None:
                    raise UnityBackendError(f"port {base_port + wid} is in use; pick another with base_port (--unity-port) "
                                            "or stop what holds it") from None
                continue
            except Exception as exc:  # nothing to close: the constructor closed what it opened
                raise self._startup_error(exc, base_port + wid) from None
            self._env, self.port = env, base_port + wid
            break
        else:
            raise UnityBackendError(f"ports {base_port}..{base_port + MAX_AUTO_WORKERS - 1} are all in use; pass another base_port (--unity-port)")
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    @classmethod
    def check_options(cls, image_size: int = 128, renderer: str | None = None, *, player: str | os.PathLike | None = None,
                      worker_id: int | None = None, base_port: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                      close_timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S, log_folder: str | os.PathLike | None = None,
                      player_args: tuple[str, ...] | list[str] = (), min_visible_fraction: float = 0.002,
                      time_scale: float = TIME_SCALE) -> None:
        """The constructor's argument checks, starting nothing: a sweep runs them before any cell folder exists."""
        check_image_size(image_size)
        if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or not 0 < timeout_s <= 86400:
            raise UserError(f"the Unity time-out must be a number of seconds in (0, 86400], got {timeout_s!r}")
        check_min_visible_fraction(min_visible_fraction)
        if "-nographics" in (str(a).lower() for a in player_args):
            raise UserError("-nographics disables the player's camera sensors (no images); run it with a display instead, "
                            "e.g. `xvfb-run -a rls3-bench ...` (see docs/unity.md)")
        if player is not None:
            _resolve_player(player)
        elif worker_id not in (None, 0):
            raise UserError("the Unity Editor listens on one port: worker_id must be 0 (or None) without a player")
        if worker_id is not None and (isinstance(worker_id, bool) or not isinstance(worker_id, int) or worker_id < 0):
            raise UserError(f"worker_id must be a non-negative integer or None, got {worker_id!r}")
        last = (base_port or PLAYER_BASE_PORT) + (worker_id if worker_id is not None else MAX_AUTO_WORKERS - 1)
        if base_port is not None and (isinstance(base_port, bool) or not isinstance(base_port, int) or base_port < 1 or last > 65535):
            raise UserError(f"the Unity port {base_port!r} leaves no room for worker ports up to {last}; pick one in 1024..{65535 - MAX_AUTO_WORKERS + 1}")
        if log_folder is not None and Path(log_folder).exists() and not Path(log_folder).is_dir():
            raise UserError(f"the Unity log folder {log_folder} is a file; pass a folder (--unity-log-dir)")

    # --- start-up ------------------------------------------------------------------------------
    def _where(self) -> str:
        return f"Unity player {self.player}" if self.player is not None else "Unity Editor"

    def _log_hint(self) -> str:
        if self.player is None:
            return ""
        if self.log_folder is not None:
            return f" (its log: {self.log_folder / ('Player-%d.log' % self.worker_id)})"
        return " (pass --unity-log-dir to keep its log)"

    def _startup_error(self, exc: Exception, port: int) -> UnityBackendError:
        ml = self._ml
        hs = ml.Environment.last_handshake
        if isinstance(exc, ml.exc.UnityTimeOutException):
            if self.player is None:
                return UnityBackendError(f"no Unity Editor connected on port {port} within {self.timeout_s:g} s; open the "
                                         "unity/ project, press Play, then start rls3-bench (or give a player with --unity-player)")
            return UnityBackendError(f"{self._where()} did not connect on port {port} within {self.timeout_s:g} s{self._log_hint()}; "
                                     "check that it was built from unity/ with ML-Agents Release 19 and has a display "
                                     "(xvfb-run -a ...), or raise --unity-timeout")
        if isinstance(exc, ml.exc.UnityEnvironmentException) and "communication API version" in str(exc):
            got = f"{hs.communication_version} (package {hs.package_version})" if hs is not None else "another version"
            return UnityBackendError(f"{self._where()} speaks ML-Agents communication API {got}, but rls3-bench uses "
                                     f"mlagents-envs 0.28.0 (API {API_VERSION}); build the player with com.unity.ml-agents "
                                     f"{PACKAGE_VERSION} (ML-Agents Release 19), as unity/Packages/manifest.json pins")
        if isinstance(exc, ml.exc.UnityEnvironmentException) and "return code" in str(exc):
            return UnityBackendError(f"{self._where()} exited before the handshake ({_exit_text(str(exc))}){self._log_hint()}; "
                                     "run it by hand to see why")
        if isinstance(exc, ml.exc.UnityEnvironmentException) and "Couldn't launch" in str(exc):
            return UnityBackendError(f"cannot launch {self._where()}; check the path")
        return UnityBackendError(f"{self._where()} could not be started ({type(exc).__name__}: {_first_line(exc)}){self._log_hint()}")

    def _start(self) -> None:
        """RESET, then check what the player is: behaviour, camera, scene protocol, catalogue."""
        self._call(self._env.reset, "the first reset")
        graphs = [self._parse_graph(b) for b in self._graphs.take()]
        ready = [g for g in graphs if g.get("kind") == "ready"]
        if not ready:
            raise UnityBackendError(f"{self._where()} sent no 'ready' message on the rls3 scene graph channel after RESET; "
                                    "is it built from unity/ (RoomAgent with SceneChannels)?")
        info = ready[-1]
        if info.get("protocol") != SCENE_PROTOCOL:
            raise UnityBackendError(f"{self._where()} speaks rls3 scene protocol {info.get('protocol')!r}, this rls3-bench {SCENE_PROTOCOL}; "
                                    "rebuild the player from this release's unity/ folder")
        if info.get("catalogue_digest") != catalogue_digest():
            raise UnityBackendError(f"{self._where()} was built with another asset catalogue (digest {str(info.get('catalogue_digest'))[:12]}, "
                                    f"this rls3-bench {catalogue_digest()[:12]}); run `python -m rls3_bench.backends.unity write-catalogue` "
                                    "and rebuild the player")
        names = [n for n in self._env.behavior_specs if n.split("?")[0] == BEHAVIOR_NAME]
        if len(names) != 1:
            raise UnityBackendError(f"{self._where()} must have exactly one {BEHAVIOR_NAME} behaviour, found {sorted(self._env.behavior_specs)}; "
                                    "check the agent's Behavior Parameters")
        self._behavior = names[0]
        specs = self._env.behavior_specs[self._behavior].observation_specs
        cams = [i for i, s in enumerate(specs) if s.name == CAMERA_SENSOR]
        if len(cams) != 1:
            raise UnityBackendError(f"{self._where()}'s agent has no sensor named {CAMERA_SENSOR} (sensors: {[s.name for s in specs]})")
        self._camera_index = cams[0]
        shape = tuple(specs[self._camera_index].shape)
        if shape != (self.image_size, self.image_size, 3):
            raise UnityBackendError(f"{self._where()}'s camera renders {shape[1]}x{shape[0]}x{shape[2]}, the track needs "
                                    f"{self.image_size}x{self.image_size}x3; set the CameraSensor's Width/Height (the Editor) "
                                    f"or let rls3-bench launch the player (it passes {IMAGE_SIZE_ARG})")
        reported = str(info.get("renderer") or "unknown")
        self._renderer = f"unity/{reported}"
        hs = self._env.handshake
        self.player_info = {"renderer": self._renderer, "port": self.port, "package_version": hs.package_version,
                            "communication_version": hs.communication_version, "player": str(self.player) if self.player else "editor",
                            **{k: info[k] for k in ("unity_version", "graphics_device") if k in info}}

    # --- Backend interface ------------------------------------------------------------------------
    @property
    def renderer(self) -> str:
        return self._renderer

    def observe(self, spec: SceneSpec) -> Observation:
        if self._env is None:
            raise UserError("this UnityBackend is closed; create a new one (use it as a context manager)")
        self._request_id += 1
        rid = self._request_id
        self._requests.send(encode_request(rid, spec, self.min_visible_fraction))
        self._call(self._env.step, f"scene request {rid}")
        try:
            graphs = [self._parse_graph(b) for b in self._graphs.take()]
            for g in graphs:
                if g.get("kind") == "error":
                    raise UnityBackendError(f"{self._where()} refused scene request {g.get('request_id')}: {g.get('message')}")
            mine = [g for g in graphs if g.get("kind") == "scene" and g.get("request_id") == rid]
            if len(mine) != 1:
                raise UnityBackendError(f"{self._where()} answered scene request {rid} with {len(mine)} scene graphs "
                                        f"(request ids {[g.get('request_id') for g in graphs]}); its RoomAgent must answer every "
                                        "request in the next step (Decision Period 1)")
            image = self._frame(rid)
            try:
                return observation_from_graph(spec, mine[0], image, self._renderer)
            except (ValueError, KeyError, TypeError) as exc:
                raise UnityBackendError(f"{self._where()} sent a malformed scene graph for request {rid}: {exc}") from None
        except BaseException:
            self.close()
            raise

    def _frame(self, rid: int) -> np.ndarray:
        """The camera frame of this step as uint8 RGB (mlagents-envs decodes PNGs to float32 in [0, 1]).

        An agent at the end of an episode (Max Step, EndEpisode) sends a terminal step with the
        observation made after the request was applied, and in the same message a new decision
        step; the terminal one shows the requested scene even if the player resets its room.
        """
        decision, terminal = self._env.get_steps(self._behavior)
        steps = terminal if len(terminal) else decision
        if len(steps) != 1:
            raise UnityBackendError(f"{self._where()} sent {len(decision)} decision and {len(terminal)} terminal agents for "
                                    f"scene request {rid}; the scene needs exactly one RoomAgent requesting a decision every step")
        frame = steps.obs[self._camera_index][0]
        return np.rint(np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8)

    def _parse_graph(self, payload: bytes) -> dict:
        try:
            g = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UnityBackendError(f"{self._where()} sent a scene graph that is not UTF-8 JSON ({exc})") from None
        if not isinstance(g, dict):
            raise UnityBackendError(f"{self._where()} sent a scene graph that is not a JSON object: {_short(g)}")
        return g

    def _call(self, fn, what: str) -> None:
        """Run one exchange; map every way it can fail to one clear error (the caller closes)."""
        ml = self._ml
        try:
            fn()
        except ml.exc.UnityTimeOutException:
            self._hung = True  # no point waiting for it to exit by itself
            raise UnityBackendError(f"{self._where()} did not answer {what} within {self.timeout_s:g} s{self._log_hint()}; "
                                    "it hangs or is too slow (raise --unity-timeout)") from None
        except ml.exc.UnityCommunicatorStoppedException:
            raise UnityBackendError(f"{self._where()} closed the connection during {what}{self._log_hint()}") from None
        except ml.exc.UnityEnvironmentException as exc:
            if "return code" in str(exc):
                raise UnityBackendError(f"{self._where()} exited during {what} ({_exit_text(str(exc))}){self._log_hint()}") from None
            raise UnityBackendError(f"{self._where()} failed during {what}: {_first_line(exc)}") from None
        except ml.exc.UnityException as exc:  # observation shape, side channel framing, ...
            raise UnityBackendError(f"{self._where()} sent something mlagents-envs cannot read during {what}: {_first_line(exc)}") from None

    def close(self) -> None:
        """Close the connection (the player quits on the status-400 reply), wait for the player to exit
        (killed after ``close_timeout_s``, at once if it hung), kill its process group, free the port."""
        env, self._env = self._env, None
        if env is not None:
            with contextlib.suppress(Exception):
                env._close(0 if self._hung else None)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _exit_text(message: str) -> str:
    """'Environment shut down with return code -9 (SIGKILL).' -> 'return code -9 (SIGKILL)'."""
    i = message.find("return code")
    return message[i:].rstrip(".") if i >= 0 else message


def _resolve_player(player: str | os.PathLike) -> Path:
    """The player binary, found the way mlagents-envs finds it (``name``, ``name.x86_64``, ``name.x86``)."""
    path = Path(player).expanduser()
    for candidate in (path, path.with_name(path.name + ".x86_64"), path.with_name(path.name + ".x86")):
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                raise UserError(f"Unity player {candidate} is not executable; chmod +x it")
            return path.resolve() if candidate == path else candidate.resolve()
    raise UserError(f"Unity player {path} does not exist; build one from unity/ (see unity/README.md) and pass its path "
                    "to --unity-player, or leave --unity-player out to connect to the Unity Editor")


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


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

__all__ = ["UnityBackend", "UnityBackendError", "catalogue", "catalogue_digest", "encode_request", "observation_from_graph"]
