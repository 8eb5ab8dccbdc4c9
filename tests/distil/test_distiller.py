"""The Distiller (the weighted sum of the three losses) and DistillationStep (the frozen teacher, both settings)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bert import BertForMaskedLM, BertForSequenceClassification
from distil import cosine_loss, mlm_loss, soft_target_loss, student_from_teacher
from distil.distiller import Distiller
from distil.losses import patient_loss
from distil.step import DistillationStep, intermediate_pairs
from tests.bert.tiny import random_batch, tiny_config


def pair(cls=BertForMaskedLM, layers=None):
    torch.manual_seed(0)
    teacher = cls(tiny_config(num_hidden_layers=4)).eval()
    return student_from_teacher(teacher, layers=layers, dropout=0.0, attention_dropout=0.0,
                                seq_classif_dropout=0.0), teacher


def test_the_distiller_is_the_weighted_sum_of_its_three_parts():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(3, 5, 11, generator=g), torch.randn(3, 5, 11, generator=g)
    hs, ht = torch.randn(3, 5, 8, generator=g), torch.randn(3, 5, 8, generator=g)
    keep = torch.rand(3, 5, generator=g) > 0.3
    hard = torch.tensor(1.7)
    loss, parts = Distiller(5.0, 2.0, 1.0, 2.0)(s, t, hard, hs, ht, positions=keep, tokens=keep)
    ce, cos = soft_target_loss(s, t, 2.0, mask=keep), cosine_loss(hs, ht, mask=keep)
    torch.testing.assert_close(loss, 5 * ce + 2 * hard + cos)
    torch.testing.assert_close((parts["ce_loss"], parts["mlm_loss"], parts["cos_loss"]), (ce, hard, cos))
    loss0, parts0 = Distiller(alpha_cos=0.0)(s, t, hard)                   # no hidden states needed without L_cos
    assert parts0["cos_loss"].item() == 0.0 and not Distiller(alpha_cos=0.0).needs_hidden_states
    torch.testing.assert_close(loss0, 5 * soft_target_loss(s, t, 2.0) + 2 * hard)


def test_mlm_setting_is_the_weighted_sum_of_the_three_losses():
    student, teacher = pair()
    step = DistillationStep(teacher, Distiller(alpha_ce=5.0, alpha_mlm=2.0, alpha_cos=1.0, temperature=2.0))
    b = random_batch(seed=2)
    batch = {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids", "labels")}
    student.eval()
    loss, parts = step(student, batch)
    s = student(b["input_ids"], b["attention_mask"], output_hidden_states=True)
    t = teacher(b["input_ids"], b["attention_mask"], b["token_type_ids"], output_hidden_states=True)  # + segments
    keep = b["attention_mask"].bool()
    ce = soft_target_loss(s.logits, t.logits, 2.0, mask=keep)
    ml = mlm_loss(s.logits, b["labels"])
    cos = cosine_loss(s.hidden_states[-1], t.hidden_states[-1], mask=keep)
    torch.testing.assert_close(loss, 5 * ce + 2 * ml + cos)
    torch.testing.assert_close((parts["ce_loss"], parts["mlm_loss"], parts["cos_loss"]), (ce, ml, cos))
    # soft targets at the masked positions only: both models decode only there
    student.masked_only = teacher.masked_only = True
    masked = DistillationStep(teacher, Distiller())
    _, parts = masked(student, {k: batch[k] for k in ("input_ids", "attention_mask", "labels")})
    t0 = teacher(b["input_ids"], b["attention_mask"], labels=b["labels"]).logits        # no token types: segment A
    s0 = student(b["input_ids"], b["attention_mask"], labels=b["labels"]).logits
    torch.testing.assert_close(parts["ce_loss"], soft_target_loss(s0, t0, 2.0))
    student.masked_only = teacher.masked_only = False
    full_t = teacher(b["input_ids"], b["attention_mask"]).logits
    torch.testing.assert_close(parts["ce_loss"], soft_target_loss(s.logits, full_t, 2.0, mask=b["labels"] != -100))


def test_student_with_all_teacher_layers_has_zero_distillation_losses():
    student, teacher = pair(layers=[0, 1, 2, 3])
    b = random_batch(seed=4)
    _, parts = DistillationStep(teacher, Distiller())(student, {k: b[k] for k in ("input_ids", "attention_mask",
                                                                                   "labels")})
    assert parts["ce_loss"].item() < 1e-6 and parts["cos_loss"].item() < 1e-6
    assert parts["mlm_loss"].item() == pytest.approx(teacher(b["input_ids"], b["attention_mask"],
                                                             labels=b["labels"]).loss.item(), rel=1e-5)


def test_task_setting_uses_class_logits_and_true_labels():
    student, teacher = pair(BertForSequenceClassification)
    step = DistillationStep(teacher, Distiller(alpha_ce=5.0, alpha_mlm=2.0, alpha_cos=0.0, temperature=3.0))
    b = random_batch(seed=5)
    loss, _ = step(student, {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"],
                             "labels": b["class_labels"]})
    s = student(b["input_ids"], b["attention_mask"]).logits
    t = teacher(b["input_ids"], b["attention_mask"]).logits
    torch.testing.assert_close(loss, 5 * soft_target_loss(s, t, 3.0) + 2 * F.cross_entropy(s, b["class_labels"]))
    # the loss takes the teacher's logits as they are: precomputed ones give the same loss without the teacher
    pre, _ = step.distiller(s, t, F.cross_entropy(s, b["class_labels"]))
    torch.testing.assert_close(pre, loss)


def test_teacher_is_frozen_and_outside_the_trained_module():
    student, teacher = pair()
    step = DistillationStep(teacher, Distiller())
    student.train()
    teacher.train()                                         # DistillationStep put it in eval mode already
    step = DistillationStep(teacher, Distiller())
    assert not teacher.training and student.training
    assert not any(p.requires_grad for p in teacher.parameters())
    assert not {id(p) for p in teacher.parameters()} & {id(p) for p in student.parameters()}
    b = random_batch(seed=1)
    loss, parts = step(student, {k: b[k] for k in ("input_ids", "attention_mask", "labels")})
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert any(p.grad is not None for p in student.parameters())
    assert all(not p.requires_grad for p in parts.values())                   # the parts are detached, for logging


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha_ce"):
        Distiller(alpha_ce=-1)
    with pytest.raises(ValueError, match="all 0"):
        Distiller(alpha_ce=0, alpha_mlm=0, alpha_cos=0)
    with pytest.raises(ValueError, match="temperature"):
        Distiller(temperature=0)


def test_intermediate_pairs_map_each_copied_block_to_its_teacher_block():
    assert intermediate_pairs([0, 3, 5]) == [(1, 1), (2, 4)]                    # the last block is left out
    assert intermediate_pairs([0, 2, 4, 7, 9, 11]) == [(1, 1), (2, 3), (3, 5), (4, 8), (5, 10)]
    assert intermediate_pairs([4]) == []


def test_patient_step_adds_alpha_pt_times_the_cls_loss_of_the_intermediate_layers():
    student, teacher = pair(BertForSequenceClassification, layers=[0, 2, 3])
    b = random_batch(seed=6)
    batch = {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"], "labels": b["class_labels"]}
    distiller = Distiller(alpha_ce=5.0, alpha_mlm=2.0, alpha_cos=0.0)
    plain, _ = DistillationStep(teacher, distiller)(student.eval(), batch)
    loss, parts = DistillationStep(teacher, distiller, alpha_pt=3.0)(student, batch)
    s = student(b["input_ids"], b["attention_mask"], output_hidden_states=True).hidden_states
    t = teacher(b["input_ids"], b["attention_mask"], output_hidden_states=True).hidden_states
    by_hand = patient_loss([s[1][:, 0], s[2][:, 0]], [t[1][:, 0], t[3][:, 0]])   # blocks 0 → 0, 1 → 2
    torch.testing.assert_close(parts["pt_loss"], by_hand)
    torch.testing.assert_close(loss, plain + 3.0 * by_hand)
    assert by_hand.item() > 1e-3                                       # student block 2 sees another input
    same, _ = pair(BertForSequenceClassification, layers=[0, 1, 2, 3])
    _, parts = DistillationStep(teacher, distiller, alpha_pt=1.0)(same.eval(), batch)
    assert parts["pt_loss"].item() < 1e-6                              # all layers: the teacher's own states
    with pytest.raises(ValueError, match="alpha_pt must be"):
        DistillationStep(teacher, distiller, alpha_pt=-1.0)
    del student.teacher_layers
    with pytest.raises(ValueError, match="teacher_layers"):
        DistillationStep(teacher, distiller, alpha_pt=1.0)(student, batch)
