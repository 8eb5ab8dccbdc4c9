"""The transformers habits a student brings, on every DistilBERT class (issue 10, DistilBERT side): token_type_ids
from a BertTokenizer, the label shapes transformers takes, return_dict / config-level output flags / overrides on
from_pretrained, the model methods, inputs_embeds, the config's own from_pretrained / save_pretrained with unknown
keys kept, the pad-without-mask warning, and no relative positions — each against transformers where it has it."""

from __future__ import annotations

import json
import logging
import os

import pytest
import torch

import bert.validation
from bert.training import model_inputs as trainer_inputs
from bert.validation import validation
from distil import (DistilBertConfig, DistilBertForMaskedLM, DistilBertForMultipleChoice,
                    DistilBertForQuestionAnswering, DistilBertForSequenceClassification,
                    DistilBertForTokenClassification, DistilBertModel)
from tests.bert.tiny import random_batch
from tests.distil.test_dropin_heads import config_for, hf_config, inputs, tiny

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")

ALL = [DistilBertModel, DistilBertForMaskedLM, DistilBertForSequenceClassification,
       DistilBertForTokenClassification, DistilBertForQuestionAnswering, DistilBertForMultipleChoice]
ATOL = 2e-5


def pair(cls, tmp_path, config=None, **overrides):
    """transformers' model of `config` saved, then loaded by both libraries with the same overrides."""
    torch.manual_seed(0)
    getattr(transformers, cls.__name__)(hf_config(config or config_for(cls))).save_pretrained(tmp_path)
    ours = cls.from_pretrained(tmp_path, attn_implementation="eager", **overrides)
    hf = getattr(transformers, cls.__name__).from_pretrained(tmp_path, attn_implementation="eager", **overrides)
    return ours, hf.eval()


def model_inputs(cls, seed=4):
    kw = inputs(cls, random_batch(seed=seed))
    if cls in (DistilBertModel, DistilBertForMaskedLM):
        kw.pop("labels")
        if cls is DistilBertForMaskedLM:
            kw["labels"] = random_batch(seed=seed)["labels"]
    return kw


def assert_tree_close(a, b):
    assert type(a) is type(b) or (isinstance(a, tuple) and isinstance(b, tuple)), (type(a), type(b))
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_tree_close(x, y)
    else:
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


# ----------------------------------------------------------------------------- item 3: token_type_ids
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_all_zero_token_type_ids_are_ignored_and_others_refused_behind_the_switch(cls):
    model = cls(config_for(cls)).eval()
    kw = model_inputs(cls)
    zeros = torch.zeros_like(kw["input_ids"])
    assert_tree_close(model(**kw, return_dict=False), model(**kw, token_type_ids=zeros, return_dict=False))
    ones = zeros.clone()
    ones.view(-1)[-1] = 1                                              # one token of a second segment
    with pytest.raises(ValueError, match=r"token_type_ids must be all 0: DistilBERT has no token-type .*"
                                         r"transformers silently ignores them\); got values \[0, 1\]"):
        model(**kw, token_type_ids=ones)
    with validation(False):                                            # value checks off (CUDA's default): no read
        model(**kw, token_type_ids=ones)
    with pytest.raises(ValueError, match="token_type_ids must have the shape"):
        model(**kw, token_type_ids=zeros[..., :3])
    assert "token_type_ids" not in trainer_inputs(model, {**kw, "token_type_ids": ones})   # a teacher's pair batch


# ----------------------------------------------------------------------------- item 4: label shapes
LABEL_CASES = {   # name: (class, overrides for from_pretrained (num_labels: of the checkpoint), labels from a batch)
    "class_B1": (DistilBertForSequenceClassification, {}, lambda b: b["class_labels"][:, None]),
    "regression_B1": (DistilBertForSequenceClassification, {"num_labels": 1}, lambda b: torch.randn(13, 1)),
    "regression_BK": (DistilBertForSequenceClassification, {"problem_type": "regression"},
                      lambda b: torch.randn(13, 3)),
    "multi_label": (DistilBertForSequenceClassification, {"problem_type": "multi_label_classification"},
                    lambda b: (torch.rand(13, 3) < 0.5).float()),
    "tokens_flat": (DistilBertForTokenClassification, {}, lambda b: b["token_labels"].reshape(-1)),
    "mc_B": (DistilBertForMultipleChoice, {}, None),
}


@pytest.mark.parametrize("case", list(LABEL_CASES) + ["qa_B1"])
def test_label_shapes_transformers_takes_give_its_loss(case, tmp_path):
    if case == "qa_B1":
        cls, overrides, make = DistilBertForQuestionAnswering, {}, None
    else:
        cls, overrides, make = LABEL_CASES[case]
    config = config_for(cls, num_labels=overrides.pop("num_labels")) if "num_labels" in overrides else None
    ours, hf = pair(cls, tmp_path, config, **overrides)
    torch.manual_seed(2)
    batch = random_batch(seed=8)
    kw = inputs(cls, batch)
    if make is not None:
        kw["labels"] = make(batch)
    if case == "qa_B1":
        kw["start_positions"], kw["end_positions"] = kw["start_positions"][:, None], kw["end_positions"][:, None]
    a, b = ours(**kw), hf(**kw)
    torch.testing.assert_close(a.loss, b.loss, atol=ATOL, rtol=0)


# ----------------------------------------------------------------------------- item 5: return_dict, flags, overrides
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_return_dict_false_is_transformers_tuple_in_its_order(cls, tmp_path):
    ours, hf = pair(cls, tmp_path)
    kw = model_inputs(cls)
    a = ours(**kw, output_hidden_states=True, output_attentions=True, return_dict=False)
    b = hf(**kw, output_hidden_states=True, output_attentions=True, return_dict=False)
    assert isinstance(a, tuple)
    assert_tree_close(a, b)
    assert_tree_close(ours(**kw, return_dict=True).to_tuple(), hf(**kw, return_dict=True).to_tuple())


def test_from_pretrained_overrides_and_config_level_output_flags(tmp_path):
    cls = DistilBertForSequenceClassification
    names = {0: "neg", 1: "neutral", 2: "pos"}
    ours, hf = pair(cls, tmp_path, id2label=names, output_hidden_states=True, output_attentions=True)
    assert not ours.training                                           # eval mode, as transformers
    assert ours.config.attn_implementation == "reference"             # "eager" = our reference path
    assert ours.config.id2label == names and ours.config.label2id == {"neg": 0, "neutral": 1, "pos": 2}
    kw = model_inputs(cls)
    a, b = ours(**kw), hf(**kw)                                        # the flags come from the config
    assert len(a.hidden_states) == len(b.hidden_states) == 4 and len(a.attentions) == len(b.attentions) == 3
    assert_tree_close(a.to_tuple(), b.to_tuple())
    assert ours(**kw, output_hidden_states=False).hidden_states is None   # the call wins over the config
    ours.config.return_dict = False
    assert isinstance(ours(**kw), tuple)
    ours.config.return_dict = True
    ours.save_pretrained(tmp_path / "saved")
    again = transformers.AutoConfig.from_pretrained(tmp_path / "saved")
    assert again.id2label == names and again.output_hidden_states is True
    with pytest.raises(TypeError, match="has no field"):
        cls.from_pretrained(tmp_path, not_a_field=1)


# ----------------------------------------------------------------------------- item 7: methods, inputs_embeds
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_model_methods_match_transformers(cls, tmp_path):
    ours, hf = pair(cls, tmp_path)
    for kw in ({}, {"exclude_embeddings": True}, {"only_trainable": True}):
        assert ours.num_parameters(**kw) == hf.num_parameters(**kw), kw
    ours.base_model.embeddings.requires_grad_(False)
    hf.base_model.embeddings.requires_grad_(False)
    assert ours.num_parameters(only_trainable=True) == hf.num_parameters(only_trainable=True)
    assert ours.base_model is (ours if cls is DistilBertModel else ours.distilbert)
    assert ours.get_input_embeddings() is ours.base_model.embeddings.word_embeddings
    torch.testing.assert_close(ours.get_input_embeddings().weight, hf.get_input_embeddings().weight)
    out = ours.get_output_embeddings()
    if cls is DistilBertForMaskedLM:
        assert out.weight is ours.get_input_embeddings().weight        # tied, not a copy
        torch.testing.assert_close(out.bias, hf.get_output_embeddings().bias)
    else:
        assert out is None and hf.get_output_embeddings() is None
    new = torch.nn.Embedding(ours.config.vocab_size, ours.config.dim, padding_idx=0)
    ours.set_input_embeddings(new)
    assert ours.get_input_embeddings() is new


def test_resize_token_embeddings_the_tied_projector_follows_and_transformers_loads_it(tmp_path):
    ours, _ = pair(DistilBertForMaskedLM, tmp_path / "a")
    old = ours.get_input_embeddings().weight.detach().clone()
    ours.resize_token_embeddings(104, pad_to_multiple_of=8)             # 99 → 104 → a multiple of 8: 104
    assert ours.config.vocab_size == 104 and ours.get_input_embeddings().weight.shape == (104, 32)
    assert ours.get_output_embeddings().weight is ours.get_input_embeddings().weight
    assert ours.mlm_head.bias.shape == (104,)
    torch.testing.assert_close(ours.get_input_embeddings().weight[:99], old, atol=0, rtol=0)
    ours.save_pretrained(tmp_path / "b")
    hf = transformers.DistilBertForMaskedLM.from_pretrained(tmp_path / "b", attn_implementation="eager").eval()
    ids = torch.tensor([[2, 103, 7, 100, 5]])
    torch.testing.assert_close(ours(ids).logits, hf(ids).logits, atol=ATOL, rtol=0)


def test_inputs_embeds_in_place_of_input_ids(tmp_path):
    ours, hf = pair(DistilBertModel, tmp_path)
    ids = random_batch(seed=6)["input_ids"]
    embeds = ours.get_input_embeddings()(ids).detach()                 # (B, T, C)
    a = ours(inputs_embeds=embeds).last_hidden_state
    torch.testing.assert_close(a, ours(ids).last_hidden_state, atol=0, rtol=0)
    torch.testing.assert_close(a, hf(inputs_embeds=embeds).last_hidden_state, atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match="input_ids"):
        ours(ids, inputs_embeds=embeds)
    mc = DistilBertForMultipleChoice(tiny()).eval()
    kw = inputs(DistilBertForMultipleChoice, random_batch(seed=6))
    by_embeds = mc(inputs_embeds=mc.get_input_embeddings()(kw["input_ids"]), attention_mask=kw["attention_mask"])
    torch.testing.assert_close(by_embeds.logits, mc(kw["input_ids"], kw["attention_mask"]).logits, atol=0, rtol=0)


# ----------------------------------------------------------------------------- items 8, 9, 10
def test_config_from_and_save_pretrained_keeps_unknown_keys(tmp_path):
    transformers.DistilBertConfig(dim=32, n_heads=4, n_layers=3, hidden_dim=37).save_pretrained(tmp_path / "hf")
    raw = json.loads((tmp_path / "hf" / "config.json").read_text())
    raw["my_note"] = {"kept": [1, 2]}
    (tmp_path / "hf" / "config.json").write_text(json.dumps(raw))
    config = DistilBertConfig.from_pretrained(tmp_path / "hf")
    assert config.transformers_version == raw["transformers_version"] and config.my_note == {"kept": [1, 2]}
    assert json.loads(config.to_json_string()) == json.loads(json.dumps(config.to_dict()))   # id2label keys: str
    config.save_pretrained(tmp_path / "ours")
    written = json.loads((tmp_path / "ours" / "config.json").read_text())
    assert {k: written[k] for k in raw} == raw                          # every key as it was, the unknown ones too
    assert transformers.DistilBertConfig.from_pretrained(tmp_path / "ours").to_dict()["my_note"] == {"kept": [1, 2]}
    raw["dim"] = "32"                                                   # the modelled keys: as strict as before
    (tmp_path / "hf" / "config.json").write_text(json.dumps(raw))
    with pytest.raises(TypeError, match=r"config\.json: dim must be an int"):
        DistilBertConfig.from_pretrained(tmp_path / "hf")


def test_pad_without_attention_mask_warns_once(caplog):
    model = DistilBertModel(tiny()).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0]])                               # padded at the end, pad_token_id 0
    bert.validation.warn_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="bert.model"):
        model(ids, attention_mask=torch.tensor([[1, 1, 1, 0, 0]]))
        assert not caplog.records
        model(ids)
        model(ids)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["input_ids contain the pad token id"]


def test_no_relative_positions_wherever_they_are_asked_for(tmp_path):
    config = DistilBertConfig()
    with pytest.raises(AttributeError, match="relative position embeddings are out of scope"):
        config.position_embedding_type = "relative_key"
    with pytest.raises(TypeError):
        DistilBertConfig(position_embedding_type="relative_key")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "distilbert",
                                                      "position_embedding_type": "relative_key"}))
    with pytest.raises(ValueError, match=r"config\.json: position_embedding_type = 'relative_key': DistilBERT's"):
        DistilBertConfig.from_pretrained(tmp_path)
    with pytest.raises(TypeError, match="has no field"):
        DistilBertModel.from_pretrained(tmp_path, position_embedding_type="relative_key")


def test_a_students_config_keeps_the_teachers_label_names():
    from bert import BertConfig
    teacher = BertConfig(num_labels=3, id2label={0: "neg", 1: "neutral", 2: "pos"},
                         problem_type="single_label_classification")
    student = DistilBertConfig.from_bert_config(teacher)
    assert student.id2label == teacher.id2label and student.problem_type == "single_label_classification"
    assert DistilBertConfig.from_bert_config(teacher, num_labels=2).id2label == {0: "LABEL_0", 1: "LABEL_1"}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_the_token_type_check_adds_no_device_sync():
    """On CUDA the value checks are off by default (bert.validation): a forward with token_type_ids, padding and
    labels reads nothing back (sync debug mode "error" raises on any device→host read); validation(True) checks."""
    model = DistilBertForSequenceClassification(tiny()).cuda().eval()
    kw = {k: v.cuda() for k, v in inputs(DistilBertForSequenceClassification, random_batch(seed=3)).items()}
    ones = torch.ones_like(kw["input_ids"])
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        model(**kw, token_type_ids=ones).loss.sum()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    with validation(True), pytest.raises(ValueError, match="token_type_ids must be all 0"):
        model(**kw, token_type_ids=ones)
