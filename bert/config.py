"""BertConfig: every hyper-parameter of a BERT model, with Hugging Face `config.json` field names.

Field names are exactly those of HF's `BertConfig`, so a `config.json` written by transformers loads here and
ours loads there. Values are checked when the config is built (`JsonConfig.check`: types from the field
annotations, ranges from a small table), so a bad size fails at once with a message that names the field — and
the file, when read from one — instead of deep inside a matmul.

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
import functools
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator, Mapping

from tokenization.files import write_text

from .attention import IMPLEMENTATIONS
from .layers import ACTIVATIONS


# ----------------------------------------------------------------------------- checking values at the boundary
class ConfigTypeError(TypeError, ValueError):
    """A config value of the wrong type. A TypeError for Python, and a bad value in the user's file or argument,
    so a CLI that reports ValueErrors in one line (`bert.training.runs.run_cli`) reports this one too."""


@dataclass(frozen=True)
class Rule:
    """What a field's value must be beyond its type: `ok(value)` is True for a good value; `words` completes
    the error message "<field> must be <words>, got <value>"."""
    words: str
    ok: Callable[[Any], bool]


SIZE = Rule(">= 1", lambda v: v >= 1)                         # layers, widths, heads, vocabularies, labels
INDEX = Rule(">= 0", lambda v: v >= 0)                        # a token id
PROBABILITY = Rule("in [0, 1)", lambda v: 0 <= v < 1)         # a dropout rate (1 would drop everything)
POSITIVE = Rule("> 0", lambda v: v > 0)                       # a standard deviation, an epsilon


def one_of(choices: tuple[str, ...]) -> Rule:
    return Rule(f"one of {choices}", lambda v: v in choices)


def shown(value: Any, limit: int = 60) -> str:
    """repr(value) for an error message, cut to `limit` characters (a config value can be a huge number)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 5]}…{text[-4:]}"


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:                                     # an int too large for a float
        return False


_KINDS: dict[type, tuple[str, Callable[[Any], bool]]] = {   # annotation → (words, test)
    bool: ("a bool (true or false)", lambda v: isinstance(v, bool)),
    int: ("an int", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a finite number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v)),
    str: ("a string", lambda v: isinstance(v, str)),
}


def type_problem(value: Any, hint: Any) -> str | None:
    """None when `value` has the type annotation `hint` (bool, int, float, str, list[X], X | None), else the
    words for what it must be. Ints are numbers too (JSON writes 0 for 0.0); bools are not ints; nan and inf
    are not numbers a config can use."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):        # X | None
        if value is None:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        problem = type_problem(value, inner)
        return problem and f"{problem} or null"
    if typing.get_origin(hint) is list:
        ok = isinstance(value, list) and all(type_problem(v, args[0]) is None for v in value)
        return None if ok else f"a list of {args[0].__name__} values"
    words, test = _KINDS[hint]
    return None if test(value) else words


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def read_config_json(path: str) -> dict[str, Any]:
    """The JSON object in the file `path`; every error names the file (not UTF-8, not JSON, not an object)."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")                                      # a byte-order mark is tolerated
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        d = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise ConfigTypeError(f"{path}: must hold a JSON object {{...}}, got a {type(d).__name__}")
    return d


class JsonConfig:
    """config.json in and out, and the checks of every value, shared by the dataclasses BertConfig and
    DistilBertConfig (each sets `model_type`, `rules`, `heads_fields` and `legacy_keys`, and has the fields
    `architectures`, `attn_implementation`, `pad_token_id`, `vocab_size` and `num_labels`).

    Every field is checked when a config is built, from one table: its type from the dataclass annotation
    (`type_problem`), its range or choices from `rules`, then the relations between fields (`_relation_problems`).
    An error names the field as `BertConfig.hidden_size`, or, for a value read from a file, as
    `path/config.json: hidden_size`. Keys of a config.json that are not fields are ignored, as transformers does.
    """

    model_type = ""
    rules: ClassVar[dict[str, Rule]] = {}                    # field → what its value must be (beyond its type)
    heads_fields: ClassVar[tuple[str, str]] = ("", "")       # (width, heads): the width must divide into heads
    legacy_keys: ClassVar[dict[str, str]] = {}               # old config.json key → the field it means

    def __post_init__(self) -> None:
        self.check({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    @classmethod
    def check(cls, values: Mapping[str, Any], labels: Mapping[str, str] = {}) -> None:
        """Raise ConfigTypeError / ValueError for the first bad value in `values` (all fields). `labels` says how
        to name a field in the message (default `Class.field`)."""
        def label(name: str) -> str:
            return labels.get(name, f"{cls.__name__}.{name}")

        for name, hint in _field_types(cls).items():
            value, rule = values[name], cls.rules.get(name)
            wanted = type_problem(value, hint)
            if wanted:
                raise ConfigTypeError(f"{label(name)} must be {wanted}, got {shown(value)} ({type(value).__name__})")
            if rule is not None and value is not None and not rule.ok(value):
                raise ValueError(f"{label(name)} must be {rule.words}, got {shown(value)}")
        for name, problem in cls._relation_problems(values):     # the first one
            raise ValueError(f"{label(name)} {problem}")

    @classmethod
    def _relation_problems(cls, v: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        width, heads = cls.heads_fields
        if v[width] % v[heads]:
            yield width, f"({v[width]}) must be divisible by {heads} ({v[heads]})"
        if v["pad_token_id"] >= v["vocab_size"]:
            yield "pad_token_id", f"must be in [0, vocab_size={v['vocab_size']}), got {v['pad_token_id']}"

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
    def from_dict(cls, d: dict[str, Any], *, source: str | None = None, **overrides: Any):
        """Build from a config.json dict (`source`: the file it was read from, named in errors). Keys we do not
        model (transformers_version, torch_dtype, …) are ignored; a config of another model_type is refused;
        `overrides` must name real fields."""
        where = f"{source}: " if source else f"{cls.__name__}."
        if not isinstance(d, dict):
            raise ConfigTypeError(f"{source or 'd'} must be a dict (a parsed config.json), got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}; fields are {sorted(names)}")
        if d.get("model_type", cls.model_type) != cls.model_type:
            raise ValueError(f"{where}model_type must be {cls.model_type!r}, got {shown(d['model_type'])}")
        kwargs = {k: v for k, v in d.items() if k in names}
        labels = {k: f"{where}{k}" for k in kwargs}
        for old, new in cls.legacy_keys.items():
            if old in d and new not in d:
                kwargs[new], labels[new] = d[old], f"{where}{old} (the old name of {new})"
        if "id2label" in d and "num_labels" not in d:
            if not isinstance(d["id2label"], dict):
                raise ConfigTypeError(f"{where}id2label must be a JSON object {{id: label}}, "
                                      f"got {shown(d['id2label'])}")
            kwargs["num_labels"], labels["num_labels"] = len(d["id2label"]), f"{where}num_labels (len(id2label))"
        kwargs.update(overrides)
        labels.update({k: f"{cls.__name__}.{k}" for k in overrides})
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        cls.check({**defaults, **kwargs}, labels)
        return cls(**kwargs)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        """Write config.json atomically (tokenization/files.py: a temporary file beside it, then a rename)."""
        write_text(path, self.to_json_string())

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides: Any):
        """Read a config.json (or a folder holding one); `overrides` replace fields. Errors name the file."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        if not os.path.isfile(path):
            raise OSError(f"config file not found: {path!r}")
        return cls.from_dict(read_config_json(path), source=path, **overrides)


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
    # JsonConfig.check: each field's type from its annotation above, its range or choices here
    rules = {**dict.fromkeys(("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                              "intermediate_size", "max_position_embeddings", "type_vocab_size", "num_labels"), SIZE),
             **dict.fromkeys(("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"),
                             PROBABILITY),
             "initializer_range": POSITIVE, "layer_norm_eps": POSITIVE, "pad_token_id": INDEX,
             "hidden_act": one_of(ACTIVATIONS), "attn_implementation": one_of(IMPLEMENTATIONS),
             "position_embedding_type": Rule("'absolute' (learned positions, as BERT; relative position embeddings "
                                             "are out of scope)", lambda v: v == "absolute")}
    heads_fields = ("hidden_size", "num_attention_heads")

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
