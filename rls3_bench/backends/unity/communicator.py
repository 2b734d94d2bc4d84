"""The mlagents-envs side of the unity backend: the two rls3 side channels, a loopback-only gRPC
server, and an environment that kills a player's whole process group on close.

Imports mlagents-envs (the ``unity`` extra) at import time: the backend loads this module only when
it starts (:func:`rls3_bench.backends.unity.backend.load_mlagents`), after it has made mlagents-envs
0.28 importable on this numpy and quieted its logging.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from mlagents_envs import exception as exc
from mlagents_envs.communicator_objects.unity_message_pb2 import UnityMessageProto
from mlagents_envs.communicator_objects.unity_to_external_pb2_grpc import add_UnityToExternalProtoServicer_to_server
from mlagents_envs.environment import UnityEnvironment
from mlagents_envs.rpc_communicator import RpcCommunicator, UnityToExternalServicerImplementation
from mlagents_envs.side_channel.engine_configuration_channel import EngineConfigurationChannel
from mlagents_envs.side_channel.outgoing_message import OutgoingMessage
from mlagents_envs.side_channel.side_channel import SideChannel

from rls3_bench.backends.unity.protocol import DEFAULT_CLOSE_TIMEOUT_S, SCENE_GRAPH_CHANNEL, SCENE_REQUEST_CHANNEL


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
                kill_group(process)
                with contextlib.suppress(Exception):
                    process.wait(1.0)
            with contextlib.suppress(Exception):
                atexit.unregister(self._close)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the player's process group (mlagents-envs starts it with ``start_new_session``, so the
    group id is its pid): whatever it left running dies with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(process.pid, signal.SIGKILL)


__all__ = ["SceneRequestChannel", "SceneGraphChannel", "LoopbackCommunicator", "Environment", "EngineConfigurationChannel",
           "exc", "kill_group"]
