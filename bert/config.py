"""BertConfig: every hyper-parameter of a BERT model, with Hugging Face `config.json` field names.

Field names are exactly those of HF's `BertConfig`, so a `config.json` written by transformers loads here and
ours loads there. Values are checked when the config is built (`JsonConfig.check`: types from the field
annotations, ranges from a small table), so a bad size fails at once with a message that names the field — and
the file, when read from one — instead of deep inside a matmul; setting a field later is checked the same way
(`position_embedding_type = "relative_key"` fails at once, not silently ignored). The checks, config.json in and
out, `from_pretrained` / `save_pretrained`, the label names and the kept unknown keys are `bert/jsonconfig.py`'s
`JsonConfig`, shared with DistilBertConfig.

Presets are the sizes of the models google-research/bert released (README, "BERT-Tiny … BERT-Large"); the
parameter counts are for a bare `BertModel` (embeddings + encoder + pooler) with the 30,522-token uncased
vocabulary, computed by `count_parameters` below and checked against the real module in the tests:

| preset | L  | H    | A  | intermediate | parameters  |
|--------|----|------|----|--------------|-------------|
| tiny   | 2  | 128  | 2  | 512          | 4,385,920   |
| mini   | 4  | 256  | 4  | 1024         | 11,170,560  |
| small  | 4  | 512  | 8  | 2048         | 28,763,648  |
| medium | 8  | 512  | 8  | 2048         | 41,373,184  |
| base   | 12 | 768  | 12 | 3072         | 109,482,240 |  (the paper's "110M")
| large  | 24 | 1024 | 16 | 4096         | 335,141,888 |  (the paper's "340M")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from .attention import IMPLEMENTATIONS
from .jsonconfig import (INDEX, POSITIVE, PROBABILITY, SIZE, TRANSFORMERS_ATTENTION, ConfigTypeError,  # noqa: F401
                         JsonConfig, Rule, one_of, read_config_json, shown, type_problem)
from .layers import ACTIVATIONS
from .unpad import MODES


@dataclass
class BertConfig(JsonConfig):
    vocab_size: int = 30522                  # number of WordPiece tokens (rows of the word-embedding table)
    hidden_size: int = 768                   # C: width of every hidden state
    num_hidden_layers: int = 12              # L: number of encoder blocks
    num_attention_heads: int = 12            # H: heads per attention layer; head dim D = C / H
    intermediate_size: int = 3072            # width of the feed-forward layer's hidden part (4C in BERT)
    hidden_act: str = "gelu"                 # FFN activation: "gelu" = exact erf form (BERT), "gelu_new" = tanh approx
    hidden_dropout_prob: float = 0.1         # dropout on embeddings and on each sub-layer's output
    attention_probs_dropout_prob: float = 0.1  # dropout on the attention weights
    max_position_embeddings: int = 512       # longest sequence the learned position table covers
    type_vocab_size: int = 2                 # number of segments (token types): sentence A = 0, B = 1
    initializer_range: float = 0.02          # std of the N(0, σ²) weight init
    layer_norm_eps: float = 1e-12            # LayerNorm epsilon (BERT uses 1e-12, not PyTorch's 1e-5)
    pad_token_id: int = 0                    # id of [PAD]; its word-embedding row is initialised to zero
    position_embedding_type: str = "absolute"  # only "absolute" (learned, as BERT) is supported
    classifier_dropout: float | None = None  # dropout before task heads; None = hidden_dropout_prob
    num_labels: int = 2                      # classes of the sequence/token classification heads
    # --- ours (not in HF's config; transformers ignores unknown keys) ---
    attn_implementation: str = "auto"        # "auto" | "reference" | "tiled" | "fused" (bert/attention.py), or
                                             # transformers' "eager" (= "reference") | "sdpa" (= "fused")
    pre_layer_norm: bool = False             # False = post-LN as in BERT; True = pre-LN (not BERT, an option)
    unpad: str = "auto"                      # "auto": the encoder runs on the real tokens only when a batch has
                                             # padding; "always" | "never" force either path (bert/unpad.py)
    architectures: list[str] | None = field(default=None, compare=False)  # written by save_pretrained

    model_type = "bert"  # class attribute, written to config.json for transformers' AutoConfig
    # JsonConfig.check: each field's type from its annotation above, its range or choices here
    rules = {**dict.fromkeys(("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                              "intermediate_size", "max_position_embeddings", "type_vocab_size", "num_labels"), SIZE),
             **dict.fromkeys(("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"),
                             PROBABILITY),
             "initializer_range": POSITIVE, "layer_norm_eps": POSITIVE, "pad_token_id": INDEX,
             "hidden_act": one_of(ACTIVATIONS),
             "attn_implementation": one_of(IMPLEMENTATIONS + tuple(TRANSFORMERS_ATTENTION)), "unpad": one_of(MODES),
             "position_embedding_type": Rule("'absolute' (learned positions, as BERT; relative position embeddings "
                                             "are out of scope)", lambda v: v == "absolute")}
    heads_fields = ("hidden_size", "num_attention_heads")
    # transformers' switches for what we do not build: a decoder (causal self-attention) and cross-attention
    refused_keys = {"is_decoder": False, "add_cross_attention": False}
    # what from_pretrained compares with the weights before building (bert/safeguards.py): tensor → its shape's
    # fields, and the blocks' tensor names with their index → the number of blocks
    weight_shapes = {"embeddings.word_embeddings.weight": ("vocab_size", "hidden_size"),
                     "embeddings.position_embeddings.weight": ("max_position_embeddings", "hidden_size"),
                     "embeddings.token_type_embeddings.weight": ("type_vocab_size", "hidden_size"),
                     "encoder.layer.0.intermediate.dense.weight": ("intermediate_size", "hidden_size")}
    layer_weights = (r"encoder\.layer\.(\d+)\.", "num_hidden_layers")

    @classmethod
    def parameter_count(cls, values: Mapping[str, Any]) -> int:
        """`count_parameters` of a config with these field values (JsonConfig's memory check)."""
        return count_parameters(SimpleNamespace(**values))

    @property
    def head_dim(self) -> int:
        """D = C / H, the width of one attention head."""
        return self.hidden_size // self.num_attention_heads

    # ----------------------------------------------------------------- presets
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "BertConfig":
        """One of PRESETS ("tiny", "mini", "small", "medium", "base", "large"), with optional overrides."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


def _size(layers: int, hidden: int) -> dict[str, int]:
    return dict(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=hidden // 64,
                intermediate_size=4 * hidden)


PRESETS: dict[str, dict[str, int]] = {
    "tiny": _size(2, 128),     # 4.4M params
    "mini": _size(4, 256),     # 11.2M
    "small": _size(4, 512),    # 28.8M
    "medium": _size(8, 512),   # 41.4M
    "base": _size(12, 768),    # 109.5M  ("BERT-base, 110M")
    "large": _size(24, 1024),  # 335.1M  ("BERT-large, 340M")
}


def count_parameters(config: BertConfig, pooler: bool = True) -> int:
    """Parameters of a bare BertModel, counted from the architecture (Devlin et al. 2019 §3; 003 article §5).

    embeddings: (V + P + S)·C word/position/segment tables + 2C LayerNorm
    per layer : 4·(C² + C) for Q, K, V, O  + 2C LayerNorm
                + (C·I + I) + (I·C + C) for the FFN + 2C LayerNorm
    pooler    : C² + C
    """
    C, I = config.hidden_size, config.intermediate_size
    embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * C + 2 * C
    per_layer = 4 * (C * C + C) + 2 * C + (C * I + I) + (I * C + C) + 2 * C
    return embeddings + config.num_hidden_layers * per_layer + ((C * C + C) if pooler else 0)
