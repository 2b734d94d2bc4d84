"""The benchmark runner: a track x generators x seeds sweep, locally or on Ray, resumable.

Each (generator, seed) cell is independent. Locally, cells run in this process (``workers=1``) or in
worker processes; on Ray, each cell is a task that returns its record and predictions to the driver,
which writes them, so no shared filesystem is needed. A cell whose ``record.json`` exists is done and
skipped; a cell with a checkpoint resumes from it. A per-cell lock file keeps two runs from working
on the same cell at once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rls3_bench.errors import UserError
from rls3_bench.harness.generation import GeneratorFailure, track_backend_options
from rls3_bench.harness.records import (
    PREDICTIONS_FILE,
    RECORD_FILE,
    cell_dir,
    provenance,
    read_record,
    record_digest,
    verify_cell,
    write_record,
)
from rls3_bench.harness.tracks import Track, track_from_dict

EXECUTORS = ("local", "ray")
# Upper bounds of one sweep (docs/reliability.md, "Bounds"), checked before any work starts.
MAX_SEEDS = 1000  #: seeds per run; a leaderboard cell needs 10
MAX_WORKERS = 256  #: local worker processes, and torch threads per cell
MAX_BUDGET = 1_000_000  #: samples per cell, about 7x the largest budget of the paper's curves
#: backend options naming files on the machine that runs a cell (the Unity player, its log folder)
MACHINE_PATHS = ("player", "log_folder")
#: in ``<results>/<track key>/``: the digest of the configuration whose records that folder holds
TRACK_FILE = "track.json"


@dataclass(frozen=True)
class CellOutcome:
    generator: str
    seed: int
    folder: Path
    status: str  # complete | failed | skipped-done | skipped-locked
    seconds: float
    failure: str | None = None


@contextmanager
def cell_lock(folder: Path):
    """An exclusive, non-blocking lock on a cell; yields False if another process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    fh = open(folder / ".lock", "w")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        fh.close()


def cell_done(folder: Path) -> bool:
    """True if the cell holds a sound result. A damaged one (unreadable record, checksum mismatch) is
    moved aside as ``*.corrupt``, reported on stderr, and the cell counts as not done, so it re-runs."""
    if not (folder / RECORD_FILE).is_file():
        return False
    problem = verify_cell(folder)
    if problem is None:
        return True
    for name in (RECORD_FILE, PREDICTIONS_FILE):
        if (folder / name).exists():
            os.replace(folder / name, folder / f"{name}.corrupt")
    print(
        f"rls3-bench: warning: {problem.split('; ')[0]}; moved it aside as *.corrupt and re-running the cell",
        file=sys.stderr,
    )
    return False


def execute_cell(
    track_dict: dict,
    generator: str,
    seed: int,
    checkpoint_dir: str | None,
    torch_threads: int,
    progress: Callable | None = None,
    cell_options: dict | None = None,
) -> tuple[dict, dict]:
    """Run one cell and return (record, predictions). Runs anywhere: in-process, a worker, a Ray task.

    ``cell_options`` are :func:`rls3_bench.harness.cell.run_cell`'s machine-side options (``backend_options``,
    ``pipeline``). ``torch_threads`` is set explicitly because CPU float reductions depend on it: the same cell run
    with the same thread count gives bit-identical scores on any executor.
    """
    import torch

    torch.set_num_threads(torch_threads)
    track = track_from_dict(track_dict)
    from rls3_bench.harness.cell import run_cell

    t0 = time.perf_counter()
    res = run_cell(
        track,
        generator,
        seed,
        checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
        progress=progress,
        **(cell_options or {}),
    )
    record = res.to_dict()
    predictions = record.pop("predictions")
    record.update(
        {
            "schema_version": 1,
            "track": track.key,
            "track_config": track_dict,
            "track_digest": track.digest(),
            "eval_set": track.eval_set,
            "eval_set_hash": track.eval_set_hash,
            "wall_seconds": time.perf_counter() - t0,
            "torch_threads": torch_threads,
            "provenance": provenance(),
        }
    )
    return record, predictions


PIPELINE_MODES = ("auto", "on", "off")


def resolve_pipeline(mode: str, workers: int, threads: int, cores: int | None = None) -> bool:
    """Whether cells run their open-loop generator ahead of training (rls3_bench.harness.generation).

    "auto": only where every cell's generation worker gets a core of its own beside its torch
    threads. Measured on 2 cores (docs/performance.md): one cell on 1 thread, 1.44x faster; but where
    the cells' threads already fill the cores (2 workers x 1 thread, or 1 x 2), the worker only
    competes for them (0-5 % slower), so "auto" leaves those inline. Records are the same either way.
    """
    if mode != "auto":
        return mode == "on"
    return (cores or os.cpu_count() or 1) >= workers * (threads + 1)


def _run_local_cell(
    track: Track,
    generator: str,
    seed: int,
    folder: Path,
    torch_threads: int,
    progress=None,
    cell_options: dict | None = None,
) -> CellOutcome:
    t0 = time.perf_counter()
    with cell_lock(folder) as mine:
        if not mine:
            return CellOutcome(generator, seed, folder, "skipped-locked", 0.0)
        if cell_done(folder):
            return CellOutcome(generator, seed, folder, "skipped-done", 0.0)
        try:
            record, predictions = execute_cell(
                track.to_dict(), generator, seed, str(folder / "checkpoint"), torch_threads, progress, cell_options
            )
        except GeneratorFailure as exc:  # the generator failed before its first round: no record, the sweep goes on
            return CellOutcome(generator, seed, folder, "failed", time.perf_counter() - t0, str(exc))
        write_record(folder, record, predictions)
        shutil.rmtree(folder / "checkpoint", ignore_errors=True)
        return CellOutcome(generator, seed, folder, record["status"], time.perf_counter() - t0, record.get("failure"))


def _local_worker(args) -> CellOutcome:
    track_dict, generator, seed, folder, threads, cell_options = args
    return _run_local_cell(
        track_from_dict(track_dict), generator, seed, Path(folder), threads, cell_options=cell_options
    )


def _generator_dir_name(generator: str) -> str:
    from rls3_bench.generator import get_generator_class

    return get_generator_class(generator).name


def run_benchmark(
    track: Track,
    generators: Sequence[str],
    seeds: Sequence[int],
    results: Path,
    executor: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
    show_progress: bool = True,
    threads: int | None = None,
    cell_options: dict | None = None,
) -> list[CellOutcome]:
    """Run every (generator, seed) cell of ``track`` not yet complete under ``results``.

    ``threads``: torch threads per cell (default: the machine's cores / local workers; 1 on Ray).
    ``cell_options``: :func:`rls3_bench.harness.cell.run_cell` options for every cell: ``backend_options``
    (e.g. the unity backend's ``player``), ``pipeline`` (auto, on, off: :func:`resolve_pipeline`).
    """
    cell_options = dict(cell_options or {})
    names = check_setup(track, generators, seeds, executor, workers, threads, cell_options)
    claim_results(Path(results), track)
    cells = [(g, s, cell_dir(results, track.key, names[g], s)) for g in generators for s in seeds]
    if executor == "ray":
        # on Ray, a pipelined cell reserves a CPU for its generation worker; "auto" keeps cells inline
        cell_options["pipeline"] = cell_options.get("pipeline", "auto") == "on"
        return _run_ray(track, cells, ray_address, show_progress, threads or 1, cell_options)
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    cell_options["pipeline"] = resolve_pipeline(cell_options.get("pipeline", "auto"), workers, threads)
    if workers == 1:
        return _run_sequential(track, cells, show_progress, threads, cell_options)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    outcomes = []
    # workers ignore SIGINT: on Ctrl-C (or SIGTERM, or any error) this process stops them itself, so
    # none is left running a cell; their cell locks go with them and the cells resume when re-run
    # no more processes than cells (the rest would only wait); threads stay as the requested workers set them
    pool = ProcessPoolExecutor(
        max_workers=min(workers, max(1, len(cells))), mp_context=mp.get_context("spawn"), initializer=_ignore_sigint
    )
    try:
        jobs = [(track.to_dict(), g, s, str(f), threads, cell_options) for g, s, f in cells]
        bar = _bar(len(jobs), "cells", show_progress)
        for out in pool.map(_local_worker, jobs):
            outcomes.append(out)
            bar.set_postfix_str(f"{out.generator} seed {out.seed}: {out.status}")
            bar.update(1)
        bar.close()
    except BrokenProcessPool:
        _stop_workers(pool)
        raise UserError(
            "a worker process died (killed, or out of memory) while running a cell; finished cells are kept: "
            "re-run the same command to resume the rest"
        ) from None
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown()
    return outcomes


def _check_count(value, noun: str, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise UserError(f"{noun} must be an integer in [1, {maximum}], got {value!r}")


def check_setup(
    track: Track,
    generators: Sequence[str],
    seeds: Sequence[int],
    executor: str,
    workers: int,
    threads: int | None,
    cell_options: dict,
) -> dict[str, str]:
    """Every check a sweep can make before it starts work: bounds, the eval set's pinned hash, the backend's
    options, the generators' names. Cheap (nothing is started or read; given paths are only looked up), so a
    bad setup fails in seconds whatever the sweep's size, and before any cell folder exists. On Ray, paths
    that name files on the cells' machines (:data:`MACHINE_PATHS`) are left to the cells. Returns each
    generator's folder name."""
    from rls3_bench.backends import get_backend_class
    from rls3_bench.data.evalsets import check_eval_pin, rehearsal_set_names

    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    _check_count(workers, "--workers", MAX_WORKERS)
    if threads is not None:
        _check_count(threads, "--threads", MAX_WORKERS)
    if len(seeds) > MAX_SEEDS:
        raise UserError(f"{len(seeds)} seeds are more than the {MAX_SEEDS} one run takes; split them over several runs")
    if track.budgets[-1] > MAX_BUDGET:
        raise UserError(
            f"track {track.key}: budget {track.budgets[-1]} is above the maximum of {MAX_BUDGET} samples per cell; "
            "lower the track's budgets"
        )
    if cell_options.get("pipeline", "auto") not in PIPELINE_MODES:
        raise UserError(f"--pipeline must be one of {', '.join(PIPELINE_MODES)}, got {cell_options['pipeline']!r}")
    pinned = [check_eval_pin(track.eval_set, track.eval_set_hash)]
    if track.id_eval_set:
        pinned.append(check_eval_pin(track.id_eval_set, track.id_eval_set_hash))
    if track.val_set:
        pinned.append(check_eval_pin(track.val_set, None))
    rehearsal_sets = rehearsal_set_names()
    if track.rehearsal_set:
        pinned.append(check_eval_pin(track.rehearsal_set, track.rehearsal_set_hash))
        if track.rehearsal_set not in rehearsal_sets:
            raise UserError(
                f"track {track.key}'s rehearsal_set {track.rehearsal_set} is an eval set, which no run may train on; "
                f"name a rehearsal set: {', '.join(rehearsal_sets)}"
            )
    for name in (track.eval_set, track.id_eval_set, track.val_set):
        if name and name in rehearsal_sets:
            raise UserError(
                f"track {track.key} evaluates on {name}, a rehearsal set (training data); name an eval set instead"
            )
    for spec in pinned:
        if spec.world != track.world:
            raise UserError(
                f"track {track.key} is in world {track.world} but its set {spec.name} is of world {spec.world}; "
                "give the track sets of its own world"
            )
    backend_options = dict(cell_options.get("backend_options", {}))
    if executor == "ray":  # paths name files on the machines that run the cells, which check them there
        backend_options = {k: v for k, v in backend_options.items() if k not in MACHINE_PATHS}
    get_backend_class(track.backend).check_options(**track_backend_options(track, backend_options))
    return {g: _generator_dir_name(g) for g in generators}


def claim_results(results: Path, track: Track) -> None:
    """Bind ``<results>/<track key>/`` to this configuration of the track (its digest), or refuse.

    Cells are found by track key, generator and seed; a record made under another configuration of the
    same key (another lr, other weights, another preset's budgets) would be taken as this one's result,
    and a checkpoint resumed with this one's settings. So the folder keeps the digest it was made for
    (:data:`TRACK_FILE`), and any record or marker of another digest stops the run before it starts.
    """
    import json

    from rls3_bench.data.atomic import atomic_write_json

    folder = results / track.key
    digest = track.digest()
    found = [folder / TRACK_FILE] if (folder / TRACK_FILE).is_file() else []
    found += sorted(folder.glob(f"*/seed-*/{RECORD_FILE}"))
    for path in found:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            other = data.get("track_digest")
        except (OSError, ValueError, AttributeError):
            continue
        if path.name == RECORD_FILE and data.get("record_sha256") != record_digest(data):
            continue  # a damaged record: its cell sets it aside and runs again (cell_done)
        if other != digest:
            raise UserError(
                f"{folder} holds results of another configuration of {track.key} (track digest {str(other)[:12]}, "
                f"this run's {digest[:12]}: another lr, --weights, --device or preset); pass a new --results folder"
            )
    if not (folder / TRACK_FILE).is_file():
        atomic_write_json(
            folder / TRACK_FILE,
            {"schema_version": 1, "track": track.key, "track_digest": digest, "track_config": track.to_dict()},
        )


def _ignore_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_workers(pool) -> None:
    """Terminate a process pool's workers now (queued cells are cancelled, running ones killed)."""
    if hasattr(pool, "terminate_workers"):  # Python >= 3.14
        pool.terminate_workers()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public way before 3.14
    for proc in processes:
        proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)
    for proc in processes:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()


def _bar(total: int, unit: str, show: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, disable=not show, dynamic_ncols=True)


def _run_sequential(
    track: Track, cells, show_progress: bool, threads: int, cell_options: dict | None = None
) -> list[CellOutcome]:
    top = track.budgets[-1]
    bar = _bar(len(cells) * top, "samples", show_progress)
    outcomes = []
    for k, (g, s, folder) in enumerate(cells):
        base = k * top

        def progress(stage: str, done: int, total: int, g=g, s=s, base=base) -> None:
            bar.n = base + done
            bar.set_postfix_str(f"{g} seed {s}: {stage}")
            bar.refresh()

        out = _run_local_cell(track, g, s, folder, threads, progress, cell_options)
        bar.n = base + top
        bar.refresh()
        outcomes.append(out)
    bar.close()
    return outcomes


def _run_ray(
    track: Track, cells, ray_address: str | None, show_progress: bool, threads: int, cell_options: dict | None = None
) -> list[CellOutcome]:
    from rls3_bench.errors import require

    if not ray_address:
        # A local instance listens on loopback only. Ray turns 127.0.0.1 into the machine's routable
        # address and binds its servers to every interface, except in its single-machine mode (made
        # for macOS and Windows), which this switches on: read at import, and by the started servers.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = require("ray", "ray")
    started = False
    if not ray.is_initialized():
        if not ray_address:
            import ray._private.ray_constants as ray_constants

            ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before the line above
        _check_reachable(ray_address)
        try:
            ray.init(
                address=ray_address,
                include_dashboard=False,
                log_to_driver=False,
                **({} if ray_address else {"_node_ip_address": "127.0.0.1", "num_cpus": os.cpu_count()}),
            )
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"the Ray cluster at {ray_address}" if ray_address else "a local Ray instance"
            raise UserError(
                f"cannot start or reach {where} ({' '.join(str(exc).split())[:160]}); check the address "
                "(`ray status` on the head node) or leave out --ray-address to start a local one"
            ) from None
        started = True

    @ray.remote(num_cpus=threads + int(bool((cell_options or {}).get("pipeline"))))
    def remote_cell(track_dict, generator, seed):
        # the checkpoint lives on the worker's local disk; the result travels back to the driver
        with tempfile.TemporaryDirectory() as tmp:
            return execute_cell(
                track_dict,
                generator,
                seed,
                str(Path(tmp) / "checkpoint"),
                torch_threads=threads,
                cell_options=cell_options,
            )

    outcomes = []
    try:
        todo = []
        for g, s, folder in cells:
            if cell_done(folder):
                outcomes.append(CellOutcome(g, s, folder, "skipped-done", 0.0))
            else:
                todo.append((g, s, folder, remote_cell.remote(track.to_dict(), g, s)))
        bar = _bar(len(todo), "cells", show_progress)
        for g, s, folder, ref in todo:
            t0 = time.perf_counter()
            record, predictions = ray.get(ref)
            with cell_lock(folder) as mine:
                if mine and not (folder / RECORD_FILE).is_file():
                    write_record(folder, record, predictions)
            outcomes.append(
                CellOutcome(g, s, folder, record["status"], time.perf_counter() - t0, record.get("failure"))
            )
            bar.update(1)
        bar.close()
    finally:
        if started:
            ray.shutdown()
    return outcomes


def _check_reachable(address: str | None) -> None:
    """Fail at once when nothing listens at a ``host:port`` cluster address (ray.init retries for minutes)."""
    import re
    import socket

    match = re.fullmatch(r"\[?([^\[\]]+?)\]?:(\d+)", address or "")
    if not match:
        return  # no address (a local instance), "auto", or a ray:// client address: Ray checks those
    host, port = match.group(1), int(match.group(2))
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise UserError(
            f"nothing answers at --ray-address {address} ({exc.strerror or exc}); start the cluster with "
            "`ray start --head` there, or leave out --ray-address to start a local one"
        ) from None


def completed_records(results: Path, track_key: str | None = None) -> list[dict]:
    from rls3_bench.harness.records import iter_records

    return [rec for _, rec in iter_records(results) if track_key is None or rec["track"] == track_key]


__all__ = [
    "run_benchmark",
    "execute_cell",
    "check_setup",
    "claim_results",
    "CellOutcome",
    "completed_records",
    "read_record",
]
