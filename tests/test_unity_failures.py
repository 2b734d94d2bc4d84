"""How the unity backend fails: a missing player, one that never connects, exits during a step, hangs,
speaks another ML-Agents communication version, was built with another catalogue or image size.
Each is one clear error; afterwards the port is free and no player process (nor anything it started)
is left running."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlagents_envs")

from unity_standin import FAKE_PLAYER, free_port, open_unity, port_is_free, processes_mentioning, use_this_python  # noqa: E402

from rls3_bench.backends.unity import UnityBackend, UnityBackendError  # noqa: E402
from rls3_bench.errors import UserError  # noqa: E402
from rls3_bench.scene.random_scenes import random_spec  # noqa: E402

SIZE = 32
SPEC = random_spec(np.random.default_rng(0), "kitchen-a")


def player_pid(log: Path) -> int:
    m = re.search(r"started: pid (\d+)", log.read_text())
    assert m, log.read_text()
    return int(m.group(1))


def assert_gone(pid: int) -> None:
    """The process is dead (not even a zombie left by us: mlagents-envs waits for it)."""
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists() or "Z (zombie)" in Path(f"/proc/{pid}/status").read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} is still running")


def run_failing(tmp_path, knobs: dict, steps: int = 3, **kwargs) -> tuple[str, int]:
    """Open the backend on the fake player with ``knobs``, observe ``steps`` scenes; return the error
    text and the port. Asserts the port is free and the player gone afterwards."""
    port = free_port()
    logs = tmp_path / "logs"
    with pytest.raises(UnityBackendError) as err:
        with open_unity("exe", SIZE, knobs=knobs, base_port=port, worker_id=0, log_folder=logs, **kwargs) as unity:
            for _ in range(steps):
                unity.observe(SPEC)
    assert port_is_free(port), f"port {port} still bound"
    assert_gone(player_pid(logs / "Player-0.log"))
    assert not processes_mentioning(f"--mlagents-port {port}")
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    return message, port


def test_missing_player_is_one_clear_error_before_anything_starts(tmp_path):
    with pytest.raises(
        UserError, match=r"Unity player .*Nowhere does not exist; build one from unity/ .*--unity-player"
    ):
        UnityBackend(image_size=SIZE, player=tmp_path / "Nowhere")
    (tmp_path / "Room.x86_64").write_text("#!/bin/sh\n")
    with pytest.raises(UserError, match="is not executable; chmod"):
        UnityBackend(image_size=SIZE, player=tmp_path / "Room")


def test_missing_player_through_the_cli(tmp_path, capsys):
    from rls3_bench.cli import main

    code = main(
        [
            "render",
            "--seed",
            "1",
            "-o",
            str(tmp_path / "x.png"),
            "--backend",
            "unity",
            "--unity-player",
            str(tmp_path / "Room.x86_64"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err and not (tmp_path / "x.png").exists()


def test_player_exiting_during_a_step(tmp_path):
    message, _ = run_failing(tmp_path, {"exit_after": 2})
    assert "exited during scene request 2 (return code 3)" in message and "Player-0.log" in message


def test_wrong_communication_version(tmp_path):
    message, _ = run_failing(tmp_path, {"communication_version": "2.0.0"})
    assert "speaks ML-Agents communication API 2.0.0 (package 2.2.1-exp.1)" in message
    assert "mlagents-envs 0.28.0 (API 1.5.0)" in message and "Release 19" in message


def test_a_newer_minor_communication_version_is_compatible():
    """Same major version: both sides accept it (environment.py and RpcCommunicator.cs agree)."""
    with open_unity("exe", SIZE, knobs={"communication_version": "1.9.0"}) as unity:
        assert unity.player_info["communication_version"] == "1.9.0" and unity.observe(SPEC).image.shape == (
            SIZE,
            SIZE,
            3,
        )


def test_player_hanging_mid_run_times_out(tmp_path):
    t = time.monotonic()
    message, _ = run_failing(tmp_path, {"hang_after": 2}, timeout_s=1.0, close_timeout_s=30.0)
    assert "did not answer scene request 2 within 1 s" in message and "--unity-timeout" in message
    assert time.monotonic() - t < 15, "a hung player is killed at once, not after close_timeout_s"


def test_player_that_never_connects_times_out(tmp_path):
    message, port = run_failing(tmp_path, {"never_connect": True}, timeout_s=1.0)
    assert f"did not connect on port {port} within 1 s" in message and "xvfb-run" in message


def test_editor_that_never_connects_times_out():
    port = free_port()
    with pytest.raises(
        UnityBackendError,
        match=f"no Unity Editor connected on port {port} within 0.5 s; open the unity/ project, press Play",
    ):
        UnityBackend(image_size=SIZE, base_port=port, timeout_s=0.5)
    assert port_is_free(port)


def test_player_built_with_another_catalogue(tmp_path):
    message, _ = run_failing(tmp_path, {"catalogue_digest": "0" * 64})
    assert "was built with another asset catalogue" in message and "write-catalogue" in message


def test_player_camera_of_another_size(tmp_path):
    message, _ = run_failing(tmp_path, {}, player_args=["--rls3-image-size", "48"])
    assert "camera renders 48x48x3, the track needs 32x32x3" in message


def test_nographics_is_refused_because_it_disables_cameras():
    with pytest.raises(UserError, match="-nographics disables the player's camera sensors.*xvfb-run"):
        UnityBackend(image_size=SIZE, player=FAKE_PLAYER, player_args=["-nographics"])


def test_whatever_the_player_started_dies_with_it(tmp_path):
    """A wrapper (like xvfb-run) that starts children: closing kills the player's whole process group."""
    use_this_python()
    child_file = tmp_path / "child.pid"
    wrapper = tmp_path / "Wrapped.x86_64"
    wrapper.write_text(
        f'#!/bin/sh\nsleep 300 &\necho $! > "{child_file}"\n'
        f'exec "{sys.executable}" "{FAKE_PLAYER.parent / "standin.py"}" "$@"\n'
    )
    wrapper.chmod(0o755)
    with UnityBackend(image_size=SIZE, player=wrapper, base_port=free_port(), timeout_s=30) as unity:
        unity.observe(SPEC)
        child = int(child_file.read_text())
        assert Path(f"/proc/{child}").exists()
    assert_gone(child)


def test_failure_after_the_backend_is_closed_is_a_clear_error():
    with open_unity("thread", SIZE) as unity:
        pass
    with pytest.raises(UserError, match="this UnityBackend is closed"):
        unity.observe(SPEC)
    unity.close()  # idempotent


def test_bad_arguments_are_refused_up_front():
    for kwargs, match in [
        ({"image_size": 8}, "image_size must be"),
        ({"timeout_s": 0}, "time-out must be"),
        ({"worker_id": 3}, "worker_id must be 0"),
        ({"worker_id": -1, "player": FAKE_PLAYER}, "non-negative"),
        ({"min_visible_fraction": "0.1"}, "min_visible_fraction must be"),
    ]:
        with pytest.raises(UserError, match=match):
            UnityBackend(**kwargs)
