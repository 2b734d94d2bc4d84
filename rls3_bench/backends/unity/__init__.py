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
:class:`~rls3_bench.backends.unity.communicator.LoopbackCommunicator`), launches the player with ``--mlagents-port`` and the image size,
sends ``RESET`` and checks what the player reports: its behaviour, its camera's size, the protocol
version of the scene channels, and the digest of the asset catalogue it was built with.

Failures (player missing, never connects, exits, hangs, speaks another communication version, sends
something malformed) raise :class:`UnityBackendError`, one line naming the problem and the fix; the
backend then kills the player's whole process group (no orphans) and stops its server (the port is
free again) before raising.

Modules: :mod:`.protocol` (constants shared with the C# side, the scene request / scene graph codec),
:mod:`.catalogue` (the asset catalogue a player is built with), :mod:`.communicator` (the mlagents-envs
classes, imported only when a backend starts) and :mod:`.backend` (:class:`UnityBackend`).
"""

from __future__ import annotations

from rls3_bench.backends.unity.backend import UnityBackend, UnityBackendError
from rls3_bench.backends.unity.catalogue import CATALOGUE_PATH, catalogue, catalogue_digest, catalogue_json, main
from rls3_bench.backends.unity.protocol import (
    API_VERSION, BEHAVIOR_NAME, CAMERA_SENSOR, DEFAULT_CLOSE_TIMEOUT_S, DEFAULT_TIMEOUT_S, EDITOR_PORT, IMAGE_SIZE_ARG,
    MAX_AUTO_WORKERS, PACKAGE_VERSION, PLAYER_BASE_PORT, SCENE_GRAPH_CHANNEL, SCENE_PROTOCOL, SCENE_REQUEST_CHANNEL, TIME_SCALE,
    decode_segmentation, encode_request, encode_segmentation, observation_from_graph,
)

__all__ = ["UnityBackend", "UnityBackendError", "catalogue", "catalogue_digest", "catalogue_json", "main", "CATALOGUE_PATH",
           "encode_request", "encode_segmentation", "decode_segmentation", "observation_from_graph", "API_VERSION",
           "PACKAGE_VERSION", "SCENE_PROTOCOL", "SCENE_REQUEST_CHANNEL", "SCENE_GRAPH_CHANNEL", "BEHAVIOR_NAME", "CAMERA_SENSOR",
           "IMAGE_SIZE_ARG", "DEFAULT_TIMEOUT_S", "DEFAULT_CLOSE_TIMEOUT_S", "PLAYER_BASE_PORT", "EDITOR_PORT", "MAX_AUTO_WORKERS",
           "TIME_SCALE"]
