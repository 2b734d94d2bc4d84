"""The stand-in Unity player (``standin.py``) and helpers the unity tests share.

Tests run the unity backend against the player in one of three modes (the ``mode`` of :func:`open_unity`):

* ``"thread"``: :class:`~unity_standin.standin.StandinPlayer` in a thread, the backend waiting for it
  as it waits for the Unity Editor (``player=None``);
* ``"exe"``: ``FakeRoom.x86_64`` launched by mlagents-envs like a player binary;
* ``"real"``: a real Linux player built from ``unity/``, given as ``UNITY_PLAYER=/path/Room.x86_64``;
  tests with this mode carry the ``unity`` marker (``pytest -m unity``) and skip without the variable.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from pathlib import Path

HERE = Path(__file__).parent
#: the fake player binary (a launcher that execs standin.py)
FAKE_PLAYER = HERE / "FakeRoom.x86_64"
MODES = ("thread", "exe")


def use_this_python() -> None:
    """The fake player runs the stand-in with the tests' own interpreter (same virtual environment)."""
    os.environ["RLS3_STANDIN_PYTHON"] = sys.executable


def free_port() -> int:
    """A port nothing listens on now (the OS's pick, so parallel test runs do not collide)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True if ``port`` can be bound again, checked as mlagents-envs checks it (``check_port``)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("localhost", port))
        except OSError:
            return False
    return True


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains ``text`` (to find orphans)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((ln for ln in (d / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except OSError:
            continue
        if text in cmdline and "Z (zombie)" not in state and int(d.name) != os.getpid():
            out.append(int(d.name))
    return out


def real_player() -> str:
    import pytest

    path = os.environ.get("UNITY_PLAYER")
    if not path:
        pytest.skip("set UNITY_PLAYER=/path/to/Room.x86_64 (a player built from unity/) to run against real Unity")
    return path


@contextlib.contextmanager
def open_unity(mode: str, image_size: int = 64, knobs: dict | None = None, **kwargs):
    """A :class:`~rls3_bench.backends.unity.UnityBackend` on the stand-in (or a real player), closed after.

    ``knobs`` are StandinPlayer arguments (``max_step``, ``exit_after``...); in ``exe`` mode they become
    its ``--standin-*`` command-line flags.
    """
    from rls3_bench.backends.unity import UnityBackend

    knobs = dict(knobs or {})
    kwargs.setdefault("timeout_s", 30.0)
    if mode == "thread":
        from unity_standin.standin import StandinPlayer

        port = free_port()
        player = StandinPlayer(port, image_size=image_size, **knobs).start_thread()
        try:
            with UnityBackend(image_size=image_size, base_port=port, worker_id=0, **kwargs) as backend:
                yield backend
        finally:
            player.join()
    elif mode == "exe":
        use_this_python()
        args = list(kwargs.pop("player_args", ()))
        for k, v in knobs.items():
            args += [f"--standin-{k.replace('_', '-')}"] + ([] if v is True else [str(v)])
        kwargs.setdefault("base_port", free_port())
        with UnityBackend(image_size=image_size, player=FAKE_PLAYER, player_args=args, **kwargs) as backend:
            yield backend
    elif mode == "real":
        if knobs:
            import pytest

            pytest.skip("fault knobs exist only in the stand-in")
        kwargs["timeout_s"] = max(kwargs["timeout_s"], 120.0)
        with UnityBackend(image_size=image_size, player=real_player(), **kwargs) as backend:
            yield backend
    else:
        raise ValueError(mode)
