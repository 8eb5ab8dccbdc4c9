"""The three losses of DistilBERT's training: soft targets, masked language modelling, hidden-state cosine.

DistilBERT's student is trained on a linear combination (Sanh et al. 2019, §3 "Knowledge distillation" and
"Training loss"; the published recipe weights them α_ce = 5.0, α_mlm = 2.0, α_cos = 1.0):

    L = α_ce · L_ce  +  α_mlm · L_mlm  +  α_cos · L_cos

- `soft_target_loss` — L_ce, the distillation loss of Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in
  a Neural Network", §2: the student matches the teacher's *softened* distribution softmax(z/T).
- L_mlm — BERT's masked-language-model cross-entropy on the masked positions only: `bert.losses.mlm_loss`, the
  one MLM loss of the project (Devlin et al. 2019 §3.1, Task #1; article 003 §4.2, with erratum 8), not
  repeated here.
- `cosine_loss` — L_cos, which aligns the directions of the student's and the teacher's hidden states.

A fourth, for task-specific distillation (not DistilBERT's): `patient_loss`, L_pt of patient knowledge
distillation (Sun et al. 2019), on the [CLS] states of the intermediate layers.

Articles 000 §2 (核心概念与联系) and 002 §2–§3 (核心概念与联系, 核心算法原理具体操作步骤) name "Teacher–Student"
training without a formula, and 002 says DistilBERT is small because of "less training data" (erratum 6): it
was trained on the same corpus as BERT, with exactly these three losses.

Shapes: logits (*, V) with any leading dims (B, T) or (B,); a `mask` (*,) bool, True = "this position counts".
Every loss is a mean over the positions that count, so its size does not depend on the batch or the padding.
The argument checks are in distil/validation.py, attached with `@checked(...)`: each body starts with its formula.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

from bert.losses import upcast  # fp16/bf16 -> fp32 for the softmax and the sums
from bert.validation import checked

from .validation import check_cosine_loss, check_patient_loss, check_soft_target_loss


@checked(check_soft_target_loss)
def soft_target_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 2.0,
                     mask: Tensor | None = None) -> Tensor:
    """L_ce = T² · mean over counted positions of KL( softmax(t/T) ‖ softmax(s/T) ).

        KL(p_t ‖ p_s) = Σ_v p_t,v · (log p_t,v − log p_s,v),   p = softmax(z / T)

    Hinton et al. 2015 §2: the student is trained on the teacher's distribution softened by a temperature T > 1,
    which shows how the teacher ranks the wrong classes ("dark knowledge"); the gradient with respect to a
    student logit is T·(p_s − p_t) per position, which for large T tends to (s − t − mean)/V, so that without
    the factor T² the soft targets' gradients would shrink as 1/T² — "it is important to multiply them by T²".
    Sanh et al. 2019 §3 use it over the vocabulary at every position (DistilBERT's L_ce); articles 000 §2 and
    002 §3 describe this teacher–student step in words.

    Cross-entropy Σ p_t log(1/p_s) and this KL differ by the teacher's entropy, a constant for the student: the
    same gradients, but the KL is zero when the student matches the teacher. The teacher's side is detached.
    `mask` (*,) picks the positions that count (non-pad tokens, or the MLM positions only); without it every
    position counts. Returns a scalar; 0 (still attached to the graph) when no position counts.
    """
    log_p_s = F.log_softmax(upcast(counted(student_logits, mask)) / temperature, dim=-1)         # log softmax(s/T)
    log_p_t = F.log_softmax(upcast(counted(teacher_logits.detach(), mask)) / temperature, dim=-1)  # log softmax(t/T)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1)                        # KL(p_t ‖ p_s) per position  (N,)
    return temperature ** 2 * mean_or_zero(kl, student_logits)                # T² · mean


@checked(check_cosine_loss)
def cosine_loss(student_hidden: Tensor, teacher_hidden: Tensor, mask: Tensor | None = None) -> Tensor:
    """L_cos = mean over counted positions of 1 − cos(h_s, h_t),   cos(a, b) = a·b / (‖a‖ ‖b‖).

    Sanh et al. 2019 §3 ("Training loss"): a cosine embedding loss that aligns the directions of the student's
    and the teacher's last hidden states (the published code takes it on the non-pad tokens). It needs the
    student and teacher to have the same width (DistilBERT keeps BERT's 768; article 000 §2's "halved hidden
    size" would make it impossible). Depends only on directions: scaling either side by c > 0 leaves it as is.
    `mask` (*,) True = the position counts (attention_mask.bool()). The teacher's side is detached.
    """
    cos = F.cosine_similarity(upcast(counted(student_hidden, mask)), upcast(counted(teacher_hidden.detach(), mask)),
                              dim=-1, eps=1e-8)                                # cos(h_s, h_t) per position  (N,)
    return mean_or_zero(1.0 - cos, student_hidden)


@checked(check_patient_loss)
def patient_loss(student_states: Sequence[Tensor], teacher_states: Sequence[Tensor]) -> Tensor:
    """L_pt = mean over the M layer pairs j and the N sentences i of ‖ s_ij/‖s_ij‖ − t_ij/‖t_ij‖ ‖²  (= 2 − 2·cos).

    Sun et al. 2019, "Patient Knowledge Distillation for BERT Model Compression", §3.2 (L_PT): the student also
    learns from the teacher's *intermediate* layers — the [CLS] state after student layer j against the state
    after the teacher layer that layer j was copied from; the last layer is left out (the soft targets cover it).
    The paper sums over sentences and layers; this is the mean, so the weight does not depend on the batch size or
    the depth. For unit vectors ‖â − b̂‖² = 2 − 2·â·b̂: twice a cosine loss, directions only.
    student_states[j], teacher_states[j]: (N, C), the j-th pair; the teacher's side is detached.
    """
    gaps = [(F.normalize(upcast(s), dim=-1, eps=1e-8) - F.normalize(upcast(t.detach()), dim=-1, eps=1e-8))  # ŝ − t̂
            .pow(2).sum(-1).mean()                                             # mean_i ‖ŝ_ij − t̂_ij‖²
            for s, t in zip(student_states, teacher_states)]
    return sum(gaps) / len(gaps)                                               # mean over the M pairs


# ---------------------------------------------------------------- the positions that count
def counted(x: Tensor, mask: Tensor | None) -> Tensor:
    """Rows of x (*, V) where mask (*,) is True, flattened to (N, V); every row without a mask."""
    return x.reshape(-1, x.shape[-1]) if mask is None else x[mask]          # (*, V) -> (N, V)


def mean_or_zero(values: Tensor, like: Tensor) -> Tensor:
    """The mean of values (N,); 0, still attached to `like`'s graph, when no position counts (N = 0)."""
    return values.mean() if values.shape[0] else like.sum() * 0.0


__all__ = ["soft_target_loss", "cosine_loss", "patient_loss", "counted", "mean_or_zero"]
