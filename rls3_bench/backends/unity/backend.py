"""The unity backend: renders SceneSpecs in a Unity player over the ML-Agents protocol.

One :meth:`UnityBackend.observe` is one environment step: the spec goes out on the scene request
channel, the player answers with its camera frame and a scene graph (:mod:`.protocol`). Start-up and
every failure mode are described in the package docstring and ``docs/unity.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from rls3_bench.backends.base import Backend, Observation, check_min_visible_fraction
from rls3_bench.backends.unity.catalogue import catalogue_digest
from rls3_bench.backends.unity.protocol import (
    API_VERSION, BEHAVIOR_NAME, CAMERA_SENSOR, DEFAULT_CLOSE_TIMEOUT_S, DEFAULT_TIMEOUT_S, EDITOR_PORT, IMAGE_SIZE_ARG,
    MAX_AUTO_WORKERS, PACKAGE_VERSION, PLAYER_BASE_PORT, SCENE_PROTOCOL, TIME_SCALE, encode_request, observation_from_graph,
)
from rls3_bench.errors import UserError, require, short_repr
from rls3_bench.scene.spec import SceneSpec


class UnityBackendError(UserError):
    """The Unity player could not be started, reached, or understood; the message says why and what to do."""


def load_mlagents():
    """The :mod:`~rls3_bench.backends.unity.communicator` module, imported once: mlagents-envs (extra
    ``unity``) made importable on this numpy, its logging quieted."""
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
            from rls3_bench.backends.unity import communicator

            _ML = communicator
        except TypeError as exc:  # "Descriptors cannot be created directly": protobuf >= 4
            raise UnityBackendError(f"mlagents-envs 0.28.0 cannot load its protobuf messages ({str(exc).splitlines()[0]}); "
                                    'it needs protobuf 3.20.3: pip install -c constraints.txt -e ".[unity]"') from None
    return _ML


_ML = None


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

        ml = self._ml = load_mlagents()
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
    def check_options(cls, image_size: int = 128, renderer: str | None = None, **options) -> None:
        """The constructor's argument checks, starting nothing: a sweep runs them before any cell folder exists."""
        super().check_options(image_size, renderer, **options)
        _check_options(**options)

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
            raise UnityBackendError(f"{self._where()} sent a scene graph that is not a JSON object: {short_repr(g, 120)}")
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


def _check_options(*, player: str | os.PathLike | None = None, worker_id: int | None = None, base_port: int | None = None,
                   timeout_s: float = DEFAULT_TIMEOUT_S, log_folder: str | os.PathLike | None = None,
                   player_args: tuple[str, ...] | list[str] = (), min_visible_fraction: float = 0.002, **_) -> None:
    """:meth:`UnityBackend.check_options` beyond the image size (what the constructor's keywords must be)."""
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
    if base_port is not None:
        last = base_port + (worker_id if worker_id is not None else MAX_AUTO_WORKERS - 1) if isinstance(base_port, int) else None
        if isinstance(base_port, bool) or last is None or base_port < 1 or last > 65535:
            raise UserError(f"the Unity port {base_port!r} leaves no room for worker ports up to {last}; "
                            f"pick one in 1024..{65535 - MAX_AUTO_WORKERS + 1}")
    if log_folder is not None and Path(log_folder).exists() and not Path(log_folder).is_dir():
        raise UserError(f"the Unity log folder {log_folder} is a file; pass a folder (--unity-log-dir)")


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

