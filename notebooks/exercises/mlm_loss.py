"""练习 mlm_loss — 掩码语言模型的损失 / the masked-language-model loss, at the masked positions only.

    L_MLM = − (1 / max(|M|, 1)) · Σ_{i ∈ M} log softmax(logits_i)[x_i],     M = {i : labels_i ≠ −100}

文章 / articles: 003 §4.2 (掩码语言模型的数学模型) writes MLM(x) = −log softmax(Wx + b). 勘误 / erratum 8: the
loss is taken only at the masked positions, for the original token x_i.
论文 / paper: Devlin et al. 2019 §3.1, Task #1.
Ours / 参考实现: bert/losses.py `mlm_loss`.

Your loss is the one BertForMaskedLM and BertForPreTraining use in the tests.
Edit your copy in notebooks/exercises/work/, then run:   make check EX=mlm_loss
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100  # the label of a position that is not predicted


def mlm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Scalar loss. logits (*, V) float; labels (*,) integer: the original token id at a masked position, −100
    elsewhere.

    The mean of −log p(original token) over the masked positions; exactly 0 (not NaN) when nothing is masked.
    float16/bfloat16 logits: compute in float32 (logits.float()) and return a float32 loss; float32 and float64
    logits stay as they are (a float64 test compares to 1e-9).
    """
    raise NotImplementedError("练习 mlm_loss: 请实现 / write this function")
