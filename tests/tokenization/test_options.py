"""Tests for tokenization/options.py and the JSON reading of pretrained.py: every option has its type checked at
both doors, BertTokenizer's keyword arguments (TypeError naming the argument) and a checkpoint folder's
tokenizer_config.json / special_tokens_map.json (ValueError naming the file and the key); unknown keys are ignored,
and a file that is not UTF-8 or not JSON is named in the error."""

from __future__ import annotations

import json
import re

import pytest

from tokenization import BertTokenizer, save_vocab

TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<cls>", "hello", "world", "##s", "Hello"]


def _folder(tmp_path, config=None, special=None, raw_config: bytes | None = None):
    save_vocab(TOKENS, tmp_path / "vocab.txt")
    if raw_config is not None:
        (tmp_path / "tokenizer_config.json").write_bytes(raw_config)
    elif config is not None:
        (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    if special is not None:
        (tmp_path / "special_tokens_map.json").write_text(json.dumps(special), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("key, value, expected", [
    ("do_lower_case", "false", "expected a bool, got str 'false'"),      # the silent lower-casing of before
    ("do_lower_case", 0, "expected a bool, got int 0"),
    ("tokenize_chinese_chars", "yes", "expected a bool, got str 'yes'"),
    ("clean_up_tokenization_spaces", 1, "expected a bool, got int 1"),
    ("strip_accents", "false", "expected a bool or None, got str 'false'"),
    ("model_max_length", "512", "expected an int or None, got str '512'"),
    ("model_max_length", 512.5, "expected an int or None, got float 512.5"),
    ("model_max_length", True, "expected an int or None, got bool True"),
    ("model_max_length", 0, "expected an int >= 1 or None, got 0"),
    ("never_split", "[FOO]", "expected a list of str or None, got str '[FOO]'"),
    ("never_split", ["[FOO]", 3], "expected a list of str or None, got list ['[FOO]', 3]"),
    ("cls_token", 5, "expected a str, got int 5"),
    ("unk_token", ["[UNK]"], "expected a str, got list ['[UNK]']"),
])
def test_config_values_of_the_wrong_type_name_the_file_and_key(tmp_path, key, value, expected):
    folder = _folder(tmp_path, {"tokenizer_class": "BertTokenizer", key: value})
    message = f"{str(folder / 'tokenizer_config.json')!r}: key '{key}': {expected}"
    with pytest.raises(ValueError, match=re.escape(message)):
        BertTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("value, expected", [
    (3, "expected a str, got int 3"),
    ({"content": 3}, "expected a str, got int 3"),
    ({"lstrip": False}, 'expected a str or an object with "content"'),
])
def test_special_tokens_map_values_are_checked(tmp_path, value, expected):
    folder = _folder(tmp_path, special={"cls_token": value})
    with pytest.raises(ValueError, match=re.escape(f"special_tokens_map.json': key 'cls_token': {expected}")):
        BertTokenizer.from_pretrained(folder)


def test_good_values_and_unknown_keys_load(tmp_path):
    config = {"do_lower_case": False, "strip_accents": None, "never_split": None, "model_max_length": 10**30,
              "backend": "tokenizers", "added_tokens_decoder": {"0": {"content": "[PAD]"}}, "name_or_path": 3,
              "tokenize_chinese_chars": True, "clean_up_tokenization_spaces": True}
    special = {"cls_token": {"content": "<cls>", "lstrip": False}, "unk_token": "[UNK]"}
    tok = BertTokenizer.from_pretrained(_folder(tmp_path, config, special))
    assert tok.do_lower_case is False and tok.strip_accents is None and tok.model_max_length is None
    assert tok.cls_token == "<cls>" and tok.clean_up_tokenization_spaces is True
    assert tok.tokenize("Hello worlds") == ["Hello", "world", "##s"]
    (tmp_path / "tokenizer_config.json").write_text('{"model_max_length": 1e30, "do_lower_case": true}')
    assert BertTokenizer.from_pretrained(tmp_path).model_max_length is None       # HF's float "no limit"


@pytest.mark.parametrize("raw, expected", [
    (b'{"do_lower_case": true, "unk_token": "[UNK\xff]"}', " is not UTF-8 text"),
    (b'{"do_lower_case": tru', " is not valid JSON"),
    (b'["do_lower_case"]', ": expected a JSON object {...}, got list"),
])
def test_unreadable_config_files_are_named(tmp_path, raw, expected):
    folder = _folder(tmp_path, raw_config=raw)
    with pytest.raises(ValueError, match=re.escape(f"{str(folder / 'tokenizer_config.json')!r}{expected}")):
        BertTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("argument, value, error, expected", [
    ("do_lower_case", "false", TypeError, "do_lower_case: expected a bool, got str 'false'"),
    ("do_lower_case", None, TypeError, "do_lower_case: expected a bool, got NoneType None"),
    ("tokenize_chinese_chars", 1, TypeError, "tokenize_chinese_chars: expected a bool, got int 1"),
    ("strip_accents", "no", TypeError, "strip_accents: expected a bool or None, got str 'no'"),
    ("clean_up_tokenization_spaces", "no", TypeError, "clean_up_tokenization_spaces: expected a bool"),
    ("model_max_length", "512", TypeError, "model_max_length: expected an int or None, got str '512'"),
    ("model_max_length", -1, ValueError, "model_max_length: expected an int >= 1 or None, got -1"),
    ("max_input_chars_per_word", 1.5, TypeError, "max_input_chars_per_word: expected an int, got float 1.5"),
    ("never_split", "[FOO]", TypeError, "never_split: expected a list of str or None, got str '[FOO]'"),
    ("mask_token", None, TypeError, "mask_token: expected a str, got NoneType None"),
])
def test_keyword_arguments_of_the_wrong_type_name_the_argument(argument, value, error, expected):
    with pytest.raises(error, match=re.escape(expected)):
        BertTokenizer(vocab=TOKENS, **{argument: value})


def test_keyword_arguments_win_over_the_folder_and_are_checked(tmp_path):
    folder = _folder(tmp_path, {"do_lower_case": True})
    assert BertTokenizer.from_pretrained(folder, do_lower_case=False).tokenize("Hello") == ["Hello"]
    with pytest.raises(TypeError, match="do_lower_case: expected a bool, got str 'False'"):
        BertTokenizer.from_pretrained(folder, do_lower_case="False")
    assert BertTokenizer(vocab=TOKENS, never_split=("[X]",), strip_accents=False).strip_accents is False
