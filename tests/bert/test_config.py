"""Tests for bert/config.py: validation, the JSON round trip (ours and transformers'), the presets of
google-research/bert's released models, and the parameter count formula checked against transformers'
BertModel built from the same sizes (an independent count from the real architecture)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import torch
import transformers

import bert.config
from bert.config import PRESETS, BertConfig, count_parameters

OURS_ONLY = {"attn_implementation", "pre_layer_norm", "architectures"}   # fields transformers does not have
HF_FIELDS = [f.name for f in dataclasses.fields(BertConfig) if f.name not in OURS_ONLY]
ODD = dict(vocab_size=99, hidden_size=36, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37,
           max_position_embeddings=23, type_vocab_size=3, hidden_act="gelu_new", hidden_dropout_prob=0.05,
           attention_probs_dropout_prob=0.15, initializer_range=0.03, layer_norm_eps=1e-7, pad_token_id=5,
           classifier_dropout=0.25, num_labels=5)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("kwargs, match", [
    (dict(hidden_size=100, num_attention_heads=12),
     r"hidden_size \(100\) must be divisible by num_attention_heads \(12\)"),
    (dict(hidden_size=0), r"hidden_size must be a positive int, got 0"),
    (dict(num_hidden_layers=2.0), r"num_hidden_layers must be a positive int, got 2.0"),
    (dict(vocab_size=True), r"vocab_size must be a positive int, got True"),
    (dict(num_labels=-1), r"num_labels must be a positive int, got -1"),
    (dict(hidden_dropout_prob=1.0), r"hidden_dropout_prob must be in \[0, 1\), got 1.0"),
    (dict(attention_probs_dropout_prob=-0.1), r"attention_probs_dropout_prob must be in \[0, 1\), got -0.1"),
    (dict(classifier_dropout=2), r"classifier_dropout must be None or in \[0, 1\), got 2"),
    (dict(hidden_act="swish"), r"hidden_act must be one of .*got 'swish'"),
    (dict(position_embedding_type="relative_key"), r"position_embedding_type.*'absolute'.*got 'relative_key'"),
    (dict(attn_implementation="flash"), r"attn_implementation must be one of .*got 'flash'"),
    (dict(pad_token_id=30522), r"pad_token_id must be in \[0, vocab_size=30522\), got 30522"),
    (dict(layer_norm_eps=0.0), r"layer_norm_eps and initializer_range must be > 0, got 0.0"),
])
def test_bad_values_fail_at_construction_naming_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BertConfig(**kwargs)


def test_defaults_are_bert_base_and_head_dim():
    c = BertConfig()
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size) == (12, 768, 12, 3072)
    assert c.head_dim == 64 and BertConfig(**ODD).head_dim == 9


# ------------------------------------------------------------------ JSON round trips
def test_round_trip_through_our_own_file(tmp_path):
    c = BertConfig(**ODD, pre_layer_norm=True)
    c.save(tmp_path / "config.json")
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]   # atomic write leaves no temp file
    assert BertConfig.load(tmp_path / "config.json") == c
    assert BertConfig.load(tmp_path) == c                              # a directory means its config.json
    assert BertConfig.from_dict(json.loads(c.to_json_string())) == c
    assert BertConfig.load(tmp_path, num_labels=7).num_labels == 7     # overrides


def test_attn_implementation_is_a_load_time_choice_not_written_to_json(tmp_path):
    """transformers reads a config.json key "attn_implementation" as its own backend and rejects our values."""
    c = BertConfig(**ODD, attn_implementation="tiled")
    assert "attn_implementation" not in c.to_dict()
    c.save(tmp_path / "config.json")
    assert BertConfig.load(tmp_path).attn_implementation == "auto"
    assert BertConfig.load(tmp_path, attn_implementation="tiled") == c
    assert BertConfig.from_dict({**c.to_dict(), "attn_implementation": "fused"}).attn_implementation == "fused"


def _same_hf_values(ours: BertConfig, theirs: transformers.BertConfig) -> None:
    """Every HF field has the same value on both sides. transformers 5 dropped `position_embedding_type` from
    BertConfig (only absolute positions are left), so a config made there has no such attribute."""
    missing = {name for name in HF_FIELDS if not hasattr(theirs, name)}
    assert missing <= {"position_embedding_type"}
    for name in set(HF_FIELDS) - missing:
        assert getattr(theirs, name) == getattr(ours, name), name


def test_ours_loads_in_transformers(tmp_path):
    c = BertConfig(**ODD)
    _same_hf_values(c, transformers.BertConfig.from_dict(c.to_dict()))
    c.save(tmp_path / "config.json")
    theirs = transformers.BertConfig.from_json_file(str(tmp_path / "config.json"))
    _same_hf_values(c, theirs)
    model = transformers.BertModel(theirs)                     # the config is usable there, not just readable
    assert model.config.hidden_size == 36


def test_transformers_config_loads_here(tmp_path):
    default = BertConfig.from_dict(transformers.BertConfig().to_dict())
    _same_hf_values(default, transformers.BertConfig())
    assert default == BertConfig()
    hf = transformers.BertConfig(**ODD)
    assert hf.num_labels == 5
    _same_hf_values(BertConfig.from_dict(hf.to_dict()), hf)
    hf.to_json_file(str(tmp_path / "config.json"))
    assert BertConfig.load(tmp_path) == BertConfig(**ODD)


def test_loading_bad_files_and_overrides(tmp_path):
    with pytest.raises(OSError, match=r"config file not found: .*missing.json"):
        BertConfig.load(tmp_path / "missing.json")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config.json' is not valid JSON"):
        BertConfig.load(tmp_path)
    with pytest.raises(TypeError, match=r"has no field\(s\) \['hiden_size'\]"):
        BertConfig.from_dict({}, hiden_size=3)
    with pytest.raises(ValueError, match=r"model_type 'distilbert', expected 'bert'"):
        BertConfig.from_dict({"model_type": "distilbert"})
    with pytest.raises(TypeError, match="d must be a dict"):
        BertConfig.from_dict([("hidden_size", 8)])


# ------------------------------------------------------------------ presets and parameter counts
# google-research/bert README: "BERT-Tiny/Mini/Small/Medium/Base" (L, H) and BERT-Large; A = H/64, I = 4H.
GOOGLE_SIZES = {"tiny": (2, 128), "mini": (4, 256), "small": (4, 512), "medium": (8, 512), "base": (12, 768),
                "large": (24, 1024)}


@pytest.mark.parametrize("name", sorted(GOOGLE_SIZES))
def test_presets_are_the_released_sizes(name):
    L, H = GOOGLE_SIZES[name]
    c = BertConfig.preset(name)
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size) == (L, H, H // 64, 4 * H)
    assert c.vocab_size == 30522 and c.max_position_embeddings == 512 and c.type_vocab_size == 2


def test_preset_overrides_and_unknown_name():
    assert BertConfig.preset("tiny", vocab_size=99).vocab_size == 99
    with pytest.raises(ValueError, match=r"unknown preset 'huge'; choose one of .*'base'"):
        BertConfig.preset("huge")
    assert sorted(PRESETS) == sorted(GOOGLE_SIZES)


def test_paper_sizes_110m_and_340m():
    """Devlin et al. 2019 §3: BERT-base has 110M parameters, BERT-large 340M (rounded figures)."""
    assert count_parameters(BertConfig.preset("base")) == pytest.approx(110e6, rel=0.01)
    assert count_parameters(BertConfig.preset("large")) == pytest.approx(340e6, rel=0.02)


def _hf_numel(config: BertConfig, pooler: bool = True) -> int:
    with torch.device("meta"):                                  # shapes only: no memory, no init time
        model = transformers.BertModel(transformers.BertConfig.from_dict(config.to_dict()), add_pooling_layer=pooler)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["tiny", "mini", "base"])
def test_count_equals_transformers_bert_model(name):
    c = BertConfig.preset(name)
    assert count_parameters(c) == _hf_numel(c)


def test_count_on_an_odd_config_with_and_without_pooler():
    c = BertConfig(**ODD)
    assert count_parameters(c) == _hf_numel(c)
    assert count_parameters(c, pooler=False) == _hf_numel(c, pooler=False)
    assert count_parameters(c) - count_parameters(c, pooler=False) == 36 * 36 + 36


def test_docstring_table_matches_the_counts():
    rows = re.findall(r"^\| (\w+)\s+\|.*\|\s+([\d,]+)\s+\|", bert.config.__doc__, flags=re.M)
    assert sorted(name for name, _ in rows) == sorted(PRESETS)
    for name, count in rows:
        assert int(count.replace(",", "")) == count_parameters(BertConfig.preset(name)), name
