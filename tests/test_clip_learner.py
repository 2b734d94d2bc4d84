"""CLIP learner on open_clip's real CLIP class with the tiny config (CPU, seconds)."""

from __future__ import annotations

import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

from rls3_bench.errors import UserError  # noqa: E402
from rls3_bench.learners import clip as cl  # noqa: E402
from rls3_bench.learners import get_learner_class  # noqa: E402
from rls3_bench.learners.base import ItemPrediction, term_error_rates  # noqa: E402
from rls3_bench.learners.vocab import vocabulary  # noqa: E402

FAST = {"lr": 1e-3, "batch_size": 8}


def make(seed: int = 0, weights: str | None = None, **recipe):
    return cl.ClipLearner("clip-tiny", weights, {**FAST, **recipe}, seed=seed)


def params(learner) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in learner.core.state_dict().items()}


def same_params(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def with_distinct_captions(samples):
    """Toy samples whose captions and negatives name a different subject per sample (distinct texts)."""
    import dataclasses

    names = ["plate", "vase", "blender", "green cup", "small pot", "yellow bowl", "pink bowl", "bird sculpture"]
    out = []
    for s, name in zip(samples, names, strict=True):

        def swap(t: str, name: str = name) -> str:
            return t.replace("pink bowl", name)

        out.append(
            dataclasses.replace(s, subject=name, caption=swap(s.caption), negatives=tuple(map(swap, s.negatives)))
        )
    return out


@pytest.fixture(scope="module")
def learner():
    return make()


# --- model, tokenizer, preprocessing ----------------------------------------------------------------


def test_registered_and_real_open_clip_model(learner):
    assert get_learner_class("clip") is cl.ClipLearner
    assert type(learner.core) is open_clip.CLIP
    assert "clip-tiny" in open_clip.list_models()
    assert learner.core.vocab_size == len(vocabulary())
    assert learner.core.context_length == learner.tokenizer.context_length == 24
    assert learner.core.text_pool_type == "eos" and learner.core.text_eos_id == vocabulary().index("<eos>")
    assert learner.image_size == 128
    assert (learner.mean, learner.std) == (open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD)


def test_tokenizer_ids_eos_and_padding():
    vocab = vocabulary()
    tok = cl.VocabTokenizer(context_length=8)
    ids = tok(["The vase is to the left of the plate.", "the plate"]).tolist()
    words = "the vase is to the left of the plate .".split()
    # too long: cut to 7 words so that <eos> still ends the row
    assert ids[0] == [vocab.index(w) for w in words[:7]] + [vocab.index("<eos>")]
    assert ids[1] == [vocab.index("the"), vocab.index("plate"), vocab.index("<eos>")] + [vocab.index("<pad>")] * 5
    assert vocab.index("<pad>") == 0


def test_pixel_values_by_hand():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    mean, std = open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD
    got = cl.pixel_values([img], 4, mean, std)
    expected = (img.astype(np.float64) / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(got[0].permute(1, 2, 0).numpy(), expected, atol=1e-5)
    assert cl.pixel_values([img, img], 8, mean, std).shape == (2, 3, 8, 8)


# --- the dual loss ----------------------------------------------------------------------------------


def test_masked_clip_loss_is_clip_loss_for_distinct_captions():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 5, generator=g)
    img, txt = torch.eye(5), logits.T  # ClipLoss computes scale * img @ txt.T = logits
    expected = open_clip.ClipLoss()(img, txt, logit_scale=torch.tensor(1.0))
    torch.testing.assert_close(cl.masked_clip_loss(logits, torch.arange(5)), expected)
    # samples 0 and 2 share a caption: neither is the other's negative, in either direction
    ids = torch.tensor([0, 1, 0, 2, 3])
    masked = logits.clone()
    masked[0, 2] = masked[2, 0] = float("-inf")
    labels = torch.arange(5)
    by_hand = (
        torch.nn.functional.cross_entropy(masked, labels) + torch.nn.functional.cross_entropy(masked.T, labels)
    ) / 2
    torch.testing.assert_close(cl.masked_clip_loss(logits, ids), by_hand)


def test_dual_loss_by_hand(toy):
    """CLIP term over the captions + weight x image->text CE over all distinct captions and negatives."""
    learner = make(hard_negative_weight=0.5)
    batch = toy(4)  # only two distinct captions: exercises the de-duplication
    with torch.no_grad():
        got = float(learner.dual_loss(batch))
        img = learner.core.encode_image(
            cl.pixel_values([s.image for s in batch], 128, learner.mean, learner.std), normalize=True
        )
        texts = sorted({t for s in batch for t in (s.caption, *s.negatives)})
        txt = learner.core.encode_text(learner.tokenizer(texts), normalize=True)
        scale = learner.core.logit_scale.exp()
        target = torch.tensor([texts.index(s.caption) for s in batch])
        sims = scale * img @ txt.T
        pair = sims[:, target]  # image i vs caption of sample j
        same = (target[:, None] == target[None, :]) & ~torch.eye(4, dtype=torch.bool)
        pair = pair.masked_fill(same, float("-inf"))
        labels = torch.arange(4)
        ce = torch.nn.functional.cross_entropy
        expected = (ce(pair, labels) + ce(pair.T, labels)) / 2 + 0.5 * ce(sims, target)
    assert got == pytest.approx(float(expected), rel=1e-5)


def test_loss_decreases_on_a_fixed_batch(toy):
    learner, batch = make(), toy(8)
    losses = [learner.train_step(batch) for _ in range(20)]
    assert all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])
    assert learner.steps == 20
    assert float(learner.core.logit_scale.detach()) <= cl.MAX_LOGIT_SCALE


def _tower_changes(learner, batch) -> tuple[bool, bool]:
    """(image tower changed, text side changed) by one train step on ``batch``"""
    before = params(learner)
    learner.train_step(batch)
    after = params(learner)
    visual = [k for k in before if k.startswith("visual.")]
    rest = [k for k in before if not k.startswith("visual.")]
    return (
        not all(torch.equal(before[k], after[k]) for k in visual),
        not all(torch.equal(before[k], after[k]) for k in rest),
    )


def test_image_lr_scale_zero_freezes_the_image_tower_only(toy):
    assert _tower_changes(make(image_lr_scale=0), toy(8)) == (False, True)
    assert _tower_changes(make(), toy(8)) == (True, True)


def test_image_lr_scale_sets_the_image_towers_rate(toy):
    learner = make(lr=1e-3, image_lr_scale=0.25)
    visual = {id(p) for p in learner.core.visual.parameters()}
    rates = {id(p): g["lr"] for g in learner.optimizer.param_groups for p in g["params"]}
    assert rates.keys() == {id(p) for p in learner.core.parameters()}  # every parameter trained once
    assert {rates[i] for i in visual} == {0.25e-3}
    assert {r for i, r in rates.items() if i not in visual} == {1e-3}
    # the image tower moves, and by less than at full rate (same seed, same batch)
    full, slow = make(lr=1e-3), make(lr=1e-3, image_lr_scale=0.25)
    start = params(full)
    full.train_step(toy(8))
    slow.train_step(toy(8))

    def moved(learner):
        return sum(float((v - start[k]).abs().sum()) for k, v in params(learner).items() if k.startswith("visual."))

    assert 0 < moved(slow) < moved(full)


def test_image_lr_scale_one_trains_as_without_the_key(toy):
    a, b = make(), make(image_lr_scale=1.0)
    for seed in range(2):
        batch = toy(8, seed=seed)
        assert a.train_step(batch) == b.train_step(batch)
    assert same_params(params(a), params(b))


@pytest.mark.parametrize("scale", [-0.5, float("nan"), float("inf"), "fast"])
def test_bad_image_lr_scale_is_refused(scale):
    with pytest.raises(UserError, match="image_lr_scale is .*finite number >= 0"):
        cl.ClipLearner.check_setup("clip-tiny", None, {"image_lr_scale": scale}, "cpu")


# --- evaluation and feedback ------------------------------------------------------------------------


def _hand_cosines(learner, samples, texts_of):
    with torch.no_grad():
        img = learner.core.encode_image(cl.pixel_values([s.image for s in samples], 128, learner.mean, learner.std))
        out = []
        for s, i in zip(samples, img, strict=True):
            txt = learner.core.encode_text(learner.tokenizer(texts_of(s)))
            out.append(torch.nn.functional.cosine_similarity(i[None], txt).tolist())
    return out


def test_evaluate_by_hand(toy):
    learner = make()
    for _ in range(3):  # move off the symmetric init so that scores differ
        learner.train_step(toy(8, seed=1))
    items = toy(5, seed=2)
    result = learner.evaluate(items)
    hand = _hand_cosines(learner, items, lambda s: [s.caption, s.negatives[0]])
    assert [p.item_id for p in result.predictions] == [s.sample_id for s in items]
    for p, (true, neg) in zip(result.predictions, hand, strict=True):
        assert p.score_true == pytest.approx(true, abs=1e-5) and p.score_negative == pytest.approx(neg, abs=1e-5)
        assert p.predicted_terms is None
    accuracy = np.mean([true > neg for true, neg in hand])
    assert np.mean([p.correct for p in result.predictions]) == accuracy
    assert result.queries == 2 * len(items)


def test_ties_count_as_wrong(toy):
    import dataclasses

    learner = make()
    item = toy(1)[0]
    tied = dataclasses.replace(item, negatives=(item.caption,))  # the negative is the caption itself
    (p,) = learner.evaluate([tied]).predictions
    assert p.score_true == p.score_negative and not p.correct
    assert not ItemPrediction("x", 0.25, 0.25).correct


def test_feedback_by_hand(toy):
    learner = make()
    learner.train_step(toy(8, seed=1))
    samples = toy(6, seed=3)
    fb = learner.feedback(samples)
    assert fb.loss.shape == fb.correct.shape == (6,) and fb.correct.dtype == bool
    hand = np.array(_hand_cosines(learner, samples, lambda s: [s.caption, *s.negatives]))
    scale = float(learner.core.logit_scale.exp())
    logits = scale * hand
    expected_loss = np.log(np.exp(logits).sum(1)) - logits[:, 0]
    np.testing.assert_allclose(fb.loss, expected_loss, rtol=1e-4, atol=1e-5)
    correct = hand[:, 0] > hand[:, 1]
    np.testing.assert_array_equal(fb.correct, correct)
    assert fb.term_error.keys() == term_error_rates(samples, correct).keys()
    for term, rate in term_error_rates(samples, correct).items():
        assert fb.term_error[term] == pytest.approx(rate, nan_ok=True)
    assert np.isnan(fb.term_error["above"])  # toy samples are left/right only
    assert fb.queries == sum(1 + len(s.negatives) for s in samples)


def test_feedback_handles_uneven_negative_counts(toy):
    import dataclasses

    learner = make()
    samples = toy(3)
    samples[1] = dataclasses.replace(
        samples[1], negatives=samples[1].negatives[:1], negative_kinds=samples[1].negative_kinds[:1]
    )
    fb = learner.feedback(samples)
    assert np.isfinite(fb.loss).all() and fb.queries == 3 + 2 + 3


# --- determinism and persistence --------------------------------------------------------------------


def test_same_seed_same_run_and_no_global_rng_side_effects(toy):
    before = torch.random.get_rng_state()
    a, b = make(seed=3), make(seed=3)
    for seed in range(3):
        batch = with_distinct_captions(toy(8, seed=seed))
        assert a.train_step(batch) == b.train_step(batch)
    assert same_params(params(a), params(b))
    items = toy(4, seed=9)
    assert a.evaluate(items) == b.evaluate(items)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert not same_params(params(make(seed=4)), params(make(seed=3)))


def test_save_load_resumes_identically(toy, tmp_path):
    batches = [toy(8, seed=s) for s in range(3)]
    a = make()
    for batch in batches[:2]:
        a.train_step(batch)
    a.save(tmp_path / "learner.safetensors")
    b = make()
    b.load(tmp_path / "learner.safetensors")
    assert b.steps == 2 and same_params(params(a), params(b))
    assert a.train_step(batches[2]) == b.train_step(batches[2])
    assert same_params(params(a), params(b))
    assert [p.name for p in tmp_path.iterdir()] == ["learner.safetensors"]  # written atomically, no temp left


def test_load_rejects_other_setups(toy, tmp_path):
    a = make()
    a.save(tmp_path / "ckpt.safetensors")
    with pytest.raises(UserError, match="differs in \\['seed'\\]"):
        make(seed=1).load(tmp_path / "ckpt.safetensors")
    with pytest.raises(UserError, match="does not exist"):
        a.load(tmp_path / "missing.safetensors")


def test_export_weights_fp16_round_trip(toy, tmp_path):
    from safetensors import safe_open

    a = make()
    a.train_step(toy(8))
    path = tmp_path / "clip-tiny.safetensors"
    a.export_weights(path)
    with safe_open(str(path), framework="pt") as fh:
        assert {fh.get_tensor(k).dtype for k in fh.keys()} == {torch.float16}
    b = make(weights=str(path))
    for key, value in params(a).items():
        torch.testing.assert_close(params(b)[key], value.half().float())


def test_cached_pretrained_tag_is_loaded_offline(toy, tmp_path, monkeypatch, empty_caches, no_network):
    """A tag resolves to its file in the HF cache (as open_clip lays it out) with no network access,
    and brings its own normalisation constants."""
    a = make()
    snapshot = empty_caches / "hub" / "models--org--clip-tiny-test" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    a.export_weights(snapshot / "open_clip_model.safetensors")
    (empty_caches / "hub" / "models--org--clip-tiny-test" / "refs").mkdir()
    (empty_caches / "hub" / "models--org--clip-tiny-test" / "refs" / "main").write_text("abc123")
    tag_cfg = {"hf_hub": "org/clip-tiny-test/", "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda model, tag: tag_cfg if tag == "testtag" else {})
    b = make(weights="testtag")
    assert (b.mean, b.std) == ((0.5,) * 3, (0.5,) * 3)
    torch.testing.assert_close(params(b)["text_projection"], params(a)["text_projection"].half().float())


# --- user errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "refuse",
    [
        lambda: cl.ClipLearner("ViT-B-32", "openai", {}),
        lambda: cl.ClipLearner.check_setup("ViT-B-32", "openai", {}, "cpu"),
    ],
    ids=["build", "check_setup"],
)
def test_uncached_tag_fails_fast_offline(refuse, empty_caches, no_network):
    t0 = time.perf_counter()
    with pytest.raises(UserError) as err:
        refuse()
    elapsed = time.perf_counter() - t0
    message = str(err.value)
    assert "\n" not in message and "'ViT-B-32' / 'openai'" in message
    assert "--weights PATH" in message and "huggingface-cli download timm/vit_base_patch32_clip_224.openai" in message
    print(f"uncached tag refused in {elapsed:.3f}s")  # reported, not asserted (no wall-clock asserts)


def test_missing_local_path(tmp_path, no_network):
    with pytest.raises(UserError, match="weights file .*nowhere.safetensors does not exist"):
        make(weights=str(tmp_path / "nowhere.safetensors"))


def test_missing_base_weights_names_the_pretrain_command(monkeypatch, tmp_path):
    monkeypatch.setitem(
        cl.TINY_MODELS,
        "clip-tiny",
        cl._TinyModel("clip-tiny.json", tmp_path / "absent.safetensors", "rls3-bench pretrain --track clip-tiny"),
    )
    with pytest.raises(UserError, match="rls3-bench pretrain --track clip-tiny"):
        make(weights="base")


def test_unknown_tag_lists_the_tags():
    with pytest.raises(UserError, match="its tags: .*openai"):
        cl.ClipLearner("ViT-B-32", "not-a-tag", {})


def test_weights_of_another_architecture_are_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"visual.conv1.weight": torch.zeros(3)}, str(path))
    with pytest.raises(UserError, match="cannot be loaded into 'clip-tiny'"):
        make(weights=str(path))


def test_unknown_architecture_says_how_to_list_names():
    with pytest.raises(UserError) as err:
        cl.ClipLearner("ViT-B-33", None, {})
    assert "did you mean ViT-B-32" in str(err.value) and "open_clip.list_models()" in str(err.value)


@pytest.mark.parametrize(
    "make_it",
    [cl.ClipLearner, lambda m, w, r, device: cl.ClipLearner.check_setup(m, w, r, device)],
    ids=["build", "check_setup"],
)
def test_bad_recipe_device_and_architecture(make_it):
    with pytest.raises(UserError, match="unknown CLIP recipe keys \\['lora_r'\\]"):
        make_it("clip-tiny", None, {"lora_r": 4}, device="cpu")
    with pytest.raises(UserError, match="not a torch device"):
        make_it("clip-tiny", None, {}, device="tpu!")
    with pytest.raises(UserError, match="unknown open_clip architecture 'ViT-B-33'"):
        make_it("ViT-B-33", None, {}, device="cpu")


def test_check_setup_accepts_what_builds():
    cl.ClipLearner.check_setup("clip-tiny", "base", {"lr": 5e-4}, "cpu")  # the shipped base, verified against its card
    cl.ClipLearner.check_setup("ViT-B-32", None, {}, "cpu")  # random init needs no weights


# --- full-size architecture -------------------------------------------------------------------------


@pytest.mark.slow
def test_vit_b_32_random_init_runs(toy):
    learner = cl.ClipLearner("ViT-B-32", None, {"batch_size": 2}, seed=0)
    assert learner.image_size == 224 and isinstance(learner.tokenizer, open_clip.tokenizer.SimpleTokenizer)
    assert sum(p.numel() for p in learner.core.parameters()) > 80_000_000
    batch = toy(2)
    assert np.isfinite(learner.train_step(batch))
    assert len(learner.evaluate(batch).predictions) == 2
