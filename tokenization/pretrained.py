"""A tokenizer checkpoint folder, in the Hugging Face layout: what `from_pretrained` reads and `save_pretrained` writes.

    vocab.txt                 one token per line, the line number is the id (vocab.py)
    tokenizer_config.json     {"tokenizer_class": "BertTokenizer", "do_lower_case": true, ..., "cls_token": "[CLS]"}
    special_tokens_map.json   {"unk_token": "[UNK]", "sep_token": "[SEP]", ...}

Both JSON files are optional when reading (a bare vocab.txt folder loads with BertTokenizer's defaults); the keys
read are BertTokenizer's own argument names, so a folder written by transformers loads here and back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from .files import write_json
from .vocab import save_vocab

SPECIAL_NAMES = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")  # Hugging Face's order
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
    found: dict[str, Any] = {}
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        file = os.path.join(path, name)
        if os.path.isfile(file):
            with open(file, encoding="utf-8") as f:
                found.update(json.load(f))
    options = {k: found[k] for k in OPTION_NAMES if found.get(k) is not None}
    for name in SPECIAL_NAMES:  # special_tokens_map.json may store {"content": "[CLS]", ...}
        if isinstance(options.get(name), dict):
            options[name] = options[name]["content"]
    if isinstance(options.get("model_max_length"), (int, float)) and options["model_max_length"] > _NO_LIMIT:
        del options["model_max_length"]
    return vocab_file, options


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
