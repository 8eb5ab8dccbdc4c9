"""DistilBertConfig: the hyper-parameters of a DistilBERT model, with Hugging Face `config.json` field names.

DistilBERT (Sanh et al. 2019, "DistilBERT, a distilled version of BERT", §3) is BERT with half the layers
(12 → 6), the same width (768), no token-type embeddings and no pooler. Its config uses its own HF names
(`dim`, `n_layers`, `n_heads`, `hidden_dim`, …), kept here exactly, so a `config.json` written by transformers
loads here and ours loads there. Article 000 §2 (核心概念与联系) says DistilBERT keeps all layers and halves the
hidden size; it does the opposite — `DistilBertConfig()` below is the real distilbert-base-uncased shape:

| model                      | layers | dim | heads | hidden_dim | parameters (bare encoder) |
|----------------------------|--------|-----|-------|------------|---------------------------|
| BERT-base (`BertConfig`)   | 12     | 768 | 12    | 3072       | 109,482,240 (+ pooler)    |
| DistilBERT (this default)  | 6      | 768 | 12    | 3072       | 66,362,880                |

(`count_parameters` below computes the second row; the tests check it against the real module.)

The blocks themselves are BERT's (`bert.layers`), built from the equivalent `BertConfig` that `to_bert_config`
returns: the same post-LN block, the same LayerNorm eps 1e-12 (fixed in DistilBERT, not a config field).

What every transformers config has comes from the shared base, `bert.jsonconfig.JsonConfig`: `id2label` /
`label2id`, `problem_type`, the forward defaults `output_hidden_states` / `output_attentions` / `return_dict`, the
unknown keys of a config.json kept in `extra` and written back, `from_pretrained(dir, **overrides)` /
`save_pretrained(dir)` / `to_dict()` / `to_json_string()`, and the check of every value when it is set.

Positions: DistilBERT has no `position_embedding_type` (transformers' DistilBertConfig neither); its positions are
absolute — learned, or the Transformer's sinusoids with `sinusoidal_pos_embds=True`. Asking for another kind is an
error wherever it is asked: a config.json key `position_embedding_type` other than "absolute" (transformers would
keep it and ignore it), an override or constructor argument (no such field), or setting the attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from bert.attention import IMPLEMENTATIONS
from bert.config import INDEX, POSITIVE, PROBABILITY, SIZE, TRANSFORMERS_ATTENTION, BertConfig, JsonConfig, one_of
from bert.layers import ACTIVATIONS
from bert.unpad import MODES

NO_RELATIVE_POSITIONS = ("DistilBERT's positions are absolute (learned, or sinusoidal with sinusoidal_pos_embds=True)"
                         "; relative position embeddings are out of scope")

LAYER_NORM_EPS = 1e-12  # DistilBERT's LayerNorm epsilon: a constant there, not a config field


@dataclass
class DistilBertConfig(JsonConfig):
    vocab_size: int = 30522                # number of WordPiece tokens (rows of the word-embedding table)
    max_position_embeddings: int = 512     # longest sequence the position table covers
    sinusoidal_pos_embds: bool = False     # False = learned positions (as BERT); True = fixed sin/cos (Vaswani §3.5)
    n_layers: int = 6                      # L: number of transformer blocks (BERT-base has 12; DistilBERT halves L)
    n_heads: int = 12                      # H: heads per attention layer; head dim D = dim / H
    dim: int = 768                         # C: width of every hidden state (the same as BERT-base)
    hidden_dim: int = 3072                 # width of the feed-forward layer's hidden part (4C)
    dropout: float = 0.1                   # dropout on embeddings and on each sub-layer's output
    attention_dropout: float = 0.1         # dropout on the attention weights
    activation: str = "gelu"               # FFN and MLM-head activation ("gelu" = exact erf form)
    initializer_range: float = 0.02        # std of the N(0, σ²) weight init
    qa_dropout: float = 0.1                # dropout before a question-answering head
    seq_classif_dropout: float = 0.2       # dropout between pre_classifier (+ReLU) and classifier
    pad_token_id: int = 0                  # id of [PAD]; its word-embedding row is initialised to zero
    tie_word_embeddings: bool = True       # MLM vocab_projector = the word-embedding matrix (old key: tie_weights_)
    num_labels: int = 2                    # classes of the sequence classification head
    # --- ours (not in HF's config; transformers ignores unknown keys) ---
    attn_implementation: str = "auto"      # "auto" | "reference" | "tiled" | "fused" (bert/attention.py), or
                                           # transformers' "eager" (= "reference") | "sdpa" (= "fused")
    unpad: str = "auto"                    # "auto": the encoder runs on the real tokens only when a batch has
                                           # padding; "always" | "never" force either path (bert/unpad.py)
    architectures: list[str] | None = field(default=None, compare=False)  # written by save_pretrained

    model_type = "distilbert"  # class attribute, written to config.json for transformers' AutoConfig

    # JsonConfig.check: each field's type from its annotation above, its range or choices here
    rules = {**dict.fromkeys(("vocab_size", "max_position_embeddings", "n_layers", "n_heads", "dim", "hidden_dim",
                              "num_labels"), SIZE),
             **dict.fromkeys(("dropout", "attention_dropout", "qa_dropout", "seq_classif_dropout"), PROBABILITY),
             "initializer_range": POSITIVE, "pad_token_id": INDEX,
             "activation": one_of(ACTIVATIONS),
             "attn_implementation": one_of(IMPLEMENTATIONS + tuple(TRANSFORMERS_ATTENTION)), "unpad": one_of(MODES)}
    heads_fields = ("dim", "n_heads")
    legacy_keys = {"tie_weights_": "tie_word_embeddings"}   # distilbert-base-uncased's config.json has the old key
    # what from_pretrained compares with the weights before building (bert/safeguards.py)
    weight_shapes = {"embeddings.word_embeddings.weight": ("vocab_size", "dim"),
                     "embeddings.position_embeddings.weight": ("max_position_embeddings", "dim"),
                     "transformer.layer.0.ffn.lin1.weight": ("hidden_dim", "dim")}
    layer_weights = (r"transformer\.layer\.(\d+)\.", "n_layers")

    @classmethod
    def parameter_count(cls, values: Mapping[str, Any]) -> int:
        """`count_parameters` of a config with these field values (JsonConfig's memory check)."""
        return count_parameters(SimpleNamespace(**values))

    @classmethod
    def _relation_problems(cls, v):
        yield from super()._relation_problems(v)
        kind = v["extra"].get("position_embedding_type", "absolute")
        if kind != "absolute":
            yield "position_embedding_type", f"= {kind!r}: {NO_RELATIVE_POSITIONS}"

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "position_embedding_type":
            raise AttributeError(f"DistilBertConfig has no position_embedding_type: {NO_RELATIVE_POSITIONS}")
        super().__setattr__(name, value)

    # HF's attribute_map: generic code may ask any config for hidden_size / num_hidden_layers / num_attention_heads
    @property
    def hidden_size(self) -> int:
        return self.dim

    @property
    def num_hidden_layers(self) -> int:
        return self.n_layers

    @property
    def num_attention_heads(self) -> int:
        return self.n_heads

    @property
    def head_dim(self) -> int:
        """D = dim / H, the width of one attention head."""
        return self.dim // self.n_heads

    # ----------------------------------------------------------------- the same blocks as BERT
    def to_bert_config(self) -> BertConfig:
        """The BertConfig whose blocks are DistilBERT's blocks (used to build them from `bert.layers`).

        Token types and the pooler do not exist in DistilBERT; `type_vocab_size=1` is only a placeholder."""
        return BertConfig(vocab_size=self.vocab_size, hidden_size=self.dim, num_hidden_layers=self.n_layers,
                          num_attention_heads=self.n_heads, intermediate_size=self.hidden_dim,
                          hidden_act=self.activation, hidden_dropout_prob=self.dropout,
                          attention_probs_dropout_prob=self.attention_dropout,
                          max_position_embeddings=self.max_position_embeddings, type_vocab_size=1,
                          initializer_range=self.initializer_range, layer_norm_eps=LAYER_NORM_EPS,
                          pad_token_id=self.pad_token_id, num_labels=self.num_labels,
                          attn_implementation=self.attn_implementation, unpad=self.unpad)

    @classmethod
    def from_bert_config(cls, config: BertConfig, n_layers: int | None = None, **overrides: Any) -> "DistilBertConfig":
        """A DistilBERT config with a BERT config's sizes (a student of that teacher), `n_layers` layers
        (default: half the teacher's, rounded up). Used by `distil.student.student_from_teacher`."""
        if not isinstance(config, BertConfig):
            raise TypeError(f"config must be a BertConfig, got {type(config).__name__}")
        kwargs = dict(vocab_size=config.vocab_size, max_position_embeddings=config.max_position_embeddings,
                      n_layers=n_layers if n_layers is not None else (config.num_hidden_layers + 1) // 2,
                      n_heads=config.num_attention_heads, dim=config.hidden_size,
                      hidden_dim=config.intermediate_size, dropout=config.hidden_dropout_prob,
                      attention_dropout=config.attention_probs_dropout_prob, activation=config.hidden_act,
                      initializer_range=config.initializer_range, pad_token_id=config.pad_token_id,
                      num_labels=config.num_labels, attn_implementation=config.attn_implementation, unpad=config.unpad,
                      id2label=config.id2label, label2id=config.label2id, problem_type=config.problem_type)
        if "num_labels" in overrides and "id2label" not in overrides:
            del kwargs["id2label"], kwargs["label2id"]                # the teacher's names are for its own head
        kwargs.update(overrides)
        return cls(**kwargs)


def count_parameters(config: DistilBertConfig) -> int:
    """Parameters of a bare DistilBertModel, counted from the architecture (Sanh et al. 2019 §3).

    embeddings: V·C word table + P·C position table (learned; a fixed sinusoidal table is not a parameter)
                + 2C LayerNorm                           — no token-type table
    per layer : 4·(C² + C) for q_lin, k_lin, v_lin, out_lin + 2C LayerNorm
                + (C·I + I) + (I·C + C) for the FFN + 2C LayerNorm
    no pooler.
    """
    C, I = config.dim, config.hidden_dim
    positions = 0 if config.sinusoidal_pos_embds else config.max_position_embeddings * C
    embeddings = config.vocab_size * C + positions + 2 * C
    per_layer = 4 * (C * C + C) + 2 * C + (C * I + I) + (I * C + C) + 2 * C
    return embeddings + config.n_layers * per_layer
