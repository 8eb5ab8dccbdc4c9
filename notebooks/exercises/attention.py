"""练习 attention — 缩放点积注意力（含掩码）/ scaled dot-product attention, with a mask.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V

文章 / articles: 000 "数学模型和公式详细讲解举例说明", 001 §4, 003 §4.1, 004 §3.3.1 (自注意力机制).
论文 / paper: Vaswani et al. 2017, "Attention Is All You Need", §3.2.1.
Ours / 参考实现: bert/attention.py `attention` — `scaled_dot_product_attention` is it with its arguments checked
(read it only after you have tried!).

Edit this file (your copy in notebooks/exercises/work/), then run:   make check EX=attention
The project's own tests then run against your function — the formula tests, and whole BERT models (their
reference attention path calls your function) compared with transformers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, scale: float | None = None) -> tuple[Tensor, Tensor]:
    """Return (output, weights) with weights = softmax(Q Kᵀ · scale) and output = weights @ V.

    query (*, Tq, D), key (*, Tk, D), value (*, Tk, Dv); * = any leading dims, e.g. (B, H).
    scale: 1/√d_k with d_k = query.shape[-1] when None; otherwise use the given number.
    attn_mask: bool, True = "this query may attend to this key", broadcastable to (*, Tq, Tk); None = no mask.
        A masked key gets weight exactly 0. A query row whose keys are ALL masked gets all-zero weights and a
        zero output — finite (no NaN) even in float16/bfloat16: fill masked scores with
        torch.finfo(scores.dtype).min (not -inf), and set the masked weights to 0 after the softmax.
    dropout_p: when > 0, apply dropout to the weights (F.dropout) and use those weights for the output.
    Returns output (*, Tq, Dv) and the weights actually used (*, Tq, Tk), in the dtype of the inputs.

    步骤 / steps: scores = Q Kᵀ · scale → mask → softmax over the keys (last dim) → zero masked → dropout → @ V
    """
    raise NotImplementedError("练习 attention: 请实现 / write this function")
