"""JsonConfig: config.json in and out, and the check of every value — the base of BertConfig and DistilBertConfig.

Every field is checked when a config is built *and* when a field is set afterwards (`config.x = v`), from one
table: its type from the dataclass annotation (`type_problem`), its range or choices from `rules`, then the
relations between fields (`_relation_problems`: among them, that the parameters the sizes imply fit in this
machine's memory, bert/safeguards.py). An error names the field as `BertConfig.hidden_size`, or, for a
value read from a file, as `path/config.json: hidden_size` — so a bad size fails at once, not deep inside a matmul.

The keys every transformers config has are fields here, shared by both configs (keyword-only):
`id2label` / `label2id` (the class names; default LABEL_0 … LABEL_{K−1}, kept in step with `num_labels` as
transformers keeps them), `problem_type` (the sequence-classification loss), `output_hidden_states`,
`output_attentions`, `return_dict` (what `forward` does when a call does not say).

Keys of a config.json that we do not model (transformers_version, torch_dtype, _name_or_path, …) are kept in
`extra`, readable as attributes (`config.transformers_version`) and written back by `to_dict`, as transformers keeps
them. The keys in `refused_keys` are the exception: they switch on what this project deliberately does not build
(a decoder, cross-attention), so a value other than the one we model is a ValueError, not a silent wrong model.
"""

from __future__ import annotations

import copy
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

from .safeguards import memory_problem


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


PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")  # transformers' names
TRANSFORMERS_ATTENTION = {"eager": "reference", "sdpa": "fused"}  # transformers' attn_implementation → ours


def shown(value: Any, limit: int = 60) -> str:
    """repr(value) for an error message, cut to `limit` characters (a config value can be a huge number)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 5]}…{text[-4:]}"


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:                                     # an int too large for a float
        return False


_KINDS: dict[Any, tuple[str, Callable[[Any], bool]]] = {    # annotation → (words, test)
    bool: ("a bool (true or false)", lambda v: isinstance(v, bool)),
    int: ("an int", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a finite number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v)),
    str: ("a string", lambda v: isinstance(v, str)),
    Any: ("anything", lambda v: True),
}


def type_problem(value: Any, hint: Any) -> str | None:
    """None when `value` has the type annotation `hint` (bool, int, float, str, Any, list[X], dict[K, V],
    X | None), else the words for what it must be. Ints are numbers too (JSON writes 0 for 0.0); bools are not
    ints; nan and inf are not numbers a config can use."""
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
    if typing.get_origin(hint) is dict:
        ok = isinstance(value, dict) and all(type_problem(k, args[0]) is None and type_problem(v, args[1]) is None
                                             for k, v in value.items())
        return None if ok else f"a dict of {_KINDS[args[0]][0]} → {_KINDS[args[1]][0]}"
    words, test = _KINDS[hint]
    return None if test(value) else words


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            for f in dataclasses.fields(cls)}


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


def default_labels(num_labels: int) -> dict[int, str]:
    """transformers' default class names: {0: "LABEL_0", …, K−1: "LABEL_{K−1}"}."""
    return {i: f"LABEL_{i}" for i in range(num_labels)}


def _as_id(key: Any) -> Any:
    """A JSON object key "3" → 3 (JSON keys are strings; transformers reads id2label's keys as ints)."""
    return int(key) if isinstance(key, str) and key.isdecimal() else key


@dataclass
class JsonConfig:
    """The base of the config dataclasses (module docstring). Each subclass sets `model_type`, `rules`,
    `heads_fields`, `legacy_keys`, `weight_shapes`, `layer_weights` (and may set `refused_keys`), has a classmethod
    `parameter_count(values)`, and the fields `architectures`, `attn_implementation`, `pad_token_id`, `vocab_size`
    and `num_labels`."""

    # --- keys of every transformers config (keyword-only, so the subclasses' positional order is unchanged) ---
    id2label: dict[int, str] | None = field(default=None, kw_only=True)  # class id → name; None = LABEL_0 …
    label2id: dict[str, int] | None = field(default=None, kw_only=True)  # name → class id; None = id2label inverted
    problem_type: str | None = field(default=None, kw_only=True)  # classifier loss (PROBLEM_TYPES); None = inferred
    output_hidden_states: bool = field(default=False, kw_only=True)  # forward's default when a call does not say
    output_attentions: bool = field(default=False, kw_only=True)     # likewise
    return_dict: bool = field(default=True, kw_only=True)            # False: forward returns transformers' tuple
    extra: dict[str, Any] = field(default_factory=dict, kw_only=True, compare=False, repr=False)  # unknown keys

    model_type: ClassVar[str] = ""
    rules: ClassVar[dict[str, Rule]] = {}                    # field → what its value must be (beyond its type)
    base_rules: ClassVar[dict[str, Rule]] = {"problem_type": one_of(PROBLEM_TYPES)}
    heads_fields: ClassVar[tuple[str, str]] = ("", "")       # (width, heads): the width must divide into heads
    legacy_keys: ClassVar[dict[str, str]] = {}               # old config.json key → the field it means
    refused_keys: ClassVar[dict[str, Any]] = {}              # unknown key → the only value we accept for it
    weight_shapes: ClassVar[dict[str, tuple[str, ...]]] = {}  # HF tensor → the fields its shape is (safeguards.py)
    layer_weights: ClassVar[tuple[str, str]] = ("", "")       # (regex of a block's tensor names, index; the L field)

    def __post_init__(self) -> None:
        values = self._values()
        self._normalise(values)
        self.check(values)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_ready", True)

    def _values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __setattr__(self, name: str, value: Any) -> None:
        """Setting a field after construction is checked as construction is (e.g. `position_embedding_type`);
        `num_labels` and `id2label` keep each other in step, as in transformers."""
        if not self.__dict__.get("_ready") or name not in _field_types(type(self)):
            return object.__setattr__(self, name, value)
        values = {**self._values(), name: value}
        if name == "num_labels" and isinstance(self.id2label, dict) and len(self.id2label) != value:
            values["id2label"] = values["label2id"] = None                        # back to LABEL_0 …
        if name == "id2label":
            values["label2id"] = None                                            # inverted afresh
            if isinstance(value, dict):
                values["num_labels"] = len(value)
        self._normalise(values)
        self.check(values)
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def __getattr__(self, name: str) -> Any:
        """Keys of the config.json we do not model, as attributes (`config.transformers_version`)."""
        extra = self.__dict__.get("extra")
        if extra is not None and name in extra and not name.startswith("__"):
            return extra[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @classmethod
    def _normalise(cls, v: dict[str, Any]) -> None:
        """In place: transformers' attention names → ours; id2label's keys "0" → 0, LABEL_i defaults for None (or a
        default map of another length), label2id = id2label inverted when None. Bad values are left for `check`."""
        if isinstance(v["attn_implementation"], str):                   # anything else: refused by `check`
            v["attn_implementation"] = TRANSFORMERS_ATTENTION.get(v["attn_implementation"], v["attn_implementation"])
        labels, n = v["id2label"], v["num_labels"]
        if isinstance(labels, dict):
            labels = v["id2label"] = {_as_id(k): name for k, name in labels.items()}
        counted = isinstance(n, int) and not isinstance(n, bool) and n >= 1
        stale = isinstance(labels, dict) and len(labels) != n and labels == default_labels(len(labels))
        if counted and (labels is None or stale):
            labels = v["id2label"] = default_labels(n)
            if stale:
                v["label2id"] = None                                    # the stale map's inverse, stale too
        if v["label2id"] is None and isinstance(labels, dict):
            v["label2id"] = {name: i for i, name in labels.items()}

    @classmethod
    def check(cls, values: Mapping[str, Any], labels: Mapping[str, str] = {}) -> None:
        """Raise ConfigTypeError / ValueError for the first bad value in `values` (all fields). `labels` says how
        to name a field in the message (default `Class.field`)."""
        def label(name: str) -> str:
            return labels.get(name, f"{cls.__name__}.{name}")

        for name, hint in _field_types(cls).items():
            value, rule = values[name], cls.rules.get(name) or cls.base_rules.get(name)
            wanted = type_problem(value, hint)
            if wanted:
                raise ConfigTypeError(f"{label(name)} must be {wanted}, got {shown(value)} ({type(value).__name__})")
            if rule is not None and value is not None and not rule.ok(value):
                raise ValueError(f"{label(name)} must be {rule.words}, got {shown(value)}")
        for key, only in cls.refused_keys.items():
            if values["extra"].get(key, only) != only:
                raise ValueError(f"{label(key)} = {shown(values['extra'][key])}: only {only!r} is supported "
                                 f"({cls.__name__} builds an encoder; decoders and cross-attention are out of scope)")
        for name, problem in cls._relation_problems(values):     # the first one
            raise ValueError(f"{label(name)} {problem}")

    @classmethod
    def _relation_problems(cls, v: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        width, heads = cls.heads_fields
        if v[width] % v[heads]:
            yield width, f"({v[width]}) must be divisible by {heads} ({v[heads]})"
        if v["pad_token_id"] >= v["vocab_size"]:
            yield "pad_token_id", f"must be in [0, vocab_size={v['vocab_size']}), got {v['pad_token_id']}"
        if v["id2label"] is not None and len(v["id2label"]) != v["num_labels"]:
            yield "id2label", (f"has {len(v['id2label'])} labels but num_labels is {v['num_labels']}: give one name "
                               "per class (or leave id2label out for LABEL_0 …)")
        sizes = {name: value for name, value in _defaults(cls).items() if cls.rules.get(name) is SIZE}
        yield from filter(None, [memory_problem(v, cls.parameter_count, sizes)])   # bytes beyond this machine's

    def to_dict(self) -> dict[str, Any]:
        """Every field (the keys of config.json), the unknown keys as they were read, and `model_type`."""
        d = copy.deepcopy(self.extra)                  # first, so that no modelled key is overwritten by one
        d.update(copy.deepcopy({k: v for k, v in self._values().items() if k != "extra"}))
        if d["architectures"] is None:
            del d["architectures"]
        # Not written: which attention path runs is a choice of the machine, not part of the model — and
        # transformers reads a config.json key "attn_implementation" as *its* backend ("eager", "sdpa", …), so
        # writing our "auto" there makes transformers' BertModel refuse the config. Pass it when loading instead:
        # BertConfig.load(path, attn_implementation="tiled"). (from_dict still accepts the key.)
        del d["attn_implementation"]
        d["model_type"] = self.model_type
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str | None = None, **overrides: Any):
        """Build from a config.json dict (`source`: the file it was read from, named in errors). Keys we do not
        model are kept in `extra`; a config of another model_type is refused; `overrides` must name real fields.
        As transformers: an overriding `num_labels` replaces the file's label names when their number differs,
        an overriding `id2label` sets `num_labels` (and, better than transformers, a fresh `label2id`)."""
        where = f"{source}: " if source else f"{cls.__name__}."
        if not isinstance(d, dict):
            raise ConfigTypeError(f"{source or 'd'} must be a dict (a parsed config.json), got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        unknown = set(overrides) - names
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}; fields are {sorted(names)}")
        if d.get("model_type", cls.model_type) != cls.model_type:
            raise ValueError(f"{where}model_type must be {cls.model_type!r}, got {shown(d['model_type'])}")
        kwargs = {k: v for k, v in d.items() if k in names}
        labels = {k: f"{where}{k}" for k in (*d, *cls.refused_keys)}
        for old, new in cls.legacy_keys.items():
            if old in d and new not in d:
                kwargs[new], labels[new] = d[old], f"{where}{old} (the old name of {new})"
        if "id2label" in d and "num_labels" not in d:
            if not isinstance(d["id2label"], dict):
                raise ConfigTypeError(f"{where}id2label must be a JSON object {{id: label}}, "
                                      f"got {shown(d['id2label'])}")
            kwargs["num_labels"], labels["num_labels"] = len(d["id2label"]), f"{where}num_labels (len(id2label))"
        if "num_labels" in overrides and "id2label" not in overrides and isinstance(kwargs.get("id2label"), dict) \
                and len(kwargs["id2label"]) != overrides["num_labels"]:
            kwargs.pop("id2label"), kwargs.pop("label2id", None)   # the file's names are for another head
        if "id2label" in overrides:
            kwargs.pop("label2id", None)
            if "num_labels" not in overrides and isinstance(overrides["id2label"], dict):
                kwargs["num_labels"] = len(overrides["id2label"])
        kwargs.update(overrides)
        kwargs["extra"] = {k: v for k, v in d.items() if k not in names and k != "model_type"
                           and k not in cls.legacy_keys}
        labels.update({k: f"{cls.__name__}.{k}" for k in overrides})
        values = {**_defaults(cls), **kwargs}
        cls._normalise(values)
        cls.check(values, labels)
        return cls(**kwargs)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        """Write config.json atomically (tokenization/files.py: a temporary file beside it, then a rename)."""
        write_text(path, self.to_json_string())

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write `directory`/config.json (atomically), creating the folder; its other files are left alone."""
        directory = os.fspath(directory)
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise OSError(f"save_pretrained: {directory!r} exists and is not a directory")
        os.makedirs(directory, exist_ok=True)
        self.save(os.path.join(directory, "config.json"))

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides: Any):
        """Read a config.json (or a folder holding one); `overrides` replace fields. Errors name the file."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        if not os.path.isfile(path):
            raise OSError(f"config file not found: {path!r}")
        return cls.from_dict(read_config_json(path), source=path, **overrides)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **overrides: Any):
        """transformers' name for `load`: a folder holding config.json (or the file itself), with overrides."""
        return cls.load(path, **overrides)


__all__ = ["JsonConfig", "ConfigTypeError", "Rule", "SIZE", "INDEX", "PROBABILITY", "POSITIVE", "one_of", "shown",
           "type_problem", "read_config_json", "default_labels", "PROBLEM_TYPES", "TRANSFORMERS_ATTENTION"]
