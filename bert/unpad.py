"""Padding is wasted work: run the encoder on the real tokens only, gathered into one (N, C) matrix.

A padded batch is a ragged list of sequences squeezed into a rectangle:

    padded (B, T) = (3, 6)                 the ragged list               gathered (N, C), N = 4 + 6 + 2 = 12
    ┌───────────────────────────┐
    │ a0  a1  a2  a3  ·   ·     │   →    a: a0 a1 a2 a3          →      row  0..3   a0 … a3
    │ b0  b1  b2  b3  b4  b5    │   →    b: b0 b1 b2 b3 b4 b5    →      row  4..9   b0 … b5
    │ c0  c1  ·   ·   ·   ·     │   →    c: c0 c1                →      row 10..11  c0 c1
    └───────────────────────────┘                                        cu_seqlens = [0, 4, 10, 12]
      · = [PAD]: 6 of 18 positions (33%)

Every linear layer, GELU, LayerNorm, dropout and residual of an encoder block works on each token alone, so it
gives the same answer on the (N, C) matrix and spends nothing on [PAD]. Only attention mixes tokens: for it the
gathered q, k, v are put back into rows — "re-padded" — each sequence's tokens first, the rows sorted longest first
and cut into GROUPS groups, each group only as wide as its own longest row ℓ (above, with 2 groups: [b, a] padded
to 6 and [c] to 2); the masked kernel runs once per group and its output is gathered again. So a layer costs
N/(B·T) of the padded layer's projections and feed-forward, less attention, plus three scatters and one gather.

    after the embeddings   x (B, T, C) → x[indices] (N, C)          `RaggedBatch.gather`   (indices: real positions)
    each layer             (N, C) → re-padded groups (b, ℓ, C) → (N, C) around attention only (`RaggedBatch.attend`)
    at the end             (N, C) → zeros (B, T, C) with the rows put back    `RaggedBatch.scatter`

The idea is MosaicBERT's (Portes et al. 2023, "MosaicBERT", §2: `bert_padding` unpad_input / pad_input), itself
from FlashAttention's varlen interface (Dao et al. 2022; `cu_seqlens`); Krell et al. 2021 ("Efficient Sequence
Packing without Cross-contamination") measure how much of a real batch is padding (up to 50%).

Same numbers, said precisely: on the real tokens the hidden states, attention weights, losses and gradients equal
the padded path's (tests/bert/test_unpad.py, ≤ 1e-5 in fp32) and transformers'. At padding positions the unpadded
path returns **zeros** — in `last_hidden_state`, every `hidden_states` entry, and the attention rows of [PAD]
queries — where the padded path (and transformers) compute values that nothing should read. Dropout draws its
random numbers over N rows instead of B·T, so in training mode the two paths drop different entries.

Which path runs is chosen by the config's `unpad`: "auto" (unpadded when the batch has padding), "always"
(unpadded even without padding), "never" (the padded path with a mask). "auto" reads the mask back to see
whether anything is padded — on CUDA a device sync, as every unpadding needs (the longest row).

Dimension legend
    B  batch    T  padded tokens    L  longest real row (≤ T)    N  real tokens (Σ lengths)    C  channels
    H  heads    b, ℓ  rows and width of one group of re-padded rows    S  re-padded slots (Σ b·ℓ)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .validation import check_choice, validates

MODES = ("auto", "always", "never")  # the config's `unpad` values

# The attention of the unpadded path, fixed from measurements (not timed at run time): varlen attention — every
# sequence attended alone through nested tensors — against the masked fused kernel on the same padded batch.
ATTENTION = "re-padded"
ATTENTION_REASON = ("re-padded rows with the masked kernel: varlen attention (nested tensors, one sequence at a time) "
                    "measured 3.68× slower than the masked fused kernel on CPU at T = 128 (docs/benchmarks.md, "
                    "'padding'); flash varlen on CUDA is not measured yet (no GPU lent), so it is not chosen. The "
                    "rows are sorted by length and re-padded in GROUPS groups (measured below)")
# Rows sorted by length are re-padded in GROUPS groups, each to its own longest row, so short rows attend over
# fewer keys. Measured (MiniLM's shape, the first 8 SST-2 dev batches of 32, one CPU thread, time / padded path):
# groups 1 / 2 / 4 / 8: forward 0.534 / 0.506 / 0.503 / 0.485×, forward + backward 0.646 / 0.584 / 0.567 / 0.590×.
GROUPS = 4

# Why a question-answering model keeps the padded path under "auto" (`Unpadding.keep_padded`).
SPAN_READS_PADDING = ("the span loss takes its softmax over every position, padding included (as transformers' "
                      "does), so the logits at padding must be the padded path's")


@dataclass(frozen=True)
class RaggedBatch:
    """Where the N real tokens of a padded (B, T) batch sit (module docstring).

    indices  (N,)  their positions in the flattened padded batch, B·T, row after row
    slots    (N,)  their positions in the re-padded rows attention uses (S slots in all)
    cu_seqlens (B + 1,)  [0, len_0, len_0 + len_1, …, N]: sequence b is rows cu_seqlens[b] … cu_seqlens[b+1] − 1
    groups   (first row, first slot, rows b, length ℓ, key mask (b, 1, 1, ℓ) or None when all b rows are ℓ long):
             the rows sorted longest first and cut into GROUPS groups, each re-padded to its own longest row ℓ
    order    (B,)  the padded row of each sorted row;  columns (S,) the padded column of each slot (T: empty)

    Scatters are an in-place `index_copy_` into fresh zeros (on one CPU thread 0.28 ms for 1,114 of 2,048 rows of
    384, against 0.70 ms for masked_scatter_ and twice that for the out-of-place index_copy); where nothing moves
    they are views and cost nothing.
    """
    indices: Tensor
    slots: Tensor
    cu_seqlens: Tensor
    groups: tuple[tuple[int, int, int, int, Tensor | None], ...]
    order: Tensor
    columns: Tensor
    batch: int
    tokens: int
    in_place: bool      # slots == 0 … N − 1: the re-padded rows are the gathered matrix itself

    def gather(self, x: Tensor) -> Tensor:
        """(B, T, C) → (N, C): the real tokens, row after row (MosaicBERT's unpad_input)."""
        x = x.flatten(0, 1)                                                  # (B, T, C) -> (B·T, C)
        return x if len(self.indices) == len(x) else x.index_select(0, self.indices)  # (N, C)

    def scatter(self, x: Tensor) -> Tensor:
        """(N, C) → (B, T, C): each row back at its position, zeros at padding (MosaicBERT's pad_input)."""
        if len(x) < self.batch * self.tokens:
            x = x.new_zeros(self.batch * self.tokens, x.shape[-1]).index_copy_(0, self.indices, x)  # (B·T, C)
        return x.view(self.batch, self.tokens, -1)                           # (B, T, C)

    def to_rows(self, x: Tensor) -> Tensor:
        """(N, C) → (S, C): re-padded for attention, group after group, each row's tokens first, zeros after."""
        if self.in_place:
            return x
        return x.new_zeros(len(self.columns), x.shape[-1]).index_copy_(0, self.slots, x)   # (S, C)

    def from_rows(self, x: Tensor) -> Tensor:
        """(S, C) → (N, C): the inverse of `to_rows` on the real tokens."""
        return x if self.in_place else x.index_select(0, self.slots)       # (N, C)

    def attend(self, attend, q: Tensor, k: Tensor, v: Tensor, heads: int,
               output_attentions: bool) -> tuple[Tensor, list[Tensor] | None]:
        """Attention on the gathered q, k, v (N, C): re-padded, one `attend(q, k, v, mask, output_attentions)` per
        group of rows (b, H, ℓ, D) — MultiHeadAttention.attend — and gathered back to (N, C). Each group attends
        over its own ℓ ≤ L keys, so short rows cost less than in one (B, L) batch."""
        rows = [self.to_rows(t) for t in (q, k, v)]                          # 3 × (S, C)
        parts, weights = [], []
        for _, start, b, length, keep in self.groups:
            qkv = [r[start:start + b * length].view(b, length, heads, -1).transpose(1, 2) for r in rows]  # (b,H,ℓ,D)
            out, w = attend(*qkv, keep, output_attentions)                   # (b, H, ℓ, D)
            parts.append(out.transpose(1, 2))                                # (b, ℓ, H, D)
            weights.append(w)
        if len(parts) == 1:
            out = parts[0].reshape(len(self.columns), -1)                    # Concat(heads): (S, C)
        else:                                                                # Concat(heads), group after group
            out = q.new_empty(len(self.columns), q.shape[-1])                # (S, C), one copy of each group
            for (_, start, b, length, _), part in zip(self.groups, parts):
                out[start:start + b * length].view(part.shape).copy_(part)
        return self.from_rows(out), (weights if output_attentions else None)

    def scatter_weights(self, weights: list[Tensor]) -> Tensor:
        """Attention weights of the groups, (b, H, ℓ, ℓ) each → (B, H, T, T) at the padded positions, zeros in the
        rows and columns of [PAD]."""
        B, H, T = self.batch, weights[0].shape[1], self.tokens
        out = weights[0].new_zeros(B, T + 1, T + 1, H)                       # one spare row/column for empty slots
        for (first, start, b, length, _), w in zip(self.groups, weights):
            rows = self.order[first:first + b][:, None, None]                # (b, 1, 1) padded rows
            cols = self.columns[start:start + b * length].view(b, length)    # (b, ℓ) padded columns
            out[rows, cols[:, :, None], cols[:, None, :]] = w.permute(0, 2, 3, 1)   # (b, ℓ, ℓ, H)
        return out[:, :T, :T].permute(0, 3, 1, 2)                            # (B, T, T, H) -> (B, H, T, T)

    def padded_shape(self, x: Tensor) -> tuple[int, ...]:
        """The shape an (N, C) input has as re-padded rows, (B, L, C); () when x is not N rows of a vector."""
        return (self.batch, self.groups[0][3], x.shape[-1]) if x.dim() == 2 and len(x) == len(self.indices) else ()


def ragged(attention_mask: Tensor, groups: int | None = None) -> RaggedBatch:
    """attention_mask (B, T), 1/True = real token, 0/False = padding (anywhere: right, left or in between), at least
    one real token → the RaggedBatch of its real tokens, its rows in `groups` (default GROUPS) groups of similar
    length. Reads the sorted lengths back once (a device sync on CUDA, as every unpadding needs)."""
    keep = attention_mask.bool()                                             # (B, T)
    B, T = keep.shape
    lengths = keep.sum(dim=1)                                                # (B,)
    order = torch.argsort(lengths, descending=True, stable=True)             # (B,) rows, longest first
    sorted_lengths = lengths[order].tolist()
    plan, starts, slot = [], [0] * B, 0
    G = min(groups or GROUPS, B)
    cuts = [g * B // G for g in range(G)] + [B]
    cuts = [c for i, c in enumerate(cuts) if i == 0 or c == B or sorted_lengths[c] != sorted_lengths[cuts[i - 1]]]
    for lo, hi in zip(cuts, cuts[1:]):                                       # groups of one length are merged
        longest = sorted_lengths[lo]
        if longest == 0:                                                     # rows without a token: nothing to do
            break
        starts[lo:hi] = range(slot, slot + (hi - lo) * longest, longest)    # first slot of each row
        own = lengths[order[lo:hi]]                                          # (b,)
        mask = None if sorted_lengths[hi - 1] == longest else (
            torch.arange(longest, device=keep.device)[None, :] < own[:, None])[:, None, None, :]  # (b, 1, 1, ℓ)
        plan.append((lo, slot, hi - lo, longest, mask))
        slot += (hi - lo) * longest
    first = torch.empty(B, dtype=torch.long, device=keep.device)
    first[order] = torch.tensor(starts, device=keep.device)                  # (B,) first slot of each padded row
    slots = (first[:, None] + keep.cumsum(dim=1) - 1)[keep]                  # (N,) each token's slot
    indices = keep.flatten().nonzero().squeeze(1)                            # (N,) real positions in B·T
    columns = torch.full((slot,), T, dtype=torch.long, device=keep.device).index_copy_(0, slots, indices % T)
    in_place = slot == len(indices) and bool((slots == torch.arange(slot, device=keep.device)).all())
    cu_seqlens = F.pad(lengths.cumsum(0), (1, 0))                            # (B + 1,)
    return RaggedBatch(indices, slots, cu_seqlens, tuple(plan), order, columns, B, T, in_place)


def padding_mask(attention_mask: Tensor | None) -> Tensor | None:
    """(B, T) 1 = token, 0 = padding → bool keep-mask (B, 1, 1, T), True = may attend (every query, every head):
    the padded path's mask.

    None when there is no mask, and — where reading the mask back is allowed (`validates`: by default on CPU,
    where it costs microseconds) — when nothing is padded: the attention kernels are fastest without a mask.
    On CUDA the all-ones check would be a device sync, so by default the mask is kept (the same answer; the
    fused kernel then runs the memory-efficient kernel rather than flash): pass attention_mask=None for a batch
    without padding, or `with bert.validation.validation(True):` to have it checked.
    """
    if attention_mask is None:
        return None
    keep = attention_mask.bool()
    if validates(keep) and bool(keep.all()):
        return None
    return keep[:, None, None, :]                                             # (B, T) -> (B, 1, 1, T)


class Unpadding:
    """The choice between the padded and the unpadded encoder path, made once when a model is built from the
    config's `unpad` ("auto" | "always" | "never"; module docstring). `attention` / `attention_reason` record how
    the unpadded path attends and why (as MultiHeadAttention records its `fallback_reason`); `reason` says why a
    model keeps the padded path although "auto" was asked (None when it does not)."""

    def __init__(self, mode: str = "auto"):
        check_choice("unpad", mode, MODES)
        self.mode = mode
        self.attention, self.attention_reason = ATTENTION, ATTENTION_REASON
        self.reason: str | None = None

    def keep_padded(self, reason: str) -> None:
        """A model whose head reads the padding positions keeps the padded path under "auto"; `reason` says why."""
        if self.mode == "auto":
            self.mode, self.reason = "never", reason

    def tokens(self, attention_mask: Tensor | None, x: Tensor) -> RaggedBatch | None:
        """The RaggedBatch to run on, or None for the padded path: "never", "auto" on a batch without padding (or
        while torch.compile traces: no data read there), and a batch without a single real token."""
        if self.mode == "never" or torch.compiler.is_compiling():
            return None
        if attention_mask is None:
            if self.mode == "auto":
                return None
            attention_mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)   # "always": all real
        keep = attention_mask.bool()
        everything, nothing = bool(keep.all()), not bool(keep.any())
        return None if nothing or (everything and self.mode == "auto") else ragged(keep)

    def __call__(self, encoder, x: Tensor, attention_mask: Tensor | None, output_hidden_states: bool,
                 output_attentions: bool) -> tuple[Tensor, tuple[Tensor, ...] | None, tuple[Tensor, ...] | None]:
        """`encoder` (bert.layers.Encoder) on x (B, T, C): padded with a mask, or unpadded (gather, run on (N, C),
        scatter back). Returns what Encoder returns, in the public shapes."""
        tokens = self.tokens(attention_mask, x)
        if tokens is None:                                                   # the padded path
            return encoder(x, padding_mask(attention_mask), output_hidden_states, output_attentions)
        h, hidden, weights = encoder(tokens.gather(x), None, output_hidden_states, output_attentions,
                                     tokens)                                 # (N, C) all the way through
        return (tokens.scatter(h), hidden and tuple(map(tokens.scatter, hidden)),
                weights and tuple(map(tokens.scatter_weights, weights)))


__all__ = ["RaggedBatch", "ragged", "padding_mask", "Unpadding", "MODES", "ATTENTION", "ATTENTION_REASON",
           "SPAN_READS_PADDING", "GROUPS"]
