"""DistilBertConfig: validation, JSON round trip with transformers, and the BERT/DistilBERT size correction."""

import json
import os

import pytest

from bert.config import BertConfig
from distil.config import DistilBertConfig, count_parameters

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
])
def test_bad_values_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DistilBertConfig(**kwargs)


def test_bool_fields_checked():
    with pytest.raises(TypeError, match="sinusoidal_pos_embds"):
        DistilBertConfig(sinusoidal_pos_embds="yes")


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
