"""The ``rls3-bench`` command line. ``main(argv)`` returns an exit code, so tests call it in-process.

User errors (bad input, missing weights or dependencies) print one line, ``rls3-bench: error: ...``,
and exit 2; nothing is half-written, because every file goes through a temp file + rename.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

from rls3_bench.analysis.report import COMPARE_METRICS
from rls3_bench.errors import PlacementError, UserError
from rls3_bench.harness.sweep import MAX_BUDGET, MAX_SEEDS, MAX_WORKERS
from rls3_bench.learners.answers import AXES
from rls3_bench.scene.worlds import WORLDS

EPILOG = """examples:
  rls3-bench ls
  rls3-bench check-generator my_module:MyGenerator
  rls3-bench render --seed 3 -o scene.png
  rls3-bench render --spec my_scene.json -o scene.png --size 224
  rls3-bench preview -n 16 --seed 0 -o docs/contact_sheet.png
  rls3-bench export -n 256 --seed 0 -o data.parquet
  rls3-bench export --generator rls3-sac-v2 --track clip-tiny -n 512 -o sac.parquet
  rls3-bench evalset spatial-v1-mini
  rls3-bench pretrain --track clip-tiny
  rls3-bench run --track clip-tiny --preset smoke
  rls3-bench run --track clip-tiny --generator my_module:MyGenerator --seeds 5
  xvfb-run -a rls3-bench run --track clip-tiny --backend unity --unity-player ./Room.x86_64
  rls3-bench report --results runs
"""


# Upper bounds of every count the command line takes (docs/reliability.md, "Bounds"). Each keeps one
# command within a machine's memory and a day's time; a larger job is several commands.
# A sweep's own bounds (seeds, workers, budgets) live with it, in rls3_bench.harness.sweep.
MAX_SEED = 2**63 - 1  #: records and submissions store seeds as int64
MAX_RENDER_WORKERS = 64
MAX_PREVIEW = 256  #: preview -n: scenes on one contact sheet
MAX_COLS = 64
MAX_EXPORT = 10_000  #: export -n: the samples, images included, are held in memory (about 0.5 GB at 128 px)
MAX_PAIR_STEPS = 100_000  #: pretrain --pair-steps
MAX_PAIR_POOL = 20_000  #: pretrain --pair-pool: two images a pair held in memory (about 2 GB at 128 px)
MAX_PRETRAIN_SCENES = 50_000  #: pretrain --scenes: its images are held in memory (about 2.5 GB at 128 px)
MAX_EPOCHS = 1000
MAX_UNITY_TIMEOUT_S = 86400.0


def _int_in(minimum: int, maximum: int, noun: str = "value"):
    """An argparse type: an integer in [``minimum``, ``maximum``], with a one-line reason otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an integer {noun}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{noun} {text[:40]} must be in [{minimum}, {maximum}]")
        return value

    return parse


def _image_size(text: str) -> int:
    from rls3_bench.backends.base import IMAGE_SIZE_RANGE

    return _int_in(*IMAGE_SIZE_RANGE, "image size")(text)


_seed = _int_in(0, MAX_SEED, "seed")
_seed_count = _int_in(1, MAX_SEEDS, "seed count")
_workers = _int_in(1, MAX_WORKERS, "worker count")


def _float_in(maximum: float, noun: str):
    """An argparse type: a finite float in (0, maximum], refused in one line naming ``noun``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number ({noun})") from None
        if not 0.0 < value <= maximum:
            raise argparse.ArgumentTypeError(f"{noun} {text[:40]} must be in (0, {maximum:g}]")
        return value

    return parse


_seconds = _float_in(MAX_UNITY_TIMEOUT_S, "time-out")  # a day: the unity time-out and a round's time limit
_learning_rate = _float_in(1.0, "learning rate")


def _check_output_file(path: str, option: str = "-o") -> None:
    """Refuse, before any work, an output path that cannot become a file: a folder, a path through a
    file, or a folder this user cannot write to."""
    import os

    target = Path(path)
    if target.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file path, e.g. {target / 'out.png'}")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # missing folders are made by the write
    if not parent.is_dir():
        raise UserError(f"{option} {path}: {parent} is a file, not a folder; choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: no permission to write in {parent}; choose a folder you can write to")


def _backend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="embedded", help="simulator backend (see `rls3-bench ls`; default: embedded)")
    p.add_argument("--size", type=_image_size, default=128, help="image size in pixels, 16 to 2048 (default: 128)")
    p.add_argument(
        "--renderer",
        default="tiny",
        help="embedded renderer: tiny (default: deterministic everywhere, and about 2x faster than EGL at 128 px on "
        "a CPU without a GPU driver), egl, or auto (EGL where its plugin loads, else tiny)",
    )
    _unity_args(p)


def _world_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--world",
        type=int,
        choices=sorted(WORLDS),
        default=1,
        help="the world random scenes are made in: 1, the paper's (default), or 2, objects at twice their size "
        "(rls3_bench/scene/worlds.py)",
    )


def _world_labels(args):
    """The world of ``args.world`` and the labeller that reads it."""
    from rls3_bench.labels.relations import LABELLERS

    world = WORLDS[args.world]
    return world, LABELLERS[world.labeller]


def _unity_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("unity backend (docs/unity.md)")
    g.add_argument(
        "--unity-player",
        metavar="PATH",
        help="Unity player binary built from unity/ (default: wait for the "
        "Unity Editor: press Play in the unity/ project)",
    )
    g.add_argument(
        "--unity-port",
        type=_int_in(1024, 65535, "port"),
        metavar="PORT",
        help="first port to listen on (default: 5005 for a player, the first free one above; 5004 for the Editor)",
    )
    g.add_argument(
        "--unity-timeout",
        type=_seconds,
        metavar="SECONDS",
        help=f"wait this long for the player to connect and answer, at most {MAX_UNITY_TIMEOUT_S:.0f} (default: 60)",
    )
    g.add_argument("--unity-log-dir", metavar="DIR", help="keep the player's log here (Player-<worker>.log)")
    g.add_argument(
        "--unity-arg",
        action="append",
        metavar="ARG",
        help="extra player argument, repeatable (e.g. --unity-arg=-force-vulkan)",
    )


def _backend_options(args, backend: str) -> dict:
    """Backend-specific constructor arguments from the command line (only the unity backend has any)."""
    unity = {
        "player": args.unity_player,
        "base_port": args.unity_port,
        "timeout_s": args.unity_timeout,
        "log_folder": args.unity_log_dir,
        "player_args": tuple(args.unity_arg or ()),
    }
    given = {k: v for k, v in unity.items() if v not in (None, ())}
    if backend != "unity":
        if given:
            raise UserError(f"--unity-* options apply to --backend unity only; this command uses the {backend} backend")
        return {}
    return given


def _open_backend(args, world):
    """The command's backend; the embedded one decides validity as ``world``'s tracks do."""
    from rls3_bench.backends import get_backend_class

    options = _backend_options(args, args.backend)
    if args.backend == "embedded" and world.validity_version != 1:
        options["validity_version"] = world.validity_version
    return get_backend_class(args.backend)(image_size=args.size, renderer=args.renderer, **options)


# --- commands -------------------------------------------------------------------------------
def cmd_ls(args) -> int:
    from rls3_bench.backends import BACKENDS
    from rls3_bench.data.evalsets import EVAL_SETS
    from rls3_bench.learners import LEARNERS
    from rls3_bench.scene.assets import ASSETS, ROOMS

    sections = {
        "tracks": _track_lines(),
        "generators": _generator_lines(),
        "backends": BACKENDS.names(),
        "learners": LEARNERS.names(),
        "eval sets": sorted(EVAL_SETS),
        "rooms": [f"{r.id} ({', '.join(f.id for f in r.supports)})" for r in ROOMS.values()],
        "assets": [f"{a.id} ('{a.name}')" for a in ASSETS.values()],
    }
    for title, names in sections.items():
        print(f"{title}:")
        for n in names:
            print(f"  {n}")
    return 0


def _track_lines() -> list[str]:
    """One line per built-in track: key, presets (budgets, seeds), full budget ladder."""
    from rls3_bench.harness.tracks import builtin_track_names, load_track

    lines = []
    for name in builtin_track_names():
        track = load_track(name)
        presets = "; ".join(
            f"{p} {list(pre.budgets)}" + (f" x {pre.seeds} seeds" if pre.seeds else "")
            for p, pre in sorted(track.presets.items())
        )
        lines.append(
            f"{name} (v{track.version}, {track.learner}): budgets {list(track.budgets)}, {track.min_seeds} seeds"
            + (f"; presets: {presets}" if presets else "")
        )
    return lines


def _generator_lines() -> list[str]:
    """One line per registered generator: name, open/closed loop, description (imports no torch)."""
    from rls3_bench.generator import generator_description, generator_names, get_generator_class

    lines = []
    for name in generator_names():
        try:
            cls = get_generator_class(name)
        except UserError as exc:  # a broken third-party entry point is listed, not fatal
            lines.append(f"{name} (cannot be loaded: {exc})")
            continue
        loop = "closed loop" if cls.closed_loop else "open loop"
        lines.append(f"{name} ({loop}): {generator_description(cls)}")
    return lines


def cmd_check_generator(args) -> int:
    from rls3_bench.harness.check_generator import check_generator
    from rls3_bench.harness.generation import GenerationLimits

    failed = False
    for world in args.world or sorted(WORLDS):
        report = check_generator(
            args.generator,
            seed=args.seed,
            rounds=2,
            round_size=args.round_size,
            image_size=args.size,
            limits=GenerationLimits(round_seconds=args.round_seconds),
            world=world,
        )
        for problem in report.problems:
            print(f"rls3-bench: check-generator: world {world}: {_printable(problem)}", file=sys.stderr)
        failed |= bool(report.problems)
        if report.problems:
            continue
        loop = "closed loop" if report.closed_loop else "open loop"
        print(
            f"ok: {report.generator} ({loop}) in world {world}: 2 rounds of {report.round_size} samples, run twice "
            f"with seed {args.seed}, resumed from JSON state, and with seed {args.seed + 1}; "
            f"{report.renders_per_sample:.2f} renders per delivered sample; slowest round "
            f"{report.slowest_round_seconds:.2f} s"
        )
    return 1 if failed else 0


def _read_spec(path: str):
    from rls3_bench.scene.spec import SceneSpec

    p = Path(path)
    if not p.is_file():
        raise UserError(f"spec file {p} does not exist; check the path")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read spec file {p} ({exc}); it must be UTF-8 JSON") from None
    return SceneSpec.from_json(text)


def cmd_render(args) -> int:
    from PIL import Image

    from rls3_bench.data.atomic import atomic_write_bytes
    from rls3_bench.harness.seeds import rng_for
    from rls3_bench.labels.annotate import observe_and_label
    from rls3_bench.labels.captions import make_sample
    from rls3_bench.scene.random_scenes import random_spec

    if (args.spec is None) == (args.seed is None):
        raise UserError("give exactly one of --spec FILE or --seed N")
    _check_output_file(args.output)
    if args.spec_out:
        _check_output_file(args.spec_out, "--spec-out")
    spec = _read_spec(args.spec) if args.spec else None
    world, labels = _world_labels(args)
    with _open_backend(args, world) as backend:
        if spec is None:  # the first valid random scene of this seed
            rng = rng_for("preview", args.seed)
            for _ in range(200):
                labelled = observe_and_label(backend, random_spec(rng, world=world), labels)
                if labelled.valid:
                    break
        else:
            labelled = observe_and_label(backend, spec, labels)
        obs = labelled.observation
        if not obs.valid:
            raise PlacementError(f"scene is infeasible: {obs.invalid_reason}; move or remove that object")
        buf = io.BytesIO()
        Image.fromarray(obs.image).save(buf, format="PNG")
        atomic_write_bytes(args.output, buf.getvalue())
        if args.spec_out:
            atomic_write_bytes(args.spec_out, obs.spec.to_json().encode())
    print(f"wrote {args.output} ({obs.renderer}, {args.size}px)")
    for pair in labelled.pairs:
        print("  " + make_sample(obs, pair).caption)
    return 0


def cmd_preview(args) -> int:
    from rls3_bench.data.atomic import atomic_write_bytes
    from rls3_bench.data.preview import contact_sheet
    from rls3_bench.harness.seeds import rng_for
    from rls3_bench.labels.annotate import uniform_samples

    _check_output_file(args.output)
    world, labels = _world_labels(args)
    with _open_backend(args, world) as backend:
        samples = uniform_samples(
            backend, rng_for("preview", args.seed), args.n, room_ids=world.room_ids, cfg=labels, world=world
        )
    buf = io.BytesIO()
    contact_sheet(samples, cols=args.cols).save(buf, format="PNG")
    atomic_write_bytes(args.output, buf.getvalue())
    print(f"wrote {args.output}: {len(samples)} scenes")
    for s in samples:
        print(f"  [{s.spec.room}] {s.caption}")
    return 0


def cmd_export(args) -> int:
    from rls3_bench.data.sample_tables import write_samples

    _check_output_file(args.output)
    if (args.generator is None) != (args.track is None):
        raise UserError(
            "export --generator NAME and --track TRACK go together (the track sets the backend, image size and "
            "learner the generator runs with); give both, or neither for uniform samples"
        )
    if args.generator is not None:
        samples = _generator_samples(args)
    else:
        from rls3_bench.harness.seeds import rng_for
        from rls3_bench.labels.annotate import uniform_samples

        world, labels = _world_labels(args)
        with _open_backend(args, world) as backend:
            samples = uniform_samples(backend, rng_for("generator", args.seed), args.n, cfg=labels, world=world)
    write_samples(args.output, samples)
    print(
        f"wrote {args.output}: {len(samples)} samples"
        + (f" from {args.generator} on {args.track}" if args.generator else "")
    )
    return 0


def _generator_samples(args) -> list:
    """The first ``args.n`` samples ``args.generator`` delivers in rounds of the track's size, as in a
    run with seed ``args.seed``; a closed-loop generator gets its feedback and queries from the
    track's base learner, which is never trained here."""
    from rls3_bench.generator import BudgetViolation, get_generator_class
    from rls3_bench.harness.cell import make_learner
    from rls3_bench.harness.generation import GeneratorFailure, make_generator, rounds_with_frozen_learner
    from rls3_bench.harness.tracks import load_track

    track = load_track(args.track)
    cls = get_generator_class(args.generator)
    gen = make_generator(cls, args.seed, track.generator_config)
    backend_options = _backend_options(args, track.backend)
    learner = None
    if cls.closed_loop:
        from rls3_bench.learners import get_learner_class

        get_learner_class(track.learner).check_setup(track.model, track.weights, dict(track.recipe), track.device)
        learner = make_learner(track, args.seed)
    samples: list = []
    r = 0
    with contextlib.closing(rounds_with_frozen_learner(gen, track, learner, backend_options)) as rounds:
        try:
            for out, _ in rounds:
                samples.extend(out.delivered)
                r += 1
                if len(samples) >= args.n:
                    break
        except (BudgetViolation, GeneratorFailure) as exc:
            raise UserError(f"generator {args.generator} failed in round {r}: {exc}; fix the generator") from None
    return samples[: args.n]


def cmd_evalset(args) -> int:
    from rls3_bench.data.evalsets import load_eval_set
    from rls3_bench.data.sample_tables import content_hash

    items = load_eval_set(args.name, cache_dir=Path(args.cache_dir) if args.cache_dir else None)
    by_k: dict[int, int] = {}
    for s in items:
        by_k[s.complexity] = by_k.get(s.complexity, 0) + 1
    print(json.dumps({"name": args.name, "items": len(items), "per_complexity": by_k, "hash": content_hash(items)}))
    return 0


def cmd_blind(args) -> int:
    from rls3_bench.analysis.blind import board_priors, identity_blind_ceiling, items_world, positions_suffice
    from rls3_bench.data.evalsets import load_eval_set

    items = load_eval_set(args.name, cache_dir=Path(args.cache_dir) if args.cache_dir else None)
    world = items_world(items)
    for report in board_priors(items, args.captions):
        print(
            f"{report['title']} fitted on {args.captions} uniform-v1 captions of world {world}, on {args.name} "
            f"({report['n_items']} items; chance 0.5): accuracy {report['accuracy']:.3f}"
        )
        for name, values in report["slices"].items():
            for value, v in values.items():
                print(f"  {name:16s} {value:12s} {v['accuracy']:.3f}  ({v['n']} items)")
    print(
        f"identity-blind ceiling (sees where the two objects stand, not which is which): "
        f"{identity_blind_ceiling(items):.3f}; positions alone decide {sum(map(positions_suffice, items))} "
        f"of {len(items)} items (one-term flips of 2- and 3-term captions)"
    )
    return 0


def cmd_variance(args) -> int:
    from rls3_bench.analysis.variance import run_study, table_markdown, twin_set, variance_table
    from rls3_bench.data.atomic import atomic_write_text
    from rls3_bench.data.evalsets import load_eval_set
    from rls3_bench.generator import get_generator_class
    from rls3_bench.harness.tracks import load_track

    track = load_track(args.track).with_preset(args.preset)
    name = get_generator_class(args.generator).name
    out = Path(args.out)
    if not args.table_only:
        run_study(track, args.generator, args.seeds, out, workers=args.workers, threads=args.threads)
    df = variance_table(out, load_eval_set(track.eval_set, track.eval_set_hash), twin_set(track.eval_set))
    atomic_write_text(out / "variance.csv", df.to_csv(index=False))
    text = f"# Variance sources: {name} on {track.key} ({track.eval_set})\n\n{table_markdown(df)}\n"
    atomic_write_text(out / "variance.md", text)
    print(text)
    return 0


def priors_of(eval_set: str, eval_set_hash: str) -> list[dict]:
    """The board's blind reference rows on a track's eval set."""
    from rls3_bench.analysis.blind import board_priors
    from rls3_bench.data.evalsets import load_eval_set

    return board_priors(load_eval_set(eval_set, eval_set_hash))


def _seed_list(args) -> list[int]:
    if args.seed_list:
        from rls3_bench.errors import short_repr

        parts = args.seed_list.split(",")
        if len(parts) > MAX_SEEDS:
            raise UserError(
                f"--seed-list holds {len(parts)} seeds, more than the {MAX_SEEDS} one run takes; split the seeds over "
                "several runs"
            )
        try:
            seeds = [int(x) for x in parts]
        except ValueError:
            raise UserError(
                f"--seed-list {short_repr(args.seed_list)} must be comma-separated integers, e.g. 0,1,2"
            ) from None
        if any(not 0 <= s <= MAX_SEED for s in seeds) or len(set(seeds)) != len(seeds):
            raise UserError(f"--seed-list {short_repr(args.seed_list)} must hold distinct integers in [0, 2**63 - 1]")
        return seeds
    if args.seeds > MAX_SEEDS:  # a track's or preset's seed count; --seeds itself is bounded by its parser
        raise UserError(f"{args.seeds} seeds are more than the {MAX_SEEDS} one run takes; pass --seeds or --seed-list")
    return list(range(args.seeds))


def cmd_run(args) -> int:
    from rls3_bench.generator import generator_names
    from rls3_bench.harness.generation import GenerationLimits
    from rls3_bench.harness.sweep import check_setup, run_benchmark
    from rls3_bench.harness.tracks import load_track

    track = load_track(args.track)
    preset_seeds = None
    if args.preset:
        preset_seeds = track.presets[args.preset].seeds if args.preset in track.presets else None
        track = track.with_preset(args.preset)
    if args.weights:
        track = track.replace(weights=None if args.weights == "random" else args.weights)
    if args.device:
        track = track.replace(device=args.device)
    if args.backend:
        from rls3_bench.backends import get_backend_class

        get_backend_class(args.backend)  # an unknown name fails here, before any cell starts
        track = track.replace(backend=args.backend)
    backend_options = _backend_options(args, track.backend)
    if args.seeds is None:
        args.seeds = preset_seeds or track.min_seeds
    generators = args.generator or [g for g in generator_names() if g in BUILTIN_GENERATORS]
    if args.controls:
        generators = [*generators, *(g for g in control_generators(track.eval_set) if g not in generators)]
    seeds = _seed_list(args)
    cell_options = {
        "backend_options": backend_options,
        "pipeline": args.pipeline,
        "render_workers": args.render_workers,
        "limits": GenerationLimits(round_seconds=args.round_seconds),
    }
    check_setup(
        track, generators, seeds, args.executor, args.workers, args.threads, cell_options
    )  # the cheap checks first
    if args.executor == "local":
        # missing weights or GPU fail here, before any cell folder exists; on Ray the cells' own
        # machines hold the weights and GPUs, so each cell checks there
        from rls3_bench.learners import get_learner_class

        get_learner_class(track.learner).check_setup(track.model, track.weights, dict(track.recipe), track.device)
    if len(seeds) < track.min_seeds:
        print(
            f"rls3-bench: note: {len(seeds)} seeds is fewer than the {track.min_seeds} a leaderboard entry needs",
            file=sys.stderr,
        )
    results = Path(args.results)
    outcomes = run_benchmark(
        track,
        generators,
        seeds,
        results,
        executor=args.executor,
        workers=args.workers,
        ray_address=args.ray_address,
        show_progress=not args.no_progress,
        threads=args.threads,
        cell_options=cell_options,
    )
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        print(f"rls3-bench: cell {o.generator} seed {o.seed} failed: {o.failure}", file=sys.stderr)
    for o in outcomes:
        if o.status == "skipped-locked":
            print(
                f"rls3-bench: note: cell {o.generator} seed {o.seed} is being run by another process; "
                "run this command again after it finishes to include it",
                file=sys.stderr,
            )
    from rls3_bench.analysis.report import print_summary

    print_summary(results, track.key)
    if not args.no_leaderboard:
        paths = publish_results(results, track.key, Path(args.results) / "leaderboard" / track.key)
        print(f"\nleaderboard: {paths['markdown']}\nhtml: {paths.get('html')}\nfigures: {paths['figures_dir']}")
    return 1 if failed else 0


def publish_results(results: Path, track_key: str, out: Path) -> dict:
    """Leaderboard tables and figures from the complete records of one track in a results folder."""
    from rls3_bench.analysis.figures import make_figures
    from rls3_bench.analysis.leaderboard import build_leaderboard, write_leaderboard
    from rls3_bench.analysis.report import records_with_slices
    from rls3_bench.data.evalsets import load_eval_set
    from rls3_bench.harness.sweep import completed_records

    records = [r for r in completed_records(results, track_key) if r["status"] == "complete"]
    if not records:
        raise UserError(f"no complete runs of {track_key} under {results}")
    records = records_with_slices(
        results, track_key, load_eval_set(records[0]["eval_set"], records[0]["eval_set_hash"])
    )
    figures = make_figures(records, out / "figures", formats=("png", "pdf"))
    lb = build_leaderboard(records, priors=priors_of(records[0]["eval_set"], records[0]["eval_set_hash"]))
    paths = write_leaderboard(lb, out, {k: v for k, v in figures.items() if str(v).endswith(".png")})
    print()
    print(lb.summary.to_markdown(index=False))
    print(lb.note)
    return {**paths, "figures_dir": out / "figures"}


def cmd_figures(args) -> int:
    from rls3_bench.analysis.figures import make_figures
    from rls3_bench.harness.sweep import completed_records

    records = [
        r
        for r in completed_records(Path(args.results), None)
        if r["status"] == "complete" and (args.track is None or r["track"].startswith(args.track))
    ]
    if not records:
        raise UserError(f"no complete runs under {args.results}; run `rls3-bench run` first")
    tracks = sorted({r["track"] for r in records})
    if len(tracks) > 1:
        raise UserError(f"records of several tracks ({', '.join(tracks)}); pick one with --track")
    for name, path in make_figures(records, Path(args.out)).items():
        print(f"{name}: {path}")
    return 0


def cmd_submit(args) -> int:
    import contextlib
    import os
    import shutil
    import tempfile

    from rls3_bench.analysis.submissions import CODE_REFERENCE, pack, validate
    from rls3_bench.generator import generator_record_name
    from rls3_bench.harness.tracks import load_track

    track = load_track(args.track)
    name = generator_record_name(args.generator)
    out = Path(args.output) if args.output else Path("leaderboards") / "submissions" / track.key / name
    if (out / "submission.json").exists() and not args.force:
        raise UserError(f"{out} already holds a submission; pass --force to replace it or choose -o")
    authors = [a.strip() for a in args.authors.split(",") if a.strip()]
    if not authors:
        raise UserError("--authors must name at least one author")
    if not CODE_REFERENCE.fullmatch(args.code_reference):
        raise UserError(
            f"--code-reference {args.code_reference!r} must be a URL pinned to a commit "
            "(https://github.com/you/gen@<commit>) or a pinned package (my-package==1.2.0), so reviewers can fetch "
            "exactly the code that ran"
        )
    # packed and validated beside its destination, then moved into place: a bundle that fails its
    # own validation leaves nothing behind, not even the folders made for it
    made = [d for d in reversed(out.absolute().parents) if not d.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        pack(Path(args.results), track.key, name, staging, authors, args.code_reference)
        validate(staging, track=track)
        if out.exists():
            old = staging.with_name(staging.name + ".replaced")
            os.replace(out, old)
            os.replace(staging, out)
            shutil.rmtree(old)
        else:
            os.replace(staging, out)
        made = []
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for d in reversed(made):
            with contextlib.suppress(OSError):
                d.rmdir()
    print(f"wrote and validated {out}")
    return 0


def cmd_validate(args) -> int:
    from rls3_bench.analysis.submissions import SubmissionError, validate

    bad = 0
    for path in args.paths:
        try:
            sub = validate(Path(path))
        except SubmissionError as exc:
            bad += 1
            for problem in exc.problems:
                print(f"rls3-bench: invalid {_printable(f'{path}: {problem}')}", file=sys.stderr)
        else:
            print(f"valid: {path} ({sub.meta['generator']} on {sub.meta['track']}, {len(sub.meta['seeds'])} seeds)")
    return 1 if bad else 0


def cmd_leaderboard(args) -> int:
    from rls3_bench.analysis.leaderboard import build_leaderboard, write_leaderboard
    from rls3_bench.analysis.reproduce import reproduced_labels
    from rls3_bench.analysis.submissions import collect

    by_track, skipped = collect(Path(args.submissions))
    for line in skipped:
        print(f"rls3-bench: skipped {_printable(line)}", file=sys.stderr)
    if not by_track:
        raise UserError(f"no valid submissions under {args.submissions}")
    for track_key, entries in sorted(by_track.items()):
        records = [r for _, sub in entries for r in sub.records]
        reproduced = reproduced_labels([(folder, sub.meta) for folder, sub in entries], Path(args.reproductions))
        meta = entries[0][1].meta
        lb = build_leaderboard(
            records, reproduced=reproduced, priors=priors_of(meta["eval_set"], meta["eval_set_hash"])
        )
        paths = write_leaderboard(lb, Path(args.out) / track_key)
        print(f"{track_key}: {paths['markdown']}\n  {lb.note}")
    return 0


def cmd_reproduce(args) -> int:
    from rls3_bench.analysis.reproduce import ATOL, reproduce, reproduction_path

    seeds = _seed_list(args) if args.seed_list else None
    outcome = reproduce(
        Path(args.submission),
        seeds=seeds,
        n_seeds=args.seeds,
        budget=args.budget,
        generator=args.generator,
        threads=args.threads,
        atol=ATOL if args.atol is None else args.atol,
        out_root=None if args.no_record else Path(args.out),
        progress=lambda msg: print(msg, file=sys.stderr),
    )
    for s in outcome["seeds"]:
        counters = (
            (
                "cost counters equal"
                if not s["counter_mismatches"]
                else f"cost counters differ: {', '.join(s['counter_mismatches'])}"
            )
            if s["counters_compared"]
            else "cost not compared (below the top budget)"
        )
        print(
            f"seed {s['seed']} budgets {s['budgets']}: {s['verdict']} (max |score difference| {s['max_abs_diff']:.3g}, "
            f"{s['decision_flips']} decisions flipped; {counters})"
        )
    print(
        f"{outcome['generator']} on {outcome['track']}: {outcome['verdict']}"
        + (
            ""
            if args.no_record
            else f"; recorded in {reproduction_path(Path(args.out), outcome['track'], outcome['generator'])}"
        )
    )
    return 0 if outcome["verdict"] != "differs" else 1


BUILTIN_GENERATORS = ("uniform-v1", "balanced-v1", "weakness-v1", "rls3-random-v1", "rls3-sac-v1")


def control_generators(eval_set: str | None = None) -> list[str]:
    """The registered control generators (class attribute ``control``), in name order; with
    ``eval_set``, without the eval-matched controls of other eval-set versions."""
    from rls3_bench.data.evalsets import EVAL_SETS
    from rls3_bench.generator import generator_names, get_generator_class

    version = EVAL_SETS[eval_set].version if eval_set in EVAL_SETS else None
    return [
        g
        for g in generator_names()
        if (cls := get_generator_class(g)).control and (version is None or cls.matches_eval_version in (None, version))
    ]


def cmd_report(args) -> int:
    import pandas as pd

    from rls3_bench.analysis.report import compare_table, results_table, slices_report, stage_shares

    results = Path(args.results)
    if args.metric != "accuracy" and not args.compare:
        raise UserError(f"--metric {args.metric} goes with --compare GENERATOR; add it or drop --metric")
    if args.compare:
        df = compare_table(results, args.compare, metric=args.metric)
    elif args.stages:
        df = stage_shares(results).reset_index()
    elif args.slices:
        df = slices_report(results)
    else:
        df = results_table(results)
    if df.empty:
        raise UserError(f"no complete runs under {args.results}; run `rls3-bench run` first")
    with pd.option_context("display.max_rows", 500, "display.width", 200):
        print(df.to_string(index=False) if not args.csv else df.to_csv(index=False))
    return 0


def cmd_pretrain(args) -> int:
    from rls3_bench.harness.tracks import load_track
    from rls3_bench.learners.pretrain import DEFAULT_OUT_DIR, PretrainConfig, pretrain

    track = load_track(args.track)
    for flag in ("object_negatives", "object_positions", "pair_image_lr_scale"):
        if not 0.0 <= getattr(args, flag) < float("inf"):
            raise UserError(f"--{flag.replace('_', '-')} must be a finite weight >= 0, got {getattr(args, flag)}")
    out = Path(args.out) if args.out else DEFAULT_OUT_DIR
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for the weights and their card")
    cfg = PretrainConfig(
        scenes=args.scenes,
        epochs=args.epochs,
        seed=args.seed,
        lr=args.lr,
        object_negatives=args.object_negatives,
        vision_epochs=args.vision_epochs,
        vision_lr=args.vision_lr,
        object_positions=args.object_positions,
        pair_steps=args.pair_steps,
        pair_pool=args.pair_pool,
        pair_axes=tuple(dict.fromkeys(args.pair_axes)),
        pair_lr=args.pair_lr,
        pair_image_lr_scale=args.pair_image_lr_scale,
    )
    card = pretrain(track, cfg, out_dir=out)
    print(json.dumps(card, indent=2))
    return 0


# --- parser ---------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (the problem, then where to read the usage)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rls3-bench",
        description="Benchmark synthetic data generators that teach vision-language models spatial relations.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("ls", help="list tracks, generators, backends, learners, eval sets, rooms and assets")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser(
        "check-generator",
        help="check a generator before a run: seeded, resumable from JSON state, "
        "picklable, within the harness's limits (docs/generators.md)",
    )
    p.add_argument(
        "generator", help="generator name or module:Class (the module must be importable: installed or on PYTHONPATH)"
    )
    p.add_argument(
        "--seed", type=_seed, default=0, help="seed of the checked runs (the other-seed run uses seed + 1; default: 0)"
    )
    p.add_argument(
        "--round-size",
        type=_int_in(1, 256, "round size"),
        default=8,
        help="samples per checked round, at most 256 (default: 8)",
    )
    p.add_argument("--size", type=_image_size, default=64, help="image size in pixels (default: 64)")
    p.add_argument(
        "--round-seconds",
        type=_seconds,
        help="time limit per round (default: as in a run, 2 s per sample, at least 60 s)",
    )
    p.add_argument(
        "--world",
        type=int,
        choices=sorted(WORLDS),
        action="append",
        help="check in this world only (repeatable; default: every world, since a track may run in any)",
    )
    p.set_defaults(func=cmd_check_generator)

    p = sub.add_parser("render", help="render one scene (a SceneSpec JSON file or a random one) to PNG")
    p.add_argument("--spec", help="SceneSpec JSON file")
    p.add_argument("--seed", type=_seed, help="render the first valid random scene of this seed")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument("--spec-out", help="also write the rendered SceneSpec as JSON here")
    _world_arg(p)
    _backend_args(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("preview", help="contact sheet of random valid scenes with their captions")
    p.add_argument(
        "-n",
        type=_int_in(1, MAX_PREVIEW, "scene count"),
        default=16,
        help=f"number of scenes, at most {MAX_PREVIEW} (default: 16)",
    )
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument(
        "--cols", type=_int_in(1, MAX_COLS, "column count"), default=4, help=f"columns, at most {MAX_COLS} (default: 4)"
    )
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    _world_arg(p)
    _backend_args(p)
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser(
        "export",
        help="write generated samples to Parquet (images as PNG bytes): uniform ones, or what a "
        "generator delivers on a track",
    )
    p.add_argument(
        "-n",
        type=_int_in(1, MAX_EXPORT, "sample count"),
        required=True,
        help=f"number of samples, at most {MAX_EXPORT} (more: several exports with different --seed)",
    )
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument(
        "--generator",
        help="registered name or module:Class; its samples as delivered in a run with --seed "
        "(a closed-loop one driven by the track's base learner, untrained); needs --track",
    )
    p.add_argument(
        "--track",
        help="with --generator: the track whose backend, image size, renderer, round size and "
        "learner are used (the --backend, --size and --renderer options are not)",
    )
    p.add_argument("-o", "--output", required=True, help="Parquet file to write")
    _world_arg(p)
    _backend_args(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("evalset", help="build (or load from cache) an eval set and print its hash")
    p.add_argument("name")
    p.add_argument("--cache-dir", help="where eval sets are cached (default: ~/.cache/rls3-bench/evalsets)")
    p.set_defaults(func=cmd_evalset)

    p = sub.add_parser(
        "blind", help="the object-prior and room-prior blind scorers' accuracy on an eval set, overall and per slice"
    )
    p.add_argument("name", help="eval set name (rls3-bench ls)")
    p.add_argument(
        "--captions",
        type=_int_in(10, 100_000, "caption count"),
        default=1000,
        help="uniform-v1 captions the scorers are fitted on, 10 to 100000 (default: 1000, about 5 s)",
    )
    p.add_argument("--cache-dir", help="where eval sets are cached (default: ~/.cache/rls3-bench/evalsets)")
    p.set_defaults(func=cmd_blind)

    p = sub.add_parser(
        "variance",
        help="where a cell's per-seed variance comes from: generator seed, learner seed and eval items, one at a time",
    )
    p.add_argument("--track", required=True, help="track name, key or YAML path")
    p.add_argument("--preset", help="one of the track's presets (its budgets)")
    p.add_argument("--generator", default="uniform-v1", help="generator name or module:Class (default: uniform-v1)")
    p.add_argument("--seeds", type=_int_in(2, 100, "seeds per source"), default=5, help="seeds per source, 2 to 100")
    p.add_argument("--workers", type=_workers, default=1, help="cells run side by side (default: 1)")
    p.add_argument("--threads", type=_workers, default=1, help="torch threads per cell (default: 1)")
    p.add_argument("--out", required=True, help="study folder; cells are kept there, so a study resumes")
    p.add_argument("--table-only", action="store_true", help="only rebuild the table from the cells in --out")
    p.set_defaults(func=cmd_variance)

    p = sub.add_parser(
        "pretrain", help="train the base weights of a tiny track (spatially naive unless --pair-steps is given)"
    )
    p.add_argument("--track", required=True, help="a tiny track (clip-tiny, paligemma-tiny)")
    p.add_argument(
        "--scenes",
        type=_int_in(1, MAX_PRETRAIN_SCENES, "scene count"),
        default=3000,
        help=f"rendered scenes, at least one batch, at most {MAX_PRETRAIN_SCENES} (default: 3000)",
    )
    p.add_argument(
        "--epochs", type=_int_in(1, MAX_EPOCHS, "epoch count"), default=8, help=f"at most {MAX_EPOCHS} (default: 8)"
    )
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--lr", type=_learning_rate, default=5e-4, help="learning rate from scratch (default: 5e-4)")
    p.add_argument(
        "--object-negatives",
        type=float,
        default=0.0,
        metavar="W",
        help="weight of a ranking term against one object-swapped caption per scene (default: 0, captions only)",
    )
    p.add_argument(
        "--object-positions",
        type=float,
        default=0.0,
        metavar="W",
        help="weight of a term that regresses each object's image position from the image embedding "
        "(clip only; default: 0, none)",
    )
    p.add_argument(
        "--vision-epochs",
        type=_int_in(0, MAX_EPOCHS, "epoch count"),
        default=0,
        metavar="N",
        help="first train the vision tower to classify which objects and room a scene holds, N passes "
        "(paligemma only; default: 0, no vision stage)",
    )
    p.add_argument(
        "--vision-lr", type=_learning_rate, default=5e-4, help="learning rate of the vision stage (default: 5e-4)"
    )
    p.add_argument(
        "--pair-steps",
        type=_int_in(0, MAX_PAIR_STEPS, "step count"),
        default=0,
        metavar="N",
        help="last, fine-tune N steps on minimal pairs of the track's world, the one stage with spatial words "
        "(docs/learners.md; default: 0, none, a spatially naive base)",
    )
    p.add_argument(
        "--pair-pool",
        type=_int_in(1, MAX_PAIR_POOL, "pair count"),
        default=3000,
        metavar="N",
        help=f"minimal pairs in the pair stage's fixed pool, at most {MAX_PAIR_POOL} (default: 3000)",
    )
    p.add_argument(
        "--pair-axes",
        nargs="+",
        choices=sorted(AXES),
        default=["lateral", "vertical", "depth"],
        help="axes of the pairs, each pair's drawn from them in the order named (default: all three)",
    )
    p.add_argument(
        "--pair-lr", type=_learning_rate, default=5e-4, help="the pair stage's learning rate (default: 5e-4)"
    )
    p.add_argument(
        "--pair-image-lr-scale",
        type=float,
        default=0.1,
        metavar="S",
        help="the image tower's share of --pair-lr (clip; default: 0.1; 1 for a learner without one, as paligemma)",
    )
    p.add_argument(
        "--out",
        help="folder for the weights and their card (default: base-weights/ here; "
        "run on them with `rls3-bench run --weights <folder>/<model>-base.safetensors`)",
    )
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("run", help="run the benchmark: a track x generators x seeds")
    p.add_argument("--track", default="clip-tiny", help="track name or YAML path (default: clip-tiny)")
    p.add_argument("--preset", help="smoke, quick or full (budgets and seed count of the track's preset)")
    p.add_argument(
        "--generator", action="append", help="generator name or module:Class (repeatable; default: all built-ins)"
    )
    p.add_argument(
        "--controls",
        action="store_true",
        help="also run the control generators (rls3-bench ls), the board's "
        "unranked reference rows; not run by default, so the default run's tables stay those of the real generators",
    )
    p.add_argument(
        "--seeds",
        type=_seed_count,
        help=f"number of seeds 0..N-1, at most {MAX_SEEDS} (default: the preset's or the track's minimum)",
    )
    p.add_argument("--seed-list", help="explicit comma-separated seeds instead of --seeds")
    p.add_argument("--results", default="runs", help="results folder (default: runs/)")
    p.add_argument("--executor", default="local", help="local (default) or ray")
    p.add_argument(
        "--workers", type=_workers, default=1, help=f"local worker processes, at most {MAX_WORKERS} (default: 1)"
    )
    p.add_argument("--ray-address", help="address of a running Ray cluster (default: start a local one)")
    p.add_argument(
        "--threads",
        type=_workers,
        help=f"torch threads per cell, at most {MAX_WORKERS} (default: cores / workers locally, 1 on Ray); "
        "scores are bit-identical across executors at equal thread counts",
    )
    p.add_argument("--weights", help="override the track's base weights (a path, a pretrained tag, or 'random')")
    p.add_argument("--device", help="override the track's device (cpu, cuda)")
    p.add_argument("--backend", help="override the track's simulator backend (embedded, unity; see `rls3-bench ls`)")
    _unity_args(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--render-workers",
        type=_int_in(1, MAX_RENDER_WORKERS, "worker count"),
        default=1,
        help=f"render processes per cell (at most {MAX_RENDER_WORKERS}) for generators that "
        "propose scenes in batches (ctx.render_many; embedded backend; default: 1)",
    )
    p.add_argument(
        "--pipeline",
        default="auto",
        help="auto (default), on or off: make open-loop generators' rounds ahead of "
        "training in a worker process per cell; auto: only where it gets a core of its own (same records either "
        "way; docs/performance.md)",
    )
    p.add_argument(
        "--round-seconds",
        type=_seconds,
        metavar="SECONDS",
        help="time limit of one generator round; a round "
        "past it fails its cell (default: 2 s per sample of the round, at least 60 s; docs/generators.md)",
    )
    p.add_argument("--no-leaderboard", action="store_true", help="skip the leaderboard and figures at the end")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("figures", help="paper-style figures from a results folder")
    p.add_argument("--results", default="runs")
    p.add_argument("--track", help="track key prefix when the folder holds several tracks")
    p.add_argument("--out", default="out/figures")
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("submit", help="pack a generator's runs into a leaderboard submission (then validated)")
    p.add_argument("--results", default="runs")
    p.add_argument("--track", required=True)
    p.add_argument(
        "--generator",
        required=True,
        help="generator name (a module:Class generator's declared name will do) or module:Class",
    )
    p.add_argument("--authors", required=True, help="comma-separated author names")
    p.add_argument(
        "--code-reference", required=True, help="where the generator's code lives (URL@commit or package==version)"
    )
    p.add_argument("-o", "--output", help="submission folder (default: leaderboards/submissions/<track>/<generator>)")
    p.add_argument("--force", action="store_true", help="replace an existing submission")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("validate", help="check submissions: schema, hashes, budgets, seeds, re-scored metrics")
    p.add_argument("paths", nargs="+", help="submission folders")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("leaderboard", help="rebuild leaderboard tables from all valid submissions")
    p.add_argument(
        "--submissions", default="leaderboards/submissions", help="submissions, one per <track>/<generator>/ folder"
    )
    p.add_argument(
        "--reproductions",
        default="leaderboards/reproductions",
        help="outcomes of `rls3-bench reproduce` shown beside entries",
    )
    p.add_argument("--out", default="leaderboards")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser(
        "reproduce", help="re-run seeds of a submission from its generator and compare the per-item predictions"
    )
    p.add_argument("submission", help="submission folder")
    p.add_argument("--seeds", type=_seed_count, default=1, help="re-run the submission's first N seeds (default: 1)")
    p.add_argument("--seed-list", help="explicit comma-separated seeds of the submission instead of --seeds")
    p.add_argument(
        "--budget",
        type=_int_in(1, MAX_BUDGET, "budget"),
        help="stop at this budget of the ladder (default: the top; costs are compared only there)",
    )
    p.add_argument(
        "--generator", help="module:Class of the generator when it is not installed under the submission's name"
    )
    p.add_argument(
        "--threads",
        type=_workers,
        help="torch threads (default: the count the submission recorded, else the "
        "CPU count); bit-identical scores need the submission's machine type and thread count",
    )
    p.add_argument(
        "--atol",
        type=float,
        help="largest score difference still counted as close across machine types (default: 0.001)",
    )
    p.add_argument(
        "--out",
        default="leaderboards/reproductions",
        help="where the outcome is recorded (default: leaderboards/reproductions)",
    )
    p.add_argument("--no-record", action="store_true", help="print the outcome only")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("report", help="table of all complete runs under a results folder")
    p.add_argument("--results", default="runs")
    p.add_argument("--csv", action="store_true", help="CSV instead of a text table")
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--compare", metavar="GENERATOR", help="paired comparison of GENERATOR with every other generator per budget"
    )
    what.add_argument("--stages", action="store_true", help="mean seconds and share of each loop stage per generator")
    what.add_argument(
        "--slices",
        action="store_true",
        help="accuracy per slice (complexity, negative kind, flipped axis, stacked, "
        "pair-distance tercile, group score) per generator at the top budget, mean over seeds",
    )
    p.add_argument(
        "--metric",
        default="accuracy",
        choices=COMPARE_METRICS,
        help="what --compare compares (default accuracy; group_score on sets of minimal pairs; id_accuracy on "
        "the track's in-distribution set)",
    )
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = _sigterm_interrupts()
    try:
        return args.func(args)
    except UserError as exc:
        print(f"rls3-bench: error: {_printable(str(exc))}", file=sys.stderr)
        return 2
    except (
        OSError
    ) as exc:  # a full disk, a read-only or vanished folder: every write is atomic, so nothing is half-written
        print(
            f"rls3-bench: error: {_printable(_os_error_text(exc))}; fix that and run the command again"
            + (" (finished cells are kept; the run resumes from its checkpoints)" if args.command == "run" else ""),
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("rls3-bench: interrupted (finished results are kept; run the command again to resume)", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


def _os_error_text(exc: OSError) -> str:
    """The OS's reason and the file it concerns; a write's temporary file (``.<name>.<random>.tmp``,
    rls3_bench.data.atomic) is named by the file it was to become."""
    import re

    if not exc.filename:
        return str(exc.strerror or exc)
    path = Path(exc.filename)
    match = re.fullmatch(r"\.(.+)\.[^.]+\.tmp", path.name)
    return f"{exc.strerror or exc} ({path.with_name(match.group(1)) if match else path})"


def _printable(text: str) -> str:
    """``text`` with control characters escaped, so a message quoting a path or a name stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _sigterm_interrupts():
    """SIGTERM (kill, a job scheduler's stop) unwinds like Ctrl-C, so worker processes are stopped too.
    Returns the handler to restore afterwards (None if none was installed)."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return None
    return signal.signal(signal.SIGTERM, interrupt)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
