"""Batching: pad a list of variable-length examples to the longest one in *this* batch.

Padding per batch (not to a fixed length) means a batch of short sentences costs little; together with batches
grouped by length (batches.py) most of the compute goes to real tokens. Padding values: input_ids → [PAD],
token_type_ids → 0, labels → −100 (not predicted), attention_mask → 0. The attention_mask is 1 on real tokens
and 0 on padding (the model turns it into the boolean "may attend" mask): fine-tuning's rows carry the tokenizer's,
padded here like the other sequences; rows that carry none (pre-training's examples) get it here, from their lengths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from bert.losses import IGNORE_INDEX

SEQUENCE_PADDING = {"input_ids": None, "token_type_ids": 0, "labels": IGNORE_INDEX, "attention_mask": 0}  # None: [PAD]


def pad_batch(rows: Sequence[Mapping[str, Sequence[int] | int]], pad_id: int,
              pad_to_multiple_of: int | None = None) -> dict[str, Tensor]:
    """rows: dicts with `input_ids` (list of ids) and optionally `token_type_ids`, `labels`, `attention_mask`
    (lists of the same length) and scalar entries such as `next_sentence_label` or a sentence's class `labels`.
    Returns int64 tensors: sequences (B, T) padded to the longest row (rounded up to `pad_to_multiple_of`),
    `attention_mask` (B, T) — the rows' own, padded with 0, or when they carry none 1 up to each row's length —
    and scalars (B,)."""
    if not rows:
        raise ValueError("pad_batch: rows is empty (expected at least one example)")
    lengths = [len(r["input_ids"]) for r in rows]
    if min(lengths) == 0:
        raise ValueError("pad_batch: an example has no input_ids")
    T = max(lengths)
    if pad_to_multiple_of:
        T = -(-T // pad_to_multiple_of) * pad_to_multiple_of
    batch: dict[str, Tensor] = {}
    for key in rows[0]:
        if key in SEQUENCE_PADDING and not isinstance(rows[0][key], int):
            fill = pad_id if SEQUENCE_PADDING[key] is None else SEQUENCE_PADDING[key]
            padded: list[int] = []                                                   # the rows, one after another
            for b, r in enumerate(rows):
                values = r[key]
                if len(values) != lengths[b]:
                    raise ValueError(f"pad_batch: row {b} has {len(values)} {key} for {lengths[b]} input_ids")
                padded += values.tolist() if isinstance(values, Tensor) else values
                padded += [fill] * (T - lengths[b])
            # one copy: numpy reads a flat list of ints ~2.5× faster than torch.tensor reads nested lists
            batch[key] = torch.from_numpy(np.array(padded, dtype=np.int64)).view(len(rows), T)   # (B, T)
        else:
            batch[key] = torch.as_tensor([r[key] for r in rows], dtype=torch.long)   # (B,)
    if "attention_mask" not in batch:
        batch["attention_mask"] = (torch.arange(T)[None, :] < torch.as_tensor(lengths)[:, None]).long()  # (B, T)
    return batch
