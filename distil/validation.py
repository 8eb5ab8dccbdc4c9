"""DistilBERT's and distillation's argument checks, in one place, so the formulas read without them.

    check_distilbert_inputs   DistilBertModel.forward's one call: BERT's input checks and padding-without-a-mask
                              warning (`bert.validation.check_inputs`), then the single segment
                              (`check_single_segment`)
    check_distiller           the Distiller's weights α ≥ 0 (not all 0) and its temperature T > 0
    check_soft_target_loss    attached to the losses of distil/losses.py with `bert.validation.checked`:
    check_cosine_loss         `@checked(check_x)` one line above `def x(...)` runs check_x with x's own arguments
    check_patient_loss

The messages are the ones the models and losses raised before the checks moved here (tests match them). Value
checks (reading a tensor's data back) run where `bert.validation.validates` allows them; shapes and dtypes always.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from bert.validation import check_inputs, validates


# ---------------------------------------------------------------- DistilBertModel's inputs
def check_distilbert_inputs(config, input_ids: Tensor | None, attention_mask: Tensor | None,
                            token_type_ids: Tensor | None, position_ids: Tensor | None,
                            inputs_embeds: Tensor | None) -> None:
    """BERT's checks of input_ids / inputs_embeds, attention_mask and position_ids, with its one-time warning about
    padding without an attention_mask; DistilBERT has no segment embeddings, so token_type_ids are checked by
    `check_single_segment` instead."""
    check_inputs(config, input_ids, attention_mask, None, position_ids, inputs_embeds)
    check_single_segment(token_type_ids, (input_ids if input_ids is not None else inputs_embeds).shape[:2])


def check_single_segment(token_type_ids: Tensor | None, shape: tuple[int, ...]) -> None:
    """DistilBERT has no token-type (segment) embeddings (Sanh et al. 2019 §3: "the token-type embeddings and the
    pooler are removed"). `token_type_ids` is accepted so that a BertTokenizer's output runs unchanged
    (`model(**tok(text, return_tensors="pt"))`, article 000) and must be all 0 — one segment — which is what ignoring
    it computes. A nonzero id (the second sentence of a pair) is a ValueError: the model cannot tell the segments
    apart. Transformers silently ignores token_type_ids here, whatever they hold; we say so instead.

    The shape and dtype are checked on every call (metadata); the values where `bert.validation.validates` allows
    reading them back (by default on CPU, not on CUDA: no device sync in the hot path)."""
    if token_type_ids is None:
        return
    if not isinstance(token_type_ids, Tensor):
        raise TypeError(f"token_type_ids must be a torch.Tensor or None, got {type(token_type_ids).__name__}")
    if tuple(token_type_ids.shape) != tuple(shape):
        raise ValueError(f"token_type_ids must have the shape of input_ids, {tuple(shape)}, got "
                         f"{tuple(token_type_ids.shape)}")
    if token_type_ids.is_floating_point() or token_type_ids.is_complex():
        raise TypeError(f"token_type_ids must be an integer tensor, got dtype {token_type_ids.dtype}")
    if validates(token_type_ids) and bool(token_type_ids.any()):
        raise ValueError("token_type_ids must be all 0: DistilBERT has no token-type (segment) embeddings, so it "
                         "cannot tell a pair's second segment apart (transformers silently ignores them); got values "
                         f"{torch.unique(token_type_ids)[:8].tolist()} — encode one segment, or drop token_type_ids "
                         "(DistilBertTokenizer returns none)")


# ---------------------------------------------------------------- the Distiller's settings
def check_weight(name: str, value) -> None:
    """A loss weight α: a number ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number ≥ 0, got {value!r}")


def check_temperature(temperature) -> None:
    """The softmax temperature T: a number > 0."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")


def check_distiller(alpha_ce, alpha_mlm, alpha_cos, temperature, alpha_pt=0.0) -> None:
    """The Distiller's arguments: every α ≥ 0, not all of them 0, and T > 0."""
    for name, value in (("alpha_ce", alpha_ce), ("alpha_mlm", alpha_mlm), ("alpha_cos", alpha_cos),
                        ("alpha_pt", alpha_pt)):
        check_weight(name, value)
    if alpha_ce + alpha_mlm + alpha_cos + alpha_pt == 0:
        raise ValueError("alpha_ce, alpha_mlm and alpha_cos are all 0: nothing to train on")
    check_temperature(temperature)


# ---------------------------------------------------------------- the losses' arguments
def check_pair(student: Tensor, teacher: Tensor, names: tuple[str, str]) -> None:
    """Two floating-point tensors of the same shape (a student's and a teacher's)."""
    for name, t in zip(names, (student, teacher)):
        if not isinstance(t, Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got "
                            f"{t.dtype if isinstance(t, Tensor) else type(t).__name__}")
    if student.shape != teacher.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {tuple(student.shape)} and "
                         f"{tuple(teacher.shape)}")


def check_mask(mask: Tensor | None, x: Tensor, name: str) -> None:
    """None, or a bool tensor (*,) with the shape of x (*, V) without its last dim (True = the position counts)."""
    if mask is None:
        return
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = position counts), got "
                        f"{mask.dtype if isinstance(mask, Tensor) else type(mask).__name__}")
    if mask.shape != x.shape[:-1]:
        raise ValueError(f"mask must have the shape of {name} without its last dim, {tuple(x.shape[:-1])}, "
                         f"got {tuple(mask.shape)}")


def check_soft_target_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 2.0,
                           mask: Tensor | None = None) -> None:
    check_pair(student_logits, teacher_logits, ("student_logits", "teacher_logits"))
    check_temperature(temperature)
    check_mask(mask, student_logits, "student_logits")


def check_cosine_loss(student_hidden: Tensor, teacher_hidden: Tensor, mask: Tensor | None = None) -> None:
    check_pair(student_hidden, teacher_hidden, ("student_hidden", "teacher_hidden"))
    check_mask(mask, student_hidden, "student_hidden")


def check_patient_loss(student_states: Sequence[Tensor], teacher_states: Sequence[Tensor]) -> None:
    if student_states is None or teacher_states is None:
        raise TypeError("student_states and teacher_states must be lists of tensors: the intermediate [CLS] states "
                        "(with alpha_pt > 0 the Distiller needs them; DistillationStep hands them over)")
    if len(student_states) != len(teacher_states) or not student_states:
        raise ValueError(f"student_states and teacher_states must be non-empty lists of the same length, got "
                         f"{len(student_states)} and {len(teacher_states)}")
    for j, (s, t) in enumerate(zip(student_states, teacher_states)):
        check_pair(s, t, (f"student_states[{j}]", f"teacher_states[{j}]"))


__all__ = ["check_distilbert_inputs", "check_single_segment", "check_weight", "check_temperature", "check_distiller",
           "check_pair", "check_mask", "check_soft_target_loss", "check_cosine_loss", "check_patient_loss"]
