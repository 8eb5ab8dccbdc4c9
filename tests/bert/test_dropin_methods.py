"""Issue 10, items 7 and 9 on the BERT classes: the model methods a transformers user reaches for
(num_parameters, get/set_input_embeddings, get_output_embeddings, base_model, resize_token_embeddings,
inputs_embeds), each against transformers on the same weights, and the once-only padding warning."""

from __future__ import annotations

import logging
import os

import pytest
import torch

import bert.validation
from bert import (BertForMaskedLM, BertForMultipleChoice, BertForNextSentencePrediction, BertForPreTraining,
                  BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification, BertModel)
from bert.validation import validation
from tests.bert.tiny import V, random_batch, tiny_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")
ALL = [BertModel, BertForPreTraining, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
       BertForQuestionAnswering, BertForNextSentencePrediction, BertForMultipleChoice]
MLM = [BertForPreTraining, BertForMaskedLM]


def _twin(ours):
    """transformers' model of the same class and config, with our weights."""
    config = transformers.BertConfig(**ours.config.to_dict())
    config._attn_implementation = "eager"
    hf = getattr(transformers, type(ours).__name__)(config).eval()
    hf.load_state_dict(ours.hf_state_dict(), strict=False)                   # the tied decoder is not written
    return hf


def _config(cls, **kw):
    return tiny_config(num_labels=2 if cls is BertForQuestionAnswering else 3, **kw)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_num_parameters_base_model_and_input_embeddings_as_transformers(cls):
    torch.manual_seed(0)
    ours = cls(_config(cls)).eval()
    hf = _twin(ours)
    for kw in ({}, dict(exclude_embeddings=True), dict(only_trainable=True)):
        assert ours.num_parameters(**kw) == hf.num_parameters(**kw), kw
    ours.get_input_embeddings().weight.requires_grad_(False)
    hf.get_input_embeddings().weight.requires_grad_(False)
    assert ours.num_parameters(only_trainable=True) == hf.num_parameters(only_trainable=True)
    assert ours.num_parameters(only_trainable=True) == ours.num_parameters() - V * 32
    assert ours.base_model is (ours if cls is BertModel else ours.bert)
    assert (ours.device, ours.dtype) == (hf.device, hf.dtype) == (torch.device("cpu"), torch.float32)
    assert ours.get_input_embeddings() is ours.base_model.embeddings.word_embeddings
    out = ours.get_output_embeddings()
    assert (out is None) == (hf.get_output_embeddings() is None) == (cls not in MLM)
    table = torch.nn.Embedding(V, 32, padding_idx=0)
    ours.set_input_embeddings(table)
    assert ours.get_input_embeddings() is table and ours.base_model.embeddings.word_embeddings is table


@pytest.mark.parametrize("cls", MLM, ids=lambda c: c.__name__)
def test_output_embeddings_are_the_tied_decoder(cls):
    torch.manual_seed(1)
    ours = cls(tiny_config()).eval()
    hf = _twin(ours)
    decoder = ours.get_output_embeddings()
    assert decoder.weight is ours.get_input_embeddings().weight                # tied: the same tensor
    h = torch.randn(4, 32)
    torch.testing.assert_close(decoder(h), hf.get_output_embeddings()(h), atol=1e-6, rtol=0)
    b = random_batch(seed=2)
    logits = ours(b["input_ids"], b["attention_mask"]).logits if cls is BertForMaskedLM else \
        ours(b["input_ids"], b["attention_mask"]).prediction_logits
    with torch.no_grad():
        ours.get_input_embeddings().weight[5] += 1.0                          # the decoder follows the table
    moved = ours(b["input_ids"], b["attention_mask"])[0]
    assert not torch.allclose(moved, logits)


@pytest.mark.parametrize("mean_resizing", [True, False])
@pytest.mark.parametrize("new", [V + 8, V - 9])
def test_resize_token_embeddings_follows_transformers_and_the_tied_decoder(new, mean_resizing):
    torch.manual_seed(2)
    ours = BertForMaskedLM(tiny_config()).eval()
    with torch.no_grad():
        ours.mlm_head.bias.normal_()                                          # a bias worth resizing
    hf = _twin(ours)
    a = ours.resize_token_embeddings(new, mean_resizing=mean_resizing)
    h = hf.resize_token_embeddings(new, mean_resizing=mean_resizing)
    keep = min(new, V)
    assert a.weight.shape == h.weight.shape == (new, 32) and ours.config.vocab_size == new
    torch.testing.assert_close(a.weight[:keep], h.weight[:keep], atol=0, rtol=0)
    torch.testing.assert_close(ours.mlm_head.bias[:keep], hf.cls.predictions.decoder.bias[:keep], atol=0, rtol=0)
    if new > V and mean_resizing:                                             # transformers: ≈ the mean, tiny noise
        torch.testing.assert_close(a.weight[V:], h.weight[V:], atol=1e-4, rtol=0)
        # the bias: the old mean, as transformers documents (its BERT gives 0 there: see resize_vocab's docstring)
        assert torch.allclose(ours.mlm_head.bias[V:], ours.mlm_head.bias[:V].mean().expand(new - V))
    if new > V and not mean_resizing:
        assert torch.equal(ours.mlm_head.bias[V:], torch.zeros(new - V))
        assert abs(a.weight[V:].std().item() - 0.2) < 0.12                    # N(0, initializer_range²)
    b = random_batch(seed=3, vocab=min(new, V))
    out = ours(b["input_ids"], b["attention_mask"], labels=b["labels"])
    assert out.logits.shape[-1] == new and ours.get_output_embeddings().weight is a.weight
    if new > V and mean_resizing:  # with the same new rows, the whole model agrees with transformers'
        with torch.no_grad():
            a.weight[V:] = h.weight[V:]
            ours.mlm_head.bias[V:] = hf.cls.predictions.decoder.bias[V:]
        torch.testing.assert_close(ours(b["input_ids"], b["attention_mask"], labels=b["labels"]).loss,
                                   hf(b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"]).loss,
                                   atol=2e-5, rtol=0)


def test_resize_pads_to_a_multiple_and_refuses_dropping_the_pad_row():
    model = BertForPreTraining(tiny_config(pad_token_id=4))
    assert model.resize_token_embeddings(None) is model.get_input_embeddings()      # nothing asked: unchanged
    assert model.resize_token_embeddings(V + 1, pad_to_multiple_of=8).num_embeddings == 104
    assert model.mlm_head.bias.shape == (104,) and model.config.vocab_size == 104
    with pytest.raises(ValueError, match=r"4 tokens would drop the \[PAD\] row \(pad_token_id = 4\)"):
        model.resize_token_embeddings(4)
    with pytest.raises(ValueError, match=r"new_num_tokens must be an int >= 1, got 0"):
        model.resize_token_embeddings(0)


@pytest.mark.parametrize("cls", [BertModel, BertForSequenceClassification, BertForMultipleChoice],
                         ids=lambda c: c.__name__)
def test_inputs_embeds_in_place_of_input_ids_as_transformers(cls):
    torch.manual_seed(4)
    ours = cls(tiny_config()).eval()
    hf = _twin(ours)
    b = random_batch(seed=4, batch=12)
    ids, mask = b["input_ids"], b["attention_mask"]
    if cls is BertForMultipleChoice:
        ids, mask = ids.reshape(4, 3, -1), mask.reshape(4, 3, -1)
    embeds = ours.get_input_embeddings()(ids)                                 # (B, T, C) or (B, N, T, C)
    a = ours(inputs_embeds=embeds, attention_mask=mask)[0]
    torch.testing.assert_close(a, ours(ids, attention_mask=mask)[0], atol=0, rtol=0)
    torch.testing.assert_close(a, hf(inputs_embeds=embeds, attention_mask=mask)[0], atol=2e-5, rtol=0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(), ValueError, "give exactly one of input_ids .* and inputs_embeds .*, got neither"),
    (dict(input_ids=torch.zeros(2, 3, dtype=torch.long), inputs_embeds=torch.zeros(2, 3, 32)), ValueError, "got both"),
    (dict(inputs_embeds=torch.zeros(2, 3, 31)), ValueError, r"hidden_size=32\) .*got \(2, 3, 31\)"),
    (dict(inputs_embeds=torch.zeros(2, 3, 32, dtype=torch.long)), TypeError, "floating-point"),
    (dict(inputs_embeds=torch.zeros(2, 3, 32), attention_mask=torch.ones(2, 4)), ValueError,
     r"attention_mask must have the shape of inputs_embeds without its last dim, \(2, 3\)"),
])
def test_bad_inputs_embeds_give_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        BertModel(tiny_config())(**kwargs)


# ------------------------------------------------------------------ item 9: the padding warning
def test_pad_without_mask_warns_once_through_logging(caplog):
    model = BertModel(tiny_config()).eval()
    padded = torch.tensor([[2, 5, 7, 0], [2, 8, 0, 0]])                      # pad id 0 at the end
    bert.validation.warn_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="bert.model"):
        model(padded, attention_mask=(padded != 0).long())                    # a mask: no warning
        model(torch.tensor([[2, 5, 7, 9]]))                                   # no pad: no warning
        assert not caplog.records
        model(padded)
        model(padded)
    assert len(caplog.records) == 1 and "no attention_mask" in caplog.records[0].getMessage()
    bert.validation.warn_once.cache_clear()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bert.model"), validation(False):
        model(padded)                                     # values are not read back: no check, no warning
    assert not caplog.records


def test_the_warning_matches_transformers_columns(caplog):
    """transformers looks at the first and last column only; so do we (a pad in the middle is not padding)."""
    model = BertModel(tiny_config()).eval()
    bert.validation.warn_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="bert.model"):
        model(torch.tensor([[2, 0, 7, 9]]))
    assert not caplog.records


def test_the_warning_check_is_no_graph_break_under_torch_compile():
    """While dynamo traces, `validates` is False: the check reads nothing back (it would break the graph)."""
    model = BertModel(tiny_config(num_hidden_layers=1)).eval()
    padded = torch.tensor([[2, 5, 7, 0], [2, 8, 0, 0]])
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(padded).last_hidden_state, model(padded).last_hidden_state)
