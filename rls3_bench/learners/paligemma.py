"""PaliGemma learner: ``transformers.PaliGemmaForConditionalGeneration`` fine-tuned with a dual loss.

Two models share this adapter:

* ``paligemma-tiny`` (embedded CPU track): the real PaliGemma classes with a tiny SigLIP + Gemma
  (``model_configs/paligemma-tiny.json``) over the project's word-level caption vocabulary
  (:mod:`rls3_bench.learners.vocab`), plus the prompt/answer separator ``"\\n"``. Weights: random (seeded),
  the project's ``base`` weights, or a file written by :meth:`PaliGemmaLearner.export_weights`.
* ``paligemma-3b`` (GPU track): the ``google/paligemma-3b-pt-224`` architecture and Gemma tokenizer,
  loaded only from a local directory or the local Hugging Face cache (never downloaded here).

Input layout (as ``transformers.PaliGemmaProcessor`` builds it)::

    <image> x N | <bos> prompt "\\n" | answer <eos> | <pad>...
    token_type_ids: 0 ............... 0 | 1 ......... 1 | 0
    labels:         -100 ......... -100 | answer  <eos> | -100

The prefix (image + prompt) attends bidirectionally, the suffix causally; the loss is on suffix tokens.

Dual loss (one training step on a batch of samples, all terms averaged over the batch)::

    loss = (NLL(caption | "caption en") + NLL(answer | prompt)) / 2
           + hard_negative_weight * softplus(ll(negative) - ll(caption))

where ``NLL(s | p)`` is the mean per-token negative log-likelihood of suffix ``s`` (its tokens and
``<eos>``) given the image and prompt ``p``, ``ll = -NLL`` under prompt ``"caption en"``, and
``negative`` is the sample's first hard negative (``negatives[0]``). The ranking term is the logistic
(smooth-margin) loss of the 2-way choice that evaluation makes: it treats the two mean log-likelihoods
as logits and is the cross-entropy of picking the true caption.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rls3_bench.data.atomic import atomic_write_bytes
from rls3_bench.errors import UserError, require
from rls3_bench.labels.sample import Sample
from rls3_bench.learners.answers import parse_terms
from rls3_bench.learners.base import (
    EvalResult,
    Feedback,
    ItemPrediction,
    Learner,
    shipped_base,
    term_error_rates,
    torch_device,
    verified_base_weights,
)
from rls3_bench.learners.checkpoint import TorchCheckpointMixin

torch = require("torch", "paligemma")
transformers = require("transformers", "paligemma")
F = torch.nn.functional

#: Prompt of the captioning target and of likelihood scoring (PaliGemma's task-prefix convention).
CAPTION_PROMPT = "caption en"
#: What PaliGemmaProcessor puts between prompt and answer.
SEPARATOR = "\n"
#: Greedy decoding budget for answers ("above, behind and to the left" is 9 word tokens + <eos>).
MAX_ANSWER_TOKENS = 12

_PACKAGE = Path(__file__).resolve().parent.parent
DEFAULT_RECIPE: dict[str, Any] = {
    "lr": 3e-4,  # AdamW learning rate
    "weight_decay": 0.01,  # AdamW decoupled weight decay
    "batch_size": 16,  # samples per optimiser step (the loop batches; also the feedback chunk size)
    "eval_batch_size": 64,  # samples per forward pass in evaluate()/feedback()
    "hard_negative_weight": 1.0,  # weight of the ranking term of the dual loss (0 disables it)
    "grad_clip": 1.0,  # max global gradient norm (0 disables clipping)
    "lora_r": 0,  # LoRA rank on the language model's linear layers; 0 = full fine-tuning
    "lora_alpha": None,  # LoRA scale numerator; None = 2 * lora_r
}


@dataclass(frozen=True)
class _ModelSpec:
    """Where a model's architecture and its named weights come from."""

    config_file: str | None  # tiny models: JSON under model_configs/ (vocabulary from rls3_bench.learners.vocab)
    hub_id: str | None  # full-size models: architecture + tokenizer from this repo in the local HF cache
    base_weights: Path | None = None  # what weights="base" means
    base_hint: str = ""  # how to produce the base weights


MODELS: dict[str, _ModelSpec] = {
    "paligemma-tiny": _ModelSpec(
        config_file="paligemma-tiny.json",
        hub_id=None,
        base_weights=_PACKAGE / "weights" / "paligemma-tiny-base.safetensors",
        base_hint="rls3-bench pretrain --track paligemma-tiny",
    ),
    "paligemma-3b": _ModelSpec(config_file=None, hub_id="google/paligemma-3b-pt-224"),
    # paligemma-3b's shapes with the tiny vocabulary: random weights only, for speed/memory figures
    "paligemma-3b-shape": _ModelSpec(config_file="paligemma-3b-shape.json", hub_id=None),
}


# --- tokenizer, config and weights ------------------------------------------------------------------


def tiny_tokenizer():
    """The project's word-level tokenizer as a transformers tokenizer, plus the separator token.

    The specials are registered as added tokens so that "<image><bos>..." splits into them before
    the punctuation pre-tokenizer sees "<"; "\\n" is added because whitespace splitting would drop it.
    """
    from rls3_bench.learners.vocab import build_tokenizer

    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(),  # copied by the wrapper, so the cached original stays as is
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<image>"],
    )
    tok.add_tokens([SEPARATOR], special_tokens=True)
    return tok


def tiny_config(name: str, tokenizer) -> Any:
    """A PaliGemmaConfig from ``model_configs/<name>.json``, with vocabulary and special ids filled in
    from ``tokenizer`` (so they cannot drift from :mod:`rls3_bench.learners.vocab`)."""
    spec = json.loads((_PACKAGE / "model_configs" / MODELS[name].config_file).read_text())
    spec.pop("description", None)
    ids = {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    spec["text_config"].update(ids)
    return transformers.PaliGemmaConfig(
        **spec,
        vocab_size=ids["vocab_size"],
        pad_token_id=ids["pad_token_id"],
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )


def _cached_hub_dir(hub_id: str) -> Path:
    """The local snapshot of a hub repo, or a one-line UserError; never touches the network."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # LocalEntryNotFoundError, or a malformed id; either way it is not usable here
        raise UserError(
            f"weights '{hub_id}' are not in the local Hugging Face cache and this suite never downloads them; "
            f"pass a local checkpoint directory with --weights DIR, or populate the cache once on a networked "
            f"machine with `huggingface-cli download {hub_id}` (accept the model's licence on the Hub first)"
        ) from None


def _architecture(name: str):
    """(config, tokenizer) of a named model, before any weights are loaded."""
    spec = MODELS[name]
    if spec.config_file is not None:
        tokenizer = tiny_tokenizer()
        return tiny_config(name, tokenizer), tokenizer
    folder = _cached_hub_dir(spec.hub_id)
    return (
        transformers.AutoConfig.from_pretrained(folder, local_files_only=True),
        transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True),
    )


def _resolve_weights(name: str, weights: str | None) -> tuple[str, Path | None]:
    """Classify ``weights``: ("random", None), ("file", path) or ("dir", path)."""
    if name not in MODELS:
        raise UserError(f"unknown PaliGemma model '{name}'; choose one of {sorted(MODELS)}")
    spec = MODELS[name]
    if weights is None:
        return "random", None
    if weights == "base":
        if spec.base_weights is None:
            hint = f"a hub id such as '{spec.hub_id}'" if spec.hub_id else "'random' (it exists for speed measurements)"
            raise UserError(f"model '{name}' has no project base weights; pass --weights DIR or {hint}")
        return "file", verified_base_weights(spec.base_weights, spec.base_hint)
    shipped = shipped_base(weights, name)
    if shipped is not None:
        return "file", shipped
    path = Path(weights).expanduser()
    if path.is_file():
        return "file", path
    if path.is_dir():
        return "dir", path
    if weights.count("/") == 1 and not weights.startswith((".", "/", "~")):
        return "dir", _cached_hub_dir(weights)
    raise UserError(
        f"weights '{weights}' is not 'base', an existing file or directory, or a hub id (owner/name); check the path"
    )


def _shared_storage_keys(module) -> set[str]:
    """State-dict keys whose tensor repeats an earlier one (tied lm_head): saved once, re-tied on load."""
    seen, dup = set(), set()
    for key, value in module.state_dict().items():
        if value.data_ptr() in seen:
            dup.add(key)
        seen.add(value.data_ptr())
    return dup


def _load_weights_file(model, path: Path, name: str) -> None:
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
        missing, unexpected = model.load_state_dict(state, strict=False)
    except Exception as exc:
        raise UserError(
            f"weights file {path} cannot be loaded into '{name}' ({str(exc).splitlines()[0]}); "
            "pass weights exported from this model"
        ) from None
    missing = set(missing) - _shared_storage_keys(model)
    if missing or unexpected:
        raise UserError(
            f"weights file {path} does not match '{name}' (missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}); "
            "pass weights exported from this model"
        )


def build_model(name: str, weights: str | None, seed: int):
    """(model, tokenizer) for a model name and a weights source; random init is seeded by ``seed``
    without touching torch's global RNG."""
    kind, path = _resolve_weights(name, weights)
    if kind == "dir":
        model = transformers.PaliGemmaForConditionalGeneration.from_pretrained(
            path, local_files_only=True, dtype=torch.float32
        )
        return model, transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    config, tokenizer = _architecture(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.PaliGemmaForConditionalGeneration(config)
    if kind == "file":
        _load_weights_file(model, path, name)
    return model, tokenizer


# --- batches ----------------------------------------------------------------------------------------


def _encode(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def _prefixes(tokenizer, n_image_tokens: int, image_token_id: int, prompts: Sequence[str]) -> list[list[int]]:
    """``<image> x N, <bos>, prompt, "\\n"`` for each prompt."""
    head = [image_token_id] * n_image_tokens + [tokenizer.bos_token_id]
    return [head + ids for ids in _encode(tokenizer, [p + SEPARATOR for p in prompts])]


def build_batch(
    tokenizer, n_image_tokens: int, image_token_id: int, prompts: Sequence[str], suffixes: Sequence[str]
) -> dict[str, Any]:
    """Right-padded prefix+suffix batch for training and scoring, in PaliGemma's layout.

    Returns ``input_ids``, ``attention_mask``, ``token_type_ids`` (0 prefix, 1 suffix, 0 padding, as
    the processor pads), ``labels`` (suffix ids, -100 elsewhere), each ``(B, L)`` long, and
    ``prefix_lengths`` (B,) list of ints.
    """
    prefixes = _prefixes(tokenizer, n_image_tokens, image_token_id, prompts)
    suffix_ids = [ids + [tokenizer.eos_token_id] for ids in _encode(tokenizer, suffixes)]
    length = max(len(p) + len(s) for p, s in zip(prefixes, suffix_ids, strict=True))
    shape = (len(prefixes), length)
    input_ids = torch.full(shape, tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros(shape, dtype=torch.long)
    types = torch.zeros(shape, dtype=torch.long)
    labels = torch.full(shape, -100, dtype=torch.long)
    for row, (p, s) in enumerate(zip(prefixes, suffix_ids, strict=True)):
        end = len(p) + len(s)
        input_ids[row, :end] = torch.tensor(p + s)
        attention[row, :end] = 1
        types[row, len(p) : end] = 1
        labels[row, len(p) : end] = torch.tensor(s)
    return {
        "input_ids": input_ids,
        "attention_mask": attention,
        "token_type_ids": types,
        "labels": labels,
        "prefix_lengths": [len(p) for p in prefixes],
    }


def build_prefix_batch(tokenizer, n_image_tokens: int, image_token_id: int, prompts: Sequence[str]) -> dict[str, Any]:
    """Left-padded prefixes for generation (new tokens are appended on the right of every row)."""
    prefixes = _prefixes(tokenizer, n_image_tokens, image_token_id, prompts)
    length = max(map(len, prefixes))
    input_ids = torch.full((len(prefixes), length), tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    for row, p in enumerate(prefixes):
        input_ids[row, length - len(p) :] = torch.tensor(p)
        attention[row, length - len(p) :] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "token_type_ids": torch.zeros_like(input_ids)}


def mean_suffix_loglik(logits, labels):
    """``(B,)`` mean log-likelihood of the labelled tokens; ``logits[:, t]`` predicts token ``t + 1``.

    ``logits`` may cover only the last ``K`` positions (``logits_to_keep``); pass the matching last
    ``K`` columns of ``labels``.
    """
    targets = labels[:, 1:]
    nll = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), targets, ignore_index=-100, reduction="none")
    mask = (targets != -100).float()
    return -(nll * mask).sum(1) / mask.sum(1)


def pixel_values(images: Sequence[np.ndarray] | np.ndarray, size: int):
    """``(B, 3, size, size)`` float in [-1, 1] (SigLIP's normalisation) from ``(H, W, 3)`` uint8 images."""
    x = (
        torch.from_numpy(np.stack([np.asarray(im, dtype=np.uint8) for im in images])).permute(0, 3, 1, 2).float()
        / 255.0
    )
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False).clamp(0.0, 1.0)
    return (x - 0.5) / 0.5


def _chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _resolve_recipe(recipe: dict) -> dict[str, Any]:
    unknown = sorted(set(recipe) - set(DEFAULT_RECIPE))
    if unknown:
        raise UserError(f"unknown PaliGemma recipe keys {unknown}; valid keys are {sorted(DEFAULT_RECIPE)}")
    out = {**DEFAULT_RECIPE, **recipe}
    if out["lora_alpha"] is None:
        out["lora_alpha"] = 2 * int(out["lora_r"])
    return out


# --- the learner ------------------------------------------------------------------------------------


class PaliGemmaLearner(TorchCheckpointMixin, Learner):
    """PaliGemma fine-tuned with the dual loss (see the module docstring).

    :param model: ``"paligemma-tiny"`` or ``"paligemma-3b"``.
    :param weights: None (random init, seeded), ``"base"`` (the project's tiny base weights), a
        ``.safetensors`` file from :meth:`export_weights`, a Hugging Face checkpoint directory, or a hub id
        present in the local HF cache.
    :param recipe: overrides of :data:`DEFAULT_RECIPE` (unknown keys are an error).
    :param device: ``"cpu"`` or ``"cuda[:i]"``; on CUDA forward passes run under bf16 autocast.
    :param seed: seeds random init and LoRA init; nothing else draws random numbers (no dropout,
        greedy decoding; the loop decides data order), so a run is a function of seed and data.
    """

    name = "paligemma"

    def __init__(self, model: str, weights: str | None, recipe: dict, device: str = "cpu", seed: int = 0):
        self.model_name, self.seed = model, int(seed)
        self.weights = None if weights is None else str(weights)  # a string, so checkpoints record it as JSON
        self.recipe = _resolve_recipe(recipe)
        self.device = torch_device(device)
        core, self.tokenizer = build_model(model, self.weights, self.seed)
        self.core = core.to(self.device)  # the PaliGemmaForConditionalGeneration (LoRA layers injected in place)
        self.peft = self._maybe_lora()
        self.optimizer = torch.optim.AdamW(
            self._trainable(), lr=float(self.recipe["lr"]), weight_decay=float(self.recipe["weight_decay"])
        )
        self.steps = 0
        vision = self.core.config.vision_config
        self.image_size = int(vision.image_size)
        self.n_image_tokens = (vision.image_size // vision.patch_size) ** 2
        self.image_token_id = int(self.core.config.image_token_id)

    @classmethod
    def check_setup(cls, model: str, weights: str | None, recipe: dict, device: str) -> None:
        _resolve_recipe(recipe)
        torch_device(device)
        if _resolve_weights(model, weights)[0] != "dir":
            _architecture(model)  # the config (and tokenizer) come from the hub cache for a full-size model

    def _maybe_lora(self):
        """Wrap the language model's linear layers with LoRA when ``lora_r > 0`` (vision tower and
        projector stay frozen, as in the usual PaliGemma LoRA recipe)."""
        r = int(self.recipe["lora_r"])
        if r <= 0:
            return None
        peft = require("peft", "paligemma")
        config = peft.LoraConfig(
            r=r,
            lora_alpha=float(self.recipe["lora_alpha"]),
            lora_dropout=0.0,  # no dropout keeps training a deterministic function of the seed
            target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + 1)  # LoRA's A matrices are random; keep them off the global RNG
            return peft.get_peft_model(self.core, config)

    def _trainable(self) -> list:
        return [p for p in self.core.parameters() if p.requires_grad]

    def _trainable_named(self) -> dict[str, Any]:
        return {n: p for n, p in self.core.named_parameters() if p.requires_grad}

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # --- forward passes -----------------------------------------------------------------------------

    def _image_features(self, images):
        """``(B, N, D)`` projected image embeddings: computed once per image, shared by every sequence."""
        px = pixel_values(images, self.image_size).to(self.device)
        return self.core.get_image_features(px).pooler_output

    def _logliks(self, features, prompts: Sequence[str], suffixes: Sequence[str]):
        """``(len(prompts),)`` mean log-likelihood of each suffix given its prompt and an image.

        ``features`` holds ``n`` images; sequence ``i`` sees image ``i % n`` (callers stack groups of
        ``n`` sequences: captions, answers, negatives). The image embeddings are spliced into the token
        embeddings here, exactly where PaliGemmaModel puts them, so one vision pass serves the caption,
        answer and negative sequences.
        """
        batch = build_batch(self.tokenizer, self.n_image_tokens, self.image_token_id, prompts, suffixes)
        ids = batch["input_ids"].to(self.device)
        embeds = self.core.get_input_embeddings()(ids)
        image_mask = (ids == self.image_token_id).unsqueeze(-1)
        # tile rather than index: the backward of a repeat is a plain sum, whereas index_put with
        # repeated rows accumulates in a thread-dependent order and breaks CPU determinism
        feats = features.repeat(len(prompts) // len(features), 1, 1).to(embeds.dtype)
        embeds = embeds.masked_scatter(image_mask, feats)
        # only positions from the shortest prefix on predict suffix tokens: skip the vocabulary
        # projection elsewhere (257k entries on the 3B model)
        keep = ids.shape[1] - min(batch["prefix_lengths"]) + 1
        out = self.core(
            inputs_embeds=embeds,
            attention_mask=batch["attention_mask"].to(self.device),
            token_type_ids=batch["token_type_ids"].to(self.device),
            logits_to_keep=keep,
        )
        return mean_suffix_loglik(out.logits, batch["labels"][:, -keep:].to(self.device))

    def _pair_scores(self, samples: Sequence[Sample]):
        """(ll of true caption, ll of negatives[0]) under the caption prompt, each ``(n,)``."""
        feats = self._image_features([s.image for s in samples])
        n = len(samples)
        suffixes = [s.caption for s in samples] + [s.negatives[0] for s in samples]
        ll = self._logliks(feats, [CAPTION_PROMPT] * (2 * n), suffixes)
        return ll[:n], ll[n:]

    def _generate_answers(self, samples: Sequence[Sample]) -> list[str]:
        batch = build_prefix_batch(
            self.tokenizer, self.n_image_tokens, self.image_token_id, [s.prompt for s in samples]
        )
        batch = {k: v.to(self.device) for k, v in batch.items()}
        config = transformers.GenerationConfig(
            max_new_tokens=MAX_ANSWER_TOKENS,
            do_sample=False,
            eos_token_id=self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            bos_token_id=self.tokenizer.bos_token_id,
        )
        out = self.core.generate(
            **batch,
            pixel_values=pixel_values([s.image for s in samples], self.image_size).to(self.device),
            generation_config=config,
        )
        return self.tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)

    # --- optimisation ---------------------------------------------------------------------------------

    def _optimise(self, loss) -> float:
        loss.backward()
        if float(self.recipe["grad_clip"]) > 0:
            torch.nn.utils.clip_grad_norm_(self._trainable(), float(self.recipe["grad_clip"]))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps += 1
        return float(loss.detach())

    def dual_loss(self, batch: Sequence[Sample]):
        """The training objective on ``batch`` (a scalar tensor with gradient); see the module docstring."""
        n = len(batch)
        weight = float(self.recipe["hard_negative_weight"])
        prompts = [CAPTION_PROMPT] * n + [s.prompt for s in batch]
        suffixes = [s.caption for s in batch] + [s.answer for s in batch]
        if weight > 0:  # the negative shares the image and the prompt; one forward pass for all three
            prompts += [CAPTION_PROMPT] * n
            suffixes += [s.negatives[0] for s in batch]
        feats = self._image_features([s.image for s in batch])
        ll = self._logliks(feats, prompts, suffixes)
        ll_caption, ll_answer = ll[:n], ll[n : 2 * n]
        loss = -(ll_caption.mean() + ll_answer.mean()) / 2
        if weight > 0:
            loss = loss + weight * F.softplus(ll[2 * n :] - ll_caption).mean()
        return loss

    def train_step(self, batch: Sequence[Sample]) -> float:
        self.core.train()
        with self._autocast():
            loss = self.dual_loss(batch)
        return self._optimise(loss)

    # --- base-weight pretraining (rls3_bench.learners.pretrain) --------------------------------------------------

    def vision_tokens(self, images) -> Any:
        """``(B, N, D)`` patch tokens of the SigLIP tower (before the projector), with gradient: what
        the pretraining vision stage trains a probe on."""
        self.core.train()
        return self.core.model.vision_tower(
            pixel_values(list(images), self.image_size).to(self.device)
        ).last_hidden_state

    def vision_parameters(self) -> list:
        return list(self.core.model.vision_tower.parameters())

    def freeze_vision(self, frozen: bool = True) -> None:
        """Stop (or resume) training the vision tower; AdamW skips parameters without gradients."""
        for p in self.vision_parameters():
            p.requires_grad_(not frozen)

    def pretrain_step(
        self, images: np.ndarray, texts: list[str], negatives: Sequence[str] = (), weight: float = 0.0
    ) -> float:
        """One LM step on ("caption en" -> text) for object-level captions (base-weight pretraining),
        plus ``weight`` x the ranking term (as in :meth:`dual_loss`) of each text over its negative
        (one per text, e.g. one object swapped for an absent one) when ``weight > 0``. The LM term
        alone lets a tiny model learn the captions' language prior and ignore the image; the ranking
        term can only fall by reading the image."""
        n = len(texts)
        self.core.train()
        with self._autocast():
            feats = self._image_features(list(images))
            suffixes = list(texts) + (list(negatives) if weight > 0 else [])
            ll = self._logliks(feats, [CAPTION_PROMPT] * len(suffixes), suffixes)
            loss = -ll[:n].mean()
            if weight > 0:
                loss = loss + weight * F.softplus(ll[n:] - ll[:n]).mean()
        return self._optimise(loss)

    # --- evaluation and feedback ----------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, items: Sequence[Sample]) -> EvalResult:
        """2-way likelihood ranking (true caption vs ``negatives[0]``, scored by mean per-token
        log-likelihood under "caption en") and a greedy answer to ``prompt``, parsed into terms."""
        self.core.eval()
        predictions = []
        for chunk in _chunks(items, int(self.recipe["eval_batch_size"])):
            with self._autocast():
                ll_true, ll_neg = self._pair_scores(chunk)
                answers = self._generate_answers(chunk)
            predictions += [
                ItemPrediction(s.sample_id, float(t), float(n), parse_terms(a))
                for s, t, n, a in zip(chunk, ll_true.tolist(), ll_neg.tolist(), answers, strict=True)
            ]
        # queries: two scored captions and one generated answer per item
        return EvalResult(predictions=tuple(predictions), queries=3 * len(items))

    @torch.no_grad()
    def feedback(self, samples: Sequence[Sample]) -> Feedback:
        """Loss = mean token NLL of the true caption; correct = it outscores ``negatives[0]``."""
        self.core.eval()
        ll_true, ll_neg = [], []
        for chunk in _chunks(samples, int(self.recipe["eval_batch_size"])):
            with self._autocast():
                t, n = self._pair_scores(chunk)
            ll_true.append(t.float().cpu())
            ll_neg.append(n.float().cpu())
        ll_true_np, ll_neg_np = torch.cat(ll_true).numpy(), torch.cat(ll_neg).numpy()
        correct = ll_true_np > ll_neg_np
        return Feedback(
            loss=(-ll_true_np).astype(np.float64),
            correct=correct,
            term_error=term_error_rates(samples, correct),
            queries=2 * len(samples),
        )

    # --- persistence ----------------------------------------------------------------------------------

    def _identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed by this learner."""
        return {
            "learner": self.name,
            "model": self.model_name,
            "weights": self.weights,
            "recipe": self.recipe,
            "seed": self.seed,
        }

    def _checkpoint_params(self) -> dict[str, Any]:
        """The parameters a checkpoint stores (save/load come from TorchCheckpointMixin)."""
        return self._trainable_named()

    def export_weights(self, path: Path) -> None:
        """fp16 safetensors of the model alone (LoRA merged in), loadable with ``weights=path``."""
        from safetensors.torch import save

        model = copy.deepcopy(self.peft).merge_and_unload() if self.peft is not None else self.core
        skip = _shared_storage_keys(model)
        tensors = {
            k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items() if k not in skip
        }
        atomic_write_bytes(
            path, save(tensors, metadata={"rls3_bench": json.dumps({"model": self.model_name, "format": "fp16"})})
        )
