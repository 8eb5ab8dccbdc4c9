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
gathered q, k, v are put back into rows (B, L, C), L = the longest row (here 6), each sequence's tokens first —
"re-padded" — and the masked kernel runs as before; its output is gathered again. So a layer costs
N/(B·T) of the padded layer's projections and feed-forward, plus three scatters and one gather.

    after the embeddings   x (B, T, C) → x[indices] (N, C)          `RaggedBatch.gather`   (indices: real positions)
    each layer             (N, C) → re-padded rows (B, L, C) → (N, C) around attention only (bert/attention.py)
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
    H  heads
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
                    "'padding'); flash varlen on CUDA is not measured yet (no GPU lent), so it is not chosen")

# Why a question-answering model keeps the padded path under "auto" (`Unpadding.keep_padded`).
SPAN_READS_PADDING = ("the span loss takes its softmax over every position, padding included (as transformers' "
                      "does), so the logits at padding must be the padded path's")


@dataclass(frozen=True)
class RaggedBatch:
    """Where the N real tokens of a padded (B, T) batch sit (module docstring).

    indices  (N,)  their positions in the flattened padded batch, B·T, row after row
    slots    (N,)  their positions in the re-padded rows (B·L) attention uses: sequence b's tokens first, in order
    cu_seqlens (B + 1,)  [0, len_0, len_0 + len_1, …, N]: sequence b is rows cu_seqlens[b] … cu_seqlens[b+1] − 1
    keep     (B, 1, 1, L) bool key mask of the re-padded rows (True = real), None when every row is L long
    columns  (B, L)  the padded column each slot came from (T for an empty slot): maps attention weights back

    Scatters are an in-place `index_copy_` into fresh zeros (on one CPU thread 0.28 ms for 1,114 of 2,048 rows of
    384, against 0.70 ms for masked_scatter_ and twice that for the out-of-place index_copy); where nothing is
    padded they are views and cost nothing.
    """
    indices: Tensor
    slots: Tensor
    cu_seqlens: Tensor
    keep: Tensor | None
    columns: Tensor
    batch: int
    tokens: int
    longest: int

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
        """(N, C) → (B, L, C): re-padded for attention, each sequence's tokens first, zeros after."""
        if self.keep is not None:                                            # some row is shorter than L
            x = x.new_zeros(self.batch * self.longest, x.shape[-1]).index_copy_(0, self.slots, x)    # (B·L, C)
        return x.view(self.batch, self.longest, -1)                          # (B, L, C)

    def from_rows(self, x: Tensor) -> Tensor:
        """(B, L, C) → (N, C): the inverse of `to_rows` on the real tokens."""
        x = x.reshape(self.batch * self.longest, -1)                         # (B·L, C)
        return x if self.keep is None else x.index_select(0, self.slots)     # (N, C)

    def scatter_weights(self, weights: Tensor) -> Tensor:
        """Attention weights of the re-padded rows (B, H, L, L) → (B, H, T, T) at the padded positions, zeros in
        the rows and columns of [PAD]."""
        B, H, T = self.batch, weights.shape[1], self.tokens
        out = weights.new_zeros(B, T + 1, T + 1, H)                          # one spare row/column for empty slots
        b = torch.arange(B, device=weights.device)[:, None, None]            # (B, 1, 1)
        out[b, self.columns[:, :, None], self.columns[:, None, :]] = weights.permute(0, 2, 3, 1)  # (B, L, L, H)
        return out[:, :T, :T].permute(0, 3, 1, 2)                            # (B, T, T, H) -> (B, H, T, T)

    def padded_shape(self, x: Tensor) -> tuple[int, ...]:
        """The shape an (N, C) input has as re-padded rows, (B, L, C); () when x is not N rows of a vector."""
        return (self.batch, self.longest, x.shape[-1]) if x.dim() == 2 and len(x) == len(self.indices) else ()


def ragged(attention_mask: Tensor) -> RaggedBatch:
    """attention_mask (B, T), 1/True = real token, 0/False = padding (anywhere: right, left or in between) → the
    RaggedBatch of its real tokens. Reads the mask back once (the longest row: a device sync on CUDA)."""
    keep = attention_mask.bool()                                             # (B, T)
    B, T = keep.shape
    lengths = keep.sum(dim=1)                                                # (B,)
    L = int(lengths.max())                                                   # the longest row
    indices = keep.flatten().nonzero().squeeze(1)                            # (N,) real positions in B·T
    rank = keep.cumsum(dim=1) - 1                                            # (B, T) slot of each real token
    rows = torch.arange(B, device=keep.device)[:, None]                      # (B, 1)
    slots = (rows * L + rank)[keep]                                          # (N,) positions in B·L
    real = torch.arange(L, device=keep.device)[None, :] < lengths[:, None]   # (B, L) real slots
    columns = torch.full((B * L,), T, dtype=torch.long, device=keep.device)
    columns = columns.index_copy(0, slots, indices % T).view(B, L)           # (B, L) padded column of each slot
    mask = None if bool(real.all()) else real[:, None, None, :]              # (B, 1, 1, L)
    cu_seqlens = F.pad(lengths.cumsum(0), (1, 0))                            # (B + 1,)
    return RaggedBatch(indices, slots, cu_seqlens, mask, columns, B, T, L)


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
        h, hidden, weights = encoder(tokens.gather(x), tokens.keep, output_hidden_states, output_attentions,
                                     tokens)                                 # (N, C) all the way through
        return (tokens.scatter(h), hidden and tuple(map(tokens.scatter, hidden)),
                weights and tuple(map(tokens.scatter_weights, weights)))


__all__ = ["RaggedBatch", "ragged", "padding_mask", "Unpadding", "MODES", "ATTENTION", "ATTENTION_REASON",
           "SPAN_READS_PADDING"]
