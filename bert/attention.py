"""Attention: the formula, the same formula computed tile by tile, the fused kernel, and multi-head attention.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V

Sources: Vaswani et al. 2017, "Attention Is All You Need", §3.2.1 (scaled dot-product) and §3.2.2 (multi-head).
The articles state the same formula in 000 §4 (数学模型和公式详细讲解举例说明), 001 §4,
003 §4.1 (自注意力机制的数学模型) and 004 §3.3.1 (自注意力机制). The tiled path is the forward algorithm of
Dao et al. 2022, "FlashAttention", §3.1 (Algorithm 1), written in plain PyTorch so it can be read.

Dimension legend
    B  batch            H  heads           D  head dim (d_k = d_v)     C  channels = H·D
    Tq query tokens     Tk key tokens      *  any leading batch dims (B, H) of q, k, v

Mask convention (whole project): `attn_mask` is bool, True = "this query may attend to this key", broadcastable
to (*, Tq, Tk). Masked scores are replaced by the dtype's most negative *finite* value (never -inf), and a row
whose keys are all masked attends to nothing: its weights are all 0 and its output is 0 — finite in fp32, fp16
and bf16. (This is also what PyTorch's fused kernel returns for such a row.)

Three paths give one answer, and the tests hold them to each other:
    1. `attention`        — the formula, one line per step, returning the weights (for plots);
                            `scaled_dot_product_attention` is the same function with its arguments checked
    2. `tiled_attention`  — online softmax over key blocks; never holds a Tq×Tk matrix
    3. `fused_attention`  — torch.nn.functional.scaled_dot_product_attention (flash / mem-efficient)
The public functions' argument checks live in bert/validation.py and sit one line above each `def` (`@checked`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from .unpad import RaggedBatch

from .validation import (check_attention_arguments, check_choice, check_multi_head_arguments, check_multi_head_input,
                         checked)

IMPLEMENTATIONS = ("auto", "reference", "tiled", "fused")  # attn_implementation names (configs import this)


def attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
              dropout_p: float = 0.0, scale: float | None = None) -> tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V — the formula, one line per step.

    Vaswani et al. 2017 §3.2.1 (eq. 1); articles 000 §4, 001 §4, 003 §4.1, 004 §3.3.1 (自注意力机制).

    query (*, Tq, D), key (*, Tk, D), value (*, Tk, Dv); attn_mask bool, True = may attend, broadcastable to
    (*, Tq, Tk). Returns (output (*, Tq, Dv), weights (*, Tq, Tk)); the weights are those the output was made
    with (after dropout, as in Hugging Face's BERT). `scale` defaults to 1/√d_k. Unchecked: MultiHeadAttention
    builds q, k and v itself; `scaled_dot_product_attention` below is this function with its arguments checked.
    """
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale   # 1/√d_k unless given
    scores = query @ key.transpose(-2, -1) * scale                     # Q Kᵀ / √d_k      (*, Tq, Tk)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, torch.finfo(scores.dtype).min)  # masked → most negative finite
    weights = torch.softmax(scores, dim=-1)                            # softmax over keys (*, Tq, Tk)
    if attn_mask is not None:
        weights = weights.masked_fill(~attn_mask, 0.0)                 # exactly 0; all-masked row → all 0
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)                      # attention dropout (BERT)
    return weights @ value, weights                                    # weighted sum of values (*, Tq, Dv)


# `scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, scale=None) -> (output, weights)`:
# the same function, `attention`, with its arguments checked first (shapes, dtypes, mask, dropout_p:
# bert/validation.py `check_attention_arguments`) — the name the articles, the notebooks and exercise `attention` use.
scaled_dot_product_attention = checked(check_attention_arguments)(attention)


@checked(check_attention_arguments)
def tiled_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                    dropout_p: float = 0.0, scale: float | None = None, block_size: int = 128) -> Tensor:
    """The same softmax(Q Kᵀ / √d_k) V, computed block by block with an online softmax (FlashAttention).

    Dao et al. 2022, "FlashAttention", §3.1 Algorithm 1 (online softmax: Milakov & Gimelshein 2018).
    Queries are cut into blocks of `block_size` rows and keys/values into blocks of `block_size` columns. For one
    query block, walking over the key blocks j = 1, 2, … we keep per row
        m   `row_max`  running max of the scores seen so far
        ℓ   `row_sum`  running sum of exp(score − m)
        acc            running Σ exp(score − m) · v
    and when a new block raises the max from m to m', the old sums are rescaled by exp(m − m'). At the end,
    output = acc / ℓ. At no time is a Tq×Tk matrix held: the largest score tensor is (*, block, block).
    A fully masked row keeps ℓ = 0 and gives output 0, as the formula does.

    Dropout on the normalised weights equals dropout on the unnormalised exp(score − m) terms added to acc (ℓ is
    the sum *before* dropout), so it is applied there. The arguments are checked by the decorator; the
    unchecked loop (for MultiHeadAttention, which builds q, k, v itself) is `tiled_attention.__wrapped__`.
    """
    Tq, Tk, d_k = query.shape[-2], key.shape[-2], query.shape[-1]
    scale = 1.0 / math.sqrt(d_k) if scale is None else scale
    lowest = torch.finfo(query.dtype).min
    if attn_mask is not None:  # broadcast views only (no copy): (*, Tq, Tk) strides may be 0
        attn_mask = attn_mask.expand(*query.shape[:-1], Tk)
    out_blocks = []
    for i in range(0, Tq, block_size):
        q = query[..., i:i + block_size, :] * scale                            # (*, bq, D), scale folded into q
        row_max = torch.full(q.shape[:-1] + (1,), lowest, dtype=q.dtype, device=q.device)  # m (*, bq, 1)
        row_sum = torch.zeros_like(row_max)                                    # ℓ (*, bq, 1)
        acc = torch.zeros(*q.shape[:-1], value.shape[-1], dtype=q.dtype, device=q.device)  # (*, bq, Dv)
        for j in range(0, Tk, block_size):
            scores = q @ key[..., j:j + block_size, :].transpose(-2, -1)       # scores block (*, bq, bk)
            keep = None if attn_mask is None else attn_mask[..., i:i + block_size, j:j + block_size]
            if keep is not None:
                scores = scores.masked_fill(~keep, lowest)
            new_max = torch.maximum(row_max, scores.amax(dim=-1, keepdim=True))   # m' (*, bq, 1)
            exp_scores = torch.exp(scores - new_max)                           # unnormalised weights (*, bq, bk)
            if keep is not None:
                exp_scores = exp_scores.masked_fill(~keep, 0.0)                # masked keys add nothing
            correction = torch.exp(row_max - new_max)                          # rescale old sums: exp(m − m')
            row_sum = row_sum * correction + exp_scores.sum(dim=-1, keepdim=True)  # ℓ ← ℓ·exp(m − m') + Σ exp
            if dropout_p > 0.0:
                exp_scores = F.dropout(exp_scores, p=dropout_p)
            acc = acc * correction + exp_scores @ value[..., j:j + block_size, :]  # (*, bq, Dv)
            row_max = new_max
        out_blocks.append(acc / torch.where(row_sum > 0, row_sum, torch.ones_like(row_sum)))  # all-masked: 0/1
    return torch.cat(out_blocks, dim=-2)                                       # (*, Tq, Dv)


@checked(check_attention_arguments)
def fused_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                    dropout_p: float = 0.0, scale: float | None = None) -> Tensor:
    """softmax(Q Kᵀ / √d_k) V by PyTorch's fused kernel, `torch.nn.functional.scaled_dot_product_attention`.

    On CUDA it runs FlashAttention (Dao et al. 2022) or the memory-efficient kernel (Rabe & Staats 2021); both
    stream over key blocks like `tiled_attention`. With no mask the flash kernel can be used; a bool mask
    selects the memory-efficient (or math) kernel. A fully masked row gives 0, as in our formula.
    The arguments are checked by the decorator; MultiHeadAttention calls F.scaled_dot_product_attention directly.
    """
    return F.scaled_dot_product_attention(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale)


def resolve_implementation(requested: str) -> str:
    """Turn "auto" into a concrete path, once, when a module is built: "auto" → "fused" on every device.

    On CUDA that is the flash / memory-efficient kernel; on CPU it measured faster than the formula too (the
    numbers: docs/benchmarks.md, "Attention").
    """
    check_choice("attn_implementation", requested, IMPLEMENTATIONS)
    return "fused" if requested == "auto" else requested


class MultiHeadAttention(nn.Module):
    """MultiHead(X) = Concat(head_1, …, head_H) W^O,  head_h = Attention(X W_h^Q, X W_h^K, X W_h^V).

    Vaswani et al. 2017 §3.2.2; article 001 §3. The H heads' projections are stored as one C×C matrix each for
    Q, K and V (head h uses columns h·D … (h+1)·D − 1), so all heads run in one matmul. Parameter names
    (`query`, `key`, `value`, `output`) follow Hugging Face's BertSelfAttention / BertSelfOutput.

    The attention path is chosen once here (`attn_implementation`); `self.implementation` is the resolved one, and
    `self.flash` says whether it is the fused kernel (nanoGPT's habit). A call that asks for the weights
    (`output_attentions=True`) cannot be served by the tiled or fused paths, which never build the weight
    matrix: the formula runs instead, and `self.fallback_reason` says why (None when the chosen path ran) — the
    idea of PyTorch's `why_not_sparsity_fast_path`.

    q, k and v are built here, so `forward` checks only its own input's shape (and the mask's) and calls the
    unchecked functions (`attention`, `tiled_attention.__wrapped__`, F.scaled_dot_product_attention): the public
    functions' argument checks are for callers who bring their own q, k and v.
    """

    def __init__(self, hidden_size: int, num_heads: int, dropout: float = 0.0,
                 attn_implementation: str = "auto", bias: bool = True, block_size: int = 128):
        super().__init__()
        check_multi_head_arguments(hidden_size, num_heads, dropout, block_size)
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.dropout = dropout
        self.block_size = block_size
        self.implementation = resolve_implementation(attn_implementation)
        self.flash = self.implementation == "fused"                   # the fused kernel (else: formula or tiled)
        self.fallback_reason: str | None = None
        self.query = nn.Linear(hidden_size, hidden_size, bias=bias)   # W^Q for all heads
        self.key = nn.Linear(hidden_size, hidden_size, bias=bias)     # W^K
        self.value = nn.Linear(hidden_size, hidden_size, bias=bias)   # W^V
        self.output = nn.Linear(hidden_size, hidden_size, bias=bias)  # W^O

    def _split_heads(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, T, C) -> (B, H, T, D)

    def forward(self, hidden_states: Tensor, attn_mask: Tensor | None = None, output_attentions: bool = False,
                tokens: "RaggedBatch | None" = None) -> tuple[Tensor, Tensor | list[Tensor] | None]:
        """hidden_states (B, T, C); attn_mask bool broadcastable to (B, H, T, T), e.g. (B, 1, 1, T) for padding.
        Unpadded (bert/unpad.py): hidden_states (N, C), the real tokens, and `tokens` saying where they sit; q, k
        and v are projected on (N, C) and re-padded into rows of similar length for `attend` (`tokens.attend`).

        Returns (output (B, T, C) or (N, C), weights if output_attentions else None: (B, H, T, T), or unpadded one
        (b, H, ℓ, ℓ) tensor per group of rows, which bert/unpad.py puts back at the padded positions).
        """
        check_multi_head_input(hidden_states, attn_mask, self.num_heads, self.head_dim, tokens)
        q = self.query(hidden_states)                                  # X W^Q: (B, T, C), or (N, C) unpadded
        k = self.key(hidden_states)                                    # X W^K
        v = self.value(hidden_states)                                  # X W^V
        if tokens is not None:                                         # unpadded: (N, C) -> rows -> (N, C)
            out, weights = tokens.attend(self.attend, q, k, v, self.num_heads, output_attentions)
        else:
            out, weights = self.attend(self._split_heads(q), self._split_heads(k), self._split_heads(v), attn_mask,
                                       output_attentions)              # per head: (B, H, T, D)
            out = out.transpose(1, 2).flatten(2)                       # Concat(heads): (B, H, T, D) -> (B, T, C)
        return self.output(out), (weights if output_attentions else None)  # · W^O

    def attend(self, q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None,
               output_attentions: bool) -> tuple[Tensor, Tensor | None]:
        """softmax(Q Kᵀ / √D) V for every head, q, k, v (B, H, T, D) → ((B, H, T, D), weights or None), by the path
        chosen at construction (the formula when the weights are asked for)."""
        dropout_p = self.dropout if self.training else 0.0
        if self._runs_formula(output_attentions):
            return attention(q, k, v, attn_mask, dropout_p)            # softmax(Q Kᵀ / √D) V, per head (B, H, T, D)
        if self.flash:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p), None
        return tiled_attention.__wrapped__(q, k, v, attn_mask, dropout_p, None, self.block_size), None   # tiled

    def _runs_formula(self, output_attentions: bool) -> bool:
        """The formula runs when it is the chosen path or when the weights are asked for (only it builds them);
        a fallback is recorded in `fallback_reason` (assigned only when it changes: nn.Module's __setattr__ is slow)."""
        if self.implementation == "reference":
            return True
        if output_attentions:
            self.fallback_reason = (f"attention weights were requested; the {self.implementation} path never "
                                    "builds the T×T weight matrix, so the reference path ran instead")
        elif self.fallback_reason is not None:
            self.fallback_reason = None
        return output_attentions
