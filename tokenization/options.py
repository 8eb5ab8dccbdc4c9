"""The options of BertTokenizer and the type each must have: one table, checked wherever a value enters.

Two doors lead in, and both are checked against the same table:

    BertTokenizer(vocab_file, do_lower_case=..., ...)      a wrong type is a TypeError naming the argument
    tokenizer_config.json / special_tokens_map.json        a wrong type is a ValueError naming the file and the key

Without the check a JSON string slips through: `"do_lower_case": "false"` is a non-empty str, so it is true, and
the tokenizer would lower-case (transformers does exactly that). Booleans must be JSON true/false, numbers must be
integers, special tokens must be strings. The names and meanings are those of transformers' BertTokenizer
(transformers/models/bert/tokenization_bert.py), so the same folders and keyword arguments work in both.
"""

from __future__ import annotations

import numbers
from typing import Any

SPECIAL_NAMES = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")  # Hugging Face's order


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_int(v: Any) -> bool:  # bool is an int subclass in Python, but True is not a length
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_str_list(v: Any) -> bool:  # a list from JSON; a list, tuple or set from Python (a lone str is refused)
    return isinstance(v, (list, tuple, set, frozenset)) and all(isinstance(x, str) for x in v)


# name -> (what the value must be, as an error says it; the test)
_RULES: dict[str, tuple[str, Any]] = {
    "do_lower_case": ("a bool", _is_bool),
    "tokenize_chinese_chars": ("a bool", _is_bool),
    "clean_up_tokenization_spaces": ("a bool", _is_bool),
    "strip_accents": ("a bool or None", lambda v: v is None or _is_bool(v)),
    "model_max_length": ("an int or None", lambda v: v is None or _is_int(v)),
    "max_input_chars_per_word": ("an int", _is_int),
    "never_split": ("a list of str or None", lambda v: v is None or _is_str_list(v)),
    **{name: ("a str", lambda v: isinstance(v, str)) for name in SPECIAL_NAMES},
}
_POSITIVE = ("model_max_length", "max_input_chars_per_word")  # ints that must be >= 1 (when not None)


def _describe(value: Any) -> str:
    """`str 'false'`, `int 3`, `list [1, 2]`: the type and (shortened) value, for an error message."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def option_problem(name: str, value: Any) -> tuple[type[Exception], str] | None:
    """None if `value` is acceptable for option `name` (or `name` is not in the table); else (the exception a
    keyword argument raises: TypeError for a wrong type, ValueError for a wrong range; "expected ..., got ...")."""
    rule = _RULES.get(name)
    if rule is None:
        return None
    expected, test = rule
    if not test(value):
        return TypeError, f"expected {expected}, got {_describe(value)}"
    if name in _POSITIVE and value is not None and value < 1:
        return ValueError, f"expected an int >= 1{' or None' if name == 'model_max_length' else ''}, got {value!r}"
    return None


def check_arguments(arguments: dict[str, Any]) -> None:
    """BertTokenizer's keyword arguments: raise TypeError / ValueError naming the first wrong one."""
    for name, value in arguments.items():
        problem = option_problem(name, value)
        if problem is not None:
            error, message = problem
            raise error(f"{name}: {message}")


def check_file_options(options: dict[str, Any], file: str) -> None:
    """Options read from a JSON file: raise ValueError naming the file and the first wrong key."""
    for name, value in options.items():
        problem = option_problem(name, value)
        if problem is not None:
            raise ValueError(f"{file!r}: key {name!r}: {problem[1]}")


__all__ = ["SPECIAL_NAMES", "check_arguments", "check_file_options", "option_problem"]
