"""A tokenizer checkpoint folder, in the Hugging Face layout: what `from_pretrained` reads and `save_pretrained` writes.

    vocab.txt                 one token per line, the line number is the id (vocab.py)
    tokenizer.json            the `tokenizers` library's one-file form: vocabulary + normaliser (tokenizer_json.py)
    tokenizer_config.json     {"tokenizer_class": "BertTokenizer", "do_lower_case": true, ..., "cls_token": "[CLS]"}
    special_tokens_map.json   {"unk_token": "[UNK]", "sep_token": "[SEP]", ...}

Reading needs vocab.txt or tokenizer.json (transformers 5 saves only tokenizer.json + tokenizer_config.json; older
folders and google-research/bert have only vocab.txt). Where both are present they must hold the same vocabulary:
transformers reads tokenizer.json and older readers vocab.txt, so a folder whose two files disagree gives other
ids depending on the reader — a ValueError naming both files, not a silent choice.

Options, each later source overriding the earlier (a key present in a JSON config file wins even when null):

    tokenizer.json's normaliser and model  <  tokenizer_config.json  <  special_tokens_map.json  <  keyword arguments

transformers 5.24 agrees where tokenizer_config.json gives a key (it always writes them). Where the config does
not, transformers rebuilds the normaliser from its own defaults and ignores tokenizer.json's (a cased tokenizer.json
written by the `tokenizers` library alone would be lower-cased); we follow tokenizer.json, which describes the
tokenizer it was written for. The keys read are BertTokenizer's own argument names, so a folder written by
transformers loads here and back; other keys ("tokenizer_class", "backend", "added_tokens_decoder", ...) are
ignored. Each value read must have its option's type (options.py: `"do_lower_case": "false"` is refused, not read
as true); a file that is not UTF-8, not JSON, or not a JSON object is a ValueError naming the file (a UTF-8
byte-order mark before the JSON is allowed; in vocab.txt it is refused, vocab.py says why).

Saving writes the four files into a new folder and swaps it in atomically (`write_pretrained`), as models are saved,
so a folder is always one complete tokenizer, the old or the new.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .files import atomic_folder, read_json, write_json
from .options import SPECIAL_NAMES, check_file_options
from .tokenizer_json import read_tokenizer_json, tokenizer_json
from .vocab import load_vocab, save_vocab

OPTION_NAMES = ("do_lower_case", "tokenize_chinese_chars", "strip_accents", "never_split", "model_max_length",
                "clean_up_tokenization_spaces", *SPECIAL_NAMES)                      # the keys read from the files
_NO_LIMIT = 10**9  # a model_max_length above this is Hugging Face's "no limit" placeholder (1e30)


def read_pretrained(path: str | os.PathLike) -> tuple[dict[str, int], dict[str, Any]]:
    """A checkpoint folder -> (its vocabulary {token: id}, the BertTokenizer options its files give).

    Precedence as in the module docstring; options that are null in a config file, and the "no limit"
    model_max_length, are left out (so BertTokenizer's defaults apply)."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise OSError(f"from_pretrained: {path!r} is not a directory (expected a checkpoint folder with vocab.txt "
                      f"or tokenizer.json)")
    vocab_file, json_file = os.path.join(path, "vocab.txt"), os.path.join(path, "tokenizer.json")
    if not os.path.isfile(vocab_file) and not os.path.isfile(json_file):
        raise FileNotFoundError(f"from_pretrained: no vocab.txt or tokenizer.json in {path!r}")
    vocab, options = read_tokenizer_json(json_file) if os.path.isfile(json_file) else (None, {})
    if os.path.isfile(vocab_file):
        listed = load_vocab(vocab_file)
        if vocab is not None and listed != vocab:
            raise ValueError(_disagreement(vocab_file, listed, json_file, vocab))
        vocab = listed
    for name in ("tokenizer_config.json", "special_tokens_map.json"):  # the second wins
        file = os.path.join(path, name)
        if os.path.isfile(file):
            found, present = _options_in(file)
            options = {k: v for k, v in options.items() if k not in present} | found
    return vocab, options


def _disagreement(vocab_file: str, listed: dict[str, int], json_file: str, vocab: dict[str, int]) -> str:
    """The error message for a vocab.txt and a tokenizer.json that hold different vocabularies."""
    a, b = ({i: t for t, i in v.items()} for v in (listed, vocab))
    first = min(i for i in a.keys() | b.keys() if a.get(i) != b.get(i))
    return (f"from_pretrained: {vocab_file!r} ({len(listed)} tokens) and {json_file!r} ({len(vocab)} tokens) hold "
            f"different vocabularies (id {first}: {a.get(first)!r} vs {b.get(first)!r}); transformers reads "
            f"tokenizer.json, older readers vocab.txt. Delete the stale one")


def _options_in(file: str) -> tuple[dict[str, Any], set[str]]:
    """(The BertTokenizer options one JSON file gives, checked; nulls and "no limit" left out; the option keys
    present in the file, nulls included)."""
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
    return options, set(OPTION_NAMES) & set(found)


def write_pretrained(path: str | os.PathLike, vocab: Mapping[str, int], options: Mapping[str, Any],
                     tokenizer_class: str = "BertTokenizer") -> tuple[str, ...]:
    """Write vocab.txt, tokenizer.json, tokenizer_config.json (`options`, with the class name) and
    special_tokens_map.json (the special tokens of `options`) into `path`, the folder changing as a whole,
    atomically, as a model's does (files.py `atomic_folder`): the four files are written into a new folder beside
    it, the folder's other files (a model's config.json and weights, …) are carried over, and the two folders swap
    in one step — a failure partway (a full disk) leaves the old folder as it was, never a new vocab.txt beside an
    old tokenizer.json. `options` are BertTokenizer's arguments (all of OPTION_NAMES and
    max_input_chars_per_word). Returns the four paths. Every reader finds the same tokenizer there: older ones
    vocab.txt, transformers 5 and `tokenizers` tokenizer.json (a stale one from an earlier save is replaced)."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise OSError(f"save_pretrained: {path!r} exists and is not a directory")
    config = {"tokenizer_class": tokenizer_class,
              **{k: v for k, v in options.items() if k != "max_input_chars_per_word"}}
    if config.get("model_max_length") is None:
        config.pop("model_max_length", None)
    specials = {name: options[name] for name in SPECIAL_NAMES}
    names = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
    with atomic_folder(path) as tmp:
        save_vocab(vocab, os.path.join(tmp, names[0]))
        for name, content in zip(names[1:], (tokenizer_json(vocab, options), config, specials)):
            write_json(os.path.join(tmp, name), content, indent=None if name == "tokenizer.json" else 2)
    return tuple(os.path.join(path, name) for name in names)


__all__ = ["OPTION_NAMES", "SPECIAL_NAMES", "read_pretrained", "write_pretrained"]
