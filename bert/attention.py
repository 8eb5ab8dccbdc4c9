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
    1. `scaled_dot_product_attention`  — the formula, one line per step, returning the weights (for plots)
    2. `tiled_attention`              — online softmax over key blocks; never holds a Tq×Tk matrix
    3. `fused_attention`              — torch.nn.functional.scaled_dot_product_attention (flash / mem-efficient)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IMPLEMENTATIONS = ("auto", "reference", "tiled", "fused")  # attn_implementation names (configs import this)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, scale: float | None = None) -> tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V — the formula, one line per step (in `_reference_attention`).

    Vaswani et al. 2017 §3.2.1 (eq. 1); articles 000 §4, 001 §4, 003 §4.1, 004 §3.3.1 (自注意力机制).

    query (*, Tq, D), key (*, Tk, D), value (*, Tk, Dv); attn_mask bool, True = may attend, broadcastable to
    (*, Tq, Tk). Returns (output (*, Tq, Dv), weights (*, Tq, Tk)); the weights are those the output was made
    with (after dropout, as in Hugging Face's BERT). `scale` defaults to 1/√d_k. The arguments are checked first
    (`_check_qkv`, at the bottom of this file); MultiHeadAttention, which builds them itself, calls the core.
    """
    _check_qkv(query, key, value, attn_mask, dropout_p)
    return _reference_attention(query, key, value, attn_mask, dropout_p, scale)


def _reference_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None, dropout_p: float,
                         scale: float | None) -> tuple[Tensor, Tensor]:
    """softmax(Q Kᵀ / √d_k) V, unchecked: the body of `scaled_dot_product_attention`."""
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query @ key.transpose(-2, -1) * scale                     # Q Kᵀ / √d_k      (*, Tq, Tk)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, torch.finfo(scores.dtype).min)  # masked → most negative finite
    weights = torch.softmax(scores, dim=-1)                            # softmax over keys (*, Tq, Tk)
    if attn_mask is not None:
        weights = weights.masked_fill(~attn_mask, 0.0)                 # exactly 0; all-masked row → all 0
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)                      # attention dropout (BERT)
    return weights @ value, weights                                    # weighted sum of values (*, Tq, Dv)


def tiled_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                    dropout_p: float = 0.0, scale: float | None = None, block_size: int = 128) -> Tensor:
    """The same softmax(Q Kᵀ / √d_k) V, computed block by block with an online softmax (FlashAttention).

    Dao et al. 2022, "FlashAttention", §3.1 Algorithm 1 (online softmax: Milakov & Gimelshein 2018).
    Queries are cut into blocks of `block_size` rows and keys/values into blocks of `block_size` columns. For one
    query block, walking over the key blocks j = 1, 2, … we keep per row
        m  = running max of the scores seen so far
        ℓ  = running sum of exp(score − m)
        acc = running Σ exp(score − m) · v
    and when a new block raises the max from m to m', the old sums are rescaled by exp(m − m'). At the end,
    output = acc / ℓ. At no time is a Tq×Tk matrix held: the largest score tensor is (*, block, block).
    A fully masked row keeps ℓ = 0 and gives output 0, as the reference does.

    Dropout on the normalised weights equals dropout on the unnormalised exp(score − m) terms added to acc (ℓ is
    the sum *before* dropout), so it is applied there. Arguments are checked, then `_tiled_attention` runs.
    """
    _check_qkv(query, key, value, attn_mask, dropout_p)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    return _tiled_attention(query, key, value, attn_mask, dropout_p, scale, block_size)


def _tiled_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None, dropout_p: float,
                     scale: float | None, block_size: int) -> Tensor:
    """The online-softmax loop of `tiled_attention`, unchecked."""
    Tq, Tk, d_k = query.shape[-2], key.shape[-2], query.shape[-1]
    scale = 1.0 / math.sqrt(d_k) if scale is None else scale
    lowest = torch.finfo(query.dtype).min
    if attn_mask is not None:  # broadcast views only (no copy): (*, Tq, Tk) strides may be 0
        attn_mask = attn_mask.expand(*query.shape[:-1], Tk)
    out_blocks = []
    for i in range(0, Tq, block_size):
        q = query[..., i:i + block_size, :] * scale                            # (*, bq, D), scale folded into q
        m = torch.full(q.shape[:-1] + (1,), lowest, dtype=q.dtype, device=q.device)  # running max (*, bq, 1)
        l = torch.zeros_like(m)                                                # running sum  (*, bq, 1)
        acc = torch.zeros(*q.shape[:-1], value.shape[-1], dtype=q.dtype, device=q.device)  # (*, bq, Dv)
        for j in range(0, Tk, block_size):
            s = q @ key[..., j:j + block_size, :].transpose(-2, -1)            # scores block (*, bq, bk)
            keep = None if attn_mask is None else attn_mask[..., i:i + block_size, j:j + block_size]
            if keep is not None:
                s = s.masked_fill(~keep, lowest)
            m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))            # new running max (*, bq, 1)
            p = torch.exp(s - m_new)                                           # unnormalised weights (*, bq, bk)
            if keep is not None:
                p = p.masked_fill(~keep, 0.0)                                  # masked keys add nothing
            correction = torch.exp(m - m_new)                                  # rescale old sums to the new max
            l = l * correction + p.sum(dim=-1, keepdim=True)
            if dropout_p > 0.0:
                p = F.dropout(p, p=dropout_p)
            acc = acc * correction + p @ value[..., j:j + block_size, :]       # (*, bq, Dv)
            m = m_new
        out_blocks.append(acc / torch.where(l > 0, l, torch.ones_like(l)))    # all-masked row: 0/1 = 0
    return torch.cat(out_blocks, dim=-2)                                       # (*, Tq, Dv)


def fused_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                    dropout_p: float = 0.0, scale: float | None = None) -> Tensor:
    """softmax(Q Kᵀ / √d_k) V by PyTorch's fused kernel, `torch.nn.functional.scaled_dot_product_attention`.

    On CUDA it runs FlashAttention (Dao et al. 2022) or the memory-efficient kernel (Rabe & Staats 2021); both
    stream over key blocks like `tiled_attention`. With no mask the flash kernel can be used; a bool mask
    selects the memory-efficient (or math) kernel. A fully masked row gives 0, as in our reference.
    The arguments are checked here; MultiHeadAttention calls F.scaled_dot_product_attention directly.
    """
    _check_qkv(query, key, value, attn_mask, dropout_p)
    return F.scaled_dot_product_attention(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale)


def resolve_implementation(requested: str, device: torch.device | str | None = None) -> str:
    """Turn "auto" into a concrete path, once, when a module is built.

    "auto" → "fused" on every device. On CUDA it is the flash / memory-efficient kernel. On CPU it is the better
    choice too: `python -m benchmarks --only attention` (docs/benchmarks.md; B=2, H=12, D=64, fp32, 2 threads)
    measured the fused kernel at 0.11–0.84× the reference's time for T = 128, 512 and 2048 with a padding mask
    and at 0.27–0.72× for T = 512 and 2048 without one; only at T = 128 without a mask was it slower (1.11×, a
    tenth of a millisecond). It never holds the T×T matrix (0.01–0.22× the reference's peak memory).
    `device` is accepted for the day a device needs another choice; today the answer does not depend on it.
    """
    if requested not in IMPLEMENTATIONS:
        raise ValueError(f"attn_implementation must be one of {IMPLEMENTATIONS}, got {requested!r}")
    return "fused" if requested == "auto" else requested


class MultiHeadAttention(nn.Module):
    """MultiHead(X) = Concat(head_1, …, head_H) W^O,  head_h = Attention(X W_h^Q, X W_h^K, X W_h^V).

    Vaswani et al. 2017 §3.2.2; article 001 §3. The H heads' projections are stored as one C×C matrix each for
    Q, K and V (head h uses columns h·D … (h+1)·D − 1), so all heads run in one matmul. Parameter names
    (`query`, `key`, `value`, `output`) follow Hugging Face's BertSelfAttention / BertSelfOutput.

    The attention path is chosen once here (`attn_implementation`); `self.implementation` is the resolved one.
    A call that asks for the weights (`output_attentions=True`) cannot be served by the tiled or fused paths,
    which never build the weight matrix: it runs the reference path instead, and `self.fallback_reason` says why
    (None when the chosen path ran) — the idea of PyTorch's `why_not_sparsity_fast_path`.

    q, k and v are built here, so `forward` checks only its own input's shape (and the mask's) and calls the
    unchecked cores (`_reference_attention`, `_tiled_attention`, F.scaled_dot_product_attention): the public
    functions' argument checks are for callers who bring their own q, k and v.
    """

    def __init__(self, hidden_size: int, num_heads: int, dropout: float = 0.0,
                 attn_implementation: str = "auto", bias: bool = True, block_size: int = 128):
        super().__init__()
        for name, value in (("hidden_size", hidden_size), ("num_heads", num_heads), ("block_size", block_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if hidden_size % num_heads != 0:
            raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})")
        _check_dropout(dropout)
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.dropout = dropout
        self.block_size = block_size
        self.requested_implementation = attn_implementation
        self.implementation = resolve_implementation(attn_implementation)
        self.fallback_reason: str | None = None
        self.query = nn.Linear(hidden_size, hidden_size, bias=bias)   # W^Q for all heads
        self.key = nn.Linear(hidden_size, hidden_size, bias=bias)     # W^K
        self.value = nn.Linear(hidden_size, hidden_size, bias=bias)   # W^V
        self.output = nn.Linear(hidden_size, hidden_size, bias=bias)  # W^O

    def _split_heads(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, T, C) -> (B, H, T, D)

    def forward(self, hidden_states: Tensor, attn_mask: Tensor | None = None,
                output_attentions: bool = False) -> tuple[Tensor, Tensor | None]:
        """hidden_states (B, T, C); attn_mask bool broadcastable to (B, H, T, T), e.g. (B, 1, 1, T) for padding.

        Returns (output (B, T, C), weights (B, H, T, T) if output_attentions else None).
        """
        if hidden_states.dim() != 3 or hidden_states.shape[-1] != self.num_heads * self.head_dim:
            raise ValueError(f"hidden_states must have shape (B, T, {self.num_heads * self.head_dim}), "
                             f"got {tuple(hidden_states.shape)}")
        B, T, C = hidden_states.shape
        if attn_mask is not None:
            _check_mask(attn_mask, (B, self.num_heads, T, T))
        q = self._split_heads(self.query(hidden_states))               # (B, H, T, D)
        k = self._split_heads(self.key(hidden_states))                 # (B, H, T, D)
        v = self._split_heads(self.value(hidden_states))               # (B, H, T, D)
        p = self.dropout if self.training else 0.0
        path = self.implementation
        if output_attentions and path != "reference":
            self.fallback_reason = (f"attention weights were requested; the {path} path never builds the T×T "
                                    "weight matrix, so the reference path ran instead")
            path = "reference"
        elif self.fallback_reason is not None:                         # (nn.Module's __setattr__ is slow:
            self.fallback_reason = None                                #  assign only when it changes)
        weights = None
        if path == "reference":
            out, weights = _reference_attention(q, k, v, attn_mask, p, None)
        elif path == "tiled":
            out = _tiled_attention(q, k, v, attn_mask, p, None, self.block_size)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p)
        out = out.transpose(1, 2).reshape(B, T, C)                     # merge heads (B, H, T, D) -> (B, T, C)
        return self.output(out), (weights if output_attentions else None)


# ---------------------------------------------------------------- argument checks of the public functions
def _check_qkv(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None, dropout_p: float) -> None:
    """Clear errors for bad input, before any arithmetic can broadcast it silently (shapes and dtypes only)."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (*, T, D) with at least 2 dims, got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if not (query.dim() == key.dim() == value.dim()):
        raise ValueError("query, key and value must have the same number of dims, got shapes "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if not (query.shape[:-2] == key.shape[:-2] == value.shape[:-2]):
        raise ValueError("query, key and value must share their leading (batch, head) dims, got shapes "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"query and key must have the same head dim d_k, got {query.shape[-1]} and {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"key and value must have the same number of tokens Tk, got {key.shape[-2]} and "
                         f"{value.shape[-2]}")
    if not (query.dtype == key.dtype == value.dtype):
        raise TypeError(f"query, key and value must share one dtype, got {query.dtype}, {key.dtype}, {value.dtype}")
    if attn_mask is not None:
        _check_mask(attn_mask, (*query.shape[:-1], key.shape[-2]))
    _check_dropout(dropout_p)


def _check_mask(attn_mask: Tensor, target: tuple[int, ...]) -> None:
    """attn_mask must be a bool tensor that broadcasts to the scores' shape `target` = (*, Tq, Tk)."""
    if not isinstance(attn_mask, Tensor):
        raise TypeError(f"attn_mask must be a bool torch.Tensor or None, got {type(attn_mask).__name__}")
    if attn_mask.dtype != torch.bool:
        raise TypeError(f"attn_mask must be a bool tensor (True = may attend), got dtype {attn_mask.dtype}")
    try:
        ok = torch.broadcast_shapes(attn_mask.shape, target) == torch.Size(target)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to the scores' "
                         f"shape (*, Tq, Tk) = {tuple(target)}")


def _check_dropout(dropout_p: float) -> None:
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p!r}")
