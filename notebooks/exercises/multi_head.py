"""练习 multi_head — 多头注意力 / multi-head attention.

    MultiHead(X) = Concat(head_1, …, head_H) Wᴼ,    head_h = Attention(X W_h^Q, X W_h^K, X W_h^V)

文章 / articles: 001 §3 (自注意力机制) describes self-attention; the heads are in the paper.
论文 / paper: Vaswani et al. 2017 §3.2.2.
Ours / 参考实现: bert/attention.py `MultiHeadAttention.forward`.

Your function replaces MultiHeadAttention.forward in every model the tests build (so `mha` below is that module).
Edit your copy in notebooks/exercises/work/, then run:   make check EX=multi_head
"""

from __future__ import annotations

from torch import Tensor

from bert.attention import scaled_dot_product_attention  # ours; after exercise `attention` you may use yours


def multi_head_attention(mha, hidden_states: Tensor, attn_mask: Tensor | None = None,
                         output_attentions: bool = False, tokens=None) -> tuple[Tensor, Tensor | None]:
    """Multi-head self-attention over hidden_states (B, T, C), C = H·D.

    `mha` holds what you need:
        mha.query, mha.key, mha.value, mha.output   nn.Linear(C, C): W^Q, W^K, W^V for all heads at once, and Wᴼ
        mha.num_heads (H), mha.head_dim (D)         head h uses features h·D … (h+1)·D − 1 of each projection
        mha.dropout (a float p), mha.training       attention dropout p only while training, else 0.0
    attn_mask: bool, True = may attend, broadcastable to (B, H, T, T) — e.g. a padding mask (B, 1, 1, T).
    Returns (output (B, T, C), weights (B, H, T, T) if output_attentions else None).
    tokens: None in every check of this exercise (ours gets the real tokens' RaggedBatch there when a model runs a
    padded batch unpadded, bert/unpad.py: not part of the exercise — you may leave it unused).

    步骤 / steps: project q, k, v → split heads (B, T, C) → (B, H, T, D) → attention per head (one call does all
    heads) → merge heads (B, H, T, D) → (B, T, C) → output projection.
    """
    raise NotImplementedError("练习 multi_head: 请实现 / write this function")
