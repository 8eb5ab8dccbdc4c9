"""练习 soft_target — 知识蒸馏的软目标损失 / the distillation soft-target loss.

    L_ce = T² · mean over the counted positions of KL( softmax(t/T) ‖ softmax(s/T) )
    KL(p_t ‖ p_s) = Σ_v p_t,v · (log p_t,v − log p_s,v)

t = the teacher's logits, s = the student's, T = the temperature. The factor T² keeps the gradients' size
independent of T (without it they shrink as 1/T²).
文章 / articles: 000 "核心概念与联系" and 002 §2–§3 name Teacher–Student training (知识蒸馏) without a formula.
论文 / papers: Hinton, Vinyals & Dean 2015 §2; Sanh et al. 2019 §3 (DistilBERT's L_ce).
Ours / 参考实现: distil/losses.py `soft_target_loss`.

Edit your copy in notebooks/exercises/work/, then run:   make check EX=soft_target
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def soft_target_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 2.0,
                     mask: Tensor | None = None) -> Tensor:
    """Scalar loss. student_logits and teacher_logits (*, V), same shape; mask (*,) bool, True = the position
    counts (None: every position counts).

    Only the student learns: use teacher_logits.detach(). Select the counted rows first (x[mask] gives (N, V)),
    take log_softmax of both divided by T, the KL per row, the mean over the rows, times T².
    """
    raise NotImplementedError("练习 soft_target: 请实现 / write this function")
