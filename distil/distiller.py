"""The Distiller: the weighted sum of all the losses a student is distilled with.

    L = α_ce · L_ce  +  α_mlm · L_mlm  +  α_cos · L_cos  +  α_pt · L_pt

    L_ce   T² · KL(softmax(t/T) ‖ softmax(s/T))  soft targets (Hinton et al. 2015 §2), T = 2.0 by default
    L_mlm  the student's own loss on the true labels: the masked tokens (general distillation, MLM) or the task's
           labels (task-specific distillation from a fine-tuned teacher) — cross-entropy in both cases
    L_cos  1 − cos(h_s, h_t) between the last hidden states, on the non-pad tokens
    L_pt   ‖ŝ − t̂‖² between the [CLS] states of the intermediate layers (patient distillation, Sun et al. 2019
           §3.2) — not DistilBERT's recipe: α_pt = 0 by default

DistilBERT's triple loss is the first three (Sanh et al. 2019 §3; defaults 5.0 / 2.0 / 1.0). The formulas and their
tests: `distil/losses.py`, `bert/losses.py:mlm_loss`. Articles 000 §2 and 002 §3 (核心算法原理具体操作步骤)
describe the teacher–student idea in words; this is the formula that computes it.

Who runs the two models, on which positions, is the training step's business (`distil/step.py:DistillationStep`):
it hands this loss the two models' outputs, the positions that count and, for L_pt, the intermediate [CLS] states
of the layer pairs; the training loop logs the parts.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from .losses import cosine_loss, patient_loss, soft_target_loss
from .validation import check_distiller


class Distiller:
    """L = α_ce·L_ce + α_mlm·L_mlm + α_cos·L_cos + α_pt·L_pt (module docstring). Calling it returns (L, parts),
    parts = {"ce_loss", "mlm_loss", "cos_loss"} and, with α_pt > 0, "pt_loss": the unweighted losses, detached, for
    the training loop to log."""

    def __init__(self, alpha_ce: float = 5.0, alpha_mlm: float = 2.0, alpha_cos: float = 1.0,
                 temperature: float = 2.0, alpha_pt: float = 0.0):
        check_distiller(alpha_ce, alpha_mlm, alpha_cos, temperature, alpha_pt)
        self.alpha_ce, self.alpha_mlm, self.alpha_cos = float(alpha_ce), float(alpha_mlm), float(alpha_cos)
        self.alpha_pt = float(alpha_pt)
        self.temperature = float(temperature)

    @property
    def needs_hidden_states(self) -> bool:
        """L_cos reads the last hidden states, L_pt the intermediate ones: the models must return them."""
        return self.alpha_cos > 0 or self.alpha_pt > 0

    def __call__(self, student_logits: Tensor, teacher_logits: Tensor, student_loss: Tensor,
                 student_hidden: Tensor | None = None, teacher_hidden: Tensor | None = None,
                 positions: Tensor | None = None, tokens: Tensor | None = None,
                 student_states: Sequence[Tensor] | None = None,
                 teacher_states: Sequence[Tensor] | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """student_logits / teacher_logits: the same shape, (B, T, V), (N, V) or (B, K); student_loss: L_mlm, the
        student's loss on the true labels; positions (*,) bool: the logits' rows that L_ce counts (None: all);
        student_hidden / teacher_hidden (B, T, C) and tokens (B, T) bool, the non-pad tokens: for L_cos;
        student_states[j] / teacher_states[j] (B, C), the [CLS] states of the j-th layer pair: for L_pt."""
        loss_ce = soft_target_loss(student_logits, teacher_logits, self.temperature, mask=positions)   # L_ce
        loss_cos = (cosine_loss(student_hidden, teacher_hidden, mask=tokens) if self.alpha_cos > 0     # L_cos
                    else loss_ce * 0.0)
        loss_pt = (patient_loss(student_states, teacher_states) if self.alpha_pt > 0                   # L_pt
                   else loss_ce.new_zeros(()))
        loss = (self.alpha_ce * loss_ce + self.alpha_mlm * student_loss + self.alpha_cos * loss_cos    # L
                + self.alpha_pt * loss_pt)
        parts = {"ce_loss": loss_ce.detach(), "mlm_loss": student_loss.detach(), "cos_loss": loss_cos.detach()}
        return loss, ({**parts, "pt_loss": loss_pt.detach()} if self.alpha_pt > 0 else parts)


__all__ = ["Distiller"]
