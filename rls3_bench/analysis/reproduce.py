"""Re-run seeds of a submission from its installed generator and compare the per-item predictions.

Validation reads data only, so it cannot catch a bundle forged consistently (predictions, metrics
and cost made up together). Reproduction runs the same cells again, on the same track (the one the
bundle's ``track_digest`` names), and compares every eval item's two scores at every budget it ran:

* ``identical``: every score equal bit for bit. Expected on the same machine type with the same
  torch thread count (CPU float reductions depend on both);
* ``close``: every score within ``atol`` (default :data:`ATOL`) and no item's true-vs-corrupted
  decision flipped: what another machine type gives when the run is honest;
* ``differs``: anything else.

When the whole ladder ran, the cost counters (scenes rendered, invalid scenes, feedback queries,
RL steps and updates), which are deterministic per seed, are compared too. ``--budget`` stops the
cells at a lower rung (the schedule is round by round, so the budgets below it are the same cells).

The outcome is written as ``<reproductions>/<track>/<generator>.json`` with the SHA-256 of the bundle
it checked; the leaderboard shows it beside the entry while the bundle is unchanged.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from rls3_bench.errors import UserError

SCHEMA_VERSION = 1
#: largest absolute score difference that still counts as the same run on another machine type
ATOL = 1e-3
#: the cost counters a seed determines
COUNTERS = ("samples_delivered", "scenes_rendered", "invalid_scenes", "feedback_queries", "rl_env_steps", "rl_updates")
VERDICTS = ("identical", "close", "differs")


@dataclass(frozen=True)
class SeedCheck:
    seed: int
    budgets: tuple[int, ...]
    max_abs_diff: float
    decision_flips: int
    counters_compared: bool
    counter_mismatches: tuple[str, ...]
    verdict: str


def bundle_sha256(folder: Path) -> str:
    """SHA-256 over the bundle's two files (submission.json, then predictions.parquet)."""
    from rls3_bench.analysis.submissions import META_FILE, PRED_FILE

    h = hashlib.sha256()
    for name in (META_FILE, PRED_FILE):
        h.update(hashlib.sha256((Path(folder) / name).read_bytes()).digest())
    return h.hexdigest()


def reproduction_path(root: Path, track_key: str, generator: str) -> Path:
    return Path(root) / track_key / f"{generator}.json"


def compare_seed(
    seed: int,
    bundle_rows: dict[int, list[dict]],
    rerun: dict[int, list[dict]],
    atol: float,
    bundle_cost: dict | None = None,
    rerun_cost: dict | None = None,
) -> SeedCheck:
    """One seed's re-run predictions (budget -> rows) against the bundle's; every re-run budget must be
    in the bundle. Costs are compared when both are given (a full-ladder re-run)."""
    diffs, flips = [], 0
    for budget, rows in sorted(rerun.items()):
        theirs = {r["item_id"]: r for r in bundle_rows.get(budget, [])}
        if set(theirs) != {r["item_id"] for r in rows}:
            raise UserError(
                f"seed {seed} budget {budget}: the bundle's items are not the re-run's; is the eval set the same?"
            )
        for r in rows:
            t = theirs[r["item_id"]]
            diffs += [abs(r["score_true"] - t["score_true"]), abs(r["score_negative"] - t["score_negative"])]
            flips += (r["score_true"] > r["score_negative"]) != (t["score_true"] > t["score_negative"])
    worst = float(max(diffs)) if diffs else 0.0
    mismatched = ()
    if bundle_cost is not None and rerun_cost is not None:
        mismatched = tuple(k for k in COUNTERS if bundle_cost.get(k) != rerun_cost.get(k))
    verdict = "identical" if worst == 0.0 else "close" if worst <= atol and flips == 0 else "differs"
    if mismatched:
        verdict = "differs"
    return SeedCheck(seed, tuple(sorted(rerun)), worst, flips, bundle_cost is not None, mismatched, verdict)


def reproduce(
    folder: Path,
    seeds: list[int] | None = None,
    n_seeds: int = 1,
    budget: int | None = None,
    generator: str | None = None,
    threads: int | None = None,
    atol: float = ATOL,
    out_root: Path | None = None,
    track=None,
    eval_items=None,
    progress=None,
) -> dict:
    """Validate the bundle at ``folder``, re-run ``seeds`` (default: its first ``n_seeds``) up to
    ``budget`` (default: its top budget), compare, and write the outcome under ``out_root`` when
    given. ``generator``: a ``module:Class`` path when the generator is not installed under its name.
    ``threads``: torch threads (default: the count the bundle recorded, else the CPU count).
    Returns the outcome (a JSON-native dict)."""
    from rls3_bench.analysis.submissions import read_bundle_rows, track_variant, validate
    from rls3_bench.data.atomic import atomic_write_json
    from rls3_bench.generator import get_generator_class
    from rls3_bench.harness.records import provenance
    from rls3_bench.harness.sweep import execute_cell

    folder = Path(folder)
    if not 0 <= atol < float("inf"):
        raise UserError(f"--atol must be a finite number >= 0, got {atol}")
    sub = validate(folder, eval_items, track)  # a bundle that does not validate is not worth re-running
    meta = sub.meta
    cls = get_generator_class(generator or meta["generator"])
    if cls.name != meta["generator"]:
        raise UserError(
            f"{generator} is generator {cls.name}, the submission is {meta['generator']}; give the submission's own "
            "generator"
        )
    if track is None:
        from rls3_bench.harness.tracks import builtin_track_keys, load_track

        track = next(t for t in map(load_track, builtin_track_keys()) if t.key == meta["track"])  # validate found it
    ran = track_variant(track, meta["track_digest"])
    if ran is None:  # validate refused this already; kept for callers that pass their own track
        raise UserError(f"the submission's track_digest is not track {track.key}'s; nothing to reproduce it with")
    wanted = seeds if seeds is not None else meta["seeds"][:n_seeds]
    unknown = sorted(set(wanted) - set(meta["seeds"]))
    if unknown or not wanted:
        raise UserError(f"seeds {unknown or wanted} are not the submission's ({meta['seeds']}); choose among them")
    top = budget if budget is not None else ran.budgets[-1]
    if top not in ran.budgets:
        raise UserError(f"--budget {top} is not on the submission's ladder {list(ran.budgets)}; choose one of those")
    full = top == ran.budgets[-1]
    cut = ran.replace(budgets=tuple(b for b in ran.budgets if b <= top), presets={})
    cells = {c["seed"]: c for c in meta["cells"]}
    recorded = cells[wanted[0]]["provenance"].get("torch_threads")
    threads = threads or (recorded if isinstance(recorded, int) and recorded > 0 else None) or os.cpu_count() or 1
    rows = read_bundle_rows(folder)
    checks = []
    for seed in wanted:
        if progress:
            progress(f"re-running {meta['generator']} seed {seed} to budget {top}")
        record, predictions = execute_cell(
            cut.to_dict(), cls.name if generator is None else generator, seed, None, threads
        )
        if record["status"] != "complete":
            raise UserError(
                f"seed {seed} failed when re-run ({record.get('failure')}); the submission cannot be reproduced here"
            )
        theirs = {b: [r for r in rows if r["seed"] == seed and r["budget"] == b] for b in (0, *cut.budgets)}
        checks.append(
            compare_seed(
                seed,
                theirs,
                {int(b): ps for b, ps in predictions.items()},
                atol,
                cells[seed]["cost"] if full else None,
                record["cost"] if full else None,
            )
        )
    verdict = max((c.verdict for c in checks), key=VERDICTS.index)
    outcome = {
        "schema_version": SCHEMA_VERSION,
        "track": meta["track"],
        "generator": meta["generator"],
        "bundle_sha256": bundle_sha256(folder),
        "verdict": verdict,
        "budget": top,
        "full_ladder": full,
        "atol": atol,
        "torch_threads": threads,
        "seeds": [
            {
                "seed": c.seed,
                "budgets": list(c.budgets),
                "max_abs_diff": c.max_abs_diff,
                "decision_flips": c.decision_flips,
                "counters_compared": c.counters_compared,
                "counter_mismatches": list(c.counter_mismatches),
                "verdict": c.verdict,
            }
            for c in checks
        ],
        "hardware": provenance()["hardware"],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if out_root is not None:
        atomic_write_json(reproduction_path(out_root, meta["track"], meta["generator"]), outcome)
    return outcome


def describe(outcome: dict) -> str:
    """The leaderboard's words for a reproduction: ``identical: seed 0 to 128``."""
    seeds = ", ".join(str(s["seed"]) for s in outcome["seeds"])
    plural = "s" if len(outcome["seeds"]) > 1 else ""
    return f"{outcome['verdict']}: seed{plural} {seeds} to {outcome['budget']}"


def reproduced_labels(entries: list[tuple[Path, dict]], root: Path) -> dict[str, str]:
    """Generator -> :func:`describe` of its reproduction under ``root``, for the bundles (folder,
    meta) whose recorded SHA-256 is still theirs; a stale or unreadable record counts as none."""
    from rls3_bench.data.atomic import strict_json_loads

    labels = {}
    for folder, meta in entries:
        path = reproduction_path(root, meta["track"], meta["generator"])
        if not path.is_file():
            continue
        try:
            outcome = strict_json_loads(path.read_bytes())
            if outcome.get("bundle_sha256") == bundle_sha256(folder) and outcome.get("verdict") in VERDICTS:
                labels[meta["generator"]] = describe(outcome)
        except (ValueError, KeyError, TypeError, AttributeError, OSError):
            continue
    return labels
