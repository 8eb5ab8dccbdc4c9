"""Tiny, deliberately odd BERT configs and random batches for the model tests (google-research/bert's tester
habit: sizes that are all different, so a transposed dimension fails loudly). Not a test module."""

from __future__ import annotations

import torch

from bert import BertConfig

B, T, V = 13, 7, 99  # batch, tokens, vocab — all different from each other and from the widths below


def tiny_config(**overrides) -> BertConfig:
    """hidden 32, 4 heads (head dim 8), intermediate 37, 2 layers, 3 labels, max positions 19, 3 segment types; the
    padded path forced (unpad="never"), so tests compare every position, padding included, with transformers' —
    tests/bert/test_unpad.py holds the unpadded path to it on the real tokens."""
    kw = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
              max_position_embeddings=19, type_vocab_size=3, num_labels=3, initializer_range=0.2, unpad="never")
    kw.update(overrides)
    return BertConfig(**kw)


def random_batch(seed: int = 0, batch: int = B, tokens: int = T, vocab: int = V, type_vocab: int = 3) -> dict:
    """input_ids, attention_mask (each row keeps a random prefix of 1…T tokens), token_type_ids; plus labels for
    every head: MLM `labels` (−100 except ~40% of the real tokens), `next_sentence_label`, `class_labels`,
    `token_labels` (−100 at padding), `start_positions` / `end_positions` (some beyond T, to exercise clamping)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, tokens), generator=g)
    lengths = torch.randint(1, tokens + 1, (batch,), generator=g)
    lengths[0] = tokens                                                        # one row without padding
    mask = (torch.arange(tokens)[None, :] < lengths[:, None]).long()          # (B, T) 1 = token
    types = torch.randint(0, type_vocab, (batch, tokens), generator=g) * mask
    mlm = torch.where((torch.rand(batch, tokens, generator=g) < 0.4) & mask.bool(), ids, torch.full_like(ids, -100))
    mlm[0, 0] = ids[0, 0]                                                      # at least one predicted position
    token_labels = torch.where(mask.bool(), torch.randint(0, 3, (batch, tokens), generator=g), -100)
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=mlm,
                next_sentence_label=torch.randint(0, 2, (batch,), generator=g),
                class_labels=torch.randint(0, 3, (batch,), generator=g), token_labels=token_labels,
                start_positions=torch.randint(0, tokens + 3, (batch,), generator=g),
                end_positions=torch.randint(0, tokens + 3, (batch,), generator=g))
