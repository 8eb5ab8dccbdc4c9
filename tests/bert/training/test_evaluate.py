"""Tests for bert/training/evaluate.py: held-out MLM loss/accuracy and NSP accuracy, against a hand computation
(log-softmax written out in float64, position by position), with full and masked-only logits."""

from __future__ import annotations

import math

import pytest
import torch

from bert import BertForPreTraining
from bert.pretraining.data import PretrainingData
from bert.training.evaluate import evaluate_mlm, masked_logits
from tests.bert.pretraining.helpers import CLS, PAD, SEP, random_token_documents, small_vocab_spec, tiny_bert_config


@pytest.fixture(scope="module")
def setup():
    data = PretrainingData(random_token_documents(30), small_vocab_spec(), pad_id=PAD, cls_id=CLS, sep_id=SEP,
                           seq_len=24, dynamic=False)
    batches = [data.collate(0, list(range(0, 9))), data.collate(0, list(range(9, 20)))]
    torch.manual_seed(0)
    model = BertForPreTraining(tiny_bert_config(initializer_range=0.3)).eval()
    return model, batches


def _by_hand(model, batches):
    nll = hits = n = nsp_hits = pairs = 0
    for b in batches:
        with torch.no_grad():
            out = model(**b)
        for r in range(b["input_ids"].shape[0]):
            for t in range(b["input_ids"].shape[1]):
                y = int(b["labels"][r, t])
                if y == -100:
                    continue
                row = out.prediction_logits[r, t].double().tolist()
                m = max(row)
                nll -= row[y] - (m + math.log(sum(math.exp(v - m) for v in row)))
                hits += max(range(len(row)), key=row.__getitem__) == y
                n += 1
            nsp = out.seq_relationship_logits[r].tolist()
            nsp_hits += (nsp[1] > nsp[0]) == (int(b["next_sentence_label"][r]) == 1)
            pairs += 1
    return nll / n, hits / n, nsp_hits / pairs, n


@pytest.mark.parametrize("masked_only", [False, True])
def test_scores_match_a_hand_computation(setup, masked_only):
    model, batches = setup
    loss, acc, nsp_acc, n = _by_hand(model, batches)
    model.masked_only = masked_only
    try:
        got = evaluate_mlm(model, batches)
    finally:
        model.masked_only = False
    assert got["masked"] == n and got["examples"] == 20
    assert got["mlm_loss"] == pytest.approx(loss, rel=1e-5)
    assert got["mlm_acc"] == pytest.approx(acc) and got["nsp_acc"] == pytest.approx(nsp_acc)


def test_averages_are_over_positions_not_batches(setup):
    model, batches = setup
    # the same 20 examples as one batch, padded to one length
    merged = {"next_sentence_label": torch.cat([b["next_sentence_label"] for b in batches])}
    T = max(b["input_ids"].shape[1] for b in batches)
    pad_to = lambda t, v: torch.nn.functional.pad(t, (0, T - t.shape[1]), value=v)
    fill = {"input_ids": PAD, "token_type_ids": 0, "attention_mask": 0, "labels": -100}
    for k, v in fill.items():
        merged[k] = torch.cat([pad_to(b[k], v) for b in batches])
    one, two = evaluate_mlm(model, [merged]), evaluate_mlm(model, batches)
    for k in ("mlm_loss", "mlm_acc", "nsp_acc"):
        assert one[k] == pytest.approx(two[k], rel=1e-5)


def test_masked_logits_checks_the_row_count():
    labels = torch.tensor([[-100, 3, -100, 4]])
    full = torch.randn(1, 4, 7)
    logits, targets = masked_logits(full, labels)
    assert torch.equal(logits, full[0, [1, 3]]) and targets.tolist() == [3, 4]
    with pytest.raises(ValueError, match="3 rows for 2 masked positions"):
        masked_logits(torch.randn(3, 7), labels)
