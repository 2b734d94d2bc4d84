"""The figures of "Does RL selection help?" (README.md in this folder).

    python docs/results/rl-selection/figures.py --drive DRIVE --results RESULTS --out OUT

DRIVE is the folder ``fixed_learner.py`` wrote; RESULTS the run results folder of the comparison
(per-episode histories of the agents' cells). Writes ``fixed_learner.png`` (each generator's
samples scored by the one fixed learner, per round), ``actions.png`` (the agents' action
saturation, support and slot choices, validity), ``pair_geometry.png`` (pair distance and stacked
share of what each generator delivers) and ``sac_training.png`` (entropy coefficient and J2 over
episodes in the runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

#: an action value this close to the box's edge counts as saturated (tanh-squashed SAC policies pile up there)
SATURATED = 0.95
ORDER = ("uniform-v1", "uncertainty-v1", "rls3-random-v2", "rls3-sac-v2")
ACTION_NAMES = ("slot", "asset", "support", "x", "y", "yaw")


def _read(folder: Path, kind: str) -> pd.DataFrame:
    frames = [pd.read_csv(p) for p in sorted(folder.glob(f"{kind}-*.csv.gz"))]
    if not frames:
        raise SystemExit(f"no {kind}-*.csv.gz in {folder}; run fixed_learner.py first")
    return pd.concat(frames, ignore_index=True)


def _generators(df: pd.DataFrame) -> list[str]:
    present = set(df["generator"])
    return [g for g in ORDER if g in present] + sorted(present - set(ORDER))


def summary_table(samples: pd.DataFrame) -> str:
    """Markdown: per generator, the fixed learner's mean loss and error on its samples (mean over
    seeds, SD over seeds), the loss in its first and its last round, and what the samples hold."""
    lines = [
        "| generator | seeds | samples a seed | loss (SD) | 2-way error | loss first round | loss last round "
        "| pure above/below | 3 terms | pair distance (m) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in _generators(samples):
        d = samples[samples["generator"] == g]
        loss = d.groupby("seed")["loss"].mean()
        first, final = (d[d["round"] == r]["loss"].mean() for r in (0, d["round"].max()))
        sd = f"{loss.std(ddof=1):.3f}" if loss.size > 1 else "-"
        lines.append(
            f"| {g} | {loss.size} | {len(d) // loss.size:,} | {loss.mean():.3f} ({sd}) | {1 - d['correct'].mean():.3f} "
            f"| {first:.3f} | {final:.3f} | {d['stacked'].mean():.1%} | {(d['complexity'] == 3).mean():.1%} "
            f"| {d['pair_distance'].mean():.3f} |"
        )
    return "\n".join(lines)


def _finish(fig, axes, xlabel: str, title: str):
    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def fixed_learner_figure(samples: pd.DataFrame):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    # mean over seeds of each seed's round mean
    per_round = samples.assign(error=~samples["correct"]).groupby(["generator", "seed", "round"])[["loss", "error"]]
    per_round = per_round.mean().groupby(["generator", "round"]).mean()
    for g in _generators(samples):
        for ax, col in ((axes[0], "loss"), (axes[1], "error")):
            ax.plot(per_round.loc[g, col], marker="o", ms=3, label=g)
    axes[0].set_ylabel("mean loss of the fixed learner")
    axes[1].set_ylabel("2-way error of the fixed learner")
    axes[1].legend(frameon=False, fontsize=8)
    return _finish(
        fig,
        axes,
        "round (of the track's round size)",
        "Delivered samples scored by one fixed learner (the base; mean over seeds)",
    )


def actions_figure(steps: pd.DataFrame):
    gens = _generators(steps)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    width = 0.8 / len(gens)
    for i, g in enumerate(gens):
        d = steps[steps["generator"] == g]
        sat = [(d[f"a{k}"].abs() >= SATURATED).mean() for k in range(len(ACTION_NAMES))]
        axes[0].bar(np.arange(len(ACTION_NAMES)) + i * width, sat, width, label=g)
        slots = d["slot"].value_counts(normalize=True).reindex(range(3), fill_value=0.0)
        axes[1].bar(np.arange(3) + i * width, slots.values, width, label=g)
        kinds = [
            (d["support"] == "surface").mean(),
            (d["support"] == "object").mean(),
            d["valid"].mean(),
            d.loc[d["support"] == "object", "valid"].mean() if (d["support"] == "object").any() else 0.0,
        ]
        axes[2].bar(np.arange(4) + i * width, kinds, width, label=g)
    axes[0].set_xticks(np.arange(len(ACTION_NAMES)) + 0.4 - width / 2, ACTION_NAMES)
    axes[0].set_ylabel(f"share of steps with |a| >= {SATURATED}")
    axes[0].set_title("action saturation per dimension", fontsize=9)
    axes[1].set_xticks(np.arange(3) + 0.4 - width / 2, ["slot 0", "slot 1", "slot 2"])
    axes[1].set_title("edited slot", fontsize=9)
    axes[2].set_xticks(
        np.arange(4) + 0.4 - width / 2, ["on furniture", "on an object", "valid", "valid | on object"], fontsize=8
    )
    axes[2].set_title("support chosen and validity", fontsize=9)
    axes[2].legend(frameon=False, fontsize=8)
    for ax in axes:
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def pair_geometry_figure(samples: pd.DataFrame):
    gens = _generators(samples)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    bins = np.linspace(0, samples["pair_distance"].quantile(0.99), 25)
    for g in gens:
        d = samples[samples["generator"] == g]
        axes[0].hist(d["pair_distance"], bins=bins, histtype="step", density=True, label=g, lw=1.5)
    axes[0].set_xlabel("horizontal distance of the captioned pair (m)")
    axes[0].set_ylabel("density")
    axes[0].legend(frameon=False, fontsize=8)
    shares = samples.assign(**{f"c{k}": samples["complexity"] == k for k in (1, 2, 3)}).groupby("generator")
    shares = shares[["c1", "c2", "c3", "stacked"]].mean()
    width = 0.8 / len(gens)
    for i, g in enumerate(gens):
        axes[1].bar(np.arange(4) + i * width, shares.loc[g], width, label=g)
    axes[1].set_xticks(np.arange(4) + 0.4 - width / 2, ["1 term", "2 terms", "3 terms", "pure above/below"])
    axes[1].set_ylabel("share of delivered samples")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def sac_training_figure(results: Path):
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    colours = {"rls3-random-v2": "tab:green", "rls3-sac-v2": "tab:red"}
    for g, colour in colours.items():
        for rec_path in sorted(results.glob(f"*/{g}/seed-*/record.json")):
            hist = pd.DataFrame(json.loads(rec_path.read_text()).get("generator_history") or [])
            if hist.empty:
                continue
            smooth = hist.rolling(20, min_periods=1).mean(numeric_only=True)
            axes[0].plot(smooth["extrinsic_reward"], color=colour, alpha=0.4, lw=0.8)
            axes[1].plot(smooth["learner_error"], color=colour, alpha=0.4, lw=0.8)
            if "ent_coef" in hist:
                axes[2].plot(hist["ent_coef"], color=colour, alpha=0.4, lw=0.8)
        axes[0].plot([], [], color=colour, label=g)
    axes[0].set_ylabel("J2 (relative to the running baseline)")
    axes[1].set_ylabel("episode 2-way error of the cell's learner")
    axes[2].set_ylabel("SAC entropy coefficient")
    axes[2].set_yscale("log")
    axes[0].legend(frameon=False, fontsize=8)
    return _finish(fig, axes, "episode", "In the runs: one line per seed, moving mean over 20 episodes")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--drive", type=Path, required=True)
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    samples, steps = _read(args.drive, "samples"), _read(args.drive, "steps")
    print(summary_table(samples))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, fig in (
        ("fixed_learner", fixed_learner_figure(samples)),
        ("actions", actions_figure(steps)),
        ("pair_geometry", pair_geometry_figure(samples)),
        ("sac_training", sac_training_figure(args.results)),
    ):
        tmp = args.out / f".{name}.png"
        fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        tmp.replace(args.out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
