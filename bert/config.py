"""BertConfig: every hyper-parameter of a BERT model, with Hugging Face `config.json` field names.

Field names are exactly those of HF's `BertConfig`, so a `config.json` written by transformers loads here and
ours loads there. Values are checked when the config is built, so a bad size fails at once with a clear
message instead of deep inside a matmul.

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

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from tokenization.files import write_text

from .attention import IMPLEMENTATIONS
from .layers import ACTIVATIONS


class JsonConfig:
    """config.json in and out, shared by the dataclasses BertConfig and DistilBertConfig (each sets `model_type`
    and has the fields `architectures`, `attn_implementation` and `num_labels`)."""

    model_type = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["architectures"] is None:
            del d["architectures"]
        # Not written: which attention path runs is a choice of the machine, not part of the model — and
        # transformers reads a config.json key "attn_implementation" as *its* backend ("eager", "sdpa", …), so
        # writing our "auto" there makes transformers' BertModel refuse the config. Pass it when loading instead:
        # BertConfig.load(path, attn_implementation="tiled"). (from_dict still accepts the key.)
        del d["attn_implementation"]
        d["model_type"] = self.model_type
        # transformers derives num_labels from id2label; write both so it round-trips there too
        d["id2label"] = {str(i): f"LABEL_{i}" for i in range(self.num_labels)}
        d["label2id"] = {f"LABEL_{i}": i for i in range(self.num_labels)}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], **overrides: Any):
        """Build from a config.json dict. Keys we do not model (transformers_version, torch_dtype, …) are
        ignored; a config of another model_type is refused; `overrides` must name real fields."""
        if not isinstance(d, dict):
            raise TypeError(f"d must be a dict (a parsed config.json), got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}; fields are {sorted(names)}")
        if d.get("model_type", cls.model_type) != cls.model_type:
            raise ValueError(f"config has model_type {d['model_type']!r}, expected {cls.model_type!r}")
        kwargs = {k: v for k, v in d.items() if k in names}
        if "id2label" in d and "num_labels" not in d:
            kwargs["num_labels"] = len(d["id2label"])
        kwargs.update(overrides)
        return cls(**kwargs)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        """Write config.json atomically (tokenization/files.py: a temporary file beside it, then a rename)."""
        write_text(path, self.to_json_string())

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides: Any):
        """Read a config.json (or a folder holding one); `overrides` replace fields."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        if not os.path.isfile(path):
            raise OSError(f"config file not found: {path!r}")
        with open(path, encoding="utf-8") as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path!r} is not valid JSON: {e}") from None
        return cls.from_dict(d, **overrides)


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
    attn_implementation: str = "auto"        # "auto" | "reference" | "tiled" | "fused" (see bert/attention.py)
    pre_layer_norm: bool = False             # False = post-LN as in BERT; True = pre-LN (not BERT, an option)
    architectures: list[str] | None = field(default=None, compare=False)  # written by save_pretrained

    model_type = "bert"  # class attribute, written to config.json for transformers' AutoConfig

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size", "num_labels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"BertConfig.{name} must be a positive int, got {value!r}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"BertConfig.hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"BertConfig.{name} must be in [0, 1), got {value!r}")
        if self.classifier_dropout is not None and not 0.0 <= self.classifier_dropout < 1.0:
            raise ValueError(f"BertConfig.classifier_dropout must be None or in [0, 1), got {self.classifier_dropout!r}")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"BertConfig.hidden_act must be one of {ACTIVATIONS}, got {self.hidden_act!r}")
        if self.position_embedding_type != "absolute":
            raise ValueError("BertConfig.position_embedding_type: only 'absolute' (learned) is supported, "
                             f"got {self.position_embedding_type!r}")
        if self.attn_implementation not in IMPLEMENTATIONS:
            raise ValueError(f"BertConfig.attn_implementation must be one of {IMPLEMENTATIONS}, "
                             f"got {self.attn_implementation!r}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"BertConfig.pad_token_id must be in [0, vocab_size={self.vocab_size}), "
                             f"got {self.pad_token_id}")
        if self.layer_norm_eps <= 0 or self.initializer_range <= 0:
            raise ValueError("BertConfig.layer_norm_eps and initializer_range must be > 0, got "
                             f"{self.layer_norm_eps!r} and {self.initializer_range!r}")

    @property
    def head_dim(self) -> int:
        """D = C / H, the width of one attention head."""
        return self.hidden_size // self.num_attention_heads

    # ----------------------------------------------------------------- JSON round trip
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
