"""Small corpora and models for the pre-training tests (not a test module).

`traceable_documents` gives every token id a meaning: id = 10_000·(document + 1) + 100·segment + position, so a test
can tell from any id which document and which sentence it came from."""

from __future__ import annotations

import random

from bert import BertConfig
from bert.pretraining.masking import MaskingSpec

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIALS = frozenset({PAD, UNK, CLS, SEP, MASK})


def traceable_documents(n_docs: int = 120, seed: int = 0, max_segments: int = 7, max_len: int = 25):
    rng = random.Random(seed)
    docs = []
    for d in range(n_docs):
        docs.append([[10_000 * (d + 1) + 100 * s + p for p in range(rng.randint(1, max_len))]
                     for s in range(rng.randint(1, max_segments))])
    return docs


def where(token: int) -> tuple[int, int, int]:
    """(document, segment, position) of a traceable token id."""
    return token // 10_000 - 1, token % 10_000 // 100, token % 100


def small_vocab_spec(vocab_size: int = 99, **settings) -> MaskingSpec:
    """Ids 0-4 special; ids ≥ 50 are "##" pieces (for whole-word masking)."""
    flags = tuple(i >= 50 for i in range(vocab_size))
    return MaskingSpec(mask_id=MASK, special_ids=SPECIALS, vocab_size=vocab_size, is_continuation=flags, **settings)


def random_token_documents(n_docs: int = 40, vocab_size: int = 99, seed: int = 0):
    """Documents of 2-6 sentences of 3-15 random non-special ids (for data-pipeline and trainer tests)."""
    rng = random.Random(seed)
    return [[[rng.randrange(5, vocab_size) for _ in range(rng.randint(3, 15))] for _ in range(rng.randint(2, 6))]
            for _ in range(n_docs)]


def tiny_bert_config(vocab_size: int = 99, **overrides) -> BertConfig:
    """Odd sizes (hidden 32, 4 heads, intermediate 37, 2 layers, 40 positions), dropout kept on by default."""
    kw = dict(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=37, max_position_embeddings=40)
    kw.update(overrides)
    return BertConfig(**kw)


def binomial_ok(k: int, n: int, p: float, sigmas: float = 4.5) -> bool:
    """k successes out of n are within `sigmas` standard deviations of n·p."""
    return abs(k - n * p) <= sigmas * (n * p * (1 - p)) ** 0.5

