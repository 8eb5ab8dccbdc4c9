"""The Distiller: DistilBERT's triple loss, and nothing else.

    L = α_ce · L_ce  +  α_mlm · L_mlm  +  α_cos · L_cos          (Sanh et al. 2019 §3; defaults 5.0 / 2.0 / 1.0)

    L_ce   T² · KL(softmax(t/T) ‖ softmax(s/T))  soft targets (Hinton et al. 2015 §2), T = 2.0 by default
    L_mlm  the student's own loss on the true labels: the masked tokens (general distillation, MLM) or the task's
           labels (task-specific distillation from a fine-tuned teacher) — cross-entropy in both cases
    L_cos  1 − cos(h_s, h_t) between the last hidden states, on the non-pad tokens

(the formulas and their tests: `distil/losses.py`, `bert/heads.py:mlm_loss`). Articles 000 §2 and 002 §3
(核心算法原理具体操作步骤) describe the teacher–student idea in words; this is the formula that computes it.

Who runs the two models, on which positions, is the training step's business (`distil/tasks.py:DistillationStep`):
it hands this loss the two models' outputs and the positions that count, and the training loop logs the parts.
"""

from __future__ import annotations

from torch import Tensor

from .losses import cosine_loss, soft_target_loss


class Distiller:
    """L = α_ce·L_ce + α_mlm·L_mlm + α_cos·L_cos (module docstring). Calling it returns (L, parts), parts =
    {"ce_loss", "mlm_loss", "cos_loss"}: the three unweighted losses, detached, for the training loop to log."""

    def __init__(self, alpha_ce: float = 5.0, alpha_mlm: float = 2.0, alpha_cos: float = 1.0,
                 temperature: float = 2.0):
        for name, value in (("alpha_ce", alpha_ce), ("alpha_mlm", alpha_mlm), ("alpha_cos", alpha_cos)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number ≥ 0, got {value!r}")
        if alpha_ce + alpha_mlm + alpha_cos == 0:
            raise ValueError("alpha_ce, alpha_mlm and alpha_cos are all 0: nothing to train on")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
        self.alpha_ce, self.alpha_mlm, self.alpha_cos = float(alpha_ce), float(alpha_mlm), float(alpha_cos)
        self.temperature = float(temperature)

    @property
    def needs_hidden_states(self) -> bool:
        """L_cos reads the last hidden states: the models must return them."""
        return self.alpha_cos > 0

    def __call__(self, student_logits: Tensor, teacher_logits: Tensor, student_loss: Tensor,
                 student_hidden: Tensor | None = None, teacher_hidden: Tensor | None = None,
                 positions: Tensor | None = None, tokens: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """student_logits / teacher_logits: the same shape, (B, T, V), (N, V) or (B, K); student_loss: L_mlm, the
        student's loss on the true labels; positions (*,) bool: the logits' rows that L_ce counts (None: all);
        student_hidden / teacher_hidden (B, T, C) and tokens (B, T) bool, the non-pad tokens: for L_cos."""
        loss_ce = soft_target_loss(student_logits, teacher_logits, self.temperature, mask=positions)   # L_ce
        loss_cos = (cosine_loss(student_hidden, teacher_hidden, mask=tokens) if self.needs_hidden_states  # L_cos
                    else loss_ce * 0.0)
        loss = self.alpha_ce * loss_ce + self.alpha_mlm * student_loss + self.alpha_cos * loss_cos        # L
        return loss, {"ce_loss": loss_ce.detach(), "mlm_loss": student_loss.detach(), "cos_loss": loss_cos.detach()}


__all__ = ["Distiller"]
