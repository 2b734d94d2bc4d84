"""The typed formats (rls3_bench.harness.formats): content hashes of committed tracks, one-line errors
naming the file, the field and the fix, costs by stage, run records, and the one round source."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import FIXTURES, REPO

from rls3_bench.errors import UserError
from rls3_bench.harness.formats import Cost, RunRecord, Stage, validate
from rls3_bench.harness.tracks import builtin_track_names, load_track, track_from_dict

#: the content hashes of the committed tracks: committed submissions and checkpoints name them, so a
#: change of the track format must leave them as they are
TRACK_DIGESTS = {
    "clip-tiny": "5932233e951c7ac42055560738ef1bc89a447ea44fd77c6812a691898c702961",
    "clip-vit-b-32": "86655e2e4b824f9b0282344f5737625d3ef367ffebf1bfd308b1fcf6d05f13b3",
    "paligemma-3b": "59d51fef0e8c1ca2750bc93ac602a609388a13c1f50e685739387eab206667dd",
    "paligemma-tiny": "023ebd1e2f00f6758cb3fd8792dae7f8978038dc9d4119a0817cbf97c36dde33",
    str(FIXTURES / "test-track.yaml"): "0be4762c4707f0a441e4103fec69658b94c3b475cab17cbefc10d3896e18d22e",
}


def test_every_committed_track_keeps_its_digest():
    assert set(builtin_track_names()) <= set(TRACK_DIGESTS)
    for name, digest in TRACK_DIGESTS.items():
        track = load_track(name)
        assert track.digest() == digest, name
        assert track_from_dict(track.to_dict()) == track


@pytest.mark.parametrize(
    "meta", sorted((REPO / "leaderboards" / "submissions").glob("*/*/submission.json")), ids=lambda p: p.parent.name
)
def test_committed_submissions_name_their_track_digest(meta):
    data = json.loads(meta.read_text(encoding="utf-8"))
    name, _, version = data["track"].rpartition("-v")
    track = load_track(name)
    assert track.version == int(version) and track.digest() == data["track_digest"]


def _track(**changes) -> dict:
    data = yaml.safe_load((FIXTURES / "test-track.yaml").read_text())
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


@pytest.mark.parametrize(
    "changes, names",
    [
        ({"version": True}, ["field version", "valid integer", "True"]),
        ({"round_size": 0}, ["field round_size", "greater than 0"]),
        ({"colour": "red"}, ["field colour is not a known field"]),
        ({"col\nour": "red"}, ["field ['col\\nour'] is not a known field"]),
        ({"eval_set_hash": ...}, ["field eval_set_hash is missing"]),
        ({"budgets": [16, "32"]}, ["field budgets[1]", "'32'"]),
        ({"budgets": [32, 16]}, ["budgets must be a strictly increasing list"]),
        ({"budgets": [16, 24]}, ["positive multiple of round_size 16"]),
        ({"name": "../up"}, ["field name", "names a results folder"]),
        ({"presets": {"smoke": {"budgets": [16], "seeds": "2"}}}, ["field presets.smoke.seeds", "valid integer"]),
        ({"presets": {"smoke": {"budgets": [64], "seeds": 2}}}, ["preset smoke's budgets [64]"]),
        ({"generator_config": {"uniform-v1": [1]}}, ["field generator_config.uniform-v1", "valid dictionary"]),
        ({"recipe": {"lr": float("inf")}}, ["track.recipe.lr is inf"]),
    ],
)
def test_bad_track_is_one_line_naming_file_field_and_fix(tmp_path, changes, names):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_track(**changes)))
    with pytest.raises(UserError) as err:
        load_track(str(path))
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path))
    assert "fix the track file" in message or "a track holds only" in message
    for name in names:
        assert name in message, message


def test_several_problems_are_counted_in_the_one_line(tmp_path):
    with pytest.raises(UserError, match=r"field version: .* \(and 2 more problems\)"):
        track_from_dict(_track(version="1", round_size="16", colour="red"), "t.yaml")


def test_replace_and_presets_validate_like_a_file():
    track = load_track("clip-tiny")
    quick = track.with_preset("quick")
    assert quick.budgets == track.presets["quick"].budgets and quick.presets == {}
    assert track.replace(device="cuda").device == "cuda" and track.replace(device="cuda").digest() != track.digest()
    with pytest.raises(
        UserError,
        match=r"track clip-tiny with \['budgets'\] changed: every budget must be a positive multiple of round_size",
    ):
        track.replace(budgets=(track.round_size + 1,))


def test_cost_adds_by_stage_and_writes_plain_names():
    a, b = Cost(), Cost(scenes_rendered=3, seconds={"render": 1.5, "train": 2.0})
    a.seconds[Stage.RENDER] += 0.5
    a.add(b)
    assert a.scenes_rendered == 3 and a.seconds[Stage.RENDER] == 2.0 and a.seconds["train"] == 2.0
    d = a.as_dict()
    assert list(d["seconds"]) == [s.value for s in Stage] and all(type(k) is str for k in d["seconds"])
    assert Cost.from_dict(json.loads(json.dumps(d))) == a
    with pytest.raises(UserError, match="field seconds.paint"):
        validate(Cost, {"seconds": {"paint": 1.0}}, "cost", "fix it")
    with pytest.raises(UserError, match="field scenes_rendered: input should be greater than or equal to 0"):
        validate(Cost, {"scenes_rendered": -1}, "cost", "fix it")


def _record() -> dict:
    from rls3_bench.labels.sample import TERMS

    point = {
        "budget": 16,
        "accuracy": 0.5,
        "n_items": 72,
        "per_term": {t: 0.5 for t in TERMS},
        "per_complexity": {"1": 0.5, "2": 0.5, "3": 0.5},
        "per_negative": {"flip": 0.5, "swap": 0.5},
    }
    record = {
        "schema_version": 1,
        "track": "test-track-v1",
        "track_digest": "a" * 64,
        "generator": "uniform-v1",
        "seed": 0,
        "eval_set": "spatial-v1-mini",
        "eval_set_hash": "b" * 64,
        "curve": [{**point, "budget": 0}, point],
        "status": "complete",
        "cost": Cost(samples_delivered=16).as_dict(),
    }
    return json.loads(json.dumps(record))  # a deep copy: the two points share no dict


@pytest.mark.parametrize(
    "edit, names",
    [
        (lambda r: r["curve"][1]["per_term"].pop("behind"), ["field curve[1].per_term", "behind missing"]),
        (lambda r: r["curve"][0].update(accuracy=True), ["field curve[0].accuracy", "valid number"]),
        (lambda r: r["cost"].pop("rl_updates"), ["field cost.rl_updates is missing"]),
        (lambda r: r.update(status="done"), ["field status", "'complete' or 'failed'"]),
        (lambda r: r.update(curve=[]), ["field curve", "at least 1 item"]),
        (lambda r: r.update(notes="x"), ["field notes is not a known field"]),
        (lambda r: r["curve"][0].update(generative=None), ["field curve[0].generative", "valid dictionary"]),
        (
            lambda r: r["curve"][0].update(generative={"exact_match": 0.5}),
            ["field curve[0].generative.paligemma_score is missing"],
        ),
    ],
)
def test_bad_run_record_is_one_line_naming_the_field(tmp_path, edit, names):
    from rls3_bench.harness.records import read_record, write_record

    record = _record()
    RunRecord.model_validate(record)
    edit(record)
    write_record(tmp_path, record, {0: [], 16: []})
    with pytest.raises(UserError) as err:
        read_record(tmp_path)
    message = str(err.value)
    assert (
        "\n" not in message
        and "record.json is malformed" in message
        and message.endswith("delete that cell folder and re-run it")
    )
    for name in names:
        assert name in message, message


def test_generate_rounds_reads_the_feedback_as_each_round_starts(track):
    """The one round source (inline and in the worker): a closed-loop generator's round r sees the
    feedback the loop set after round r-1, not the value when the source was made."""
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.generator import Generator
    from rls3_bench.harness.generation import Harness, generate_rounds
    from rls3_bench.scene.random_scenes import random_spec

    class Recorder(Generator):
        name = "recorder-v1"
        closed_loop = True
        seen: list = []

        def generate_round(self, ctx) -> None:
            self.seen.append(ctx.previous_feedback)
            while ctx.remaining:
                scene = ctx.render(random_spec(self.rng))
                ctx.deliver(scene.samples[:1])

    gen, feedback = Recorder(seed=0), {"now": None}
    with EmbeddedBackend(image_size=64, renderer=track.renderer) as backend:
        rounds = generate_rounds(gen, Harness(backend, Cost()), 1, 3, 1, lambda: feedback["now"])
        outs = []
        for label in ("after round 1", "after round 2"):
            outs.append(next(rounds))
            feedback["now"] = label
        assert next(rounds, None) is None
    assert gen.seen == [None, "after round 1"]
    assert [len(o.delivered) for o in outs] == [1, 1] and all(o.cost.samples_delivered == 1 for o in outs)


def test_tracks_load_by_name_or_by_key_and_earlier_versions_stay_loadable(tmp_path, monkeypatch):
    """A version bump moves the old file to tracks/previous/<key>.yaml: submissions naming the old key
    still find their track, and the name alone means the current version."""
    import shutil

    import rls3_bench.harness.tracks as tracks

    assert load_track("clip-tiny-v2") == load_track("clip-tiny") and "clip-tiny-v2" in tracks.builtin_track_keys()
    with pytest.raises(UserError, match="unknown track 'clip-tiny-v7'.*clip-tiny-v2"):
        load_track("clip-tiny-v7")
    # a package whose clip-tiny moved on to v3
    folder = tmp_path / "rls3_bench" / "tracks"
    (folder / "previous").mkdir(parents=True)
    shutil.copy(REPO / "rls3_bench" / "tracks" / "clip-tiny.yaml", folder / "previous" / "clip-tiny-v2.yaml")
    v3 = yaml.safe_load((REPO / "rls3_bench" / "tracks" / "clip-tiny.yaml").read_text())
    (folder / "clip-tiny.yaml").write_text(yaml.safe_dump({**v3, "version": 3, "labeller": 2}))
    monkeypatch.setattr(tracks.resources, "files", lambda package: tmp_path / package)
    assert tracks.builtin_track_names() == ["clip-tiny"]
    assert tracks.builtin_track_keys() == ["clip-tiny-v2", "clip-tiny-v3"]
    assert load_track("clip-tiny").key == load_track("clip-tiny-v3").key == "clip-tiny-v3"
    old = load_track("clip-tiny-v2")
    assert old.key == "clip-tiny-v2" and old.digest() == TRACK_DIGESTS["clip-tiny"]
