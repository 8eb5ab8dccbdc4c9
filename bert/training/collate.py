"""Batching: pad a list of variable-length examples to the longest one in *this* batch.

Padding per batch (not to a fixed length) means a batch of short sentences costs little; together with batches
grouped by length (batches.py) most of the compute goes to real tokens. Padding values: input_ids → [PAD],
token_type_ids → 0, labels → −100 (not predicted); attention_mask is 1 on real tokens and 0 on padding
(the model turns it into the boolean "may attend" mask).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from bert.heads import IGNORE_INDEX

SEQUENCE_PADDING = {"input_ids": None, "token_type_ids": 0, "labels": IGNORE_INDEX}  # None: the pad id


def pad_batch(rows: Sequence[Mapping[str, Sequence[int] | int]], pad_id: int,
              pad_to_multiple_of: int | None = None) -> dict[str, Tensor]:
    """rows: dicts with `input_ids` (list of ids) and optionally `token_type_ids`, `labels` (lists of the same
    length) and scalar entries such as `next_sentence_label` or a sentence's class `labels`. Returns int64 tensors: sequences (B, T) padded to
    the longest row (rounded up to `pad_to_multiple_of`), `attention_mask` (B, T), scalars (B,)."""
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
            padded = []
            for b, r in enumerate(rows):
                if len(r[key]) != lengths[b]:
                    raise ValueError(f"pad_batch: row {b} has {len(r[key])} {key} for {lengths[b]} input_ids")
                values = r[key].tolist() if isinstance(r[key], Tensor) else list(r[key])
                padded.append(values + [fill] * (T - lengths[b]))
            batch[key] = torch.tensor(padded, dtype=torch.long)                     # (B, T), one copy
        else:
            batch[key] = torch.as_tensor([r[key] for r in rows], dtype=torch.long)   # (B,)
    batch["attention_mask"] = (torch.arange(T)[None, :] < torch.as_tensor(lengths)[:, None]).long()  # (B, T)
    return batch
