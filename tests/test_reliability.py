"""Faults, and what survives them: damaged checkpoints and records, a full disk, two runs writing one
results folder, Ctrl-C / SIGTERM / a killed worker (no orphan processes), Ray on loopback only.

Every test checks the same three things: the fault is detected and reported in one line, the run
recovers (or stops cleanly), and nothing finished earlier is lost or changed. docs/reliability.md
tabulates them.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("open_clip")

from conftest import FIXTURES, torch_threads  # noqa: E402

from rls3_bench.data.parquet import read_table  # noqa: E402
from rls3_bench.harness.records import PREDICTIONS_FILE, RECORD_FILE, verify_cell  # noqa: E402

TRACK = str(FIXTURES / "test-track.yaml")
TRACK_DIR = "test-track-v1"


def comparable(d: dict) -> dict:
    """A cell result or record without what legitimately differs between runs (timings, provenance)."""
    out = {
        k: v
        for k, v in d.items()
        if k not in ("wall_seconds", "provenance", "round_log", "record_sha256", "predictions_sha256")
    }
    out["cost"] = {k: v for k, v in d["cost"].items() if k != "seconds"}
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders a write left behind."""
    return [str(p) for p in folder.rglob("*") if ".tmp" in p.name]


def cli(*args: str, results: Path, generator: str = "uniform-v1", seeds: str = "0") -> list[str]:
    return [
        "run",
        "--track",
        TRACK,
        "--generator",
        generator,
        "--seed-list",
        seeds,
        "--results",
        str(results),
        "--no-progress",
        "--no-leaderboard",
        "--threads",
        "1",
        *args,
    ]


@pytest.fixture(scope="module")
def torch_one_thread():
    # module-wide: the module's shared runs and the tests that compare against them run at 1 thread
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def reference(test_track_runs, tmp_path_factory, torch_one_thread):
    """uniform-v1, seeds 0 and 1, run once without faults (one torch thread, like the CLI runs below):
    the session's test-track run, in a folder of its own without the other generator's cells."""
    from rls3_bench.harness.sweep import TRACK_FILE

    results = tmp_path_factory.mktemp("reference")
    shutil.copytree(test_track_runs, results, dirs_exist_ok=True, ignore=shutil.ignore_patterns("balanced-v1"))
    assert sorted(p.name for p in (results / TRACK_DIR).iterdir()) == [TRACK_FILE, "uniform-v1"]
    return results


def cell(results: Path, seed: int, generator: str = "uniform-v1") -> Path:
    return results / TRACK_DIR / generator / f"seed-{seed}"


def record(results: Path, seed: int) -> dict:
    return json.loads((cell(results, seed) / RECORD_FILE).read_text())


# --- damaged checkpoints ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory, torch_one_thread):
    """A cell run to its end with checkpoints kept (round-00000 and round-00001), and its result."""
    from rls3_bench.harness.cell import run_cell
    from rls3_bench.harness.tracks import load_track

    folder = tmp_path_factory.mktemp("ckpt") / "checkpoint"
    result = run_cell(load_track(TRACK), "uniform-v1", 0, checkpoint_dir=folder)
    assert sorted(p.name for p in folder.glob("round-*")) == ["round-00000", "round-00001"]
    return folder, result.to_dict()


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x10
    path.write_bytes(bytes(data))


DAMAGE = {
    "learner cut in half": lambda ck: _truncate(ck / "round-00001" / "learner.safetensors"),
    "bit flip in loop.json": lambda ck: _flip(ck / "round-00001" / "loop.json"),
    "manifest missing": lambda ck: (ck / "round-00001" / "MANIFEST.json").unlink(),
    "both checkpoints damaged": lambda ck: (
        _truncate(ck / "round-00001" / "learner.safetensors"),
        _flip(ck / "round-00000" / "learner.safetensors", 100),
    ),
}


@pytest.mark.parametrize(
    "damage",
    [
        "learner cut in half",
        "both checkpoints damaged",
        pytest.param("bit flip in loop.json", marks=pytest.mark.slow),
        pytest.param("manifest missing", marks=pytest.mark.slow),
    ],
)
def test_damaged_checkpoint_falls_back_to_the_last_good_one(checkpointed, tmp_path, capsys, damage):
    """A damaged newest checkpoint is detected by its manifest; the cell resumes from the previous
    round (or afresh when none is sound) and ends with the same result, bit for bit."""
    from rls3_bench.harness.cell import Checkpoints, run_cell
    from rls3_bench.harness.tracks import load_track

    source, expected = checkpointed
    ck = tmp_path / "checkpoint"
    shutil.copytree(source, ck)
    DAMAGE[damage](ck)
    assert Checkpoints.problem(ck / "round-00001") is not None
    result = run_cell(load_track(TRACK), "uniform-v1", 0, checkpoint_dir=ck)
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("rls3-bench: warning: checkpoint") and "damaged" in line for line in err)
    assert len(err) == (2 if damage == "both checkpoints damaged" else 1)
    assert comparable(result.to_dict()) == comparable(expected)
    assert Checkpoints.problem(ck / "round-00001") is None  # rewritten sound


def test_damaged_learner_checkpoint_file_is_one_line(checkpointed, tmp_path):
    """Loading a cut safetensors file directly (the learner API) gives a UserError, not a SafetensorError."""
    from rls3_bench.errors import UserError
    from rls3_bench.harness.cell import make_learner
    from rls3_bench.harness.tracks import load_track

    bad = tmp_path / "learner.safetensors"
    shutil.copyfile(checkpointed[0] / "round-00001" / "learner.safetensors", bad)
    _truncate(bad)
    learner = make_learner(load_track(TRACK), 0)
    with pytest.raises(UserError) as err:
        learner.load(bad)
    assert "damaged" in str(err.value) and "\n" not in str(err.value)


# --- damaged records and predictions ----------------------------------------------------------
RECORD_DAMAGE = {
    "record cut in half": lambda c: _truncate(c / RECORD_FILE),
    "record missing a field": lambda c: (c / RECORD_FILE).write_text(
        json.dumps({k: v for k, v in json.loads((c / RECORD_FILE).read_text()).items() if k != "curve"})
    ),
    "record number edited": lambda c: (c / RECORD_FILE).write_text(
        (c / RECORD_FILE).read_text().replace('"accuracy": 0.', '"accuracy": 1.', 1)
    ),
    "predictions byte flipped": lambda c: _flip(c / PREDICTIONS_FILE),
    "predictions cut in half": lambda c: _truncate(c / PREDICTIONS_FILE),
}


@pytest.mark.parametrize("damage", sorted(RECORD_DAMAGE))
def test_damaged_record_is_set_aside_and_its_cell_rerun(reference, tmp_path, monkeypatch, capsys, damage):
    """A finished cell whose record or predictions no longer match their checksums is not trusted:
    its files are kept as *.corrupt, the cell runs again, and the other cells are not touched."""
    import rls3_bench.harness.sweep as runner
    from rls3_bench.harness.sweep import run_benchmark
    from rls3_bench.harness.tracks import load_track

    results = tmp_path / "runs"
    shutil.copytree(reference, results)
    RECORD_DAMAGE[damage](cell(results, 0))
    untouched = snapshot(cell(results, 1))
    assert verify_cell(cell(results, 0)) is not None
    good = json.loads((cell(reference, 0) / RECORD_FILE).read_text())
    from rls3_bench.harness.records import read_predictions

    good_predictions = read_predictions(cell(reference, 0) / PREDICTIONS_FILE)
    calls = []

    def execute_cell(track_dict, generator, seed, *args, **kwargs):  # the re-run, without the training
        calls.append((generator, seed))
        return {k: v for k, v in good.items() if k not in ("predictions_sha256", "record_sha256")}, good_predictions

    monkeypatch.setattr(runner, "execute_cell", execute_cell)
    outcomes = run_benchmark(load_track(TRACK), ["uniform-v1"], [0, 1], results, show_progress=False, threads=1)
    assert calls == [("uniform-v1", 0)] and [o.status for o in outcomes] == ["complete", "skipped-done"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rls3-bench: warning:") and "re-running the cell" in err[0]
    assert verify_cell(cell(results, 0)) is None and comparable(record(results, 0)) == comparable(good)
    assert (cell(results, 0) / f"{RECORD_FILE}.corrupt").exists() or (
        cell(results, 0) / f"{PREDICTIONS_FILE}.corrupt"
    ).exists()
    assert snapshot(cell(results, 1)) == untouched


def test_report_on_a_damaged_record_is_one_line(reference, tmp_path, capsys):
    from rls3_bench.cli import main

    results = tmp_path / "runs"
    shutil.copytree(reference, results)
    _truncate(cell(results, 1) / RECORD_FILE)
    assert main(["report", "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "record.json" in err[0] and "re-run" in err[0]


# --- a full disk ------------------------------------------------------------------------------
def _fail_writes_under(monkeypatch, fragment: str) -> list[str]:
    """Make fsync raise ENOSPC for files whose path contains ``fragment`` (as a full disk reports
    at flush time); returns the paths that failed."""
    real = os.fsync
    failed: list[str] = []

    def fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        if fragment in path:
            failed.append(path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return failed


@pytest.mark.parametrize(
    "where", ["seed-1/checkpoint/.round-00001", pytest.param("seed-1/.record.json", marks=pytest.mark.slow)]
)
def test_full_disk_stops_cleanly_and_the_run_resumes(reference, tmp_path, monkeypatch, capsys, torch_one_thread, where):
    """ENOSPC while writing seed 1's second checkpoint (or its record): one error line, exit 2, the
    finished seed 0 untouched, no temporary files left; the same command then resumes and completes."""
    from rls3_bench.cli import main

    results = tmp_path / "runs"
    shutil.copytree(cell(reference, 0), cell(results, 0))
    before = snapshot(cell(results, 0))
    failed = _fail_writes_under(monkeypatch, where)
    assert main(cli(results=results, seeds="0,1")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert failed and len(err) == 1 and "No space left on device" in err[0], err
    assert snapshot(cell(results, 0)) == before
    assert not (cell(results, 1) / RECORD_FILE).exists() and leftovers(results) == []
    ck = cell(results, 1) / "checkpoint"
    from rls3_bench.harness.cell import Checkpoints

    assert [p.name for p in ck.glob("round-*") if Checkpoints.problem(p) is None]  # the last good state is there
    monkeypatch.undo()
    assert main(cli(results=results, seeds="0,1")) == 0
    assert comparable(record(results, 1)) == comparable(record(reference, 1))
    assert snapshot(cell(results, 0)) == before and leftovers(results) == []


@pytest.fixture
def tiny_fs(tmp_path):
    """A real 40 MiB tmpfs (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_real_full_filesystem(reference, tiny_fs, capsys, torch_one_thread):
    """On a real 40 MiB filesystem a cell's second 32 MB checkpoint does not fit: the run stops with
    one line and loses nothing; after the filesystem grows the same command finishes the run."""
    from rls3_bench.cli import main

    results = tiny_fs / "runs"
    shutil.copytree(cell(reference, 0), cell(results, 0))
    before = snapshot(cell(results, 0))
    assert main(cli(results=results, seeds="0,1")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0], err
    assert snapshot(cell(results, 0)) == before and leftovers(results) == []
    subprocess.run(["mount", "-o", "remount,size=200m", str(tiny_fs)], check=True)
    assert main(cli(results=results, seeds="0,1")) == 0
    assert comparable(record(results, 1)) == comparable(record(reference, 1))
    assert snapshot(cell(results, 0)) == before


# --- two runs, one results folder -------------------------------------------------------------
def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, an ignored signal stays ignored across exec,
    # and Python then installs no KeyboardInterrupt handler: a suite launched in the background (as a
    # CI script may be) would hand that on and the run would rightly ignore the test's Ctrl-C. The run
    # under test starts as a terminal's foreground job does, with SIGINT at its default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _spawn(argv: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-m", "rls3_bench.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_default_sigint,
        **kwargs,
    )


_FAKE_RUN = """
import json, os, sys, time
from pathlib import Path
import rls3_bench.harness.sweep as runner
from rls3_bench.harness.records import read_predictions
from rls3_bench.harness.tracks import load_track

track, ref, results, log, order = sys.argv[1:6]
good = json.loads((Path(ref) / "record.json").read_text())
preds = read_predictions(Path(ref) / "predictions.parquet")

def execute_cell(track_dict, generator, seed, *args, **kwargs):
    with open(log, "a") as fh:
        fh.write(f"{os.getpid()} {seed}\\n")
    time.sleep(0.3)
    return {**{k: v for k, v in good.items() if k not in ("record_sha256", "predictions_sha256")}, "seed": seed}, preds

runner.execute_cell = execute_cell
seeds = [int(s) for s in order.split(",")]
out = runner.run_benchmark(load_track(track), ["uniform-v1"], seeds, Path(results), show_progress=False, threads=1)
print(" ".join(f"{o.seed}:{o.status}" for o in out))
"""


def test_two_processes_own_cells_by_lock(reference, tmp_path):
    """Two real processes sweep the same eight cells into one folder at once, in opposite orders
    (the cell computation replaced by a 0.3 s stand-in): every cell is computed exactly once, by
    whichever process locked it, and every record is sound; nothing is left half-written."""
    results, log = tmp_path / "runs", tmp_path / "calls.log"
    seeds = list(range(8))
    argv = [sys.executable, "-c", _FAKE_RUN, TRACK, str(cell(reference, 0)), str(results), str(log)]
    procs = [
        subprocess.Popen(argv + [",".join(map(str, order))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for order in (seeds, seeds[::-1])
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    calls = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(seed) for _, seed in calls) == seeds  # each cell computed once
    assert len({pid for pid, _ in calls}) == 2  # and both processes did some of the work
    for seed in seeds:
        assert verify_cell(cell(results, seed)) is None and record(results, seed)["seed"] == seed
    statuses = [dict(item.split(":") for item in o[0].split()) for o in outs]
    for seed in map(str, seeds):
        assert sorted(st[seed] for st in statuses) in (["complete", "skipped-done"], ["complete", "skipped-locked"])
    assert leftovers(results) == []


@pytest.mark.slow
def test_two_processes_share_a_results_folder(reference, tmp_path):
    """Two real processes run overlapping cells into one folder at the same moment (A: seeds 0,1;
    B: seeds 1,0). Each cell is computed once, by whoever locked it first; no record is corrupt or
    duplicated, and every record equals the one a single run gives."""
    results = tmp_path / "runs"
    a = _spawn(cli(results=results, seeds="0,1"))
    b = _spawn(cli(results=results, seeds="1,0"))
    out_a, err_a = a.communicate(timeout=600)
    out_b, err_b = b.communicate(timeout=600)
    assert a.returncode == 0 and b.returncode == 0, (err_a[-2000:], err_b[-2000:])
    for seed in (0, 1):
        assert verify_cell(cell(results, seed)) is None
        assert comparable(record(results, seed)) == comparable(record(reference, seed))
        keys = [(r["budget"], r["item_id"]) for r in read_table(cell(results, seed) / PREDICTIONS_FILE).to_pylist()]
        assert len(set(keys)) == len(keys) == 3 * 72  # one row per item and budget
    assert sorted(p.name for p in (results / TRACK_DIR / "uniform-v1").iterdir()) == ["seed-0", "seed-1"]
    assert leftovers(results) == [] and not list(results.rglob("checkpoint"))
    for err in (err_a, err_b):
        lines = [line for line in err.strip().splitlines() if line and not line.startswith("pybullet build time")]
        assert all(line.startswith("rls3-bench: note: cell") for line in lines), err[-2000:]


# --- interrupts and crashes: no orphans -------------------------------------------------------
def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _wait_for(predicate, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def _assert_no_orphans(children: list, session: int) -> None:
    import psutil

    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [p.cmdline() for p in alive]
    stragglers = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getsid(p.pid) == session:
                stragglers.append(p.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    assert not stragglers


def _start_workers(tmp_path, generator="reliability_generators:Sleepy", extra=()):
    results = tmp_path / "runs"
    proc = _spawn(
        cli("--workers", "2", *extra, results=results, generator=generator, seeds="0,1"), start_new_session=True
    )
    locks = [cell(results, s, "sleepy-v1") / ".lock" for s in (0, 1)]
    _wait_for(lambda: all(p.exists() for p in locks) or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()
    _wait_for(lambda: len(_descendants(proc.pid)) >= 2)
    time.sleep(1.0)  # into the cells: building the learner, evaluating or sleeping in the generator
    return proc, results


@pytest.mark.parametrize(
    "how",
    [
        "ctrl-c",
        pytest.param("sigint-to-parent", marks=pytest.mark.slow),
        pytest.param("sigterm", marks=pytest.mark.slow),
    ],
)
def test_interrupt_stops_every_worker(tmp_path, how):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it), SIGINT to the parent only,
    or SIGTERM: the run exits 130 with one line, and no worker process outlives it."""
    proc, results = _start_workers(tmp_path)
    children = _descendants(proc.pid)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT if how == "sigint-to-parent" else signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    assert err.strip().splitlines() == [
        "rls3-bench: interrupted (finished results are kept; run the command again to resume)"
    ]
    _assert_no_orphans(children, proc.pid)
    assert not list(results.rglob(RECORD_FILE)) and leftovers(results) == []


@pytest.mark.slow
def test_killed_worker_stops_the_others(tmp_path):
    """A worker killed from outside (as the OOM killer does): one error line, exit 2, the other worker
    stopped too."""
    proc, results = _start_workers(tmp_path)
    children = _descendants(proc.pid)
    workers = [
        p
        for p in children
        if "multiprocessing" in " ".join(p.cmdline()) and "resource_tracker" not in " ".join(p.cmdline())
    ]
    assert len(workers) == 2, [p.cmdline() for p in children]
    workers[0].send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and err.strip().splitlines()[-1].startswith(
        "rls3-bench: error: a worker process died"
    ), err[-2000:]
    assert len(err.strip().splitlines()) == 1
    _assert_no_orphans(children, proc.pid)


def test_crashing_generator_fails_its_cell_and_the_sweep_goes_on(tmp_path, capsys, monkeypatch, torch_one_thread):
    """A contributed generator that raises fails its own cells (recorded with the reason); the run
    finishes the others, prints one line per failed cell and exits 1 without a traceback."""
    from rls3_bench.cli import main

    monkeypatch.syspath_prepend(str(FIXTURES))
    results = tmp_path / "runs"
    argv = cli(results=results, generator="reliability_generators:Crashing")
    assert main(argv) == 1
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "note:" not in line]
    assert len(err) == 1 and "crashing-v1 raised RuntimeError in round 1: boom with a second line" in err[0], err
    rec = json.loads((cell(results, 0, "crashing-v1") / RECORD_FILE).read_text())
    assert rec["status"] == "failed" and "boom" in rec["failure"]


# --- services: Ray on loopback ----------------------------------------------------------------
def test_unreachable_ray_address_is_one_line_at_once(tmp_path, capsys):
    """ray.init retries an address where nothing listens for minutes; the runner checks it first."""
    pytest.importorskip("ray")
    import socket

    from rls3_bench.cli import main

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(cli("--executor", "ray", "--ray-address", f"127.0.0.1:{port}", results=tmp_path / "runs")) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "note:" not in line]
    assert len(err) == 1 and f"nothing answers at --ray-address 127.0.0.1:{port}" in err[0]


@pytest.mark.slow
def test_local_ray_listens_on_loopback_only_and_leaves_nothing_on_ctrl_c(tmp_path):
    """The Ray instance a run starts (GCS, raylet, agents, workers) listens on loopback addresses
    only; Ctrl-C stops it all: exit 130, one line, no process left."""
    ray = pytest.importorskip("ray")
    import ipaddress

    import psutil

    assert ray
    results = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rls3_bench.cli",
            *cli("--executor", "ray", results=results, generator="reliability_generators:Sleepy", seeds="0,1"),
        ],
        env={**env, "PYTHONPATH": str(FIXTURES)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )

    def workers_running() -> bool:
        names = " ".join(" ".join(p.cmdline()) for p in _descendants(proc.pid) if p.is_running())
        return "remote_cell" in names or proc.poll() is not None

    _wait_for(workers_running)
    assert proc.poll() is None, proc.communicate()
    time.sleep(2.0)
    children = _descendants(proc.pid)
    listening = []
    for p in [psutil.Process(proc.pid), *children]:
        try:
            listening += [
                (p.name(), c.laddr.ip, c.laddr.port)
                for c in p.net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN
            ]
        except psutil.Error:
            pass
    assert listening  # the GCS and the raylet at least

    def loopback(ip: str) -> bool:
        addr = ipaddress.ip_address(ip.split("%")[0])
        return addr.is_loopback or (addr.version == 6 and addr.ipv4_mapped is not None and addr.ipv4_mapped.is_loopback)

    assert all(loopback(ip) for _, ip, _ in listening), listening
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert (
        err.strip().splitlines()[-1]
        == "rls3-bench: interrupted (finished results are kept; run the command again to resume)"
    )
    _assert_no_orphans(children, proc.pid)


# --- results of another configuration of the same track ------------------------------------------
def _track_variant(tmp_path: Path, old: str, new: str) -> str:
    path = tmp_path / "test-track.yaml"
    path.write_text(Path(TRACK).read_text().replace(old, new))
    return str(path)


@pytest.mark.parametrize("change", ["another lr", "another lr, records only", "--weights base"])
def test_results_of_another_track_configuration_are_refused(reference, tmp_path, capsys, change):
    """Cells are found by track key, generator and seed; a results folder made under another configuration
    of the same key (another lr, other weights) is refused with one line, not read as this one's results."""
    from rls3_bench.cli import main
    from rls3_bench.harness.sweep import TRACK_FILE

    results = tmp_path / "runs"
    shutil.copytree(reference, results)
    if change == "another lr, records only":
        (results / TRACK_DIR / TRACK_FILE).unlink()
    before = snapshot(results)
    args = ["--weights", "base"] if change == "--weights base" else []
    track = (
        TRACK
        if change == "--weights base"
        else _track_variant(tmp_path, "{batch_size: 16}", "{batch_size: 16, lr: 0.001}")
    )
    argv = [
        "run",
        "--track",
        track,
        "--generator",
        "uniform-v1",
        "--seed-list",
        "0,1",
        "--results",
        str(results),
        "--no-progress",
        "--no-leaderboard",
        "--threads",
        "1",
        *args,
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"holds results of another configuration of {TRACK_DIR}" in err
    assert "pass a new --results folder" in err
    assert snapshot(results) == before
    # the configuration the folder was made for still finds its cells done
    argv = [
        "run",
        "--track",
        TRACK,
        "--generator",
        "uniform-v1",
        "--seed-list",
        "0,1",
        "--results",
        str(results),
        "--no-progress",
        "--no-leaderboard",
        "--threads",
        "1",
    ]
    assert main(argv) == 0
    assert snapshot(results) == before | {
        f"{TRACK_DIR}/{TRACK_FILE}": (reference / TRACK_DIR / TRACK_FILE).read_bytes()
    }
