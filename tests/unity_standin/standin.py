#!/usr/bin/env python3
"""A stand-in for the rls3 Unity player: the Unity side of the ML-Agents Release 19 protocol, for tests.

No Unity editor or player exists on CI machines, so this plays the player's part over the real
protocol: a gRPC *client* of the ``UnityToExternalProto.Exchange`` service that mlagents-envs serves,
sending and parsing the real protobuf messages. The Python side under test is therefore the real
``mlagents_envs.UnityEnvironment`` (gRPC server, protobuf decoding, PNG decoding, side channels,
terminal/decision splitting, process handling) plus rls3-bench's unity backend on top.

What it reproduces, with the C# behaviour it follows (Unity-Technologies/ml-agents, release_19 =
com.unity.ml-agents 2.2.1-exp.1; paths under ``com.unity.ml-agents/Runtime/``):

* **Start-up** (``Academy.InitializeEnvironment``, ``ReadPortFromArgs``): the port comes from
  ``--mlagents-port``; without it a player never connects (here: exit code 2).
* **Handshake** (``Communicator/RpcCommunicator.cs`` ``Initialize``): one ``Exchange`` carrying
  ``rl_initialization_output`` (name "AcademySingleton", communication version 1.5.0, package
  version 2.2.1-exp.1, the seven capabilities, all true as in ``UnityRLCapabilities.cs``), then one
  empty ``Exchange`` whose reply carries the first ``rl_input`` (RESET). A non-200 header on either
  reply shuts the channel down (``NotifyQuitAndShutDownChannel``). Versions are compared as
  ``CheckCommunicationVersionsAreCompatible`` does (major must match; minor too for 0.x); when they
  are incompatible C# gives up the trainer and runs inference, which for a stand-in means exiting.
* **Input** (``UpdateEnvironmentWithInput``): side channels are processed *before* the command, so
  a scene request queued with a step is there when the agent acts. RESET resets the agent
  (``ForcedFullReset`` -> ``_AgentReset``); QUIT and any non-200 reply quit.
* **Side channels** (``SideChannels/SideChannelManager.cs``): 16-byte GUID (``Guid.ToByteArray``,
  i.e. Python's ``uuid.bytes_le``) + int32 little-endian length + payload, concatenated; messages for
  channels not registered are cached and delivered once a channel with that id registers. Registered
  here as in the player: EngineConfiguration and TrainingAnalytics (the Academy's own) and the rls3
  scene request channel.
* **Steps** (``Academy.EnvironmentStep``, ``Agent.cs``): per step the agent's step counter
  increments, the agent collects observations (the scene graph is queued on its side channel there)
  and its sensors render (``PutObservations``); the output carries the agent infos and all queued
  side-channel messages. The behaviour's ``BrainParametersProto`` goes with the *first* output that
  has agent infos (``GetTempUnityRlInitializationOutput``), not with the handshake. The behaviour is
  ``RoomAgent?team=0`` (``BehaviorParameters.FullyQualifiedBehaviorName``) with no actions; the
  agent id is the same every episode (``m_EpisodeId`` set once in ``LazyInitialize``).
* **Camera** (``Sensors/CameraSensor.cs``, ``Communicator/GrpcExtensions.cs``
  ``GetObservationProto``): shape [H, W, 3] channels-last, PNG compressed (``EncodeToPNG``),
  dimension properties [2, 2, 1] (translational equivariance, none), name "CameraSensor".
* **Episode ends** (``Agent.AgentStep`` / ``NotifyAgentDone``): with ``--standin-max-step K`` the
  agent reaches MaxStep after K steps: a ``done`` info with ``max_step_reached`` and fresh
  observations, then the agent resets and, in the same message, requests a new decision.
* **Close** (``RpcCommunicator.Exchange``): a reply with status 400 (Python's ``close()``) or an RPC
  error (UNAVAILABLE/CANCELLED when Python went away) ends the player.

The RoomAgent itself (``unity/Assets/Scripts/RoomAgent.cs``) is played with the embedded backend: a
scene request is rendered by :class:`rls3_bench.backends.embedded.EmbeddedBackend`, and the answer
uses the same scene graph schema as the C# ``SceneGraphWriter``. So the stand-in's images and graphs
equal the embedded backend's, which is what lets tests compare the two paths sample by sample.

Differences from a real player, deliberate: it waits for the server to listen (a player fails at
once and falls back to inference; tests start the stand-in thread before Python listens), and it
has fault knobs (``--standin-*``) a player does not.

Run it as a fake player executable (``FakeRoom.x86_64`` next to this file is the launcher that
mlagents-envs starts) or in a thread (:meth:`StandinPlayer.start_thread`).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # before grpc loads: no C-core INFO lines on stderr

import grpc  # noqa: E402
import numpy as np
from mlagents_envs.communicator_objects.agent_info_pb2 import AgentInfoProto
from mlagents_envs.communicator_objects.brain_parameters_pb2 import ActionSpecProto, BrainParametersProto
from mlagents_envs.communicator_objects.capabilities_pb2 import UnityRLCapabilitiesProto
from mlagents_envs.communicator_objects.command_pb2 import QUIT, RESET, STEP
from mlagents_envs.communicator_objects.header_pb2 import HeaderProto
from mlagents_envs.communicator_objects.observation_pb2 import PNG, ObservationProto
from mlagents_envs.communicator_objects.unity_message_pb2 import UnityMessageProto
from mlagents_envs.communicator_objects.unity_output_pb2 import UnityOutputProto
from mlagents_envs.communicator_objects.unity_rl_initialization_output_pb2 import UnityRLInitializationOutputProto
from mlagents_envs.communicator_objects.unity_rl_output_pb2 import UnityRLOutputProto
from mlagents_envs.communicator_objects.unity_to_external_pb2_grpc import UnityToExternalProtoStub
from PIL import Image

from rls3_bench.backends import unity as protocol

#: Academy.cs k_ApiVersion / k_PackageVersion of com.unity.ml-agents 2.2.1-exp.1
API_VERSION = "1.5.0"
PACKAGE_VERSION = "2.2.1-exp.1"
BEHAVIOR = f"{protocol.BEHAVIOR_NAME}?team=0"
ENGINE_CONFIGURATION_CHANNEL = uuid.UUID("e951342c-4f7e-11ea-b238-784f4387d1f7")
TRAINING_ANALYTICS_CHANNEL = uuid.UUID("b664a4a9-d86f-5a5f-95cb-e8353a7e8356")
#: exit codes of the executable
EXIT_OK, EXIT_NO_PORT, EXIT_CRASH = 0, 2, 3


class Quit(Exception):
    """The connection ended (QUIT, status 400, RPC error): the player quits, as Application.Quit."""


def versions_compatible(unity: str, python: str) -> bool:
    """RpcCommunicator.CheckCommunicationVersionsAreCompatible: majors must match, and minors for 0.x."""
    u, p = [int(x) for x in unity.split(".")[:2]], [int(x) for x in python.split(".")[:2]]
    return u[0] == p[0] and (u[0] != 0 or u[1] == p[1])


class SideChannels:
    """SideChannelManager.cs: framing, dispatch by channel id, caching of unknown ids, outgoing queue."""

    def __init__(self) -> None:
        self.handlers: dict[uuid.UUID, Callable[[bytes], None]] = {}
        self.cached: list[tuple[uuid.UUID, bytes]] = []
        self.outgoing: list[tuple[uuid.UUID, bytes]] = []

    def register(self, channel_id: uuid.UUID, handler: Callable[[bytes], None]) -> None:
        self.handlers[channel_id] = handler

    def process(self, data: bytes) -> None:
        pending, self.cached = self.cached, []  # ProcessSideChannelData first retries cached messages
        for cid, msg in pending:
            self._dispatch(cid, msg, cache=False)
        offset = 0
        while offset < len(data):
            if offset + 20 > len(data):
                raise ValueError("side channel data truncated in a header")  # C#: UnityAgentsException
            cid = uuid.UUID(bytes_le=bytes(data[offset : offset + 16]))
            (length,) = struct.unpack_from("<i", data, offset + 16)
            msg = bytes(data[offset + 20 : offset + 20 + length])
            if length < 0 or len(msg) != length:
                raise ValueError("side channel message shorter than its length")
            offset += 20 + length
            self._dispatch(cid, msg, cache=True)

    def _dispatch(self, cid: uuid.UUID, msg: bytes, cache: bool) -> None:
        if cid in self.handlers:
            try:
                self.handlers[cid](msg)
            except Exception as exc:  # SideChannel.ProcessMessage: log and skip the message
                logging.getLogger("standin").error("error processing side channel message: %s", exc)
        elif cache:
            self.cached.append((cid, msg))
        else:
            logging.getLogger("standin").info("unknown side channel data received, channel id %s", cid)

    def queue(self, channel_id: uuid.UUID, payload: bytes) -> None:
        self.outgoing.append((channel_id, payload))

    def pack(self) -> bytes:
        out = b"".join(cid.bytes_le + struct.pack("<i", len(m)) + m for cid, m in self.outgoing)
        self.outgoing = []
        return out


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def scene_graph(obs, request_id: int) -> dict:
    """What the C# SceneGraphWriter writes for an applied request (SceneSpec frame, metres, degrees)."""
    return {
        "protocol": protocol.SCENE_PROTOCOL,
        "kind": "scene",
        "request_id": request_id,
        "valid": obs.valid,
        "invalid_reason": obs.invalid_reason,
        "objects": [
            {
                "asset": s.asset,
                "position": list(s.position),
                "yaw_deg": s.yaw_deg,
                "aabb_min": list(s.aabb_min),
                "aabb_max": list(s.aabb_max),
                "support": s.support,
                "visible_pixels": s.visible_pixels,
                "centroid_px": list(s.centroid_px) if s.centroid_px is not None else None,
            }
            for s in obs.objects
        ],
        "segmentation": protocol.encode_segmentation(obs.segmentation),
    }


class StandinPlayer:
    """The player: Academy + one RoomAgent with a CameraSensor, rendering with the embedded backend.

    :param port: the port Python listens on (``--mlagents-port``).
    :param image_size: the camera sensor's width and height (``--rls3-image-size``).
    :param renderer: embedded renderer used to draw the frames.
    :param communication_version: what the handshake claims (tests use a wrong one).
    :param max_step: Agent.MaxStep (0: episodes never end by themselves).
    :param exit_after: crash (exit code 3) on receiving the N-th STEP, before answering it.
    :param hang_after: stop answering on the N-th STEP (stay alive, never reply).
    :param catalogue_digest: the catalogue digest reported (default: this package's).
    :param connect_timeout_s: how long to wait for Python's server to listen.
    """

    def __init__(
        self,
        port: int,
        image_size: int = 128,
        renderer: str = "tiny",
        communication_version: str = API_VERSION,
        max_step: int = 0,
        exit_after: int | None = None,
        hang_after: int | None = None,
        catalogue_digest: str | None = None,
        connect_timeout_s: float = 30.0,
        in_thread: bool = False,
    ) -> None:
        self.port, self.image_size, self.renderer_name = port, image_size, renderer
        self.communication_version = communication_version
        self.max_step, self.exit_after, self.hang_after = max_step, exit_after, hang_after
        self.catalogue_digest = catalogue_digest or protocol.catalogue_digest()
        self.connect_timeout_s = connect_timeout_s
        self.in_thread = in_thread
        self.stop = threading.Event()
        self.log = logging.getLogger("standin")
        self.channels = SideChannels()
        self.channels.register(ENGINE_CONFIGURATION_CHANNEL, self._on_engine_configuration)
        self.channels.register(TRAINING_ANALYTICS_CHANNEL, lambda msg: None)
        self.channels.register(protocol.SCENE_REQUEST_CHANNEL, self._on_scene_request)
        self.engine: dict[str, float] = {}
        self.pending: dict | None = None  # a received request not yet applied
        self.report: dict | None = None  # a graph to queue at the next CollectObservations
        self.frame = np.zeros((image_size, image_size, 3), np.uint8)
        self.step_count = 0
        self.steps_received = 0
        self.brain_sent = False
        self.exit_code = EXIT_OK
        self._backend = None
        self._thread: threading.Thread | None = None

    # --- side channel handlers (OnMessageReceived) ---------------------------------------------
    def _on_engine_configuration(self, msg: bytes) -> None:
        # EngineConfigurationChannel.cs: int32 type, then its value(s); time scale clamped to >= 1
        (kind,) = struct.unpack_from("<i", msg, 0)
        if kind == 2:
            self.engine["time_scale"] = max(1.0, struct.unpack_from("<f", msg, 4)[0])
        elif kind == 0:
            self.engine["width"], self.engine["height"] = struct.unpack_from("<ii", msg, 4)
        else:
            self.engine[str(kind)] = struct.unpack_from("<i", msg, 4)[0]

    def _on_scene_request(self, msg: bytes) -> None:
        self.pending = json.loads(msg.decode("utf-8"))

    # --- the agent (RoomAgent.cs) ---------------------------------------------------------------
    def _backend_for_scenes(self):
        if self._backend is None:
            from rls3_bench.backends.embedded import EmbeddedBackend

            self._backend = EmbeddedBackend(image_size=self.image_size, renderer=self.renderer_name)
        return self._backend

    def _ready_graph(self) -> dict:
        renderer = self._backend_for_scenes().renderer
        return {
            "protocol": protocol.SCENE_PROTOCOL,
            "kind": "ready",
            "renderer": f"standin-{renderer}",
            "catalogue_digest": self.catalogue_digest,
            "image_size": self.image_size,
            "unity_version": "stand-in",
            "graphics_device": "none",
        }

    def on_episode_begin(self) -> None:
        # RoomAgent.OnEpisodeBegin: the first episode announces the player; later ones keep the scene
        if self.step_count == 0 and not self.brain_sent:
            self.report = self._ready_graph()

    def on_action_received(self) -> None:
        """RoomAgent.OnActionReceived: apply the pending scene request (place, settle, check, render)."""
        req, self.pending = self.pending, None
        if req is None:
            return
        from rls3_bench.errors import UserError
        from rls3_bench.scene.spec import SceneSpec

        rid = req.get("request_id")
        try:
            if req.get("protocol") != protocol.SCENE_PROTOCOL:
                raise ValueError(f"scene protocol {req.get('protocol')!r} is not {protocol.SCENE_PROTOCOL}")
            spec = SceneSpec.from_dict(req["spec"])
            backend = self._backend_for_scenes()
            backend.min_visible_fraction = float(req.get("settings", {}).get("min_visible_fraction", 0.002))
            obs = backend.observe(spec)
        except (UserError, ValueError, KeyError, TypeError) as exc:
            self.report = {"protocol": protocol.SCENE_PROTOCOL, "kind": "error", "request_id": rid, "message": str(exc)}
            return
        self.frame = obs.image
        self.report = scene_graph(obs, rid)

    def collect_observations(self) -> None:
        if self.report is not None:
            self.channels.queue(protocol.SCENE_GRAPH_CHANNEL, json.dumps(self.report).encode("utf-8"))
            self.report = None

    def agent_info(self, done: bool = False, max_step_reached: bool = False) -> AgentInfoProto:
        """SendInfoToBrain / NotifyAgentDone: CollectObservations, then the sensors write (PutObservations)."""
        self.collect_observations()
        camera = ObservationProto(
            shape=[self.image_size, self.image_size, 3],
            compression_type=PNG,
            compressed_data=png(self.frame),
            dimension_properties=[2, 2, 1],
            name=protocol.CAMERA_SENSOR,
        )
        return AgentInfoProto(reward=0.0, done=done, max_step_reached=max_step_reached, id=0, observations=[camera])

    # --- the Academy and the communicator ------------------------------------------------------
    def _handle_input(self, rl_input) -> list[AgentInfoProto]:
        """UpdateEnvironmentWithInput, then the rest of the FixedUpdate (AgentAct) and the next
        EnvironmentStep's AgentSendState. Returns the agent infos of the next output."""
        self.channels.process(rl_input.side_channel)
        infos = []
        if rl_input.command == QUIT:
            raise Quit("QUIT command")
        if rl_input.command == RESET:
            self.step_count = 0  # ForcedFullReset -> AgentForceReset -> _AgentReset
            self.on_episode_begin()
        elif rl_input.command == STEP:
            self.steps_received += 1
            if self.exit_after is not None and self.steps_received >= self.exit_after:
                self._crash()
            if self.hang_after is not None and self.steps_received >= self.hang_after:
                self.log.info("hanging (stand-in knob)")
                self.stop.wait()
                raise Quit("stopped while hanging")
            self.on_action_received()  # AgentStep: ExecuteActions
            if self.max_step > 0 and self.step_count >= self.max_step:
                infos.append(self.agent_info(done=True, max_step_reached=True))  # NotifyAgentDone
                self.step_count = 0  # _AgentReset
                self.on_episode_begin()
        self.step_count += 1  # next EnvironmentStep: AgentIncrementStep, then SendInfo
        infos.append(self.agent_info())
        return infos

    def _output(self, infos: list[AgentInfoProto]) -> UnityOutputProto:
        """SendBatchedMessageHelper: agent infos, brain parameters the first time, side channels."""
        rl_output = UnityRLOutputProto(side_channel=self.channels.pack())
        rl_output.agentInfos[BEHAVIOR].value.extend(infos)
        out = UnityOutputProto(rl_output=rl_output)
        if infos and not self.brain_sent:
            out.rl_initialization_output.brain_parameters.extend(
                [
                    BrainParametersProto(
                        brain_name=BEHAVIOR, is_training=True, action_spec=ActionSpecProto(num_continuous_actions=0)
                    )
                ]
            )
            self.brain_sent = True
        return out

    def _exchange(self, stub, output: UnityOutputProto | None, status: int = 200):
        message = UnityMessageProto(header=HeaderProto(status=status))
        if output is not None:
            message.unity_output.CopyFrom(output)
        try:
            reply = stub.Exchange(message)
        except grpc.RpcError as exc:  # UNAVAILABLE / CANCELLED: Python went away
            raise Quit(f"RPC error {exc.code().name}") from None
        if reply.header.status != 200:
            raise Quit(f"status {reply.header.status}")
        return reply

    def _crash(self) -> None:
        self.log.info("crashing (stand-in knob)")
        self.exit_code = EXIT_CRASH
        if self.in_thread:
            raise Quit("crashed")
        logging.shutdown()
        os._exit(EXIT_CRASH)

    def run(self) -> int:
        channel = grpc.insecure_channel(f"localhost:{self.port}")
        try:
            try:
                grpc.channel_ready_future(channel).result(timeout=self.connect_timeout_s)
            except grpc.FutureTimeoutError:
                self.log.error("nothing listens on port %d", self.port)
                return EXIT_OK  # C#: "Couldn't connect to trainer ... Will perform inference instead."
            stub = UnityToExternalProtoStub(channel)
            init = UnityRLInitializationOutputProto(
                name="AcademySingleton",
                communication_version=self.communication_version,
                package_version=PACKAGE_VERSION,
                capabilities=UnityRLCapabilitiesProto(
                    baseRLCapabilities=True,
                    concatenatedPngObservations=True,
                    compressedChannelMapping=True,
                    hybridActions=True,
                    trainingAnalytics=True,
                    variableLengthObservation=True,
                    multiAgentGroups=True,
                ),
            )
            try:
                first = self._exchange(stub, UnityOutputProto(rl_initialization_output=init))
                second = self._exchange(stub, None)
                python_version = first.unity_input.rl_initialization_input.communication_version
                if not versions_compatible(self.communication_version, python_version):
                    self.log.warning(
                        "communication protocol between python (%s) and Unity (%s) have different versions "
                        "which make them incompatible",
                        python_version,
                        self.communication_version,
                    )
                    return EXIT_OK
                rl_input = second.unity_input.rl_input
                while not self.stop.is_set():
                    infos = self._handle_input(rl_input)
                    rl_input = self._exchange(stub, self._output(infos)).unity_input.rl_input
            except Quit as why:
                self.log.info("quitting: %s", why)
            return self.exit_code
        finally:
            channel.close()
            if self._backend is not None:
                self._backend.close()

    def start_thread(self) -> StandinPlayer:
        self.in_thread = True
        self._thread = threading.Thread(target=self.run, name=f"unity-standin-{self.port}", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = 10.0) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def main(argv: list[str] | None = None) -> int:
    """The executable: the arguments a Unity player gets from mlagents-envs, plus the stand-in's knobs."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--mlagents-port", type=int)
    ap.add_argument("-logFile", "-logfile", dest="log_file")
    ap.add_argument(protocol.IMAGE_SIZE_ARG, dest="image_size", type=int, default=84)  # CameraSensorComponent default
    ap.add_argument("--standin-renderer", default="tiny")
    ap.add_argument("--standin-communication-version", default=API_VERSION)
    ap.add_argument("--standin-max-step", type=int, default=0)
    ap.add_argument("--standin-exit-after", type=int)
    ap.add_argument("--standin-hang-after", type=int)
    ap.add_argument("--standin-never-connect", action="store_true")
    ap.add_argument("--standin-catalogue-digest")
    args, unknown = ap.parse_known_args(argv)  # a player ignores arguments it does not know (-batchmode, ...)
    # like a player: the whole log goes to -logFile; without one only warnings reach stderr
    logging.basicConfig(
        filename=args.log_file,
        level=logging.INFO if args.log_file else logging.WARNING,
        format="%(asctime)s standin %(levelname)s %(message)s",
    )
    log = logging.getLogger("standin")
    log.info("started: pid %d, args %s", os.getpid(), sys.argv[1:] if argv is None else argv)
    if args.standin_never_connect:
        log.info("never connecting (stand-in knob)")
        while True:
            time.sleep(3600)
    if args.mlagents_port is None:  # Academy.ReadPortFromArgs -> -1: a player runs without a trainer
        log.info("no --mlagents-port: nothing to connect to")
        return EXIT_NO_PORT
    player = StandinPlayer(
        args.mlagents_port,
        image_size=args.image_size,
        renderer=args.standin_renderer,
        communication_version=args.standin_communication_version,
        max_step=args.standin_max_step,
        exit_after=args.standin_exit_after,
        hang_after=args.standin_hang_after,
        catalogue_digest=args.standin_catalogue_digest,
        connect_timeout_s=5.0,
    )
    code = player.run()
    log.info("exit %d (engine configuration %s)", code, player.engine)
    return code


if __name__ == "__main__":
    sys.exit(main())
