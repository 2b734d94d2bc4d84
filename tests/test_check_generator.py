"""The harness contains generator failures (one line naming the generator, the cell failed, the sweep
goes on) and `rls3-bench check-generator` refuses a generator that breaks the contract before a run."""

from __future__ import annotations

import json
import signal
import sys

import pytest
from conftest import FIXTURES

from rls3_bench.errors import UserError
from rls3_bench.generator import BudgetViolation, Cost, get_generator_class
from rls3_bench.harness.generation import GenerationLimits, GeneratorFailure, Harness, make_generator, produce_round

sys.path.insert(0, str(FIXTURES))

import reliability_generators as rg  # noqa: E402


@pytest.fixture(scope="module")
def backend():
    from rls3_bench.backends.embedded import EmbeddedBackend

    with EmbeddedBackend(image_size=64, renderer="tiny") as b:
        yield b


def one_round(backend, cls, n=4, limits=None, r=0):
    gen = make_generator(cls, 0, {})
    return produce_round(gen, Harness(backend, Cost()), r, n, limits=limits)


# --- the harness: failures contained and named ----------------------------------------------------
@pytest.mark.parametrize(
    "cls, error, reason",
    [
        (rg.Spinning, BudgetViolation, "spinning-v1: round 0: asked for more than 200 renders for 4 samples"),
        (rg.SetState, GeneratorFailure, "set-state-v1.state_dict() is not JSON (Object of type set"),
        (rg.ExtraCounter, GeneratorFailure, "extra-counter-v1.extra_cost() reports 'gpu_minutes'"),
        (rg.Exiting, GeneratorFailure, "exiting-v1 called sys.exit(0) in round 0"),
        (
            rg.Interrupting,
            GeneratorFailure,
            "interrupting-v1 raised KeyboardInterrupt in round 0 (no Ctrl-C was pressed)",
        ),
        (rg.DiskFull, GeneratorFailure, "disk-full-v1 raised OSError in round 0: [Errno 28] No space left on device"),
        (rg.CaptionSwapping, BudgetViolation, "was changed after ctx.render made it"),
        (rg.PixelSwapping, BudgetViolation, "was changed after ctx.render made it"),
        (
            rg.PixelZeroing,
            GeneratorFailure,
            "pixel-zeroing-v1 raised ValueError in round 0: assignment destination is read-only",
        ),
        (rg.ChangedAfterDelivery, BudgetViolation, "changed-after-delivery-v1: round 0: sample"),
    ],
)
def test_a_broken_round_is_one_line_naming_the_generator(backend, cls, error, reason):
    with pytest.raises(error) as info:
        one_round(backend, cls)
    assert reason in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_forged_eval_items_are_refused(backend, items):
    """Copying eval items' contents into produced samples is a changed sample."""
    rg.EVAL_ITEMS[:] = items[:8]
    with pytest.raises(BudgetViolation, match="eval-copying-v1: round 0: sample .* was changed after ctx.render"):
        one_round(backend, rg.EvalCopying)


def test_a_sleeping_generator_stops_at_the_time_limit(backend):
    with pytest.raises(
        GeneratorFailure, match=r"sleepy-v1: round 0 took longer than its limit of 0.5 s; .*--round-seconds"
    ):
        one_round(backend, rg.Sleepy, limits=GenerationLimits(round_seconds=0.5))
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None) and signal.getitimer(signal.ITIMER_REAL) == (
        0.0,
        0.0,
    )


def test_the_time_limit_holds_outside_the_main_thread(backend):
    """No SIGALRM off the main thread: every ctx call checks the clock, so a generator that keeps
    calling the harness still stops."""
    import threading

    out = {}

    def run():
        try:
            one_round(backend, rg.Spinning, n=1000, limits=GenerationLimits(round_seconds=0.3))
        except Exception as exc:  # noqa: BLE001 - the test reads it below
            out["exc"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join(120)
    assert isinstance(out.get("exc"), GeneratorFailure) and "took longer than its limit of 0.3 s" in str(out["exc"]), (
        out
    )


def test_the_users_ctrl_c_still_interrupts(backend):
    """A real SIGINT during a round is the user's: KeyboardInterrupt passes through, not a cell failure."""
    # Python's own Ctrl-C handler, as in a terminal: a shell that starts the suite in the background
    # hands it SIGINT ignored, and then there is no Ctrl-C to pass through
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            one_round(backend, rg.CtrlC)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, outer)


def test_sample_images_are_read_only(backend):
    out = one_round(backend, rg.SeedIgnoring)
    assert all(not s.image.flags.writeable for s in out.delivered)


@pytest.mark.parametrize("cls, shown", [(rg.DotDotName, "'../../escaped-v1'"), (rg.NewlineName, r"'two\nlines-v1'")])
def test_a_generator_name_that_is_no_folder_name_is_refused(cls, shown, monkeypatch):
    monkeypatch.setitem(sys.modules, "reliability_generators", rg)
    with pytest.raises(UserError) as info:
        get_generator_class(f"reliability_generators:{cls.__name__}")
    assert shown in str(info.value) and "\n" not in str(info.value) and "my-generator-v1" in str(info.value)


def test_a_bad_name_stops_the_run_before_anything_is_written(tmp_path, capsys, monkeypatch):
    from rls3_bench.cli import main

    monkeypatch.syspath_prepend(str(FIXTURES))
    results = tmp_path / "a" / "runs"
    code = main(
        [
            "run",
            "--track",
            str(FIXTURES / "test-track.yaml"),
            "--generator",
            "reliability_generators:DotDotName",
            "--seeds",
            "1",
            "--results",
            str(results),
            "--no-progress",
            "--no-leaderboard",
        ]
    )
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "note:" not in line]
    assert code == 2 and len(err) == 1 and "generator name '../../escaped-v1'" in err[0], err
    assert not any(tmp_path.rglob("*.json")) and not (tmp_path / "escaped-v1").exists()


def test_a_failing_generator_fails_its_cell_and_the_sweep_goes_on(tmp_path, capsys, monkeypatch, one_thread):
    """state_dict() returning a set: one line naming the generator, its cell recorded as failed with no
    checkpoint left; a constructor that raises: one line naming the generator; the last cell
    complete; exit 1."""
    from rls3_bench.cli import main

    monkeypatch.syspath_prepend(str(FIXTURES))
    results = tmp_path / "runs"
    code = main(
        [
            "run",
            "--track",
            str(FIXTURES / "test-track.yaml"),
            "--generator",
            "reliability_generators:SetState",
            "--generator",
            "reliability_generators:BrokenInit",
            "--generator",
            "uniform-v1",
            "--seeds",
            "1",
            "--results",
            str(results),
            "--no-progress",
            "--no-leaderboard",
        ]
    )
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "note:" not in line]
    assert code == 1 and len(err) == 2 and "set-state-v1.state_dict() is not JSON" in err[0], err
    assert "BrokenInit seed 0 failed: broken-init-v1 raised ValueError when made for seed 0: no such table" in err[1], (
        err
    )
    failed = json.loads((results / "test-track-v1" / "set-state-v1" / "seed-0" / "record.json").read_text())
    assert failed["status"] == "failed" and "state_dict()" in failed["failure"]
    assert not (results / "test-track-v1" / "set-state-v1" / "seed-0" / "checkpoint").exists()
    done = json.loads((results / "test-track-v1" / "uniform-v1" / "seed-0" / "record.json").read_text())
    assert done["status"] == "complete"


def test_a_generator_rendering_eval_scenes_fails_its_cell(track, items):
    """Eval scenes the harness rendered itself are still test items: the cell fails before training."""
    from rls3_bench.harness.cell import run_cell

    rg.EVAL_ITEMS[:] = items
    res = run_cell(track, "reliability_generators:EvalRendering", 0, eval_items=items, backend=None)
    assert res.status == "failed" and "which is an item of the track's eval set" in res.failure, res.failure
    assert len(res.curve) == 1


@pytest.mark.parametrize(
    "generator, reason",
    [
        ("reliability_generators:Exiting", "exiting-v1 called sys.exit(0) in round 0"),
    ],
)
def test_a_pipelined_generator_failure_fails_its_cell(track, items, generator, reason, monkeypatch):
    from rls3_bench.harness.cell import run_cell

    monkeypatch.syspath_prepend(str(FIXTURES))  # the worker process inherits sys.path
    res = run_cell(track, generator, 0, eval_items=items, pipeline=True)
    assert res.pipelined and res.status == "failed" and reason in res.failure, res.failure


# --- check-generator ----------------------------------------------------------------------------
BUILTINS = ["uniform-v1", "balanced-v1", "weakness-v1", "rls3-random-v1", "rls3-sac-v1"]


@pytest.mark.parametrize("generator", BUILTINS)
def test_check_generator_passes_every_builtin(backend, generator):
    from rls3_bench.harness.check_generator import check_generator

    report = check_generator(generator, round_size=4, backend=backend)
    assert report.problems == [] and report.delivered == 4 * 6 and report.renders >= report.delivered


@pytest.mark.parametrize(
    "cls, reason",
    [
        (
            rg.SeedIgnoring,
            "seed-ignoring-v1 ignores its seed: two runs with seed 0 delivered different samples in round 0",
        ),
        (rg.FixedSeed, "fixed-seed-v1 ignores its seed: seeds 0 and 1 delivered the same samples"),
        (rg.StateLosing, "state-losing-v1's state does not round-trip through JSON"),
        (rg.SetState, "set-state-v1.state_dict() is not JSON"),
        (rg.Spinning, "spinning-v1: round 0: asked for more than 200 renders"),
        (rg.ExtraCounter, "extra-counter-v1.extra_cost() reports 'gpu_minutes'"),
    ],
)
def test_check_generator_refuses_a_broken_generator(backend, cls, reason):
    from rls3_bench.harness.check_generator import check_generator

    report = check_generator(f"reliability_generators:{cls.__name__}", round_size=4, backend=backend)
    assert len(report.problems) == 1 and reason in report.problems[0], report.problems


def test_check_generator_refuses_a_class_no_worker_can_import(backend, monkeypatch):
    import types

    class Local(rg._FirstValid):
        name = "local-v1"

    mod = types.ModuleType("local_gens")
    mod.Local = Local
    monkeypatch.setitem(sys.modules, "local_gens", mod)
    from rls3_bench.harness.check_generator import check_generator

    report = check_generator("local_gens:Local", round_size=4, backend=backend)
    assert len(report.problems) == 1 and "local-v1 cannot be pickled for a worker process" in report.problems[0], (
        report.problems
    )


def test_check_generator_cli(capsys, monkeypatch):
    from rls3_bench.cli import main

    monkeypatch.syspath_prepend(str(FIXTURES))
    assert main(["check-generator", "reliability_generators:SeedIgnoring", "--round-size", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    for w, line in zip((1, 2), err, strict=True):
        assert line.startswith(f"rls3-bench: check-generator: world {w}: seed-ignoring-v1 ignores its seed"), err
    assert main(["check-generator", "contrib_generator:LeftRightOnly", "--round-size", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2, out
    for w, line in zip((1, 2), out, strict=True):
        assert line.startswith(f"ok: left-right-only-v1 (open loop) in world {w}:") and "renders per delivered" in line
    assert main(["check-generator", "no_such_module:Gen"]) == 2
    assert "cannot import module 'no_such_module'" in capsys.readouterr().err
