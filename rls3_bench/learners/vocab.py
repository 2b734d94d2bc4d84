"""The closed caption vocabulary and the word-level tokenizer the tiny tracks use.

The real CLIP BPE and Gemma SentencePiece tokenizers are not available offline, and a 49k/256k-entry
embedding table would dwarf a tiny model. Every text the suite produces (spatial captions, object-level
pretraining captions, PaliGemma prompts and answers) is built from the words below, so a word-level
tokenizer over them is lossless. Built with the ``tokenizers`` library; wrapped for ``transformers``.
"""

from __future__ import annotations

from functools import lru_cache

from rls3_bench.scene.assets import ASSETS, ROOMS

SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>", "<unk>", "<image>")

# Words of the caption template, prompts, answers and object-level captions, besides asset/room names.
_TEMPLATE_WORDS = (
    "the is to of and above below in front behind left right , . ? "
    "a an photo with on answer caption en where relative there are"
).split()


def vocabulary() -> tuple[str, ...]:
    """All tokens, specials first, in a fixed order (ids are stable across releases of this list:
    append new words, never reorder)."""
    words: list[str] = []
    for w in _TEMPLATE_WORDS:
        if w not in words:
            words.append(w)
    for name in [a.name for a in ASSETS.values()] + [r.name for r in ROOMS.values()]:
        for w in name.split():
            if w not in words:
                words.append(w)
    return SPECIAL_TOKENS + tuple(words)


@lru_cache(maxsize=1)
def build_tokenizer():
    """A ``tokenizers.Tokenizer``: lower-cased, split on whitespace and punctuation, word-level."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = {tok: i for i, tok in enumerate(vocabulary())}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    return tok
