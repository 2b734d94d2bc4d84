"""Figures: every figure is written in every format, deterministically, from records alone."""

from __future__ import annotations

import copy

import pytest
from conftest import FIGURE_GENERATORS as GENERATORS
from conftest import make_records

from rls3_bench.analysis import figures

EXPECTED = (
    "accuracy_curve",
    "term_curves",
    "term_radar",
    "complexity_curves",
    "term_distribution",
    "rl_curves",
    "gallery",
    "accuracy_vs_cost",
)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One full render (every figure, png and pdf), shared by the tests that read files."""
    return figures.make_figures(make_records(), tmp_path_factory.mktemp("figures"), formats=("png", "pdf"))


def test_make_figures_writes_every_figure_in_every_format(written):
    assert set(written) == {f"{n}.{fmt}" for n in EXPECTED for fmt in ("png", "pdf")}
    folder = written["accuracy_curve.png"].parent
    for key, path in written.items():
        assert path == folder / key and path.stat().st_size > 1000, key
        assert path.read_bytes()[:4] == (b"\x89PNG" if key.endswith(".png") else b"%PDF")
    assert not list(folder.glob(".*.tmp"))  # atomic writes leave no temporaries behind


def test_score_curve_only_for_generative_records():
    assert "score_curve" in figures.figure_functions(make_records(generative=True))
    assert "score_curve" not in figures.figure_functions(make_records())
    fig, _ = figures.accuracy_curve(make_records(generative=True), metric="paligemma_score")
    assert fig.axes[0].get_ylabel() == "PaliGemma score"


def test_same_records_same_bytes(written, tmp_path):
    again = figures.make_figures(copy.deepcopy(make_records()), tmp_path, formats=("png",))
    for key, path in again.items():
        assert path.read_bytes() == written[key].read_bytes(), f"{key} differs between two renders of the same records"
    # PDFs carry no creation date or producer version either
    for name in ("accuracy_curve", "gallery"):
        fig, _ = getattr(figures, name)(make_records())
        assert figures.figure_bytes(fig, "pdf") == written[f"{name}.pdf"].read_bytes()
        assert b"CreationDate" not in written[f"{name}.pdf"].read_bytes()


def test_record_order_does_not_matter(tmp_path):
    records = make_records()
    fig1, _ = figures.accuracy_curve(records)
    fig2, _ = figures.accuracy_curve(list(reversed(records)))
    assert figures.figure_bytes(fig1, "png") == figures.figure_bytes(fig2, "png")


def test_a_generator_keeps_its_colour_and_marker_whatever_else_is_drawn():
    """Adding a generator (one that sorts first, too) recolours none of the others; the built-ins
    have fixed, distinct styles; a contributed name's style is a function of the name alone."""
    colours = figures.generator_colours(make_records())
    assert list(colours) == sorted(GENERATORS)
    assert len(set(colours.values())) == len(colours)
    more = figures.generator_colours([*GENERATORS, "aaa-new-v1", "balanced-v1"])
    assert {g: more[g] for g in GENERATORS} == colours
    assert figures.generator_colours(["aaa-new-v1"]) == {"aaa-new-v1": more["aaa-new-v1"]}
    builtins = ["uniform-v1", "balanced-v1", "weakness-v1", "rls3-random-v1", "rls3-sac-v1"]
    styles = [figures.generator_style(g) for g in builtins]
    assert len({c for c, _ in styles}) == len({m for _, m in styles}) == len(builtins)
    assert figures.generator_style("my-gen-v1") == figures.generator_style("my-gen-v1")
    assert figures.generator_style("my-gen-v1")[0] not in {c for c, _ in styles}
    assert figures.generator_markers(["my-gen-v1"]) == {"my-gen-v1": figures.generator_style("my-gen-v1")[1]}


def test_radar_radius_starts_at_chance():
    """Above-chance accuracies are drawn from a centre at 0.5, not from just below the smallest value."""
    records = make_records()
    for rec in records:
        for point in rec["curve"]:
            point["per_term"] = {t: max(v, 0.52) for t, v in point["per_term"].items()}
    _, ax = figures.term_radar(records)
    assert ax.get_ylim()[0] == 0.5 and "radius starts at chance" in ax.get_title()
    _, ax = figures.term_radar(make_records())  # some terms below chance: the centre moves and the title says so
    assert ax.get_ylim()[0] < 0.5 and "below chance" in ax.get_title()


@pytest.mark.parametrize("name", EXPECTED)
def test_figures_survive_records_without_optional_fields(name):
    bare = []
    for rec in make_records():
        rec = {
            k: v
            for k, v in rec.items()
            if k not in ("term_counts", "generator_history", "gallery", "complexity_counts", "round_log")
        }
        rec["cost"] = {"samples_delivered": 0}
        rec["curve"] = [{"budget": p["budget"], "accuracy": p["accuracy"]} for p in rec["curve"]]
        bare.append(rec)
    bare.append({"generator_name": "old-v1", "seed": 0, "curve": [], "gallery": [{"caption": "no image"}]})
    fn = getattr(figures, name)
    fig, ax = fn(bare)
    assert figures.figure_bytes(fig, "png")[:4] == b"\x89PNG"


def test_generator_history_with_missing_keys_and_broken_gallery_png():
    records = make_records()
    records[0]["generator_history"] = [
        {"episode": 0},
        {"feasibility": 0.5},
        {"episode": 2, "intrinsic_return": "n/a"},
        "junk",
    ]
    records[3]["gallery"] = [{"round": 0, "caption": "broken", "png_b64": "not base64!"}]
    for fn in (figures.rl_curves, figures.gallery):
        fig, _ = fn(records)
        assert figures.figure_bytes(fig, "png")


def test_make_figures_refuses_no_records(tmp_path):
    with pytest.raises(ValueError):
        figures.make_figures([], tmp_path)


def test_slice_figure_draws_the_seed_means_and_chance_only_for_records_with_slices():
    records = make_records()
    assert "slice_accuracy" not in figures.figure_functions(records)
    for r in records:
        r["slices"] = {
            "budget": 2048,
            "accuracy": {"negative_kind": {"flip": 0.6 + 0.01 * r["seed"], "swap": 0.55}, "group": {"score": 0.3}},
        }
    assert "slice_accuracy" in figures.figure_functions(records)
    fig, ax = figures.slice_accuracy(records)
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == sorted([0.61] * len(GENERATORS) + [0.55] * len(GENERATORS) + [0.3] * len(GENERATORS))
    chance = sorted(float(seg[0][1]) for c in ax.collections for seg in c.get_segments())
    assert chance == [0.25, 0.5, 0.5]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "negative_kind\nflip",
        "negative_kind\nswap",
        "group\nscore",
    ]
