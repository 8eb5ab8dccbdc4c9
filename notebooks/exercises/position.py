"""练习 position — 正弦位置编码 / sinusoidal position encoding.

    PE(pos, 2i)   = sin(pos / 10000^(2i/d))
    PE(pos, 2i+1) = cos(pos / 10000^(2i/d))

文章 / article: 004 §3.3.2 (位置编码); 001 §4's skeleton uses it too. 勘误 / erratum 4: this is the original
Transformer's encoding — BERT itself *learns* its position embeddings (bert/position.py LearnedPositionEmbedding).
论文 / paper: Vaswani et al. 2017 §3.5.
Ours / 参考实现: bert/position.py `sinusoidal_table`.

Your table is used by SinusoidalPositionEncoding (and DistilBERT's sinusoidal option) in the tests.
Edit your copy in notebooks/exercises/work/, then run:   make check EX=position
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def sinusoidal_table(max_len: int, dim: int, base: float = 10000.0) -> Tensor:
    """Return the (max_len, dim) float32 table whose row `pos` is PE(pos).

    Column 2i holds sin(pos / base^(2i/dim)) and column 2i+1 holds cos(pos / base^(2i/dim)) — the two columns of
    a pair share the same 2i. When dim is odd, the last column is the sine of the unpaired index 2i = dim − 1.
    Tip: compute in float64 and return .float() (float32), as the tests compare with 1e-6.
    """
    raise NotImplementedError("练习 position: 请实现 / write this function")
