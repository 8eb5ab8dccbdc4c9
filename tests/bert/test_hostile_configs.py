"""A config.json that does not describe its weights, or asks for more memory than the machine has, is refused
before any block is built, naming the file and the field (bert/safeguards.py): `num_hidden_layers: 100000` beside
a 17 kB checkpoint used to build every block — minutes, gigabytes — before looking at the weights, and
`vocab_size: 10000000000` reached the allocator ("tried to allocate 640000000000 bytes", no file, no field)."""

from __future__ import annotations

import json
import re

import pytest

import bert.layers
import bert.safeguards as safeguards
from bert import BertConfig, BertForSequenceClassification, BertModel
from distil.config import DistilBertConfig
from distil import DistilBertForMaskedLM, DistilBertModel
from tests.bert.tiny import tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")
TINY_DISTIL = dict(vocab_size=99, dim=32, n_heads=4, n_layers=2, hidden_dim=37, max_position_embeddings=19)


@pytest.fixture
def no_blocks(monkeypatch):
    """Call it to make building an encoder block fail the test from then on: the checks must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("an encoder block was built before the config was checked")
    return lambda: monkeypatch.setattr(bert.layers.EncoderBlock, "__init__", refuse)


def saved(tmp_path, model, no_blocks, **edits):
    """`model` saved to tmp_path/m, then config.json's `edits` written over it, then no more blocks may be built;
    returns the config.json path."""
    model.save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **edits}))
    no_blocks()
    return path


@pytest.mark.parametrize("cls", [BertModel, BertForSequenceClassification])
@pytest.mark.parametrize("edits, field, says", [
    (dict(num_hidden_layers=100000), "num_hidden_layers", "holds 2 layers"),
    (dict(num_hidden_layers=1), "num_hidden_layers", "holds 2 layers"),
    (dict(hidden_size=64), "hidden_size", "32"),
    (dict(vocab_size=500), "vocab_size", "99"),
    (dict(intermediate_size=99), "intermediate_size", "37"),
    (dict(max_position_embeddings=64), "max_position_embeddings", "19"),
    (dict(type_vocab_size=2), "type_vocab_size", "3"),
])
def test_bert_config_sizes_must_match_the_weights_before_anything_is_built(tmp_path, no_blocks, cls, edits, field,
                                                                           says):
    config = saved(tmp_path, BertForSequenceClassification(tiny_config()), no_blocks, **edits)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(config))}: {field} = {edits[field]}.*"
                                         rf"model\.safetensors.*{says}") as error:
        cls.from_pretrained(config.parent)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("edits, field", [(dict(n_layers=100000), "n_layers"), (dict(dim=64), "dim"),
                                          (dict(hidden_dim=99), "hidden_dim"), (dict(vocab_size=500), "vocab_size"),
                                          (dict(max_position_embeddings=64), "max_position_embeddings")])
def test_distilbert_config_sizes_must_match_the_weights(tmp_path, no_blocks, edits, field):
    config = saved(tmp_path, DistilBertForMaskedLM(DistilBertConfig(**TINY_DISTIL)), no_blocks, **edits)
    for cls in (DistilBertModel, DistilBertForMaskedLM):
        with pytest.raises(ValueError, match=rf"^{re.escape(str(config))}: {field} = {edits[field]}.*model\.safet"):
            cls.from_pretrained(config.parent)


def test_an_override_that_disagrees_with_the_weights_is_named_as_the_override(tmp_path, no_blocks):
    config = saved(tmp_path, BertModel(tiny_config()), no_blocks)
    with pytest.raises(ValueError, match=r"^BertModel\.from_pretrained\(num_hidden_layers=3\), but .* 2 layers"):
        BertModel.from_pretrained(config.parent, num_hidden_layers=3)


@pytest.mark.parametrize("edits, field", [(dict(vocab_size=10**10), "vocab_size"), (dict(hidden_size=10**6),
                                                                                      "hidden_size"),
                                          (dict(intermediate_size=10**9), "intermediate_size")])
def test_absurd_sizes_in_config_json_are_refused_by_the_memory_they_need(tmp_path, no_blocks, edits, field):
    config = saved(tmp_path, BertModel(tiny_config()), no_blocks, **edits)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(config))}: {field} = {edits[field]}: .* GB .* more "
                                         rf"than this machine's memory"):
        BertModel.from_pretrained(config.parent)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(config))}: {field} = "):
        BertConfig.from_pretrained(config.parent)
    with pytest.raises(ValueError, match=rf"^BertConfig\.{field} = {edits[field]}: .* more than this machine"):
        BertModel(tiny_config(**edits))                                  # a config built directly: refused as well


@pytest.mark.parametrize("edits, field", [(dict(vocab_size=10**10), "vocab_size"), (dict(dim=10**6), "dim"),
                                          (dict(hidden_dim=10**9), "hidden_dim"), (dict(n_layers=10**8), "n_layers")])
def test_absurd_distilbert_sizes_are_refused_naming_file_and_field(tmp_path, no_blocks, edits, field):
    config = saved(tmp_path, DistilBertModel(DistilBertConfig(**TINY_DISTIL)), no_blocks, **edits)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(config))}: {field} = {edits[field]}: .* memory"):
        DistilBertModel.from_pretrained(config.parent)
    with pytest.raises(ValueError, match=rf"^DistilBertConfig\.{field} = .* memory"):
        DistilBertConfig(**{**TINY_DISTIL, **edits})


def test_the_limit_is_the_machines_memory(monkeypatch):
    monkeypatch.setattr(safeguards, "physical_memory", lambda: 10**9)     # a 1 GB machine
    assert BertConfig.preset("base").num_hidden_layers == 12             # 110M parameters: 0.44 GB
    with pytest.raises(ValueError, match=r"^BertConfig\.\w+ = \d+: .* 1\.3 GB .* \(1\.0 GB\)"):
        BertConfig.preset("large")                                       # 335M parameters: 1.34 GB
    monkeypatch.setattr(safeguards, "physical_memory", lambda: None)     # unknown (no sysconf): not checked
    assert BertConfig(vocab_size=10**10).vocab_size == 10**10
