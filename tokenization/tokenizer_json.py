"""tokenizer.json, the one-file tokenizer of the Rust `tokenizers` library: what a BERT tokenizer needs from it.

transformers 5 saves a tokenizer as tokenizer.json + tokenizer_config.json only (no vocab.txt). For a WordPiece
tokenizer, the parts of tokenizer.json map onto BertTokenizer's arguments:

    "model":        {"type": "WordPiece", "vocab": {token: id}, "unk_token", "continuing_subword_prefix": "##",
                     "max_input_chars_per_word"}       -> the vocabulary, unk_token, max_input_chars_per_word
    "normalizer":   {"type": "BertNormalizer", "lowercase", "strip_accents", "handle_chinese_chars", "clean_text"}
                                                       -> do_lower_case, strip_accents, tokenize_chinese_chars
    "pre_tokenizer": {"type": "BertPreTokenizer"}                   (punctuation and whitespace split: basic.py)
    "added_tokens": the special tokens, each already in the vocabulary with the same id
    "post_processor", "decoder", "truncation", "padding": [CLS] A [SEP] B [SEP] and per-call settings, not read

Anything else (another model type, a normaliser or pre-tokenizer that is not BERT's, extra added tokens, a prefix
other than "##", clean_text false) would tokenize differently from this package, so it is a ValueError naming the
file and the key, never a silent difference. `clean_text: false` is refused rather than followed: BERT always
cleans (google-research/bert `BasicTokenizer._clean_text`), and transformers 5.24 cleans whatever the file says.

`tokenizer_json` writes the same layout (the one transformers 5 writes), so a folder saved here loads in
transformers, in the `tokenizers` library and here, with the same ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .files import read_json
from .options import SPECIAL_NAMES, option_problem

# BertNormalizer key -> BertTokenizer option, with the `tokenizers` library's default for a missing key
_NORMALIZER = {"lowercase": ("do_lower_case", True), "strip_accents": ("strip_accents", None),
               "handle_chinese_chars": ("tokenize_chinese_chars", True)}


def _part(found: Mapping, key: str, file: str, kind: str) -> dict:
    part = found.get(key)
    if not isinstance(part, dict) or part.get("type") != kind:
        got = part.get("type") if isinstance(part, dict) else part
        raise ValueError(f"{file!r}: key {key!r}: expected {{\"type\": \"{kind}\", ...}} (a BERT WordPiece "
                         f"tokenizer), got type {got!r}")
    return part


def read_tokenizer_json(file: str) -> tuple[dict[str, int], dict[str, Any]]:
    """tokenizer.json -> ({token: id}, the BertTokenizer options it gives), checked (module docstring)."""
    found = read_json(file)  # not UTF-8, not JSON: a ValueError naming the file (files.py)
    if not isinstance(found, dict):
        raise ValueError(f"{file!r}: expected a JSON object {{...}}, got {type(found).__name__}")
    model = _part(found, "model", file, "WordPiece")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab or not all(
            isinstance(t, str) and isinstance(i, int) and not isinstance(i, bool) for t, i in vocab.items()):
        raise ValueError(f"{file!r}: key 'model.vocab': expected a non-empty object {{token: id}} of ints")
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise ValueError(f"{file!r}: key 'model.vocab': ids must be 0..{len(vocab) - 1}, each once")
    prefix = model.get("continuing_subword_prefix", "##")
    if prefix != "##":
        raise ValueError(f"{file!r}: key 'model.continuing_subword_prefix': expected '##' (BERT's), got {prefix!r}")
    normalizer = _part(found, "normalizer", file, "BertNormalizer")
    if normalizer.get("clean_text", True) is not True:
        raise ValueError(f"{file!r}: key 'normalizer.clean_text': expected true (BERT always drops control "
                         f"characters; so does transformers), got {normalizer['clean_text']!r}")
    read = {"model.unk_token": ("unk_token", model.get("unk_token", "[UNK]"))}   # file key -> (option, value)
    read.update({f"normalizer.{key}": (name, normalizer.get(key, default))
                 for key, (name, default) in _NORMALIZER.items()})
    if "max_input_chars_per_word" in model:
        read["model.max_input_chars_per_word"] = ("max_input_chars_per_word", model["max_input_chars_per_word"])
    for key, (name, value) in read.items():  # each value checked against its option's rule, named by its key
        problem = option_problem(name, value)
        if problem is not None:
            raise ValueError(f"{file!r}: key {key!r}: {problem[1]}")
    _part(found, "pre_tokenizer", file, "BertPreTokenizer")
    for i, added in enumerate(found.get("added_tokens") or []):
        token = added.get("content") if isinstance(added, dict) else None
        if not isinstance(token, str) or vocab.get(token) != added.get("id") or added.get("special") is not True:
            raise ValueError(f"{file!r}: key 'added_tokens[{i}]': expected a special token already in the "
                             f"vocabulary with the same id (BertTokenizer adds no tokens), got {added!r}")
    return vocab, dict(read.values())


def tokenizer_json(vocab: Mapping[str, int], options: Mapping[str, Any]) -> dict[str, Any]:
    """The tokenizer.json object for a BertTokenizer's vocabulary and options (its argument names, with the five
    special tokens): the layout transformers 5 writes, without its saved per-call truncation and padding."""
    cls, sep = options["cls_token"], options["sep_token"]
    specials = sorted(dict.fromkeys(options[name] for name in SPECIAL_NAMES), key=vocab.__getitem__)

    def template(*parts: tuple[str, str, int]) -> list[dict]:
        return [{"SpecialToken" if kind == "special" else "Sequence": {"id": name, "type_id": type_id}}
                for kind, name, type_id in parts]

    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for t in specials],
        "normalizer": {"type": "BertNormalizer", "clean_text": True,
                       "handle_chinese_chars": options["tokenize_chinese_chars"],
                       "strip_accents": options["strip_accents"], "lowercase": options["do_lower_case"]},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": template(("special", cls, 0), ("seq", "A", 0), ("special", sep, 0)),
            "pair": template(("special", cls, 0), ("seq", "A", 0), ("special", sep, 0), ("seq", "B", 1),
                             ("special", sep, 1)),
            "special_tokens": {t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in dict.fromkeys((cls, sep))}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},  # as transformers writes it
        "model": {"type": "WordPiece", "unk_token": options["unk_token"], "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": options["max_input_chars_per_word"],
                  "vocab": dict(sorted(vocab.items(), key=lambda item: item[1]))},
    }


__all__ = ["read_tokenizer_json", "tokenizer_json"]
