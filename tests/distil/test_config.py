"""DistilBertConfig: validation, JSON round trip with transformers, and the BERT/DistilBERT size correction."""

import dataclasses
import json
import math
import os
import re
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bert.config import BertConfig
from distil.config import DistilBertConfig, count_parameters
from tests.bert.test_config import NON_FINITE, wrong_value

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_defaults_are_distilbert_base_and_hf_defaults():
    from transformers import DistilBertConfig as HFConfig
    ours, theirs = DistilBertConfig().to_dict(), HFConfig().to_dict()
    for key in ("vocab_size", "max_position_embeddings", "sinusoidal_pos_embds", "n_layers", "n_heads", "dim",
                "hidden_dim", "dropout", "attention_dropout", "activation", "initializer_range", "qa_dropout",
                "seq_classif_dropout", "pad_token_id", "tie_word_embeddings"):
        assert ours[key] == theirs[key], key


@pytest.mark.parametrize("kwargs, match", [
    (dict(dim=30, n_heads=4), "divisible"),
    (dict(n_layers=0), "n_layers"),
    (dict(vocab_size=True), "vocab_size"),
    (dict(dropout=1.0), "dropout"),
    (dict(seq_classif_dropout=-0.1), "seq_classif_dropout"),
    (dict(activation="swish"), "activation"),
    (dict(pad_token_id=99, vocab_size=99), "pad_token_id"),
    (dict(attn_implementation="magic"), "attn_implementation"),
    (dict(initializer_range=0.0), "initializer_range"),
    # new with the checks from the annotations (each passed, or failed without naming the field, before)
    (dict(initializer_range=math.nan), r"^DistilBertConfig\.initializer_range must be a finite number, got nan"),
    (dict(dropout="0.1"), r"^DistilBertConfig\.dropout must be a finite number, got '0.1' \(str\)"),
    (dict(qa_dropout=math.inf), r"^DistilBertConfig\.qa_dropout must be a finite number, got inf"),
    (dict(pad_token_id=-1), r"^DistilBertConfig\.pad_token_id must be >= 0, got -1"),
    (dict(tie_word_embeddings=1), r"^DistilBertConfig\.tie_word_embeddings must be a bool \(true or false\), got 1"),
    (dict(activation=None), r"^DistilBertConfig\.activation must be a string, got None"),
    (dict(architectures=[1]), r"^DistilBertConfig\.architectures must be a list of str values or null, got \[1\]"),
])
def test_bad_values_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DistilBertConfig(**kwargs)


def test_bool_fields_checked():
    with pytest.raises(TypeError, match="sinusoidal_pos_embds"):
        DistilBertConfig(sinusoidal_pos_embds="yes")


FIELD_TYPES = typing.get_type_hints(DistilBertConfig)
FIELDS = [f.name for f in dataclasses.fields(DistilBertConfig) if f.name != "extra"]   # extra: the unknown keys


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_wrong_type_in_a_file_names_the_file_and_the_field(tmp_path_factory, data):
    name = data.draw(st.sampled_from(FIELDS))
    value = data.draw(wrong_value(FIELD_TYPES[name]))
    path = tmp_path_factory.mktemp("c") / "config.json"
    path.write_text(json.dumps({"model_type": "distilbert", name: value}))
    with pytest.raises(TypeError, match=rf"^{re.escape(str(path))}: {name} must be "):
        DistilBertConfig.load(path)


@settings(max_examples=30, deadline=None)
@given(good=st.floats(min_value=0, exclude_min=True, allow_infinity=False),
       bad=st.one_of(NON_FINITE, st.floats(max_value=0, allow_nan=False)))
def test_initializer_range_any_finite_positive_float_and_nothing_else(good, bad):
    assert DistilBertConfig(initializer_range=good).initializer_range == good
    with pytest.raises(ValueError, match=r"initializer_range must be (a finite number|> 0)"):
        DistilBertConfig(initializer_range=bad)


# distilbert-base-uncased's config.json on the Hugging Face hub (transformers 4.10): the old key tie_weights_
DISTILBERT_BASE_UNCASED = {
    "activation": "gelu", "architectures": ["DistilBertForMaskedLM"], "attention_dropout": 0.1, "dim": 768,
    "dropout": 0.1, "hidden_dim": 3072, "initializer_range": 0.02, "max_position_embeddings": 512,
    "model_type": "distilbert", "n_heads": 12, "n_layers": 6, "pad_token_id": 0, "qa_dropout": 0.1,
    "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False, "tie_weights_": True,
    "transformers_version": "4.10.0.dev0", "vocab_size": 30522}


def test_the_real_distilbert_base_uncased_config_loads(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(DISTILBERT_BASE_UNCASED))
    c = DistilBertConfig.load(tmp_path)
    assert c == DistilBertConfig() and c.tie_word_embeddings is True and c.architectures == ["DistilBertForMaskedLM"]


@pytest.mark.parametrize("changes, error, match", [
    ({"tie_weights_": "false"}, TypeError,                       # bool("false") is True: it used to tie silently
     r"tie_weights_ \(the old name of tie_word_embeddings\) must be a bool \(true or false\), got 'false'"),
    ({"sinusoidal_pos_embds": "true"}, TypeError, r"sinusoidal_pos_embds must be a bool"),
    ({"dim": 30}, ValueError, r"dim \(30\) must be divisible by n_heads \(12\)"),
    ({"n_layers": "6"}, TypeError, r"n_layers must be an int, got '6' \(str\)"),
    ({"dropout": float("nan")}, TypeError, r"dropout must be a finite number, got nan"),
    ({"activation": "swish"}, ValueError, r"activation must be one of .*got 'swish'"),
    ({"model_type": "bert"}, ValueError, r"model_type must be 'distilbert', got 'bert'"),
])
def test_every_error_of_a_config_file_names_the_file(tmp_path, changes, error, match):
    (tmp_path / "config.json").write_text(json.dumps({**DISTILBERT_BASE_UNCASED, **changes}))
    with pytest.raises(error, match=rf"^{re.escape(str(tmp_path / 'config.json'))}: {match}"):
        DistilBertConfig.load(tmp_path)
    (tmp_path / "config.json").write_bytes(b"\xff{}")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path / 'config.json'))}: not UTF-8 text"):
        DistilBertConfig.load(tmp_path)


def test_json_round_trip_with_transformers(tmp_path):
    from transformers import DistilBertConfig as HFConfig
    ours = DistilBertConfig(vocab_size=99, dim=32, n_heads=4, n_layers=3, hidden_dim=37, num_labels=3,
                            sinusoidal_pos_embds=True, activation="relu", max_position_embeddings=64)
    ours.save(tmp_path / "config.json")
    theirs = HFConfig.from_pretrained(tmp_path)
    assert (theirs.dim, theirs.n_heads, theirs.n_layers, theirs.hidden_dim, theirs.num_labels) == (32, 4, 3, 37, 3)
    assert theirs.sinusoidal_pos_embds is True and theirs.activation == "relu" and theirs.hidden_size == 32
    theirs.save_pretrained(tmp_path / "hf")
    back = DistilBertConfig.load(tmp_path / "hf")
    assert back == ours


def test_old_tie_weights_key_and_wrong_model_type(tmp_path):
    assert DistilBertConfig.from_dict({"tie_weights_": False}).tie_word_embeddings is False
    with pytest.raises(TypeError, match=r"^DistilBertConfig\.tie_weights_ \(the old name of tie_word_embeddings\)"):
        DistilBertConfig.from_dict({"tie_weights_": 0})
    with pytest.raises(ValueError, match="model_type"):
        DistilBertConfig.from_dict({"model_type": "bert"})
    with pytest.raises(TypeError, match="no field"):
        DistilBertConfig.from_dict({}, hidden_size=3)
    with pytest.raises(OSError, match="not found"):
        DistilBertConfig.load(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="JSON"):
        DistilBertConfig.load(tmp_path)


def test_hf_attribute_aliases_and_bert_view():
    c = DistilBertConfig(dim=32, n_heads=4, n_layers=3, hidden_dim=37, dropout=0.2, attention_dropout=0.3)
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.head_dim) == (32, 3, 4, 8)
    b = c.to_bert_config()
    assert (b.hidden_size, b.num_hidden_layers, b.num_attention_heads, b.intermediate_size) == (32, 3, 4, 37)
    assert (b.hidden_dropout_prob, b.attention_probs_dropout_prob, b.layer_norm_eps) == (0.2, 0.3, 1e-12)
    s = DistilBertConfig.from_bert_config(BertConfig(num_hidden_layers=5, hidden_size=32, num_attention_heads=4,
                                                     intermediate_size=37, vocab_size=99))
    assert (s.n_layers, s.dim, s.hidden_dim, s.vocab_size) == (3, 32, 37, 99)


def test_article_000_section_2_corrected_distilbert_halves_layers_not_width():
    """Article 000 §2 says DistilBERT keeps every layer and halves the hidden size (34M → 17M). DistilBERT
    keeps BERT-base's width 768 and halves the layers 12 → 6: 110M → 66M parameters."""
    from bert.config import count_parameters as bert_count
    bert = BertConfig.preset("base")
    distil = DistilBertConfig()
    assert (distil.dim, distil.n_layers) == (bert.hidden_size, bert.num_hidden_layers // 2)
    assert round(bert_count(bert) / 1e6) == 109 and round(count_parameters(distil) / 1e6) == 66
    # as a fraction: the student keeps ~61% of the parameters (the embeddings are not halved)
    assert 0.60 < count_parameters(distil) / bert_count(bert) < 0.62
    json.dumps(distil.to_dict())
