"""Distiller: a student and its frozen teacher, seen by a trainer as one model whose forward returns the loss.

    L = α_ce · L_ce  +  α_mlm · L_mlm  +  α_cos · L_cos          (Sanh et al. 2019 §3; defaults 5.0 / 2.0 / 1.0)

    L_ce   T² · KL(softmax(t/T) ‖ softmax(s/T))  soft targets (Hinton et al. 2015 §2), T = 2.0 by default
    L_mlm  the student's own loss on the true labels: the masked tokens (general distillation, MLM) or the task's
           labels (task-specific distillation from a fine-tuned teacher) — cross-entropy in both cases
    L_cos  1 − cos(h_s, h_t) between the last hidden states, on the non-pad tokens

(the formulas and their tests: `distil/losses.py`). Articles 000 §2 and 002 §3 (核心算法原理具体操作步骤) describe the
teacher–student idea in words; this is the step that computes it.

Two settings, told apart by the shape of the student's logits:
- general (MLM) distillation: logits (B, T, V); L_ce over the non-pad tokens (the published recipe's default) or,
  with `ce_positions="masked"`, over the masked positions only; L_mlm over the masked positions.
- task-specific distillation: logits (B, K); L_ce over the batch; L_mlm = cross-entropy with the task labels.

The teacher is not a submodule: it is not trained, not saved with the student, not wrapped by
DistributedDataParallel, and its parameters never reach the optimizer. It stays in eval mode (no dropout: its
targets are its best predictions) and follows the Distiller across `.to(device)`. The teacher sees the student's
input_ids and attention_mask, plus the batch's token_type_ids when there are any (a BERT teacher on `[CLS] A [SEP]
B [SEP]` pre-training pairs predicts best with its segments; the student has none and learns to do without them —
on single-segment text, as in the published distiller, the two see exactly the same input).
`teacher_logits` in the batch (precomputed) replace the teacher's forward pass when α_cos = 0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bert.outputs import ModelOutput

from .losses import cosine_loss, mlm_loss, soft_target_loss


@dataclass
class DistillationOutput(ModelOutput):
    """loss = α_ce·ce_loss + α_mlm·mlm_loss + α_cos·cos_loss; the parts (detached, for logging: the pre-training
    Trainer records `mlm_loss` by that name); the student's logits."""
    loss: Tensor | None = None
    ce_loss: Tensor | None = None
    mlm_loss: Tensor | None = None
    cos_loss: Tensor | None = None
    logits: Tensor | None = None


class Distiller(nn.Module):
    """The student (a submodule, trained) and the teacher (frozen, not a submodule) behind one forward.

    forward(input_ids, attention_mask, labels=None, token_type_ids=None, teacher_logits=None, **ignored)
    → DistillationOutput. `labels`: MLM labels (B, T) with −100 where not masked, or class ids (B,); token_type_ids
    go to the teacher only. Other batch keys (next_sentence_label, index, masked_only, …) are accepted and ignored,
    so a pre-training collator's batches can be passed as they are. `save_pretrained` saves the student.
    While training, the parts of the loss are summed in `running_parts()` for a logger to read."""

    def __init__(self, student: nn.Module, teacher: nn.Module, alpha_ce: float = 5.0, alpha_mlm: float = 2.0,
                 alpha_cos: float = 1.0, temperature: float = 2.0, ce_positions: str = "tokens"):
        super().__init__()
        for name, value in (("alpha_ce", alpha_ce), ("alpha_mlm", alpha_mlm), ("alpha_cos", alpha_cos)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number ≥ 0, got {value!r}")
        if alpha_ce + alpha_mlm + alpha_cos == 0:
            raise ValueError("alpha_ce, alpha_mlm and alpha_cos are all 0: nothing to train on")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        if ce_positions not in ("tokens", "masked"):
            raise ValueError(f"ce_positions must be 'tokens' (every non-pad token) or 'masked', got {ce_positions!r}")
        if student.config.hidden_size != teacher.config.hidden_size and alpha_cos > 0:
            raise ValueError(f"the cosine loss needs equal widths: student {student.config.hidden_size}, teacher "
                             f"{teacher.config.hidden_size} (set alpha_cos=0)")
        self.student = student
        self.__dict__["teacher"] = teacher.eval().requires_grad_(False)   # not registered: see the class docstring
        self.alpha_ce, self.alpha_mlm, self.alpha_cos = float(alpha_ce), float(alpha_mlm), float(alpha_cos)
        self.temperature, self.ce_positions = float(temperature), ce_positions
        self.config = student.config  # what trainers read (sizes, vocab)
        self.teacher_takes_segments = hasattr(teacher.config, "type_vocab_size")   # a BERT teacher
        self._sums, self._count = torch.zeros(3, dtype=torch.float64), 0

    def running_parts(self, reset: bool = True) -> dict[str, float]:
        """Mean ce_loss, mlm_loss, cos_loss over the training forward passes since the last reset."""
        n = max(self._count, 1)
        parts = dict(zip(("ce_loss", "mlm_loss", "cos_loss"), (self._sums / n).tolist()))
        if reset:
            self._sums.zero_()
            self._count = 0
        return parts

    def _apply(self, fn, *args, **kwargs):  # .to(), .cuda(), .double() … move the teacher too
        self.__dict__["teacher"] = self.teacher._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def train(self, mode: bool = True) -> "Distiller":
        super().train(mode)
        self.teacher.eval()                     # the teacher never uses dropout
        return self

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        self.student.save_pretrained(directory)

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None, labels: Tensor | None = None,
                token_type_ids: Tensor | None = None, teacher_logits: Tensor | None = None,
                **ignored) -> DistillationOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        need_hidden = self.alpha_cos > 0
        # MLM with soft targets at the masked positions only: decode only there (both models), as
        # BertForMaskedLM(masked_only=True) does — logits (N, V) instead of (B, T, V)
        masked_only = self.ce_positions == "masked" and labels is not None and labels.dim() == 2
        extra = {"labels": labels, "masked_only": True} if masked_only else {}
        s = self.student(input_ids, attention_mask, output_hidden_states=need_hidden, **extra)
        t_hidden = None
        if teacher_logits is None or need_hidden:
            with torch.no_grad():
                segments = {"token_type_ids": token_type_ids} if (token_type_ids is not None
                                                                  and self.teacher_takes_segments) else {}
                t = self.teacher(input_ids, attention_mask, output_hidden_states=need_hidden, **segments, **extra)
            teacher_logits = t.prediction_logits if hasattr(t, "prediction_logits") else t.logits
            t_hidden = t.hidden_states[-1] if need_hidden else None
        tokens = attention_mask.bool()                                       # (B, T) non-pad
        sequence_level = not masked_only and s.logits.dim() == 2            # (B, K): a task
        zero = s.logits.sum() * 0.0
        loss_ce = loss_mlm = loss_cos = zero
        if self.alpha_ce > 0:
            if self.ce_positions == "masked" and not (masked_only or sequence_level):
                raise ValueError("ce_positions='masked' needs MLM labels (−100 where not masked)")
            where = None if (sequence_level or masked_only) else tokens      # (B, K) / (N, V): every row
            loss_ce = soft_target_loss(s.logits, teacher_logits, self.temperature, mask=where)
        if self.alpha_mlm > 0 and labels is not None:
            if sequence_level:
                loss_mlm = F.cross_entropy(s.logits.float(), labels)
            else:
                loss_mlm = s.loss if masked_only else mlm_loss(s.logits, labels)
        if need_hidden:
            loss_cos = cosine_loss(s.hidden_states[-1], t_hidden, mask=tokens)
        loss = self.alpha_ce * loss_ce + self.alpha_mlm * loss_mlm + self.alpha_cos * loss_cos
        parts = torch.stack([loss_ce.detach(), loss_mlm.detach(), loss_cos.detach()]).double().cpu()
        if self.training:
            self._sums += parts
            self._count += 1
        return DistillationOutput(loss, *parts.float().unbind(), logits=s.logits)


__all__ = ["Distiller", "DistillationOutput"]
