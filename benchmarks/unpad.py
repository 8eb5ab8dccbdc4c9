"""Unpadding: attend over the real tokens only, packed end to end, instead of over a padded batch with a mask.

No model uses it yet: `benchmarks/padding.py` measures it against the masked fused kernel on a GPU, and it moves
back into `bert/` if it wins there.

A padded batch (B, T) with a key-padding mask wastes work on the [PAD] positions, and — on CUDA — the mask rules
out the FlashAttention kernel (it takes no arbitrary mask), so PyTorch runs the memory-efficient kernel instead.
Unpadding ("varlen" attention, Dao et al. 2022 FlashAttention; the `cu_seqlens` interface of the flash-attn
library) packs the N = Σ_b len_b real tokens into one (N, …) tensor and describes the sequences by their
cumulative lengths

    cu_seqlens = [0, len_0, len_0 + len_1, …, N]          (sequence b is rows cu_seqlens[b] … cu_seqlens[b+1] − 1)

so every query attends only to the keys of its own sequence and no mask is needed. Here the packed attention
runs through PyTorch's nested ("jagged") tensors: `F.scaled_dot_product_attention` on a jagged batch picks the
flash kernel on CUDA for fp16 / bf16 (the memory-efficient one for fp32), with dropout and autograd, and a
per-sequence math path on the CPU.

What comes back differs from the masked dense path only at the padding positions: the masked path gives a [PAD]
query the average over its row's real keys, unpadding gives it 0 (`pad` fills zeros). BERT never reads those
positions (their MLM labels are −100, and [CLS] is position 0), so every real token gets the same answer —
tests/benchmarks/test_unpad.py checks that against the reference formula.

Dimension legend
    B  batch    T  padded tokens    N  real tokens in the batch (Σ lengths)    H  heads    D  head dim
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from bert.validation import check_dropout


@dataclass(frozen=True)
class Packing:
    """Where the real tokens of a padded (B, T) batch are: `indices` (N,) into the flattened B·T positions,
    `cu_seqlens` (B' + 1,) the cumulative lengths of the B' non-empty rows, `max_seqlen` / `min_seqlen` the
    longest and shortest of them (known up front, so the kernels need no further host synchronisation)."""
    indices: Tensor
    cu_seqlens: Tensor
    max_seqlen: int
    min_seqlen: int
    batch: int
    tokens: int


def packing(attention_mask: Tensor) -> Packing:
    """attention_mask (B, T), 1/True = real token, 0/False = padding; each row's real tokens may sit anywhere
    (usually a prefix). Rows with no real token are left out of cu_seqlens (they hold nothing to attend with).

    It synchronises with the device once (the number of real tokens and the longest row, as every varlen
    implementation must); compute it once per batch and share it between the layers."""
    if not isinstance(attention_mask, Tensor):
        raise TypeError(f"attention_mask must be a (batch, seq_len) tensor, got {type(attention_mask).__name__}")
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be a (batch, seq_len) tensor, got shape {tuple(attention_mask.shape)}")
    keep = attention_mask.bool()                                              # (B, T)
    B, T = keep.shape
    lengths = keep.sum(dim=1)                                                 # (B,)
    lengths = lengths[lengths > 0]                                            # (B',) the non-empty rows
    cu_seqlens = F.pad(lengths.cumsum(0), (1, 0)).to(torch.int64)             # (B' + 1,) = [0, len_0, …, N]
    indices = keep.flatten().nonzero().squeeze(1)                             # (N,) positions in B·T
    max_seqlen = int(lengths.max()) if lengths.numel() else 0
    min_seqlen = int(lengths.min()) if lengths.numel() else 0
    return Packing(indices, cu_seqlens, max_seqlen, min_seqlen, B, T)


def unpad(x: Tensor, p: Packing) -> Tensor:
    """(B, T, *) → (N, *): the real tokens, row after row."""
    if tuple(x.shape[:2]) != (p.batch, p.tokens):
        raise ValueError(f"x must start with the packing's (batch, seq_len) = {(p.batch, p.tokens)}, "
                         f"got {tuple(x.shape)}")
    return x.flatten(0, 1)[p.indices]                                         # (B, T, *) -> (B·T, *) -> (N, *)


def pad(packed: Tensor, p: Packing) -> Tensor:
    """(N, *) → (B, T, *), zeros at the padding positions (the inverse of `unpad` on the real tokens)."""
    if packed.shape[0] != p.indices.numel():
        raise ValueError(f"packed must have the packing's {p.indices.numel()} real tokens as its first dim, "
                         f"got {tuple(packed.shape)}")
    out = packed.new_zeros(p.batch * p.tokens, *packed.shape[1:])             # (B·T, *)
    out = out.index_copy(0, p.indices, packed)                                # real tokens back in place
    return out.view(p.batch, p.tokens, *packed.shape[1:])                     # (B·T, *) -> (B, T, *)


def varlen_attention(query: Tensor, key: Tensor, value: Tensor, p: Packing, dropout_p: float = 0.0,
                     scale: float | None = None) -> Tensor:
    """softmax(Q Kᵀ / √d_k) V within each packed sequence: query/key/value (N, H, D) → (N, H, D).

    The same formula as `bert.attention.scaled_dot_product_attention` (Vaswani et al. 2017 §3.2.1), applied to
    each sequence b's rows cu_seqlens[b] … cu_seqlens[b+1] − 1 on its own. See the module docstring.
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor) or t.dim() != 3 or t.shape[0] != p.indices.numel():
            raise ValueError(f"{name} must have shape (N={p.indices.numel()}, heads, head_dim), got "
                             f"{tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__}")
    check_dropout(dropout_p)
    if p.indices.numel() == 0:                                                # nothing but padding:
        return value.clone()                                                  # (0, H, Dv), still in the graph
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    offsets = p.cu_seqlens.to(query.device)                                   # one tensor: one ragged dim j

    def jagged(t: Tensor) -> Tensor:                       # (N, H, D) -> (B', j, H, D) -> (B', H, j, D)
        return torch.nested.nested_tensor_from_jagged(t, offsets, min_seqlen=p.min_seqlen,
                                                      max_seqlen=p.max_seqlen).transpose(1, 2)

    with warnings.catch_warnings():  # the CPU math path converts to the older strided layout, which warns
        warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors is in prototype stage")
        out = F.scaled_dot_product_attention(jagged(query), jagged(key), jagged(value), dropout_p=dropout_p,
                                             scale=scale)                     # (B', H, j, D), jagged
    return out.transpose(1, 2).values()                                       # (B', j, H, D) -> (N, H, D)


def unpadded_attention(query: Tensor, key: Tensor, value: Tensor, attention_mask: Tensor, dropout_p: float = 0.0,
                       scale: float | None = None, p: Packing | None = None) -> Tensor:
    """Drop-in for fused attention with a key-padding mask: query/key/value (B, H, T, D), attention_mask (B, T)
    → (B, H, T, D), with 0 at the padding queries (see the module docstring). Pass a precomputed `p` (from
    `packing(attention_mask)`) to share it between layers."""
    p = packing(attention_mask) if p is None else p
    B, H, T, D = query.shape

    def pack(t: Tensor) -> Tensor:
        return unpad(t.transpose(1, 2), p)                 # (B, H, T, D) -> (B, T, H, D) -> (N, H, D)

    out = varlen_attention(pack(query), pack(key), pack(value), p, dropout_p, scale)   # (N, H, Dv)
    return pad(out, p).transpose(1, 2)                     # (N, H, Dv) -> (B, T, H, Dv) -> (B, H, T, Dv)


__all__ = ["Packing", "packing", "unpad", "pad", "varlen_attention", "unpadded_attention"]
