"""CLIP learner: any open_clip architecture, fine-tuned with a dual (contrastive + hard-negative) loss.

Two kinds of model share this adapter:

* ``clip-tiny`` (embedded CPU track): open_clip's own ``CLIP`` class built from
  ``model_configs/clip-tiny.json`` (registered with ``open_clip.add_model_config``), with a text tower
  over the project's word-level caption vocabulary (:mod:`rls3_bench.learners.vocab`): ids ``<pad>`` = 0,
  each text ends in ``<eos>`` and is pooled there (``pool_type: eos``). Weights: random (seeded), the
  project's ``base`` weights, or a file written by :meth:`ClipLearner.export_weights`.
* any open_clip architecture name (``ViT-B-32``, ...), with open_clip's tokenizer for it. Weights:
  random (seeded), a local checkpoint file, or an open_clip pretrained tag (``openai``,
  ``laion2b_s34b_b79k``) that is already in the local cache; nothing is ever downloaded.

Images are resized (bicubic, antialiased, squashed to the model's square input rather than
centre-cropped, so no object near an edge is cut away) and normalised with the mean/std open_clip
attaches to the model (its pretrained tag's when a tag is loaded). No augmentation.

Dual loss on a batch of ``n`` samples with image embeddings ``I`` and text embeddings ``T`` (unit
norm), ``s = exp(logit_scale)``::

    loss = CLIP(I, T_captions) + hard_negative_weight * HN(I, T_captions ∪ T_negatives)

* ``CLIP``: the symmetric image–text InfoNCE of CLIP/open_clip's ``ClipLoss`` over the batch's true
  captions, ``(CE(s·I·Tᵀ, diag) + CE(s·T·Iᵀ, diag)) / 2``, except that a caption identical (as text) to
  sample ``i``'s own caption is not counted as a negative for ``i`` (it is masked out). Generated
  batches often repeat a caption ("The plate is to the left of the vase."), and ``ClipLoss`` would
  push identical texts apart from images they truly describe. With distinct captions the two are
  equal.
* ``HN`` (NegCLIP-style hard negatives): image-to-text cross-entropy of each image's true caption
  against every distinct text of the batch: all true captions plus all samples' corrupted captions
  (``Sample.negatives``: one term flipped, or subject and reference swapped). A text equal to
  image ``i``'s caption is its positive, never its negative.

Evaluation scores each item's true caption and ``negatives[0]`` by cosine similarity with its image
(2-way choice; ties count as wrong). Feedback's per-sample loss is the cross-entropy of the true caption
against the sample's own negatives, ``CE(s·[cos(I,caption), cos(I,neg_1), ...], 0)``.

Nothing draws random numbers after initialisation (no dropout, no augmentation; the loop decides the
data order), so a run is a function of the seed and the data, bit for bit on CPU.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from rls3_bench.data.atomic import atomic_write_bytes
from rls3_bench.errors import UserError, require
from rls3_bench.labels.sample import Sample
from rls3_bench.learners.base import (
    EvalResult,
    Feedback,
    ItemPrediction,
    Learner,
    shipped_base,
    shipped_base_names,
    term_error_rates,
    torch_device,
    verified_base_weights,
)
from rls3_bench.learners.checkpoint import TorchCheckpointMixin

torch = require("torch", "clip")
open_clip = require("open_clip", "clip")
F = torch.nn.functional

#: open_clip's training clamps the learned temperature here (logit scale <= 100).
MAX_LOGIT_SCALE = math.log(100.0)

_PACKAGE = Path(__file__).resolve().parent.parent
DEFAULT_RECIPE: dict[str, Any] = {
    "lr": 1e-4,  # AdamW learning rate
    "weight_decay": 0.1,  # AdamW decoupled weight decay (not on gains, biases, embeddings' scale)
    "batch_size": 32,  # samples per optimiser step (the loop batches; listed so tracks can set it)
    "eval_batch_size": 128,  # samples per forward pass in evaluate()/feedback()
    "hard_negative_weight": 1.0,  # weight of the NegCLIP-style term of the dual loss (0 disables it)
    "grad_clip": 1.0,  # max global gradient norm (0 disables clipping)
    "image_lr_scale": 1.0,  # the image tower's learning rate as a share of lr (0: the tower stays as loaded)
}


@dataclass(frozen=True)
class _TinyModel:
    """A project-defined architecture: config file, word-level tokenizer, shipped base weights."""

    config_file: str
    base_weights: Path
    base_hint: str  # the command that builds the base weights


TINY_MODELS: dict[str, _TinyModel] = {
    "clip-tiny": _TinyModel(
        config_file="clip-tiny.json",
        base_weights=_PACKAGE / "weights" / "clip-tiny-base.safetensors",
        base_hint="rls3-bench pretrain --track clip-tiny",
    ),
}


# --- architecture and tokenizers --------------------------------------------------------------------


@cache
def _register_tiny_configs() -> None:
    """Make the tiny configs known to open_clip (``list_models``, ``get_model_config``), once."""
    for spec in TINY_MODELS.values():
        open_clip.add_model_config(_PACKAGE / "model_configs" / spec.config_file)


def tiny_text_cfg(name: str) -> dict[str, Any]:
    """The text tower config of a tiny model with vocabulary size and pad/eos ids taken from
    :mod:`rls3_bench.learners.vocab`, so they cannot drift from the tokenizer."""
    from rls3_bench.learners.vocab import vocabulary

    _register_tiny_configs()
    vocab = vocabulary()
    cfg = open_clip.get_model_config(name)["text_cfg"]
    cfg.update(vocab_size=len(vocab), pad_id=vocab.index("<pad>"), eos_id=vocab.index("<eos>"))
    return cfg


class VocabTokenizer:
    """open_clip-style tokenizer over the project's caption vocabulary: ``tok(texts)`` is a
    ``(B, context_length)`` long tensor of word ids, ``<eos>``, then ``<pad>`` (0).

    A text longer than the context is cut before its ``<eos>``, so every row is pooled at an ``<eos>``.
    """

    def __init__(self, context_length: int):
        from rls3_bench.learners.vocab import build_tokenizer, vocabulary

        self.context_length = int(context_length)
        self._tok = build_tokenizer()
        vocab = vocabulary()
        self.pad_id, self.eos_id = vocab.index("<pad>"), vocab.index("<eos>")

    def __call__(self, texts: Sequence[str]):
        out = torch.full((len(texts), self.context_length), self.pad_id, dtype=torch.long)
        for row, enc in enumerate(self._tok.encode_batch(list(texts))):
            ids = enc.ids[: self.context_length - 1] + [self.eos_id]
            out[row, : len(ids)] = torch.tensor(ids)
        return out


def check_architecture(name: str) -> None:
    """Raise a one-line UserError for a name open_clip has no config for."""
    _register_tiny_configs()
    known = open_clip.list_models()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(
            f"unknown open_clip architecture '{name}'{hint}; list the valid names with "
            '`python -c "import open_clip; print(open_clip.list_models())"`'
        )


def _tokenizer(name: str):
    if name in TINY_MODELS:
        return VocabTokenizer(tiny_text_cfg(name)["context_length"])
    try:
        return open_clip.get_tokenizer(name)
    except Exception as exc:  # an HF tokenizer that is not cached, with the hub offline
        raise UserError(
            f"the tokenizer of '{name}' cannot be loaded offline ({str(exc).splitlines()[0]}); "
            "populate the Hugging Face cache for it"
        ) from None


# --- weights ----------------------------------------------------------------------------------------


def _cached_tag_file(name: str, tag: str, cfg: dict[str, Any]) -> Path:
    """The local file of an open_clip pretrained tag (HF cache or open_clip's URL cache), found
    without any network access, or a one-line UserError saying how to supply it."""
    from huggingface_hub import try_to_load_from_cache

    hub = cfg.get("hf_hub", "")
    if hub:
        # open_clip's convention: "org/repo/filename", or "org/repo/" for its default file names
        repo, filename = os.path.split(hub)
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        for fname in names:
            hit = try_to_load_from_cache(repo, fname)
            if isinstance(hit, str):
                return Path(hit)
    url_file = Path("~/.cache/clip").expanduser() / os.path.basename(cfg.get("url", "") or "none")
    if cfg.get("url") and url_file.is_file():
        return url_file
    where = f"`huggingface-cli download {repo}`" if hub else f"downloading {cfg.get('url')} into ~/.cache/clip/"
    raise UserError(
        f"open_clip weights '{name}' / '{tag}' are not in the local cache and this suite never downloads them; "
        f"pass a local checkpoint with --weights PATH, or populate the cache once on a networked machine with {where}"
    )


def _resolve_weights(name: str, weights: str | None) -> tuple[Path | None, dict[str, Any]]:
    """(checkpoint file or None for random init, open_clip pretrained config of a tag or {})."""
    if weights is None:
        return None, {}
    if weights == "base":
        spec = TINY_MODELS.get(name)
        if spec is None:
            raise UserError(
                f"model '{name}' has no project base weights; "
                f"pass --weights PATH or an open_clip tag ({_tags_hint(name)})"
            )
        return verified_base_weights(spec.base_weights, spec.base_hint), {}
    shipped = shipped_base(weights, name)
    if shipped is not None:
        return shipped, {}
    path = Path(weights).expanduser()
    if path.is_file():
        return path, {}
    tag_cfg = open_clip.get_pretrained_cfg(name, weights)
    if tag_cfg:
        return _cached_tag_file(name, weights, tag_cfg), tag_cfg
    if os.sep in weights or path.suffix:
        raise UserError(f"weights file {path} does not exist; pass an existing checkpoint with --weights PATH")
    shipped_names = ", ".join(shipped_base_names(name)) or "none"
    raise UserError(
        f"weights '{weights}' is neither 'base', a shipped base of '{name}' ({shipped_names}), "
        f"an existing file, nor an open_clip tag of '{name}' ({_tags_hint(name)})"
    )


def _tags_hint(name: str) -> str:
    tags = open_clip.list_pretrained_tags_by_model(name)
    return f"its tags: {', '.join(tags)}" if tags else "open_clip has no pretrained tags for it"


def build_model(name: str, weights: str | None, seed: int):
    """(open_clip model, tokenizer) for an architecture and a weights source. Random init is seeded by
    ``seed`` without touching torch's global RNG; missing weights fail before anything is built."""
    check_architecture(name)
    checkpoint, tag_cfg = _resolve_weights(name, weights)
    tokenizer = _tokenizer(name)
    kwargs: dict[str, Any] = {}
    if name in TINY_MODELS:
        kwargs["text_cfg"] = tiny_text_cfg(name)
    if tag_cfg:
        # a tag's file is loaded as a plain checkpoint, so pass on what open_clip would take from the
        # tag: QuickGELU (OpenAI weights) and the normalisation the weights were trained with
        kwargs.update(
            force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)),
            force_preprocess_cfg={"mean": tag_cfg["mean"], "std": tag_cfg["std"]} if "mean" in tag_cfg else None,
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            # open_clip logs "initialized randomly" on the root logger: intended here, and noise on a CLI
            logging.disable(logging.WARNING)
            model = open_clip.create_model(name, pretrained=str(checkpoint) if checkpoint else None, **kwargs)
        except Exception as exc:
            if checkpoint is None:
                raise
            raise UserError(
                f"weights {checkpoint} cannot be loaded into '{name}' ({str(exc).splitlines()[0][:200]}); "
                "pass a checkpoint of this architecture "
                "(OpenAI-style weights need the '-quickgelu' variant of the name)"
            ) from None
        finally:
            logging.disable(logging.NOTSET)
    return model, tokenizer


# --- tensors ----------------------------------------------------------------------------------------


def pixel_values(images: Sequence[np.ndarray] | np.ndarray, size: int, mean: Sequence[float], std: Sequence[float]):
    """``(B, 3, size, size)`` float, normalised with ``mean``/``std``, from ``(H, W, 3)`` uint8 images."""
    x = (
        torch.from_numpy(np.stack([np.asarray(im, dtype=np.uint8) for im in images])).permute(0, 3, 1, 2).float()
        / 255.0
    )
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False).clamp(0.0, 1.0)
    mean_t = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean_t) / std_t


def unique_texts(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """Distinct texts in order of first appearance, and each input's index into them."""
    index: dict[str, int] = {}
    for t in texts:
        index.setdefault(t, len(index))
    return list(index), [index[t] for t in texts]


def masked_clip_loss(logits, caption_ids):
    """Symmetric InfoNCE over a batch, ``logits[i, j]`` = scaled similarity of image ``i`` and sample
    ``j``'s caption; ``caption_ids`` (n,) ids of the caption texts. Off-diagonal pairs whose captions
    are the same text are masked (see the module docstring); otherwise equals open_clip's ClipLoss."""
    n = logits.shape[0]
    same = caption_ids[:, None] == caption_ids[None, :]
    logits = logits.masked_fill(same & ~torch.eye(n, dtype=torch.bool, device=logits.device), float("-inf"))
    labels = torch.arange(n, device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def _chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _resolve_recipe(recipe: dict) -> dict[str, Any]:
    unknown = sorted(set(recipe) - set(DEFAULT_RECIPE))
    if unknown:
        raise UserError(f"unknown CLIP recipe keys {unknown}; valid keys are {sorted(DEFAULT_RECIPE)}")
    scale = recipe.get("image_lr_scale", DEFAULT_RECIPE["image_lr_scale"])
    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale >= 0):
        raise UserError(
            f"CLIP recipe image_lr_scale is {scale!r}; give a finite number >= 0 (0 freezes the image tower)"
        )
    return {**DEFAULT_RECIPE, **recipe}


def _no_weight_decay(name: str, param) -> bool:
    """open_clip's training exclusion: gains, biases and the temperature are not decayed."""
    return param.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name


# --- the learner ------------------------------------------------------------------------------------


class ClipLearner(TorchCheckpointMixin, Learner):
    """An open_clip model fine-tuned with the dual loss (see the module docstring).

    :param model: ``"clip-tiny"`` or any open_clip architecture name (``open_clip.list_models()``).
    :param weights: None (random init, seeded), ``"base"`` (the project's tiny base weights), a local
        checkpoint file (safetensors from :meth:`export_weights`, or an open_clip/OpenAI checkpoint), or an
        open_clip pretrained tag whose file is already in the local cache.
    :param recipe: overrides of :data:`DEFAULT_RECIPE` (unknown keys are an error).
    :param device: ``"cpu"`` or ``"cuda[:i]"``; on CUDA forward passes run under bf16 autocast.
    :param seed: seeds the random init; nothing else draws random numbers.
    """

    name = "clip"

    def __init__(self, model: str, weights: str | None, recipe: dict, device: str = "cpu", seed: int = 0):
        self.model_name, self.weights, self.seed = model, weights, int(seed)
        self.recipe = _resolve_recipe(recipe)
        self.device = torch_device(device)
        core, self.tokenizer = build_model(model, weights, self.seed)
        self.core = core.to(self.device)
        preprocess = open_clip.get_model_preprocess_cfg(self.core)
        self.image_size = int(np.atleast_1d(self.core.visual.image_size)[0])
        self.mean, self.std = tuple(preprocess["mean"]), tuple(preprocess["std"])
        self.optimizer = self._make_optimizer()
        self.steps = 0

    @classmethod
    def check_setup(cls, model: str, weights: str | None, recipe: dict, device: str) -> None:
        _resolve_recipe(recipe)
        torch_device(device)
        check_architecture(model)
        _resolve_weights(model, weights)

    def _make_optimizer(self):
        lr, scale = float(self.recipe["lr"]), float(self.recipe["image_lr_scale"])
        if scale == 0:
            # AdamW skips parameters without a gradient (weight decay included): the tower stays as loaded
            self.core.visual.requires_grad_(False)
        named = [(n, p) for n, p in self.core.named_parameters() if p.requires_grad]
        # the image tower gets groups of its own only when its rate differs, so scale 1 builds the
        # optimizer (and trains) exactly as before the key existed
        if scale in (0.0, 1.0):
            towers = [(named, lr)]
        else:
            visual = {id(p) for p in self.core.visual.parameters()}
            towers = [
                ([(n, p) for n, p in named if id(p) not in visual], lr),
                ([(n, p) for n, p in named if id(p) in visual], lr * scale),
            ]
        groups = []
        for params, tower_lr in towers:
            groups.append(
                {
                    "params": [p for n, p in params if not _no_weight_decay(n, p)],
                    "weight_decay": float(self.recipe["weight_decay"]),
                    "lr": tower_lr,
                }
            )
            groups.append(
                {"params": [p for n, p in params if _no_weight_decay(n, p)], "weight_decay": 0.0, "lr": tower_lr}
            )
        return torch.optim.AdamW(groups, lr=lr)

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # --- forward passes -----------------------------------------------------------------------------

    def encode_images(self, images):
        """``(B, D)`` unit-norm float32 image embeddings of ``(H, W, 3)`` uint8 images."""
        px = pixel_values(images, self.image_size, self.mean, self.std).to(self.device)
        return self.core.encode_image(px, normalize=True).float()

    def encode_texts(self, texts: Sequence[str]):
        """``(B, D)`` unit-norm float32 text embeddings."""
        return self.core.encode_text(self.tokenizer(list(texts)).to(self.device), normalize=True).float()

    def _logit_scale(self):
        return self.core.logit_scale.exp().float()

    def _embed(self, images, texts: Sequence[str]):
        """Image embeddings, embeddings of the distinct texts, and each text's row among them."""
        distinct, ids = unique_texts(texts)
        return self.encode_images(images), self.encode_texts(distinct), torch.tensor(ids, device=self.device)

    def _loss(self, images, captions: Sequence[str], negatives: Sequence[str], weight: float, image_term=None):
        """CLIP term over ``captions`` + ``weight`` x hard-negative term over captions and ``negatives``
        (+ ``image_term(image embeddings)`` where given)."""
        n = len(captions)
        texts = list(captions) + (list(negatives) if weight > 0 else [])  # encode negatives only if used
        img, txt, ids = self._embed(images, texts)
        logits = self._logit_scale() * img @ txt.T  # (n, distinct texts)
        caption_ids = ids[:n]
        # index_select, not fancy indexing: its backward (index_add) sums repeated captions in a fixed
        # order, which keeps CPU training bit-for-bit reproducible
        loss = masked_clip_loss(logits.index_select(1, caption_ids), caption_ids)
        if weight > 0:
            loss = loss + weight * F.cross_entropy(logits, caption_ids)
        if image_term is not None:
            loss = loss + image_term(img)
        return loss

    def dual_loss(self, batch: Sequence[Sample]):
        """The training objective on ``batch`` (a scalar tensor with gradient); see the module docstring."""
        negatives = [neg for s in batch for neg in s.negatives]
        weight = float(self.recipe["hard_negative_weight"])
        return self._loss([s.image for s in batch], [s.caption for s in batch], negatives, weight)

    # --- optimisation ---------------------------------------------------------------------------------

    def _optimise(self, loss) -> float:
        loss.backward()
        if float(self.recipe["grad_clip"]) > 0:
            torch.nn.utils.clip_grad_norm_(self.core.parameters(), float(self.recipe["grad_clip"]))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():  # as open_clip's training loop: keep the temperature in [1, 100]
            self.core.logit_scale.clamp_(0.0, MAX_LOGIT_SCALE)
        self.steps += 1
        return float(loss.detach())

    def train_step(self, batch: Sequence[Sample]) -> float:
        self.core.train()
        with self._autocast():
            loss = self.dual_loss(batch)
        return self._optimise(loss)

    def pretrain_step(
        self,
        images: np.ndarray,
        texts: list[str],
        negatives: Sequence[str] = (),
        weight: float = 0.0,
        image_term=None,
    ) -> float:
        """One contrastive step on object-level captions (base-weight pretraining), plus ``weight`` x
        the hard-negative term over ``negatives`` (object-swapped captions) when ``weight > 0``, plus
        ``image_term`` (a loss on the batch's image embeddings, e.g. the object-position head's)."""
        self.core.train()
        with self._autocast():
            loss = self._loss(list(images), texts, list(negatives), weight=weight, image_term=image_term)
        return self._optimise(loss)

    # --- evaluation and feedback ----------------------------------------------------------------------

    def _candidate_scores(self, samples: Sequence[Sample], k: int):
        """``(n, k)`` cosine similarity of each image with its caption and first ``k - 1`` negatives
        (NaN where a sample has fewer), computing only those ``sum(1 + negatives)`` image-text scores."""
        n = len(samples)
        rows = [[s.caption, *s.negatives[: k - 1]] for s in samples]
        img, txt, ids = self._embed([s.image for s in samples], [t for row in rows for t in row])
        slot = torch.tensor([j for row in rows for j in range(len(row))], device=self.device)
        owner = torch.tensor([i for i, row in enumerate(rows) for _ in row], device=self.device)
        sims = torch.full((n, k), float("nan"), device=self.device)
        sims[owner, slot] = (img[owner] * txt[ids]).sum(-1)
        return sims, len(owner)

    @torch.no_grad()
    def evaluate(self, items: Sequence[Sample]) -> EvalResult:
        """2-way choice per item: cosine similarity of the image with its true caption vs ``negatives[0]``."""
        self.core.eval()
        predictions, queries = [], 0
        for chunk in _chunks(items, int(self.recipe["eval_batch_size"])):
            with self._autocast():
                sims, q = self._candidate_scores(chunk, k=2)
            queries += q
            predictions += [
                ItemPrediction(s.sample_id, float(t), float(neg))
                for s, (t, neg) in zip(chunk, sims.cpu().tolist(), strict=True)
            ]
        return EvalResult(predictions=tuple(predictions), queries=queries)

    @torch.no_grad()
    def feedback(self, samples: Sequence[Sample]) -> Feedback:
        """Loss = cross-entropy of the true caption against the sample's own negatives (temperature
        ``logit_scale``); correct = the caption outscores ``negatives[0]``."""
        self.core.eval()
        k = 1 + max(len(s.negatives) for s in samples)
        losses, correct, queries = [], [], 0
        for chunk in _chunks(samples, int(self.recipe["eval_batch_size"])):
            with self._autocast():
                sims, q = self._candidate_scores(chunk, k=k)
            logits = (self._logit_scale() * sims).nan_to_num(nan=float("-inf"))
            losses.append(
                F.cross_entropy(
                    logits, torch.zeros(len(chunk), dtype=torch.long, device=self.device), reduction="none"
                ).cpu()
            )
            correct.append((sims[:, 0] > sims[:, 1]).cpu())
            queries += q
        correct_np = torch.cat(correct).numpy()
        return Feedback(
            loss=torch.cat(losses).double().numpy(),
            correct=correct_np,
            term_error=term_error_rates(samples, correct_np),
            queries=queries,
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
        return dict(self.core.named_parameters())

    def export_weights(self, path: Path) -> None:
        """fp16 safetensors of the model's state dict (the shipped base format), loadable with ``weights=path``."""
        from safetensors.torch import save

        tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in self.core.state_dict().items()}
        atomic_write_bytes(
            path, save(tensors, metadata={"rls3_bench": json.dumps({"model": self.model_name, "format": "fp16"})})
        )
