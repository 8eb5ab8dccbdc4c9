"""Tests for bert/heads.py: the MLM head formula and its tie to the word embeddings, every loss against a hand
computation (log-softmax written out per position, in float64), the masked-only shortcut, the one `mlm_loss`, and
the label checks.
(Parity of the same classes with transformers is in test_parity.py.)"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from bert import (BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                  BertForTokenClassification, BertModel)
from bert.losses import IGNORE_INDEX, mlm_loss
from tests.bert.tiny import B, T, V, random_batch, tiny_config


def _log_softmax(row: torch.Tensor, i: int) -> float:
    """log softmax(row)[i] = row_i − log Σ_j exp(row_j), in float64 (max subtracted for stability)."""
    row = row.double()
    m = row.max().item()
    return row[i].item() - (m + math.log(sum(math.exp(v - m) for v in row.tolist())))


def _model(cls, **overrides):
    if cls is BertForQuestionAnswering:
        overrides.setdefault("num_labels", 2)
    torch.manual_seed(0)
    return cls(tiny_config(**overrides)).eval()


def _inputs(batch):
    return dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                token_type_ids=batch["token_type_ids"])


# ------------------------------------------------------------------ MLM and NSP
def test_mlm_logits_are_transform_then_tied_embedding_decoder_plus_bias():
    model = _model(BertForMaskedLM).double()
    with torch.no_grad():
        model.mlm_head.bias.normal_()
    batch = random_batch()
    h = model.bert(**_inputs(batch)).last_hidden_state
    head = model.mlm_head
    t = h @ head.dense.weight.T + head.dense.bias
    t = 0.5 * t * (1 + torch.erf(t / math.sqrt(2)))                            # GELU (erf)
    mu, var = t.mean(-1, keepdim=True), t.var(-1, unbiased=False, keepdim=True)
    t = (t - mu) / torch.sqrt(var + head.layer_norm.eps) * head.layer_norm.weight + head.layer_norm.bias
    expect = t @ model.bert.embeddings.word_embeddings.weight.T + head.bias    # E_tokenᵀ + b
    assert torch.allclose(model(**_inputs(batch)).logits, expect, atol=1e-10)


def test_decoder_weight_is_the_word_embedding_table():
    model = _model(BertForMaskedLM)
    n_base = sum(p.numel() for p in BertModel(tiny_config(), add_pooling_layer=False).parameters())
    C = 32
    assert sum(p.numel() for p in model.parameters()) == n_base + (C * C + C) + 2 * C + V   # no V×C decoder copy
    batch = random_batch()
    before = model(**_inputs(batch)).logits
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight[7] += 1.0                 # row 7 is also decoder row 7
    after = model(**_inputs(batch)).logits
    assert not torch.allclose(before[..., 7], after[..., 7])


def test_mlm_loss_is_mean_negative_log_likelihood_over_masked_positions_only():
    model = _model(BertForMaskedLM)
    batch = random_batch()
    out = model(**_inputs(batch), labels=batch["labels"])
    terms = [-_log_softmax(out.logits[b, t], batch["labels"][b, t].item())
             for b in range(B) for t in range(T) if batch["labels"][b, t] != -100]
    assert 0 < len(terms) < B * T
    assert out.loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-5)


def test_pretraining_loss_is_mlm_plus_nsp_with_label_0_is_next():
    model = _model(BertForPreTraining)
    batch = random_batch()
    out = model(**_inputs(batch), labels=batch["labels"], next_sentence_label=batch["next_sentence_label"])
    assert out.prediction_logits.shape == (B, T, V) and out.seq_relationship_logits.shape == (B, 2)
    nsp = [-_log_softmax(out.seq_relationship_logits[b], batch["next_sentence_label"][b].item()) for b in range(B)]
    assert out.nsp_loss.item() == pytest.approx(sum(nsp) / B, rel=1e-5)
    assert out.loss.item() == pytest.approx(out.mlm_loss.item() + out.nsp_loss.item(), rel=1e-6)
    only_mlm = model(**_inputs(batch), labels=batch["labels"])
    assert only_mlm.loss is None and only_mlm.mlm_loss.item() == pytest.approx(out.mlm_loss.item())
    assert model(**_inputs(batch)).loss is None


@pytest.mark.parametrize("cls", [BertForPreTraining, BertForMaskedLM])
def test_masked_only_gives_the_same_loss_logits_and_gradients(cls):
    model = _model(cls)
    batch = random_batch(5)
    kw = dict(labels=batch["labels"])
    if cls is BertForPreTraining:
        kw["next_sentence_label"] = batch["next_sentence_label"]
    full = model(**_inputs(batch), **kw)
    full.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.masked_only = True                                                   # set once, as pre-training does
    fast = model(**_inputs(batch), **kw)
    fast.loss.backward()
    where = batch["labels"] != -100
    full_logits = full.prediction_logits if cls is BertForPreTraining else full.logits
    fast_logits = fast.prediction_logits if cls is BertForPreTraining else fast.logits
    assert fast_logits.shape == (int(where.sum()), V)
    torch.testing.assert_close(fast_logits, full_logits[where], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(fast.loss, full.loss, atol=1e-6, rtol=1e-6)
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[n], atol=1e-6, rtol=1e-5, msg=n)
    unlabelled = model(**_inputs(batch))                                       # no labels: nothing to select,
    assert (unlabelled.prediction_logits if cls is BertForPreTraining else unlabelled.logits).shape == (B, T, V)
    assert BertForMaskedLM(tiny_config()).masked_only is False and BertForPreTraining(tiny_config()).masked_only is False


# ------------------------------------------------------------------ mlm_loss (Devlin et al. 2019 §3.1; 003 §4.2)
def test_mlm_loss_by_hand_only_masked_positions():
    logits = torch.tensor([[[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]], [[1.0, 3.0, 0.0], [0.0, 0.0, 9.0]]])
    labels = torch.tensor([[0, -100], [2, -100]])
    lp = lambda z, i: z[i] - math.log(sum(math.exp(x) for x in z))  # noqa: E731
    expected = -(lp([2.0, 0.0, -1.0], 0) + lp([1.0, 3.0, 0.0], 2)) / 2
    assert mlm_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    assert mlm_loss(logits, labels).item() == pytest.approx(
        F.cross_entropy(logits.view(-1, 3), labels.view(-1)).item(), rel=1e-6)


def test_mlm_loss_nothing_masked_is_exactly_zero_with_a_zero_gradient():
    logits = torch.randn(2, 3, 4, requires_grad=True)
    out = mlm_loss(logits, torch.full((2, 3), IGNORE_INDEX))
    assert out.item() == 0.0 and out.requires_grad                             # 0, not 0/0 = NaN
    out.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))                  # finite: exactly zero


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_mlm_loss_is_cross_entropys_mean_when_something_is_masked(dtype):
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(3, 7, 11, generator=g) * 3).to(dtype)
    labels = torch.randint(0, 11, (3, 7), generator=g)
    labels[torch.rand(3, 7, generator=g) < 0.6] = IGNORE_INDEX
    assert 0 < int((labels != IGNORE_INDEX).sum()) < 21
    got = mlm_loss(logits, labels)
    assert got.dtype == torch.float32                                          # fp16/bf16 upcast to fp32
    want = F.cross_entropy(logits.float().view(-1, 11), labels.view(-1), ignore_index=IGNORE_INDEX)
    assert abs(got.item() - want.item()) <= 1e-6


def test_mlm_loss_checks_its_arguments():
    logits = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="labels"):
        mlm_loss(logits, torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="labels"):
        mlm_loss(logits, torch.zeros(2, 3))
    with pytest.raises(TypeError, match="logits"):
        mlm_loss(logits.long(), torch.zeros(2, 3, dtype=torch.long))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(2, 9), st.integers(0, 2**31 - 1), st.floats(-50, 50))
def test_mlm_loss_invariant_to_constant_shift(n, v, seed, c):
    s = torch.rand(n, v, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 10 - 5
    labels = torch.arange(n) % v
    assert mlm_loss(s + c, labels).item() == pytest.approx(mlm_loss(s, labels).item(), rel=1e-9, abs=1e-12)


# ------------------------------------------------------------------ fine-tuning heads
def test_sequence_classification_cross_entropy_on_pooled_output():
    model = _model(BertForSequenceClassification)
    batch = random_batch()
    out = model(**_inputs(batch), labels=batch["class_labels"])
    pooled = model.bert(**_inputs(batch)).pooler_output
    torch.testing.assert_close(out.logits, pooled @ model.classifier.weight.T + model.classifier.bias)
    ce = [-_log_softmax(out.logits[b], batch["class_labels"][b].item()) for b in range(B)]
    assert out.loss.item() == pytest.approx(sum(ce) / B, rel=1e-5)


def test_sequence_regression_with_one_label_is_mean_squared_error():
    model = _model(BertForSequenceClassification, num_labels=1)
    batch = random_batch()
    y = torch.randn(B)
    out = model(**_inputs(batch), labels=y)
    assert out.logits.shape == (B, 1)
    mse = sum((out.logits[b, 0].item() - y[b].item()) ** 2 for b in range(B)) / B
    assert out.loss.item() == pytest.approx(mse, rel=1e-5)


def test_float_labels_with_several_classes_are_multi_label_bce():
    model = _model(BertForSequenceClassification)
    y = (torch.rand(B, 3) < 0.5).float()
    out = model(**_inputs(random_batch()), labels=y)
    z, sig = out.logits.double(), lambda v: 1 / (1 + math.exp(-v))
    bce = [-(y[b, k].item() * math.log(sig(z[b, k].item())) + (1 - y[b, k].item()) * math.log(1 - sig(z[b, k].item())))
           for b in range(B) for k in range(3)]
    assert out.loss.item() == pytest.approx(sum(bce) / len(bce), rel=1e-5)


def test_classifier_dropout_overrides_hidden_dropout():
    assert _model(BertForSequenceClassification, classifier_dropout=0.37).dropout.p == 0.37
    assert _model(BertForTokenClassification, hidden_dropout_prob=0.2).dropout.p == 0.2


def test_token_classification_cross_entropy_skips_minus_100():
    model = _model(BertForTokenClassification)
    batch = random_batch()
    labels = batch["token_labels"]
    out = model(**_inputs(batch), labels=labels)
    assert out.logits.shape == (B, T, 3)
    ce = [-_log_softmax(out.logits[b, t], labels[b, t].item()) for b in range(B) for t in range(T) if labels[b, t] >= 0]
    assert out.loss.item() == pytest.approx(sum(ce) / len(ce), rel=1e-5)


def test_question_answering_averages_start_and_end_and_ignores_positions_past_the_end():
    model = _model(BertForQuestionAnswering)
    batch = random_batch()
    start, end = batch["start_positions"], batch["end_positions"]
    assert (start >= T).any() and (start < T).any()                           # both cases present
    out = model(**_inputs(batch), start_positions=start, end_positions=end)
    assert out.start_logits.shape == out.end_logits.shape == (B, T)

    def mean_ce(logits, pos):
        terms = [-_log_softmax(logits[b], pos[b].item()) for b in range(B) if pos[b] < T]
        return sum(terms) / len(terms)

    expect = (mean_ce(out.start_logits, start) + mean_ce(out.end_logits, end)) / 2
    assert out.loss.item() == pytest.approx(expect, rel=1e-5)
    assert out[0] is out.loss and out[1] is out.start_logits                   # HF-style tuple access
    with pytest.raises(ValueError, match="config.num_labels must be 2, got 3"):
        BertForQuestionAnswering(tiny_config(num_labels=3))


@pytest.mark.parametrize("cls, labels", [
    (BertForTokenClassification, dict(labels=torch.full((B, T), IGNORE_INDEX))),
    (BertForPreTraining, dict(labels=torch.full((B, T), IGNORE_INDEX), next_sentence_label=torch.full((B,), -100))),
    (BertForQuestionAnswering, dict(start_positions=torch.full((B,), T + 5), end_positions=torch.full((B,), T))),
], ids=lambda x: getattr(x, "__name__", ""))
def test_every_label_ignored_gives_a_zero_loss_and_zero_gradients_not_nan(cls, labels):
    """transformers gives NaN here (0/0); we give 0, so the trainer never reads a NaN as divergence."""
    model = _model(cls, num_labels=2 if cls is BertForQuestionAnswering else 3)
    out = model(**_inputs(random_batch()), **{k: v.int() for k, v in labels.items()})   # int32 labels work too
    for loss in (out.loss, getattr(out, "mlm_loss", None), getattr(out, "nsp_loss", None)):
        assert loss is None or (loss.item() == 0.0 and loss.requires_grad)
    out.loss.backward()
    assert all(p.grad is None or torch.count_nonzero(p.grad) == 0 for p in model.parameters())


def test_new_heads_are_initialised_like_the_rest():
    model = _model(BertForSequenceClassification, hidden_size=64, num_labels=400, initializer_range=0.05)
    assert torch.equal(model.classifier.bias, torch.zeros(400))
    assert abs(model.classifier.weight.std().item() - 0.05) < 0.005
    mlm = _model(BertForPreTraining)
    assert torch.equal(mlm.mlm_head.bias, torch.zeros(V))
    assert torch.equal(mlm.mlm_head.layer_norm.weight, torch.ones(32))


# ------------------------------------------------------------------ label checks
@pytest.mark.parametrize("cls, kwargs, error, match", [
    (BertForMaskedLM, dict(labels=torch.zeros(B, T + 1, dtype=torch.long)), ValueError,
     rf"labels must have shape \({B}, {T}\) or \({B * T},\), got \({B}, {T + 1}\)"),
    (BertForMaskedLM, dict(labels=torch.full((B, T), V)), ValueError, rf"labels must lie in \[0, {V}\) or -100, got \[{V}"),
    (BertForMaskedLM, dict(labels=torch.zeros(B, T)), TypeError, "labels must be an integer tensor of class ids"),
    (BertForPreTraining, dict(next_sentence_label=torch.full((B,), 2)), ValueError,
     r"next_sentence_label must lie in \[0, 2\) or -100, got \[2"),
    (BertForSequenceClassification, dict(labels=torch.zeros(B + 1, dtype=torch.long)), ValueError,
     rf"labels must have shape \({B},\) or \({B}, 1\), got \({B + 1},\)"),
    (BertForTokenClassification, dict(labels=torch.full((B, T), 3)), ValueError, r"labels must lie in \[0, 3\)"),
    (BertForQuestionAnswering, dict(start_positions=torch.zeros(B - 1, dtype=torch.long),
                                    end_positions=torch.zeros(B, dtype=torch.long)), ValueError,
     rf"start_positions must have shape \({B},\) or \({B}, 1\), got \({B - 1},\)"),
])
def test_bad_labels_give_clear_errors(cls, kwargs, error, match):
    model = cls(tiny_config(num_labels=2 if cls is BertForQuestionAnswering else 3))
    with pytest.raises(error, match=match):
        model(**_inputs(random_batch()), **kwargs)
