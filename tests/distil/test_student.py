"""student_from_teacher: the layer rule, what is copied, and exactness when the student keeps every layer."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bert import (BertForMaskedLM, BertForMultipleChoice, BertForPreTraining, BertForQuestionAnswering,
                  BertForSequenceClassification, BertForTokenClassification, BertModel)
from distil import (DistilBertForMaskedLM, DistilBertForSequenceClassification, DistilBertModel, default_layers,
                    student_from_teacher)
from tests.bert.tiny import random_batch, tiny_config


def teacher(cls, layers=4, **kw):
    torch.manual_seed(0)
    model = cls(tiny_config(num_hidden_layers=layers, **kw))
    with torch.no_grad():  # make the segment-0 row and every bias clearly non-zero
        for name, p in model.named_parameters():
            if name.endswith("bias") or "token_type" in name:
                p.normal_(0, 0.3)
    return model.eval()


def test_default_layers_published_choice_and_rule():
    assert default_layers(12) == [0, 2, 4, 7, 9, 11]               # extract_distilbert.py for BERT-base
    assert default_layers(6) == [0, 3, 5] and default_layers(24, 12)[:3] == [0, 2, 4]
    assert default_layers(1) == [0] and default_layers(5, 1) == [0] and default_layers(4, 4) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="student_layers"):
        default_layers(4, 5)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 48), st.data())
def test_default_layers_properties(L, data):
    n = data.draw(st.integers(1, L))
    layers = default_layers(L, n)
    assert len(layers) == n and layers == sorted(set(layers))      # n distinct layers, in order
    assert layers[0] == 0 and (n == 1 or layers[-1] == L - 1)      # the first and (n > 1) the last
    gaps = [b - a for a, b in zip(layers, layers[1:])]
    assert not gaps or max(gaps) - min(gaps) <= 1                  # evenly spread


@pytest.mark.parametrize("cls, student_cls", [
    (BertForPreTraining, DistilBertForMaskedLM), (BertForMaskedLM, DistilBertForMaskedLM),
    (BertForSequenceClassification, DistilBertForSequenceClassification), (BertModel, DistilBertModel)])
def test_student_with_all_layers_reproduces_teacher_on_single_segment_input(cls, student_cls):
    t = teacher(cls).double()
    s = student_from_teacher(t, layers=[0, 1, 2, 3]).eval()
    assert type(s) is student_cls and s.config.n_layers == 4 and s.config.dim == 32
    batch = random_batch(seed=3)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    for token_types in (None, torch.zeros_like(ids)):               # "no segments" and "all segment A" are the same
        t_out = t(ids, mask, token_types, output_hidden_states=True)
        s_out = s(ids, mask, output_hidden_states=True)
        for x, y in zip(t_out.hidden_states, s_out.hidden_states):
            torch.testing.assert_close(x, y, atol=1e-12, rtol=0)    # fp64: only the order of a sum differs
    if student_cls is DistilBertForMaskedLM:
        t_logits = t_out.prediction_logits if cls is BertForPreTraining else t_out.logits
        torch.testing.assert_close(s_out.logits, t_logits, atol=1e-10, rtol=0)
    # and in fp32 within the parity tolerance
    t32, s32 = t.float(), s.float()
    torch.testing.assert_close(s32(ids, mask).last_hidden_state if student_cls is DistilBertModel else
                               s32(ids, mask, output_hidden_states=True).hidden_states[-1],
                               t32(ids, mask, output_hidden_states=True).hidden_states[-1], atol=2e-5, rtol=0)


def test_segment_zero_is_folded_into_positions_not_dropped():
    t = teacher(BertForMaskedLM)
    s = student_from_teacher(t)
    E = t.bert.embeddings
    torch.testing.assert_close(s.distilbert.embeddings.position_embeddings.weight,
                               E.position_embeddings.weight + E.token_type_embeddings.weight[0])
    # dropping it, as the published extraction script does, changes the embeddings
    assert E.token_type_embeddings.weight[0].abs().max() > 0.1


def test_half_depth_student_copies_the_chosen_layers():
    t = teacher(BertForMaskedLM, layers=6)
    s = student_from_teacher(t)
    assert s.teacher_layers == [0, 3, 5] and s.config.n_layers == 3
    for j, i in enumerate([0, 3, 5]):
        a, b = s.distilbert.transformer.layers[j].state_dict(), t.bert.encoder.layers[i].state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(a, b) for a, b in zip(s.mlm_head.state_dict().values(), t.mlm_head.state_dict().values()))
    # nothing shared: training the student leaves the teacher alone
    with torch.no_grad():
        s.distilbert.embeddings.word_embeddings.weight.add_(1.0)
    assert not torch.equal(s.distilbert.embeddings.word_embeddings.weight, t.bert.embeddings.word_embeddings.weight)
    assert student_from_teacher(t, layers=2).teacher_layers == [0, 5]


def test_classifier_pooler_maps_to_pre_classifier_tanh_becomes_relu():
    """BERT: classifier(tanh(pooler(h_cls))); student: classifier(ReLU(pre_classifier(h_cls))), same weights.
    With all layers the student's logits are exactly the teacher's classifier applied to ReLU instead of tanh."""
    t = teacher(BertForSequenceClassification).double()
    s = student_from_teacher(t, layers=[0, 1, 2, 3]).eval()
    batch = random_batch(seed=5)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    h_cls = t.bert(ids, mask).last_hidden_state[:, 0]
    z = t.bert.pooler.dense(h_cls)
    torch.testing.assert_close(s(ids, mask).logits, t.classifier(torch.relu(z)), atol=1e-10, rtol=0)
    torch.testing.assert_close(t(ids, mask).logits, t.classifier(torch.tanh(z)), atol=1e-10, rtol=0)
    assert not torch.allclose(s(ids, mask).logits, t(ids, mask).logits, atol=1e-3)   # not the same function


@pytest.mark.parametrize("cls, student_name, num_labels", [
    (BertForTokenClassification, "DistilBertForTokenClassification", 5),
    (BertForQuestionAnswering, "DistilBertForQuestionAnswering", 2)])
def test_token_level_heads_are_copied_and_reproduce_the_teacher(cls, student_name, num_labels):
    """Token classification and span heads read every token's state, so with all layers the student's logits are
    the teacher's (fp64: up to the order of a sum)."""
    t = teacher(cls, num_labels=num_labels).double()
    s = student_from_teacher(t, layers=[0, 1, 2, 3]).eval()
    assert type(s).__name__ == student_name
    batch = random_batch(seed=7)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    for x, y in zip(t(ids, mask).to_tuple(), s(ids, mask).to_tuple()):
        torch.testing.assert_close(y, x, atol=1e-10, rtol=0)


def test_multiple_choice_head_is_copied_like_the_sequence_classifier():
    """One score per choice: classifier(ReLU(pre_classifier(h_cls))) with the teacher's pooler and classifier."""
    t = teacher(BertForMultipleChoice).double()
    s = student_from_teacher(t, layers=[0, 1, 2, 3]).eval()
    assert type(s).__name__ == "DistilBertForMultipleChoice"
    ids = random_batch(seed=9)["input_ids"][:, None, :].expand(-1, 3, -1).contiguous()   # (B, 3 choices, T)
    h_cls = t.bert(ids.flatten(0, 1)).last_hidden_state[:, 0]
    expected = t.classifier(torch.relu(t.bert.pooler.dense(h_cls))).view(-1, 3)
    torch.testing.assert_close(s(ids).logits, expected, atol=1e-10, rtol=0)


def test_bad_teachers_and_layers():
    t = teacher(BertForMaskedLM)
    for layers, match in (([], "non-empty"), ([0, 4], r"\[0, 4\)"), ([2, 1], "increasing"), ([1, 1], "increasing"),
                          ("ab", "ints")):
        with pytest.raises(ValueError, match=match):
            student_from_teacher(t, layers=layers)
    with pytest.raises(TypeError, match="teacher must be"):
        student_from_teacher(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="pre_layer_norm"):
        student_from_teacher(BertForMaskedLM(tiny_config(pre_layer_norm=True)))
    with pytest.raises(ValueError, match="may not change 'dim'"):
        student_from_teacher(t, dim=64)
    assert student_from_teacher(t, dropout=0.0).config.dropout == 0.0
