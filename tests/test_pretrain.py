"""Base-weight pretraining: the vision stage's labels, that it trains the tower, the frozen caption
stage, and a whole (tiny) `pretrain` run with its weight card."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rls3_bench.errors import UserError  # noqa: E402
from rls3_bench.learners import paligemma as pg  # noqa: E402
from rls3_bench.learners import pretrain as pt  # noqa: E402
from rls3_bench.learners.base import SHIPPED_WEIGHTS, shipped_base, shipped_base_names, verified_base_weights  # noqa: E402
from rls3_bench.scene.assets import ASSETS, WORLD1_ROOM_IDS  # noqa: E402
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec  # noqa: E402
from rls3_bench.scene.worlds import get_world  # noqa: E402

CAMERA = CameraPose(eye=(0.0, -1.4, 1.7), target=(0.0, 0.2, 0.9))


def spec(room: str, *assets: str) -> SceneSpec:
    return SceneSpec(
        room=room, camera=CAMERA, objects=tuple(PlacedObject(a, (0.3 * i, 0.0, 0.9)) for i, a in enumerate(assets))
    )


def test_object_labels_name_the_assets_and_the_room():
    y = pt.object_labels(spec("bedroom", "vase", "green-cup"))
    assets, rooms = sorted(ASSETS), list(WORLD1_ROOM_IDS)
    assert y.shape == (len(assets) + len(rooms),) and y.dtype == np.float32
    on = {i for i in range(len(y)) if y[i] == 1.0}
    assert on == {assets.index("vase"), assets.index("green-cup"), len(assets) + rooms.index("bedroom")}
    assert set(np.unique(y)) == {0.0, 1.0}


def test_object_labels_index_the_rooms_of_the_scenes_world():
    w2 = get_world(2)
    y = pt.object_labels(spec("bedroom-w2", "vase"), w2)
    assert y[len(ASSETS) + w2.room_ids.index("bedroom-w2")] == 1.0 and y.sum() == 2.0
    with pytest.raises(ValueError):
        pt.object_labels(spec("bedroom-w2", "vase"))  # a world-2 room is not one of world 1's


def test_object_scenes_come_from_the_given_world():
    from rls3_bench.backends.embedded import EmbeddedBackend

    w2 = get_world(2)
    with EmbeddedBackend(image_size=64, renderer="tiny", validity_version=2) as backend:
        scenes = pt.object_scenes(backend, 6, np.random.default_rng(0), w2)
    assert [s.room for _, s, _ in scenes] == [w2.room_ids[i % len(w2.room_ids)] for i in range(6)]
    assert all(w2.problem(s) is None for _, s, _ in scenes)
    assert all(img.shape == (64, 64, 3) for img, _, _ in scenes)
    names = sorted(ASSETS)
    for _, s, positions in scenes:  # a valid scene shows each of its objects, and only those have a position
        assert {names[i] for i in np.flatnonzero(~np.isnan(positions[:, 0]))} == {o.asset for o in s.objects}
        assert np.nanmax(np.abs(positions)) < 1.0


def test_object_positions_are_segmentation_centroids_in_image_coordinates():
    """x runs left to right and y top to bottom, both in [-1, 1]; an object without pixels has none."""
    seg = np.full((8, 16), -1, np.int16)
    seg[0:2, 0:4] = 0  # top left: columns 0-3, rows 0-1
    seg[6:8, 14:16] = 1  # bottom right
    positions = pt.object_positions(seg, spec("kitchen-a", "vase", "green-cup", "pink-bowl"))
    names = sorted(ASSETS)
    np.testing.assert_allclose(positions[names.index("vase")], (2 * 2.0 / 16 - 1, 2 * 1.0 / 8 - 1))
    np.testing.assert_allclose(positions[names.index("green-cup")], (2 * 15.0 / 16 - 1, 2 * 7.0 / 8 - 1))
    assert np.isnan(positions[names.index("pink-bowl")]).all()  # in the spec, not in the image
    assert np.isnan(np.delete(positions, [names.index("vase"), names.index("green-cup")], axis=0)).all()


def test_object_positions_agree_with_the_left_right_labels_of_rendered_scenes():
    """The head's targets order objects as the captions do: for every left/right pair the relation
    labeller finds in random world-2 scenes, the subject's centroid x is the smaller one for "left"."""
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.labels.relations import label_scene

    w2, names = get_world(2), sorted(ASSETS)
    checked = 0
    with EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2) as backend:
        for _, s, positions in pt.object_scenes(backend, 12, np.random.default_rng(3), w2):
            for label in label_scene(backend.observe(s)):
                if label.lateral in ("left", "right"):
                    xa, xb = (positions[names.index(s.objects[k].asset), 0] for k in (label.a, label.b))
                    assert (xa < xb) == (label.lateral == "left"), (s, label)
                    checked += 1
    assert checked >= 10


def squares(n: int, seed: int = 0):
    """Images with a red and/or a blue square standing for the pink bowl and the blue bottle, and the
    matching specs: which objects are present is visible, so the vision stage has something to learn."""
    rng = np.random.default_rng(seed)
    images, specs = [], []
    for _ in range(n):
        present = [a for a in ("pink-bowl", "blue-bottle") if rng.integers(2)] or ["pink-bowl"]
        img = np.full((128, 128, 3), 128, np.uint8)
        for asset in present:
            x, y = rng.integers(0, 108, size=2)
            img[y : y + 20, x : x + 20] = (220, 30, 30) if asset == "pink-bowl" else (30, 30, 220)
        images.append(img)
        specs.append(spec("kitchen-a", *present))
    return np.stack(images), specs


def test_vision_stage_trains_the_tower_and_reports_f1():
    learner = pg.PaliGemmaLearner("paligemma-tiny", None, {}, seed=0)
    before = [p.detach().clone() for p in learner.vision_parameters()]
    lm_before = learner.core.model.language_model.embed_tokens.weight.detach().clone()
    images, specs = squares(16)
    held_out = [(im, s, None) for im, s in zip(*squares(8, seed=1), strict=True)]
    losses = []
    cfg = pt.PretrainConfig(batch_size=8, vision_epochs=6, vision_lr=1e-3)
    f1 = pt.vision_stage(learner, images, specs, held_out, cfg, seed=0, log=losses.append)
    values = [float(line.rsplit(" ", 1)[1]) for line in losses]
    assert len(values) == 6 and values[-1] < values[0]
    assert 0.0 <= f1 <= 1.0
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.vision_parameters(), strict=True))
    # the probe trains the tower only: the language model is untouched
    assert torch.equal(lm_before, learner.core.model.language_model.embed_tokens.weight)


def test_frozen_vision_keeps_the_tower_while_the_caption_stage_trains_the_rest(toy):
    learner = pg.PaliGemmaLearner("paligemma-tiny", None, {"lr": 3e-3}, seed=0)
    images = np.stack([s.image for s in toy(4)])
    tower = [p.detach().clone() for p in learner.vision_parameters()]
    projector = learner.core.model.multi_modal_projector.linear.weight.detach().clone()
    learner.freeze_vision(True)
    learner.pretrain_step(images, ["a photo of the pink bowl and the blue bottle in a kitchen ."] * 4)
    assert all(torch.equal(a, b) for a, b in zip(tower, learner.vision_parameters(), strict=True))
    assert not torch.equal(projector, learner.core.model.multi_modal_projector.linear.weight)
    learner.freeze_vision(False)
    learner.pretrain_step(images, ["a photo of the pink bowl and the blue bottle in a kitchen ."] * 4)
    assert any(not torch.equal(a, b) for a, b in zip(tower, learner.vision_parameters(), strict=True))


def test_vision_stage_is_refused_for_a_learner_without_one():
    class NoVision:
        name = "clip"

    with pytest.raises(UserError, match="no vision stage.*without --vision-epochs"):
        pt.vision_stage(
            NoVision(), np.zeros((1, 8, 8, 3), np.uint8), [], [], pt.PretrainConfig(vision_epochs=1), seed=0
        )


def test_pretrain_with_a_vision_stage_writes_loadable_weights_and_a_card(tmp_path):
    from rls3_bench.harness.tracks import load_track

    track = load_track("paligemma-tiny").replace(val_set="spatial-v1-mini")
    cfg = pt.PretrainConfig(scenes=8, epochs=1, batch_size=4, identity_items=4, vision_epochs=1)
    card = pt.pretrain(track, cfg, out_dir=tmp_path, log=lambda line: None)
    weights = tmp_path / "paligemma-tiny-base.safetensors"
    assert json.loads((tmp_path / "paligemma-tiny-base.json").read_text()) == card
    assert card["command"].endswith("--vision-epochs 1 --vision-lr 0.0005")
    assert 0.0 <= card["vision_probe_f1"] <= 1.0 and 0.0 <= card["object_identity_accuracy"] <= 1.0
    assert card["steps"] == 2  # caption stage: 8 scenes / batch 4, one epoch
    loaded = pg.PaliGemmaLearner("paligemma-tiny", str(weights), {}, seed=1)
    assert all(p.requires_grad for p in loaded.vision_parameters())
    assert verified_base_weights(weights, "hint") == weights  # what pretrain writes passes the base check


@pytest.mark.parametrize("card_path", sorted(SHIPPED_WEIGHTS.glob("*-base.json")), ids=lambda p: p.stem)
def test_shipped_base_weights_match_their_card(card_path):
    """The committed weights are the ones the card describes (its hash and size), made by a
    command this CLI accepts."""
    import hashlib

    from rls3_bench.cli import build_parser

    card = json.loads(card_path.read_text())
    data = (SHIPPED_WEIGHTS / card["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == card["sha256"] and len(data) == card["bytes"]
    args = build_parser().parse_args(card["command"].split()[1:])
    assert (args.scenes, args.epochs, args.seed, args.lr) == tuple(
        card["config"][k] for k in ("scenes", "epochs", "seed", "lr")
    )
    assert args.vision_epochs == card["config"].get("vision_epochs", 0)


def test_shipped_bases_by_name(monkeypatch, tmp_path):
    """A track names a shipped base by its stem: both learners resolve it to the verified file, a base of
    another model is refused in one line, an unknown name is not taken for one, and a damaged copy is
    refused like weights: base."""
    import shutil

    from rls3_bench.learners import base as lb
    from rls3_bench.learners import clip as cl

    assert {"clip-tiny-base", "paligemma-tiny-base", "clip-tiny-w2-look"} <= set(shipped_base_names())
    look = SHIPPED_WEIGHTS / "clip-tiny-w2-look.safetensors"
    assert shipped_base("clip-tiny-w2-look", "clip-tiny") == look
    assert cl._resolve_weights("clip-tiny", "clip-tiny-w2-look") == (look, {})
    assert shipped_base("clip-tiny-w9", "clip-tiny") is None
    assert shipped_base_names("clip-tiny") == ["clip-tiny-base", "clip-tiny-w2-look"]
    assert shipped_base_names("paligemma-tiny") == ["paligemma-tiny-base"]
    with pytest.raises(UserError, match=r"a shipped base of 'clip-tiny' \(clip-tiny-base, clip-tiny-w2-look\), an"):
        cl._resolve_weights("clip-tiny", "clip-tiny-w9")
    with pytest.raises(
        UserError, match=r"not 'paligemma-tiny'; name a base of 'paligemma-tiny' \(paligemma-tiny-base\)"
    ) as err:
        pg._resolve_weights("paligemma-tiny", "clip-tiny-w2-look")
    assert "\n" not in str(err.value)
    assert pg._resolve_weights("paligemma-tiny", "paligemma-tiny-base")[0] == "file"
    for suffix in (".safetensors", ".json"):
        shutil.copy(look.with_suffix(suffix), tmp_path / f"clip-tiny-w2-look{suffix}")
    damaged = tmp_path / "clip-tiny-w2-look.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:-8] + bytes(8))
    monkeypatch.setattr(lb, "SHIPPED_WEIGHTS", tmp_path)
    with pytest.raises(UserError, match="do not match their card clip-tiny-w2-look.json"):
        cl.ClipLearner("clip-tiny", "clip-tiny-w2-look", {})
    (tmp_path / "clip-tiny-w2-look.json").write_text("{not json")
    with pytest.raises(UserError, match="have no readable card clip-tiny-w2-look.json"):
        cl.ClipLearner("clip-tiny", "clip-tiny-w2-look", {})


def test_world_2_tracks_name_the_shipped_looking_base():
    """The world-2 result tracks run on the shipped looking base, and pretrain accepts a track that
    names a shipped base (it builds a base of that kind) while refusing user-supplied weights."""
    from pathlib import Path

    from rls3_bench.harness.tracks import load_track
    from rls3_bench.learners import clip as cl

    root = Path(__file__).resolve().parent.parent / "docs" / "results"
    files = [*root.glob("world-2/clip-tiny-w2-look*.yaml"), *root.glob("rl-selection/*.yaml")]
    assert len(files) >= 5
    for path in files:
        track = load_track(str(path))
        assert track.weights == "clip-tiny-w2-look", path
        cl.ClipLearner.check_setup(track.model, track.weights, dict(track.recipe), "cpu")
        pt.check_pretrain(track, pt.PretrainConfig(scenes=64))
    with pytest.raises(UserError, match="runs on user-supplied weights"):
        pt.check_pretrain(track.replace(weights="/tmp/elsewhere.safetensors"), pt.PretrainConfig(scenes=64))


@pytest.fixture
def base_copy(tmp_path):
    """A copy of the shipped clip-tiny base and its card, free to damage."""
    import shutil

    for name in ("clip-tiny-base.safetensors", "clip-tiny-base.json"):
        shutil.copy(SHIPPED_WEIGHTS / name, tmp_path / name)
    return tmp_path / "clip-tiny-base.safetensors"


@pytest.mark.parametrize(
    "damage, match",
    [
        (
            lambda w: w.write_bytes(w.read_bytes()[:-1] + bytes([w.read_bytes()[-1] ^ 1])),
            "do not match their card clip-tiny-base.json",
        ),
        (lambda w: w.write_bytes(w.read_bytes()[: w.stat().st_size // 2]), "do not match their card"),
        (lambda w: w.with_suffix(".json").unlink(), "have no readable card clip-tiny-base.json"),
        (lambda w: w.with_suffix(".json").write_text("{not json"), "have no readable card"),
        (lambda w: w.unlink(), "are missing; build them with `rls3-bench pretrain --track clip-tiny`"),
    ],
    ids=["bit-flip", "cut-in-half", "card-missing", "card-garbled", "weights-missing"],
)
def test_damaged_base_weights_are_refused_with_one_line(base_copy, damage, match):
    """The base a track runs on is checked against its card: a flipped bit, a cut file, a missing or
    garbled card each give one line naming the file and how to restore or rebuild it."""
    hint = "rls3-bench pretrain --track clip-tiny"
    assert verified_base_weights(base_copy, hint) == base_copy
    damage(base_copy)
    with pytest.raises(UserError, match=match) as err:
        verified_base_weights(base_copy, hint)
    assert "\n" not in str(err.value) and ("git checkout" in str(err.value) or "pass --weights PATH" in str(err.value))


def test_both_learners_check_their_base_before_loading_it(base_copy, monkeypatch):
    """weights="base" goes through the check in both learners (a damaged copy stands in for the base)."""
    from rls3_bench.learners import clip as cl

    base_copy.write_bytes(base_copy.read_bytes()[:-8] + bytes(8))
    monkeypatch.setitem(
        cl.TINY_MODELS, "clip-tiny", dataclasses.replace(cl.TINY_MODELS["clip-tiny"], base_weights=base_copy)
    )
    with pytest.raises(UserError, match="do not match their card"):
        cl.ClipLearner("clip-tiny", "base", {})
    monkeypatch.setitem(
        pg.MODELS, "paligemma-tiny", dataclasses.replace(pg.MODELS["paligemma-tiny"], base_weights=base_copy)
    )
    with pytest.raises(UserError, match="do not match their card"):
        pg.PaliGemmaLearner("paligemma-tiny", "base", {})


def test_position_loss_is_the_squared_error_over_shown_objects_only():
    targets = torch.tensor([[[0.5, -0.5], [float("nan"), float("nan")]]])
    predicted = torch.tensor([[0.0, 0.0, 9.0, 9.0]], requires_grad=True)
    loss = pt.position_loss(predicted, targets)
    assert float(loss.detach()) == pytest.approx((0.25 + 0.25) / 2)
    loss.backward()
    assert predicted.grad[0, 2:].abs().sum() == 0  # an absent object pulls on nothing


def test_position_order_accuracy_reads_each_axis_separately():
    targets = np.array([[[-0.5, -0.5], [0.5, 0.5], [0.0, 0.9]]], np.float32)
    mirrored = targets * np.array([-1.0, 1.0], np.float32)  # x flipped, y kept
    assert pt.position_order_accuracy(targets, targets, axis=0) == 1.0
    assert pt.position_order_accuracy(mirrored, targets, axis=0) == 0.0
    assert pt.position_order_accuracy(mirrored, targets, axis=1) == 1.0
    # pairs closer than the margin along the axis are not asked about: predicted in the right order,
    # such a pair would score 1.0 if it were counted
    close = np.array([[[0.0, 0.0], [0.01, 0.5]]], np.float32)
    assert pt.position_order_accuracy(close, close, axis=0) == 0.0
    assert pt.position_order_accuracy(close, close, axis=0, margin=0.005) == 1.0


def test_clip_pretrain_step_adds_the_image_term_to_its_loss():
    from rls3_bench.learners.clip import ClipLearner

    images = np.stack(squares(4)[0])
    texts = ["a photo of the pink bowl in a kitchen ."] * 2 + ["a photo of the blue bottle in a kitchen ."] * 2
    plain = ClipLearner("clip-tiny", None, {}, seed=0).pretrain_step(images, texts)
    seen = []

    def term(embeddings):
        seen.append(tuple(embeddings.shape))
        return embeddings.sum() * 0 + 2.5

    with_term = ClipLearner("clip-tiny", None, {}, seed=0).pretrain_step(images, texts, image_term=term)
    assert seen == [(4, 128)] and with_term == pytest.approx(plain + 2.5, abs=1e-5)


def test_pretrain_with_object_positions_reports_what_the_head_reads(tmp_path):
    """A whole (tiny) clip pretrain with the position term: its card names the flag and the held-out
    order accuracies, and the exported weights hold the model alone (the head is discarded)."""
    from safetensors.torch import load_file

    from rls3_bench.cli import build_parser
    from rls3_bench.harness.tracks import load_track
    from rls3_bench.learners.clip import ClipLearner

    track = load_track("clip-tiny").replace(val_set="spatial-v1-mini")
    cfg = pt.PretrainConfig(scenes=8, epochs=1, batch_size=4, identity_items=4, object_positions=2.0)
    card = pt.pretrain(track, cfg, out_dir=tmp_path, log=lambda line: None)
    assert card["command"].endswith("--object-positions 2.0")
    assert build_parser().parse_args(card["command"].split()[1:]).object_positions == 2.0
    assert set(card["position_order_accuracy"]) == {"x", "y"}
    assert all(0.0 <= v <= 1.0 for v in card["position_order_accuracy"].values())
    exported = load_file(tmp_path / "clip-tiny-base.safetensors")
    assert set(exported) == set(ClipLearner("clip-tiny", None, {}).core.state_dict())


def test_pretrain_trains_the_image_tower_whatever_the_tracks_image_lr_scale(tmp_path):
    """The track's image_lr_scale is a fine-tuning share: a base from a random init is the same with
    the track's image tower frozen (0) as without the key."""
    from rls3_bench.harness.tracks import load_track

    track = load_track("clip-tiny").replace(val_set="spatial-v1-mini")
    frozen = track.replace(recipe={**track.recipe, "image_lr_scale": 0})
    cfg = pt.PretrainConfig(scenes=8, epochs=1, batch_size=4, identity_items=4)
    for name, t in (("plain", track), ("frozen", frozen)):
        pt.pretrain(t, cfg, out_dir=tmp_path / name, log=lambda line: None)
    weights = [(tmp_path / name / "clip-tiny-base.safetensors").read_bytes() for name in ("plain", "frozen")]
    assert weights[0] == weights[1]


@pytest.mark.parametrize(
    "track, cfg, match",
    [
        ("clip-tiny", pt.PretrainConfig(vision_epochs=1), "learner 'clip' has no vision stage"),
        (
            "paligemma-tiny",
            pt.PretrainConfig(object_positions=1.0),
            "no pooled image embedding.*without --object-positions",
        ),
        ("clip-tiny", pt.PretrainConfig(pair_steps=1, pair_pool=15), "--pair-pool 15 is fewer than the 16 pairs"),
        (
            "paligemma-tiny",
            pt.PretrainConfig(pair_steps=1),
            "does not suit learner 'paligemma'.*pass --pair-image-lr-scale 1",
        ),
    ],
    ids=["vision-stage-on-clip", "object-positions-on-paligemma", "pair-pool-under-a-step", "image-share-on-paligemma"],
)
def test_a_stage_the_learner_lacks_is_refused_before_rendering(track, cfg, match, tmp_path, monkeypatch):
    import rls3_bench.backends as backends
    from rls3_bench.harness.tracks import load_track

    def no_backend(name):
        raise AssertionError("a backend was opened before the refusal")

    monkeypatch.setattr(backends, "get_backend_class", no_backend)
    with pytest.raises(UserError, match=match):
        pt.pretrain(load_track(track), cfg, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_minimal_pairs_are_twins_whose_caption_is_left_in_the_image():
    """Each group: same room, camera and objects; opposite terms along one axis; the flip as first
    negative; and for lateral groups the subject's centroid in the rendered segmentation lies on the
    captioned side of the reference's."""
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.data.minimal_pairs import axis_pairs
    from rls3_bench.labels.relations import LABELLERS, OPPOSITE

    w2, names = get_world(2), sorted(ASSETS)
    with EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2) as backend:
        items = axis_pairs(backend, np.random.default_rng(4), 8, ("lateral", "vertical"), LABELLERS[2], w2)
        assert len(items) == 16
        lateral = 0
        for first, twin in zip(items[::2], items[1::2], strict=True):
            assert (first.spec.room, first.spec.camera) == (twin.spec.room, twin.spec.camera)
            assert sorted(o.asset for o in first.spec.objects) == sorted(o.asset for o in twin.spec.objects)
            assert len(first.terms) == 1 and twin.terms == (OPPOSITE[first.terms[0]],)
            assert (first.subject, first.reference) == (twin.subject, twin.reference)
            for item in (first, twin):
                assert item.negative_kinds[0] == f"flip:{item.terms[0]}"
                if item.terms[0] in ("left", "right"):
                    obs = backend.observe(item.spec)
                    x = pt.object_positions(obs.segmentation, item.spec)[:, 0]
                    subject, reference = (item.spec.objects[int(k)].asset for k in item.sample_id.split(":")[1:])
                    assert (x[names.index(subject)] < x[names.index(reference)]) == (item.terms[0] == "left")
                    lateral += 1
        assert lateral >= 4
    with pytest.raises(ValueError, match="axes must be some of"):
        axis_pairs(None, np.random.default_rng(0), 1, ("sideways",), LABELLERS[2], w2)


def test_pair_stage_comes_last_and_leaves_the_other_stages_draws_alone(tmp_path, monkeypatch):
    """A pretrain with a pair stage: the card names it and scores it on held-out pairs, its command
    parses back to the same options; with the stage's training replaced by none, the weights are
    byte for byte those of the same pretrain without the stage (the pairs draw from streams of their
    own, and the fp16 hand-over is exact)."""
    from rls3_bench.cli import build_parser
    from rls3_bench.harness.tracks import load_track

    track = load_track("clip-tiny").replace(val_set="spatial-v1-mini")
    base = dict(scenes=8, epochs=1, batch_size=4, identity_items=4)
    paired = pt.PretrainConfig(**base, pair_steps=2, pair_pool=16, pair_held_out=2, pair_axes=("lateral",))
    card = pt.pretrain(track, paired, out_dir=tmp_path / "paired", log=lambda line: None)
    stage = card["pair_stage"]
    assert stage["groups"] == 16 and stage["axes"] == ["lateral"]
    for k in (2, 5):
        assert set(stage[f"held_out_{k}_objects"]) == {"accuracy", "group"}
        assert 0.0 <= stage[f"held_out_{k}_objects"]["group"] <= stage[f"held_out_{k}_objects"]["accuracy"] <= 1.0
    args = build_parser().parse_args(card["command"].split()[1:])
    assert (args.pair_steps, args.pair_pool, args.pair_axes, args.pair_lr, args.pair_image_lr_scale) == (
        2,
        16,
        ["lateral"],
        5e-4,
        0.1,
    )

    plain = pt.pretrain(track, pt.PretrainConfig(**base), out_dir=tmp_path / "plain", log=lambda line: None)
    assert "pair_stage" not in plain and "--pair" not in plain["command"]
    trained = (tmp_path / "paired" / "clip-tiny-base.safetensors").read_bytes()
    assert trained != (tmp_path / "plain" / "clip-tiny-base.safetensors").read_bytes()

    def untrained(learner_cls, track, weights, pool, cfg, log=print):
        return learner_cls(track.model, str(weights), pt.pair_recipe(track, cfg), seed=0)

    monkeypatch.setattr(pt, "pair_stage", untrained)
    pt.pretrain(track, paired, out_dir=tmp_path / "untrained", log=lambda line: None)
    assert (tmp_path / "untrained" / "clip-tiny-base.safetensors").read_bytes() == (
        tmp_path / "plain" / "clip-tiny-base.safetensors"
    ).read_bytes()


def test_pair_recipe_sets_the_image_towers_share_only_where_asked():
    from rls3_bench.harness.tracks import load_track

    track = load_track("clip-tiny")
    track = track.replace(recipe={**track.recipe, "image_lr_scale": 0.0, "lr": 1e-5})
    assert pt.pair_recipe(track, pt.PretrainConfig(pair_lr=2e-4)) == {
        **{k: v for k, v in track.recipe.items() if k != "image_lr_scale"},
        "lr": 2e-4,
        "image_lr_scale": 0.1,
    }
    assert "image_lr_scale" not in pt.pair_recipe(track, pt.PretrainConfig(pair_image_lr_scale=1.0))
