"""Worlds (rls3_bench.scene.worlds): scene proposals honour a world's rooms and object scale, the
harness holds generators to the track's world, and tracks and sweeps refuse inconsistent worlds."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import FIXTURES, REPO, stand_in_feedback
from rls3_generators.uniform import UniformGenerator

from rls3_bench.errors import UserError
from rls3_bench.generator import GENERATORS, BudgetViolation, Cost
from rls3_bench.harness.generation import Harness, produce_round
from rls3_bench.harness.sweep import check_setup
from rls3_bench.harness.tracks import load_track
from rls3_bench.scene.assets import ASSETS, ROOMS, WORLD1_ROOM_IDS, footprint_radius
from rls3_bench.scene.construct import construct_spec
from rls3_bench.scene.random_scenes import random_spec
from rls3_bench.scene.worlds import DEFAULT_WORLD, WORLDS, get_world

sys.path.insert(0, str(FIXTURES))
from reliability_generators import WorldBlind  # noqa: E402

W1, W2 = WORLDS[1], WORLDS[2]


@pytest.fixture(scope="module")
def backend():
    from rls3_bench.backends.embedded import EmbeddedBackend

    with EmbeddedBackend(image_size=64, renderer="tiny", validity_version=2) as b:
        yield b


def test_world_1_is_the_papers_rooms_at_catalogue_size():
    assert DEFAULT_WORLD is W1 and W1.object_scale == 1.0 and W1.labeller == 1
    assert W1.room_ids == WORLD1_ROOM_IDS == ("bedroom", "dining-area", "kitchen-a", "kitchen-b", "living-room")
    # the paper's rooms are untouched: world 2's rooms are new ids, and every furniture id is unique
    assert set(W1.room_ids).isdisjoint(W2.room_ids) and set(ROOMS) == {*W1.room_ids, *W2.room_ids}
    ids = [f.id for r in ROOMS.values() for f in r.furniture]
    assert len(ids) == len(set(ids))
    with pytest.raises(UserError, match="unknown world 3; valid worlds: 1, 2"):
        get_world(3)


def test_a_spec_without_a_world_is_world_1_draw_for_draw():
    for seed in range(20):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        assert random_spec(a) == random_spec(b, world=W1)
        assert construct_spec(("left",), a) == construct_spec(("left",), b, world=W1)


@pytest.mark.parametrize("world", [1, 2])
def test_random_and_constructed_scenes_are_of_their_world(world):
    w = WORLDS[world]
    rng = np.random.default_rng(world)
    specs = [random_spec(rng, world=w) for _ in range(50)]
    specs += [
        m[0]
        for t in [("above",), ("left", "behind"), ("below", "right")]
        for _ in range(10)
        if (m := construct_spec(t, rng, world=w)) is not None
    ]
    assert len(specs) > 60
    for spec in specs:
        assert w.problem(spec) is None
        assert {o.scale for o in spec.objects} == {w.object_scale}
        other = WORLDS[3 - world]
        assert other.problem(spec) is not None
    # random objects stand inside a surface by their scaled footprint (stacked ones stand higher)
    for spec in specs[:50]:
        for o in spec.objects:
            r = footprint_radius(ASSETS[o.asset], w.object_scale)
            at_height = [f for f in ROOMS[spec.room].supports if abs(f.top - o.position[2]) < 1e-3]
            assert not at_height or any(
                all(abs(o.position[i] - f.centre[i]) <= max(f.half_extents[i] - r, 0.0) + 1e-3 for i in (0, 1))
                for f in at_height
            )


def test_a_scene_knows_its_world():
    from dataclasses import replace

    from rls3_bench.scene.worlds import world_of

    rng = np.random.default_rng(5)
    for w in WORLDS.values():
        assert world_of(random_spec(rng, world=w)) is w
    w2 = random_spec(rng, world=WORLDS[2])
    at_scale_1 = replace(w2, objects=tuple(replace(o, scale=1.0) for o in w2.objects))
    with pytest.raises(UserError, match="is of no world"):
        world_of(at_scale_1)


def test_a_rooms_world_is_checked():
    with pytest.raises(ValueError, match="room 'bedroom' is not in world 2"):
        W2.room("bedroom")
    assert W2.room("bedroom-w2") is ROOMS["bedroom-w2"]


def test_the_harness_refuses_a_scene_of_another_world(backend):
    harness = Harness(backend, Cost(), labeller=2, world=2)
    with pytest.raises(BudgetViolation, match=r"not of the track's world \(room '[a-z-]+' is not in world 2"):
        produce_round(WorldBlind(seed=0), harness, 0, 2)
    with pytest.raises(BudgetViolation, match="make scenes in ctx.world"):
        produce_round(WorldBlind(seed=0), harness, 0, 2)


def test_check_generator_refuses_a_world_blind_generator_in_world_2(backend, capsys):
    from rls3_bench.cli import main
    from rls3_bench.harness.check_generator import check_generator

    assert check_generator("reliability_generators:WorldBlind", round_size=2, backend=backend).problems == []
    report = check_generator("reliability_generators:WorldBlind", round_size=2, world=2)
    assert len(report.problems) == 1 and "not of the track's world" in report.problems[0], report.problems
    # the command checks every world by default, one line per world
    assert main(["check-generator", "reliability_generators:WorldBlind", "--round-size", "2"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("ok: world-blind-v1 (open loop) in world 1:"), out
    assert err.startswith("rls3-bench: check-generator: world 2: ") and "make scenes in ctx.world" in err, err
    assert main(["check-generator", "reliability_generators:WorldBlind", "--round-size", "2", "--world", "1"]) == 0


def test_uniform_v1_delivers_scenes_of_the_tracks_world(backend):
    for world in (1, 2):
        out = produce_round(UniformGenerator(seed=3), Harness(backend, Cost(), labeller=2, world=world), 0, 6)
        assert len(out.delivered) == 6
        assert all(WORLDS[world].problem(s.spec) is None for s in out.delivered)


def test_a_track_in_world_2_needs_labeller_2_and_validity_2_and_its_own_eval_sets():
    track = load_track("clip-tiny")
    assert track.world == 1 and "world" not in track.to_dict()  # so world-1 tracks keep their digests
    with pytest.raises(UserError, match="world 2 needs labeller: 2 and validity_version: 2"):
        track.replace(world=2)
    with pytest.raises(UserError, match="world must be one of 1, 2"):
        track.replace(world=7)
    w2 = track.replace(world=2, labeller=2, validity_version=2)
    assert w2.to_dict()["world"] == 2
    with pytest.raises(UserError, match=f"track {w2.key} is in world 2 but its set {w2.eval_set} is of world 1"):
        check_setup(w2, ["uniform-v1"], [0], "local", 1, None, {})


@pytest.mark.parametrize("path", sorted((REPO / "docs" / "results").glob("*/*.yaml")), ids=lambda p: p.name)
def test_the_results_pages_tracks_pass_the_runs_setup_check(path):
    """The tracks a results page runs (docs/results/*/*.yaml) still load and pass the checks a run makes."""
    track = load_track(str(path))
    check_setup(track, ["uniform-v1"], [0], "local", 1, None, {})


def test_render_preview_and_export_make_scenes_of_the_world_asked_for(tmp_path, capsys):
    from rls3_bench.cli import main
    from rls3_bench.data.sample_tables import read_samples
    from rls3_bench.scene.spec import SceneSpec

    spec_path = tmp_path / "s.json"
    assert (
        main(["render", "--seed", "3", "--world", "2", "-o", str(tmp_path / "a.png"), "--spec-out", str(spec_path)])
        == 0
    )
    assert W2.problem(SceneSpec.from_json(spec_path.read_text())) is None
    assert main(["export", "-n", "4", "--world", "2", "--size", "64", "-o", str(tmp_path / "e.parquet")]) == 0
    assert all(W2.problem(s.spec) is None for s in read_samples(tmp_path / "e.parquet"))
    assert main(["preview", "-n", "2", "--world", "2", "--size", "64", "-o", str(tmp_path / "p.png")]) == 0
    assert "-w2]" in capsys.readouterr().out
    assert main(["export", "-n", "2", "--size", "64", "-o", str(tmp_path / "e1.parquet")]) == 0  # world 1 by default
    assert all(W1.problem(s.spec) is None for s in read_samples(tmp_path / "e1.parquet"))


@pytest.mark.parametrize("name", sorted(GENERATORS.names()))
def test_every_built_in_generator_delivers_world_2_scenes(backend, name):
    """Each built-in generator makes its scenes in ctx.world: the harness would fail the round otherwise."""
    from rls3_bench.generator import get_generator_class
    from rls3_bench.harness.generation import make_generator

    cls = get_generator_class(name)
    gen = make_generator(cls, 0, {}, None)
    harness = Harness(backend, Cost(), labeller=2, world=2)
    query = stand_in_feedback if cls.closed_loop else None
    delivered = []
    for r in range(2):  # a closed-loop generator's second round reads feedback on its first
        feedback = stand_in_feedback(delivered) if cls.closed_loop and delivered else None
        out = produce_round(gen, harness, r, 4, feedback, query)
        delivered = out.delivered
        assert len(delivered) == 4 and all(W2.problem(s.spec) is None for s in delivered)
