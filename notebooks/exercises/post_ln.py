"""练习 post_ln — Post-LN 编码器层 / the post-LN encoder block (BERT's residuals + LayerNorm).

    x = LayerNorm(x + Dropout(MultiHead(x)))
    x = LayerNorm(x + Dropout(FFN(x)))

文章 / articles: 001 §3 steps 2 and 4 (自注意力机制, 残差连接). 勘误 / errata 2 and 3: a BERT layer has no
tanh inside (000's "Output = Σ W^o·Tanh(…)" is not a Transformer layer) and no convolution on the scores.
Not pre-LN: x + MultiHead(LayerNorm(x)) is a later design (Xiong et al. 2020), not BERT.
论文 / papers: Devlin et al. 2019 §3; Vaswani et al. 2017 §3.1.
Ours / 参考实现: bert/layers.py `EncoderBlock.forward`.

Your function replaces EncoderBlock.forward for every post-LN block the tests build (`block` below).
Edit your copy in notebooks/exercises/work/, then run:   make check EX=post_ln
"""

from __future__ import annotations

from torch import Tensor


def encoder_block(block, x: Tensor, attn_mask: Tensor | None = None, output_attentions: bool = False,
                  tokens=None) -> tuple[Tensor, Tensor | None]:
    """One BERT layer on x (B, T, C). Returns (new x (B, T, C), attention weights or None).

    `block` holds the parts (already built, with their weights):
        block.attention(x, attn_mask, output_attentions) -> (a (B, T, C), weights or None)   multi-head attention
        block.feed_forward(x) -> (B, T, C)                                                    FFN
        block.attention_layer_norm, block.output_layer_norm                                   the two LayerNorms
        block.dropout                                                                         used after both sub-layers
    Return the weights that block.attention returned.
    tokens: None in every check of this exercise (the unpadded path, bert/unpad.py, passes the real tokens' RaggedBatch
    on to block.attention as its fourth argument — not part of the exercise; you may leave it unused).
    """
    raise NotImplementedError("练习 post_ln: 请实现 / write this function")
