"""A tokenizer checkpoint folder, in the Hugging Face layout: what `from_pretrained` reads and `save_pretrained` writes.

    vocab.txt                 one token per line, the line number is the id (vocab.py)
    tokenizer_config.json     {"tokenizer_class": "BertTokenizer", "do_lower_case": true, ..., "cls_token": "[CLS]"}
    special_tokens_map.json   {"unk_token": "[UNK]", "sep_token": "[SEP]", ...}

Both JSON files are optional when reading (a bare vocab.txt folder loads with BertTokenizer's defaults); the keys
read are BertTokenizer's own argument names, so a folder written by transformers loads here and back. Other keys
("tokenizer_class", "backend", "added_tokens_decoder", ...) are ignored. Each value read must have its option's
type (options.py: `"do_lower_case": "false"` is refused, not read as true); a file that is not UTF-8, not JSON, or
not a JSON object is a ValueError naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .files import read_json, write_json
from .options import SPECIAL_NAMES, check_file_options
from .vocab import save_vocab

OPTION_NAMES = ("do_lower_case", "tokenize_chinese_chars", "strip_accents", "never_split", "model_max_length",
                "clean_up_tokenization_spaces", *SPECIAL_NAMES)                      # the keys read from the files
_NO_LIMIT = 10**9  # a model_max_length above this is Hugging Face's "no limit" placeholder (1e30)


def read_pretrained(path: str | os.PathLike) -> tuple[str, dict[str, Any]]:
    """A checkpoint folder -> (path of its vocab.txt, the BertTokenizer options its JSON files give).

    special_tokens_map.json wins over tokenizer_config.json; options that are null, and the "no limit"
    model_max_length, are left out (so BertTokenizer's defaults apply)."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise OSError(f"from_pretrained: {path!r} is not a directory (expected a checkpoint folder with vocab.txt)")
    vocab_file = os.path.join(path, "vocab.txt")
    if not os.path.isfile(vocab_file):
        raise FileNotFoundError(f"from_pretrained: no vocab.txt in {path!r}")
    options: dict[str, Any] = {}
    for name in ("tokenizer_config.json", "special_tokens_map.json"):  # the second wins
        file = os.path.join(path, name)
        if os.path.isfile(file):
            options.update(_options_in(file))
    return vocab_file, options


def _options_in(file: str) -> dict[str, Any]:
    """The BertTokenizer options one JSON file gives, checked (options.py); nulls and "no limit" left out."""
    found = read_json(file)  # not UTF-8, not JSON: a ValueError naming the file (files.py)
    if not isinstance(found, dict):
        raise ValueError(f"{file!r}: expected a JSON object {{...}}, got {type(found).__name__}")
    options = {k: found[k] for k in OPTION_NAMES if found.get(k) is not None}
    for name in SPECIAL_NAMES:  # special_tokens_map.json may store {"content": "[CLS]", ...}
        if isinstance(options.get(name), dict):
            if "content" not in options[name]:
                raise ValueError(f"{file!r}: key {name!r}: expected a str or an object with \"content\", got "
                                 f"{options[name]!r}")
            options[name] = options[name]["content"]
    limit = options.get("model_max_length")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit > _NO_LIMIT:
        del options["model_max_length"]
    check_file_options(options, file)
    return options


def write_pretrained(path: str | os.PathLike, vocab: Mapping[str, int], options: Mapping[str, Any]) -> tuple[str, ...]:
    """Write vocab.txt, tokenizer_config.json (`options`, with the class name) and special_tokens_map.json (the
    special tokens of `options`) into `path`, each atomically (files.py). Returns the three paths."""
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    config = {"tokenizer_class": "BertTokenizer", **options}
    specials = {name: options[name] for name in SPECIAL_NAMES}
    written = [save_vocab(vocab, os.path.join(path, "vocab.txt"))]
    for name, content in (("tokenizer_config.json", config), ("special_tokens_map.json", specials)):
        file = os.path.join(path, name)
        write_json(file, content)
        written.append(file)
    return tuple(written)


__all__ = ["OPTION_NAMES", "SPECIAL_NAMES", "read_pretrained", "write_pretrained"]
