"""PaliGemma learner on the real transformers classes with the tiny config (CPU, seconds)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from rls3_bench.errors import UserError  # noqa: E402
from rls3_bench.learners import get_learner_class  # noqa: E402
from rls3_bench.learners import paligemma as pg  # noqa: E402
from rls3_bench.learners.answers import parse_terms  # noqa: E402

N_IMG = 64  # 128 px / 16 px patches, from model_configs/paligemma-tiny.json
FAST = {"lr": 3e-3, "batch_size": 8}


def make(seed: int = 0, **recipe):
    return pg.PaliGemmaLearner("paligemma-tiny", None, {**FAST, **recipe}, seed=seed)


def params(learner) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in learner.core.state_dict().items()}


def same_params(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_registered_and_real_model_class():
    assert get_learner_class("paligemma") is pg.PaliGemmaLearner
    learner = make()
    assert type(learner.core) is transformers.PaliGemmaForConditionalGeneration
    assert learner.n_image_tokens == N_IMG and learner.image_token_id == learner.tokenizer.convert_tokens_to_ids(
        "<image>"
    )
    assert learner.core.config.text_config.vocab_size == len(learner.tokenizer)


def test_batch_layout_exact_positions():
    tok = pg.tiny_tokenizer()
    ids = tok.convert_tokens_to_ids
    batch = pg.build_batch(
        tok,
        3,
        ids("<image>"),
        ["caption en", "answer en where is the vase relative to the plate?"],
        ["the vase .", "to the left"],
    )
    image, bos, eos, pad, sep = ids("<image>"), ids("<bos>"), ids("<eos>"), ids("<pad>"), ids("\n")
    row0 = [image] * 3 + [bos, ids("caption"), ids("en"), sep] + [ids("the"), ids("vase"), ids("."), eos]
    prompt1 = "answer en where is the vase relative to the plate ?".split()
    row1 = [image] * 3 + [bos, *ids(prompt1), sep] + [ids("to"), ids("the"), ids("left"), eos]
    length = len(row1)
    assert batch["input_ids"].tolist() == [row0 + [pad] * (length - len(row0)), row1]
    assert batch["prefix_lengths"] == [7, 3 + 1 + len(prompt1) + 1]
    # token types: 0 on image + <bos> + prompt + "\n", 1 on answer + <eos>, 0 on padding (as the processor pads)
    assert batch["token_type_ids"].tolist() == [[0] * 7 + [1] * 4 + [0] * (length - 11), [0] * (length - 4) + [1] * 4]
    assert batch["attention_mask"].tolist() == [[1] * 11 + [0] * (length - 11), [1] * length]
    # loss only on the answer and its <eos>
    assert batch["labels"].tolist() == [
        [-100] * 7 + row0[7:] + [-100] * (length - 11),
        [-100] * (length - 4) + row1[-4:],
    ]


def test_layout_matches_paligemma_processor(toy):
    """Our batches equal what transformers' own PaliGemmaProcessor builds (ids, types, labels, mask)."""
    samples = toy(2, size=128)
    prompts = [samples[0].prompt, "caption en"]  # different lengths, so padding is exercised
    suffixes = [samples[0].answer, samples[1].caption]
    tok = pg.tiny_tokenizer()
    image_proc = transformers.SiglipImageProcessor(
        size={"height": 128, "width": 128}, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )
    image_proc.image_seq_length = N_IMG
    proc = transformers.PaliGemmaProcessor(image_processor=image_proc, tokenizer=pg.tiny_tokenizer())
    ref = proc(
        images=[s.image for s in samples],
        text=["<image>" + p for p in prompts],
        suffix=suffixes,
        return_tensors="pt",
        padding="longest",
    )
    ours = pg.build_batch(tok, N_IMG, tok.convert_tokens_to_ids("<image>"), prompts, suffixes)
    for key in ("input_ids", "token_type_ids", "labels", "attention_mask"):
        assert torch.equal(ref[key], ours[key]), key
    assert torch.allclose(ref["pixel_values"], pg.pixel_values([s.image for s in samples], 128), atol=1e-6)


def test_shared_image_features_equal_the_pixel_path(toy):
    """Splicing precomputed image features gives the model's own pixel_values forward, bit for bit-ish."""
    learner, samples = make(), toy(3)
    prompts, suffixes = [s.prompt for s in samples], [s.answer for s in samples]
    batch = pg.build_batch(learner.tokenizer, N_IMG, learner.image_token_id, prompts, suffixes)
    with torch.no_grad():
        logits = learner.core(
            input_ids=batch["input_ids"],
            pixel_values=pg.pixel_values([s.image for s in samples], 128),
            attention_mask=batch["attention_mask"],
            token_type_ids=batch["token_type_ids"],
        ).logits
        expected = pg.mean_suffix_loglik(logits, batch["labels"])
        got = learner._logliks(learner._image_features([s.image for s in samples]), prompts, suffixes)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_loss_decreases_and_answers_are_parsed(toy):
    learner, batch = make(), toy(8)
    losses = [learner.train_step(batch) for _ in range(6)]
    assert all(np.isfinite(losses)) and losses[-1] < 0.7 * losses[0]
    result = learner.evaluate(batch[:4])
    answers = learner._generate_answers(batch[:4])
    assert [p.predicted_terms for p in result.predictions] == [parse_terms(a) for a in answers]
    # six steps teach the answer format ("to the left"/"to the right"), if not yet which one is true
    assert all(p.predicted_terms in {("left",), ("right",)} for p in result.predictions)
    assert result.queries == 12


def _hand_loglik(learner, sample, text: str) -> float:
    """Mean log p(caption tokens + <eos>) from the model's logits on one unpadded sequence."""
    tok = learner.tokenizer
    prefix = (
        [learner.image_token_id] * N_IMG + [tok.bos_token_id] + tok.encode("caption en\n", add_special_tokens=False)
    )
    suffix = tok.encode(text, add_special_tokens=False) + [tok.eos_token_id]
    ids = torch.tensor([prefix + suffix])
    types = torch.tensor([[0] * len(prefix) + [1] * len(suffix)])
    with torch.no_grad():
        logits = learner.core(
            input_ids=ids, pixel_values=pg.pixel_values([sample.image], 128), token_type_ids=types
        ).logits[0]
    logp = torch.log_softmax(logits.double(), -1)
    return float(np.mean([logp[pos - 1, ids[0, pos]].item() for pos in range(len(prefix), ids.shape[1])]))


def test_evaluate_and_feedback_match_hand_computation(toy):
    learner, samples = make(), toy(4)
    learner.train_step(samples)  # move off the symmetric random init
    result = learner.evaluate(samples[:2])
    for pred, sample in zip(result.predictions, samples[:2], strict=True):
        assert pred.item_id == sample.sample_id
        assert pred.score_true == pytest.approx(_hand_loglik(learner, sample, sample.caption), abs=1e-4)
        assert pred.score_negative == pytest.approx(_hand_loglik(learner, sample, sample.negatives[0]), abs=1e-4)
    fb = learner.feedback(samples)
    full = learner.evaluate(samples)
    assert fb.loss.shape == (4,) and fb.queries == 8
    np.testing.assert_allclose(fb.loss, [-p.score_true for p in full.predictions], rtol=1e-5)
    assert fb.correct.tolist() == [p.correct for p in full.predictions]
    for term in ("left", "right"):
        has = np.array([term in s.terms for s in samples])
        assert has.any()
        assert fb.term_error[term] == pytest.approx(1 - fb.correct[has].mean())
    assert np.isnan(fb.term_error["above"])


def test_hard_negative_term_pushes_caption_above_negative(toy):
    """With only the ranking term weighted up, the true caption's margin over negatives[0] grows."""
    learner, batch = make(hard_negative_weight=5.0), toy(8)
    margin = lambda: float(np.mean([p.score_true - p.score_negative for p in learner.evaluate(batch).predictions]))  # noqa: E731
    before = margin()
    for _ in range(4):
        learner.train_step(batch)
    assert margin() > before


def test_pretrain_step_lowers_caption_loss(toy):
    learner, samples = make(), toy(4)
    images, texts = (
        np.stack([s.image for s in samples]),
        ["a photo of the pink bowl and the blue bottle in a kitchen ."] * 4,
    )
    losses = [learner.pretrain_step(images, texts) for _ in range(4)]
    assert losses[-1] < losses[0]


def test_pretrain_ranking_term_separates_objects_by_image(toy):
    """With object negatives, the true object caption's likelihood margin over the swapped one grows."""
    learner, samples = make(), toy(4)
    images = np.stack([s.image for s in samples])
    texts = ["a photo of the pink bowl and the blue bottle in a kitchen ."] * 4
    negatives = ["a photo of the pink vase and the blue bottle in a kitchen ."] * 4
    items = [replace(s, caption=texts[0], negatives=(negatives[0],)) for s in samples]
    margin = lambda: float(np.mean([p.score_true - p.score_negative for p in learner.evaluate(items).predictions]))  # noqa: E731
    before = margin()
    for _ in range(4):
        learner.pretrain_step(images, texts, negatives, weight=5.0)
    assert margin() > before


def test_lora_trains_only_adapters(toy):
    learner, batch = make(lora_r=4), toy(8)
    before = params(learner)
    trainable = {n for n, p in learner.core.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    losses = [learner.train_step(batch) for _ in range(4)]
    assert losses[-1] < losses[0]
    after = params(learner)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    # lora_A starts random and lora_B at zero; both move, nothing else does
    assert changed and all("lora_" in k for k in changed)
    assert any("lora_B" in k for k in changed)


def test_same_seed_same_run_and_no_global_rng_side_effects(toy):
    global_state = torch.random.get_rng_state()
    batch = toy(8)
    runs = []
    for _ in range(2):
        learner = make()
        learner.train_step(batch)
        runs.append((params(learner), learner.evaluate(batch[:4]).predictions))
    assert same_params(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert not same_params(params(make(seed=1)), params(make()))
    assert torch.equal(torch.random.get_rng_state(), global_state)


@pytest.mark.parametrize("lora_r", [0, 4])
def test_save_load_resumes_identically(toy, tmp_path, lora_r):
    batch = toy(8)
    a = make(lora_r=lora_r)
    a.train_step(batch)
    a.save(tmp_path / "ckpt.safetensors")
    a.train_step(batch)
    b = make(lora_r=lora_r)
    b.load(tmp_path / "ckpt.safetensors")
    b.train_step(batch)
    assert b.steps == a.steps == 2
    assert same_params(params(a), params(b))
    with pytest.raises(UserError, match="different learner setup"):
        make(lr=1e-4).load(tmp_path / "ckpt.safetensors")


def test_export_weights_round_trip(toy, tmp_path):
    samples = toy(4)
    learner = make(lora_r=4)
    learner.train_step(samples)
    path = tmp_path / "w.safetensors"
    learner.export_weights(path)
    reloaded = pg.PaliGemmaLearner("paligemma-tiny", str(path), {})
    assert reloaded.peft is None  # LoRA was merged into plain PaliGemma weights
    ours, theirs = learner.evaluate(samples).predictions, reloaded.evaluate(samples).predictions
    np.testing.assert_allclose([p.score_true for p in theirs], [p.score_true for p in ours], atol=2e-3)  # fp16 rounding


def test_hugging_face_directory_weights(toy, tmp_path):
    learner, samples = make(), toy(2)
    learner.core.save_pretrained(tmp_path)
    learner.tokenizer.save_pretrained(tmp_path)
    reloaded = pg.PaliGemmaLearner("paligemma-tiny", str(tmp_path), {})
    assert [p.score_true for p in reloaded.evaluate(samples).predictions] == pytest.approx(
        [p.score_true for p in learner.evaluate(samples).predictions], abs=1e-6
    )


@pytest.mark.parametrize(
    "model, weights",
    [
        ("paligemma-3b", "google/paligemma-3b-pt-224"),
        ("paligemma-3b", None),
        ("paligemma-tiny", "google/paligemma-3b-pt-224"),
    ],
)
@pytest.mark.parametrize("via", ["build", "check_setup"])
def test_missing_hub_weights_fail_fast_offline(model, weights, via, no_network):
    start = time.perf_counter()
    with pytest.raises(UserError) as err:
        pg.PaliGemmaLearner(model, weights, {}) if via == "build" else pg.PaliGemmaLearner.check_setup(
            model, weights, {}, "cpu"
        )
    elapsed = time.perf_counter() - start
    message = str(err.value)
    assert "\n" not in message and "google/paligemma-3b-pt-224" in message and "--weights" in message
    # fast because nothing is tried over the network (no_network fails the test on any connect;
    # hub retries take 20-140 s); the time is reported, not asserted
    print(f"missing {weights or 'default'} weights of {model} refused in {elapsed:.3f}s")


def test_missing_base_weights_name_the_pretrain_command(tmp_path, monkeypatch):
    spec = dataclasses.replace(pg.MODELS["paligemma-tiny"], base_weights=tmp_path / "absent.safetensors")
    monkeypatch.setitem(pg.MODELS, "paligemma-tiny", spec)
    with pytest.raises(UserError, match="rls3-bench pretrain --track paligemma-tiny"):
        pg.PaliGemmaLearner("paligemma-tiny", "base", {})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "paligemma-huge"}, "unknown PaliGemma model"),
        ({"recipe": {"learning_rate": 1.0}}, "unknown PaliGemma recipe keys"),
        ({"weights": "no/such/file.safetensors"}, "not 'base', an existing file"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs, match):
    args = {"model": "paligemma-tiny", "weights": None, "recipe": {}, **kwargs}
    with pytest.raises(UserError, match=match):
        pg.PaliGemmaLearner(**args)
    with pytest.raises(UserError, match=match):  # the same refusal before anything is built
        pg.PaliGemmaLearner.check_setup(args["model"], args["weights"], args["recipe"], "cpu")


def test_check_setup_accepts_what_builds():
    pg.PaliGemmaLearner.check_setup("paligemma-tiny", "base", {"hard_negative_weight": 10.0}, "cpu")
