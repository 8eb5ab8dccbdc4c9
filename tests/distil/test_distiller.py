"""Distiller: the weighted sum of the three losses, the frozen teacher, and both settings (MLM and task)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bert import BertForMaskedLM, BertForSequenceClassification
from distil import cosine_loss, mlm_loss, soft_target_loss, student_from_teacher
from distil.distiller import Distiller
from tests.bert.tiny import random_batch, tiny_config


def pair(cls=BertForMaskedLM, layers=None):
    torch.manual_seed(0)
    teacher = cls(tiny_config(num_hidden_layers=4)).eval()
    return student_from_teacher(teacher, layers=layers, dropout=0.0, attention_dropout=0.0,
                                seq_classif_dropout=0.0), teacher


def test_mlm_setting_is_the_weighted_sum_of_the_three_losses():
    student, teacher = pair()
    d = Distiller(student, teacher, alpha_ce=5.0, alpha_mlm=2.0, alpha_cos=1.0, temperature=2.0).eval()
    b = random_batch(seed=2)
    out = d(b["input_ids"], b["attention_mask"], labels=b["labels"], token_type_ids=b["token_type_ids"])
    s = student(b["input_ids"], b["attention_mask"], output_hidden_states=True)
    t = teacher(b["input_ids"], b["attention_mask"], b["token_type_ids"], output_hidden_states=True)  # + segments
    keep = b["attention_mask"].bool()
    ce = soft_target_loss(s.logits, t.logits, 2.0, mask=keep)
    ml = mlm_loss(s.logits, b["labels"])
    cos = cosine_loss(s.hidden_states[-1], t.hidden_states[-1], mask=keep)
    torch.testing.assert_close(out.loss, 5 * ce + 2 * ml + cos)
    torch.testing.assert_close((out.ce_loss, out.mlm_loss, out.cos_loss), (ce, ml, cos))
    masked = Distiller(student, teacher, ce_positions="masked").eval()
    masked = masked(b["input_ids"], b["attention_mask"], labels=b["labels"])
    t0 = teacher(b["input_ids"], b["attention_mask"]).logits                       # no token types: all segment A
    torch.testing.assert_close(masked.ce_loss, soft_target_loss(s.logits, t0, 2.0, mask=b["labels"] != -100))
    assert d.running_parts() == {"ce_loss": 0.0, "mlm_loss": 0.0, "cos_loss": 0.0}   # eval-mode calls: not summed


def test_student_with_all_teacher_layers_has_zero_distillation_losses():
    student, teacher = pair(layers=[0, 1, 2, 3])
    b = random_batch(seed=4)
    out = Distiller(student, teacher)(b["input_ids"], b["attention_mask"], labels=b["labels"])
    assert out.ce_loss.item() < 1e-6 and out.cos_loss.item() < 1e-6
    assert out.mlm_loss.item() == pytest.approx(teacher(b["input_ids"], b["attention_mask"],
                                                        labels=b["labels"]).loss.item(), rel=1e-5)


def test_task_setting_uses_class_logits_and_true_labels():
    student, teacher = pair(BertForSequenceClassification)
    d = Distiller(student, teacher, alpha_ce=5.0, alpha_mlm=2.0, alpha_cos=0.0, temperature=3.0)
    b = random_batch(seed=5)
    out = d(b["input_ids"], b["attention_mask"], labels=b["class_labels"])
    s = student(b["input_ids"], b["attention_mask"]).logits
    t = teacher(b["input_ids"], b["attention_mask"]).logits
    torch.testing.assert_close(out.loss, 5 * soft_target_loss(s, t, 3.0) + 2 * F.cross_entropy(s, b["class_labels"]))
    # precomputed teacher logits give the same loss without running the teacher
    pre = d(b["input_ids"], b["attention_mask"], labels=b["class_labels"], teacher_logits=t)
    torch.testing.assert_close(pre.loss, out.loss)


def test_teacher_is_frozen_unregistered_and_follows_the_distiller():
    student, teacher = pair()
    d = Distiller(student, teacher).train()
    assert not teacher.training and student.training
    assert {id(p) for p in d.parameters()} == {id(p) for p in student.parameters()}
    assert all(k.startswith("student.") for k in d.state_dict())
    b = random_batch(seed=1)
    out = d(b["input_ids"], b["attention_mask"], labels=b["labels"])
    out.loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    d(b["input_ids"], b["attention_mask"], labels=b["labels"])
    parts = d.running_parts()
    assert parts["mlm_loss"] == pytest.approx(out.mlm_loss.item(), rel=1e-5)     # mean of two equal passes
    assert d.running_parts()["ce_loss"] == 0.0                                    # reset after reading
    assert any(p.grad is not None for p in student.parameters())
    d.double()
    assert next(teacher.parameters()).dtype == torch.float64


def test_bad_arguments():
    student, teacher = pair()
    with pytest.raises(ValueError, match="alpha_ce"):
        Distiller(student, teacher, alpha_ce=-1)
    with pytest.raises(ValueError, match="all 0"):
        Distiller(student, teacher, alpha_ce=0, alpha_mlm=0, alpha_cos=0)
    with pytest.raises(ValueError, match="temperature"):
        Distiller(student, teacher, temperature=0)
    with pytest.raises(ValueError, match="ce_positions"):
        Distiller(student, teacher, ce_positions="all")
