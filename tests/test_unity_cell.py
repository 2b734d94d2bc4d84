"""Benchmark cells through the unity backend: the stand-in player renders every scene over the real
ML-Agents protocol, and the cell comes out as it does with the embedded backend, label for label,
caption for caption, score for score. The RL generator trains through it too."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mlagents_envs")
pytest.importorskip("open_clip")
torch = pytest.importorskip("torch")

from conftest import FIXTURES, torch_threads  # noqa: E402
from unity_standin import FAKE_PLAYER, free_port, open_unity, use_this_python  # noqa: E402

from rls3_bench.backends.base import Backend  # noqa: E402
from rls3_bench.backends.embedded import EmbeddedBackend  # noqa: E402
from rls3_bench.harness.cell import run_cell  # noqa: E402
from rls3_bench.labels.captions import make_sample  # noqa: E402
from rls3_bench.labels.relations import label_scene  # noqa: E402
from rls3_bench.labels.sample import png_bytes  # noqa: E402


class Recording(Backend):
    """Passes every spec to another backend and keeps what the labeler and captioner made of it."""

    name = "recording"

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.seen: list[tuple] = []

    @property
    def renderer(self) -> str:
        return self.inner.renderer

    def observe(self, spec):
        obs = self.inner.observe(spec)
        labels = label_scene(obs)
        self.seen.append(
            (
                spec.to_json(),
                obs.valid,
                obs.invalid_reason,
                [o.visible_pixels for o in obs.objects],
                [(p.a, p.b, p.vertical, p.depth, p.lateral) for p in labels],
                [make_sample(obs, p).caption for p in labels if p.captionable] if obs.valid else [],
            )
        )
        return obs


def fingerprint(res) -> str:
    """Everything a cell's record says about its data and its scores."""
    return json.dumps(
        {
            "curve": res.curve,
            "predictions": res.predictions,
            "terms": res.term_counts,
            "complexity": res.complexity_counts,
            "gallery": [(g["caption"], g["png_b64"]) for g in res.gallery],
            "status": res.status,
            "delivered": res.cost["samples_delivered"],
            "scenes": res.cost["scenes_rendered"],
            "invalid": res.cost["invalid_scenes"],
        },
        sort_keys=True,
    )


@pytest.fixture(scope="module")
def embedded_cell(track, items):
    with torch_threads(1), EmbeddedBackend(image_size=track.image_size, renderer=track.renderer) as b:
        rec = Recording(b)
        res = run_cell(track, "uniform-v1", 0, backend=rec, eval_items=items)
    assert res.status == "complete" and [p["budget"] for p in res.curve] == [0, 16, 32]
    return res, rec.seen


@pytest.mark.parametrize("mode", ["thread", pytest.param("real", marks=pytest.mark.unity)])
def test_uniform_cell_through_unity_gives_the_embedded_labels_captions_and_scores(
    mode, track, items, embedded_cell, one_thread
):
    expected, expected_seen = embedded_cell
    with open_unity(mode, track.image_size) as unity:
        rec = Recording(unity)
        res = run_cell(track, "uniform-v1", 0, backend=rec, eval_items=items)
    assert res.status == "complete" and res.renderer.startswith("unity/")
    if mode == "real":  # another renderer: the cell must run, its numbers may differ
        assert res.cost["samples_delivered"] == 32
        return
    assert len(rec.seen) == len(expected_seen) == res.cost["scenes_rendered"]
    for got, want in zip(rec.seen, expected_seen, strict=True):
        assert got == want  # same spec -> same validity, visibility, labels, captions
    assert fingerprint(res) == fingerprint(expected)


def test_cli_run_with_backend_unity_launches_the_player_and_records_the_same_cell(tmp_path, embedded_cell, one_thread):
    from rls3_bench.cli import main
    from rls3_bench.harness.records import cell_dir, read_record

    use_this_python()
    expected, _ = embedded_cell
    code = main(
        [
            "run",
            "--track",
            str(FIXTURES / "test-track.yaml"),
            "--generator",
            "uniform-v1",
            "--seed-list",
            "0",
            "--results",
            str(tmp_path),
            "--threads",
            "1",
            "--no-progress",
            "--no-leaderboard",
            "--backend",
            "unity",
            "--unity-player",
            str(FAKE_PLAYER),
            "--unity-port",
            str(free_port()),
            "--unity-log-dir",
            str(tmp_path / "logs"),
        ]
    )
    assert code == 0
    record = read_record(cell_dir(tmp_path, "test-track-v1", "uniform-v1", 0))
    assert record["renderer"] == "unity/standin-pybullet-tiny" and record["track_config"]["backend"] == "unity"
    assert record["curve"] == expected.curve and record["term_counts"] == expected.term_counts
    assert [g["caption"] for g in record["gallery"]] == [g["caption"] for g in expected.gallery]
    # closed cleanly: the player quit on the close (a status-400 reply when its next request was already
    # pending, else UNAVAILABLE once the server stopped: which one is a race, both are clean) and exited 0
    log = (tmp_path / "logs" / "Player-0.log").read_text()
    assert (
        "quitting: status 400" in log
        or "quitting: RPC error UNAVAILABLE" in log
        or "quitting: RPC error CANCELLED" in log
    ), log
    assert "exit 0" in log, log


# --- the RL generator trains through the unity backend ------------------------------------------
def _sac_rounds(backend, rounds=(12, 12)):
    """Two rounds of rls3-sac-v1 (4-step episodes, updates after 8 steps) rendering through the real
    Harness, with a deterministic stand-in for the learner's feedback."""
    from conftest import stand_in_feedback

    pytest.importorskip("stable_baselines3")
    from rls3_generators.rls3_agent import SacGenerator

    from rls3_bench.generator import Cost, RoundContext
    from rls3_bench.harness.generation import Harness

    feedback = stand_in_feedback
    gen = SacGenerator(seed=5, config={"episode_steps": 4, "learning_starts": 8, "batch_size": 16})
    cost = Cost()
    harness = Harness(backend, cost)
    delivered, previous = [], None
    for r, n in enumerate(rounds):
        ctx = RoundContext(r, n, previous, harness.render, feedback, cost)
        gen.generate_round(ctx)
        assert ctx.remaining == 0
        delivered += [(s.sample_id, s.caption, png_bytes(s.image)) for s in ctx.delivered]
        previous = feedback(ctx.delivered)
    return delivered, gen.history, gen.extra_cost(), cost


def test_sac_agent_trains_through_the_unity_backend_as_through_the_embedded_one(one_thread):
    with open_unity("thread", 64) as unity:
        got = _sac_rounds(unity)
    with EmbeddedBackend(image_size=64, renderer="tiny") as emb:
        want = _sac_rounds(emb)
    delivered, history, extra, cost = got
    assert extra["rl_updates"] > 0 and extra["rl_env_steps"] == 4 * len(history) and len(history) >= 4
    assert cost.scenes_rendered > 24 and len(delivered) == 24
    assert got[:3] == want[:3], "same seed, same scenes -> same episodes, agent and samples"


@pytest.mark.slow
def test_sac_cell_with_clip_through_the_unity_player(tmp_path):
    """rls3-sac-v1 in a whole cell (real CLIP learner, its feedback as reward) with a launched player."""
    from rls3_bench.data.evalsets import load_eval_set
    from rls3_bench.harness.tracks import track_from_dict

    use_this_python()
    track = track_from_dict(
        {
            "name": "unity-sac",
            "version": 1,
            "learner": "clip",
            "model": "clip-tiny",
            "weights": None,
            "recipe": {"batch_size": 16, "lr": 1.0e-4},
            "round_size": 16,
            "eval_set": "spatial-v1-mini",
            "eval_set_hash": "2e5e20fe8ec7d9f56f06a600616d59b8d6146c5b6c4fe3dc24b78a6151291b49",
            "budgets": [16, 32],
            "min_seeds": 1,
            "image_size": 64,
            "backend": "unity",
            "generator_config": {"rls3-sac-v1": {"episode_steps": 8, "learning_starts": 16, "batch_size": 16}},
        }
    )
    items = load_eval_set(track.eval_set, track.eval_set_hash)[:8]
    res = run_cell(
        track,
        "rls3-sac-v1",
        0,
        eval_items=items,
        backend_options={"player": FAKE_PLAYER, "base_port": free_port(), "log_folder": tmp_path},
    )
    assert res.status == "complete" and res.renderer == "unity/standin-pybullet-tiny"
    assert res.cost["samples_delivered"] == 32 and res.cost["rl_updates"] > 0 and res.cost["feedback_queries"] > 0
    assert {h["round"] for h in res.generator_history} == {0, 1}


@pytest.mark.slow
def test_clip_tiny_smallest_budget_through_the_cli(tmp_path):
    """The shipped clip-tiny track at its smallest budget (128), uniform-v1, with --backend unity."""
    from rls3_bench.cli import main
    from rls3_bench.harness.records import cell_dir, read_record
    from rls3_bench.harness.tracks import load_track

    use_this_python()
    track = load_track("clip-tiny")
    data = track.to_dict()
    data.update(budgets=[track.budgets[0]], presets={})
    path = tmp_path / "clip-tiny-128.yaml"
    path.write_text(json.dumps({**data, "name": "clip-tiny"}))  # JSON is YAML
    assert (
        main(
            [
                "run",
                "--track",
                str(path),
                "--generator",
                "uniform-v1",
                "--seed-list",
                "0",
                "--results",
                str(tmp_path / "runs"),
                "--no-progress",
                "--no-leaderboard",
                "--backend",
                "unity",
                "--unity-player",
                str(FAKE_PLAYER),
                "--unity-port",
                str(free_port()),
            ]
        )
        == 0
    )
    record = read_record(cell_dir(tmp_path / "runs", track.key, "uniform-v1", 0))
    assert record["status"] == "complete" and [p["budget"] for p in record["curve"]] == [0, track.budgets[0]]
