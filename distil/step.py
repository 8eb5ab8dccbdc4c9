"""Distillation as a task of the one training loop: the loop's compute_loss(student, batch) -> (loss, parts).

The loop is bert/training/loop.py — AdamW without decay on biases/LayerNorm, warmup then linear decay, clipping,
accumulation, autocast on CUDA, metrics.jsonl, a progress bar, atomic checkpoints, `resume`, and several processes
under torchrun. It trains the *student*: checkpoints hold the student only and DDP wraps the student only; the
teacher lives in the step.

    DistillationStep    the teacher's outputs, the student's, and the Distiller's weighted sum
                        α_ce·L_ce + α_mlm·L_mlm + α_cos·L_cos (+ α_pt·L_pt) (distil/distiller.py); the loop logs
                        the parts in its "train" records
    intermediate_pairs  which student layer stands for which teacher layer, for L_pt
    student_only_step   the control experiment's step — the same student on the same batches with L_mlm alone
                        (no teacher), so that what distillation adds can be measured

Its data: `bert.pretraining.data.mlm_data` (general distillation: the pre-training pipeline with the teacher's
vocabulary) or a labelled TSV (task-specific: `bert.finetune.ClassificationData`); its plot:
`bert.training.metrics.plot_distillation`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from bert.training import model_inputs

from .distiller import Distiller
from .validation import check_weight


class DistillationStep:
    """compute_loss(student, batch) -> (loss, parts) for the training loop (general and task-specific distillation).

    The teacher runs first, without gradients; then the student; then the Distiller's loss on the two:
    - L_ce on the logits' rows that count: every non-pad token for (B, T, V) logits (the published recipe), every
      row for (N, V) logits (both models with `masked_only = True`: the masked positions only) or (B, K) logits
      (a task: one row per sentence);
    - L_mlm = the student's own loss on the batch's labels (masked tokens, or the task's classes);
    - L_cos on the last hidden states of the non-pad tokens (asked for only when α_cos > 0);
    - with the Distiller's α_pt > 0, also L_pt (`distil.losses.patient_loss`) on the [CLS] states of the student's
      intermediate layers and of the teacher layers they were copied from (`intermediate_pairs`), logged as
      "pt_loss". `alpha_pt` given here (this class's older signature) is handed to the Distiller: the step then
      holds a copy of `distiller` with that α_pt.

    The teacher is held here, not inside the student: it is not trained, not saved with the student, not wrapped by
    DistributedDataParallel, and its parameters never reach the optimizer. It stays in eval mode (no dropout: its
    targets are its best predictions). Each model gets the batch entries its forward takes: a BERT teacher on
    `[CLS] A [SEP] B [SEP]` pairs its token_type_ids, the DistilBERT student none (it learns to do without them; on
    single-segment text, as in the published distiller, the two see exactly the same input).
    """

    def __init__(self, teacher: nn.Module, distiller: Distiller, alpha_pt: float = 0.0):
        check_weight("alpha_pt", alpha_pt)
        if alpha_pt > 0:                                      # the Distiller sums every loss, L_pt included
            distiller = Distiller(distiller.alpha_ce, distiller.alpha_mlm, distiller.alpha_cos,
                                  distiller.temperature, alpha_pt)
        self.teacher = teacher.eval().requires_grad_(False)
        self.distiller = distiller

    def __call__(self, student: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        hidden = self.distiller.needs_hidden_states
        with torch.no_grad():
            t = self.teacher(**model_inputs(self.teacher, batch), output_hidden_states=hidden)
        s = student(**model_inputs(student, batch), output_hidden_states=hidden)
        tokens = batch["attention_mask"].bool()                                      # (B, T) non-pad
        positions = tokens if s.logits.dim() == 3 else None                          # (B, T, V): the tokens count
        pairs = intermediate_pairs(teacher_layers(student)) if self.distiller.alpha_pt > 0 else None
        return self.distiller(s.logits, _logits(t), s.loss, s.hidden_states[-1] if hidden else None,
                              t.hidden_states[-1] if hidden else None, positions=positions, tokens=tokens,
                              student_states=None if pairs is None else [s.hidden_states[j][:, 0] for j, _ in pairs],
                              teacher_states=None if pairs is None else [t.hidden_states[k][:, 0] for _, k in pairs])


def teacher_layers(student: nn.Module) -> Sequence[int]:
    """The teacher layer each student layer was copied from (`student_from_teacher` sets it; DDP's wrapper is
    looked through)."""
    layers = getattr(getattr(student, "module", student), "teacher_layers", None)
    if layers is None:
        raise ValueError("alpha_pt > 0 needs the student's teacher_layers (set by student_from_teacher): "
                         "which teacher layer each student layer stands for")
    return layers


def intermediate_pairs(teacher_layers: Sequence[int]) -> list[tuple[int, int]]:
    """(student index, teacher index) into the models' hidden_states (index 0: the embeddings, index j: the output
    of block j) for patient distillation: student block j (1-based) is a copy of teacher block teacher_layers[j-1]
    (0-based), whose output is teacher index teacher_layers[j-1] + 1; the last block is left out (Sun et al. 2019
    §3.2). [0, 3, 5] → [(1, 1), (2, 4)]."""
    return [(j, teacher_layers[j - 1] + 1) for j in range(1, len(teacher_layers))]


def student_only_step(student: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    """compute_loss(student, batch) -> (L_mlm, {"mlm_loss": L_mlm}): the student's own masked-LM loss on the
    batch's labels, and nothing from a teacher — the control run of `python -m distil.train mlm --without-teacher` (same
    initialisation, batches and steps as the distilled student; only the loss differs)."""
    loss = student(**model_inputs(student, batch)).loss
    return loss, {"mlm_loss": loss.detach()}


def _logits(out) -> Tensor:
    return out.prediction_logits if hasattr(out, "prediction_logits") else out.logits


__all__ = ["DistillationStep", "intermediate_pairs", "student_only_step", "teacher_layers"]
