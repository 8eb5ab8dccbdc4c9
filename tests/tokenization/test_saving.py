"""A tokenizer folder changes as a whole (tokenization/files.py `atomic_folder`, as model folders do): a save that
fails partway leaves the old tokenizer complete and loadable, and the folder's other files (a model's config.json
and weights) are carried over. The JSON files of a folder are read with or without a UTF-8 byte-order mark."""

from __future__ import annotations

import codecs
import errno
import json
import os

import pytest

import tokenization.pretrained as pretrained
from tokenization import BertTokenizer

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
FILES = ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]


def tokenizer(*words: str, **options) -> BertTokenizer:
    return BertTokenizer(vocab=SPECIALS + list(words), **options)


def model_folder(tmp_path):
    """A model's folder (config.json, model.safetensors) holding an old tokenizer."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}\n')
    (folder / "model.safetensors").write_bytes(b"weights")
    tokenizer("old", "words").save_pretrained(folder)
    return folder


def test_a_save_that_fails_partway_leaves_the_old_tokenizer_whole_and_the_model_files(tmp_path, monkeypatch):
    folder = model_folder(tmp_path)
    written = []

    def disk_full_after_the_first_file(path, obj, indent=2):      # vocab.txt went through; the JSON files do not
        written.append(path)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))

    monkeypatch.setattr(pretrained, "write_json", disk_full_after_the_first_file)
    with pytest.raises(OSError, match="No space left on device"):
        tokenizer("new", "vocabulary", "here", do_lower_case=False).save_pretrained(folder)
    assert written                                                  # the failure came partway, after vocab.txt
    old = BertTokenizer.from_pretrained(folder)                     # the old tokenizer, all four files of it
    assert old.vocab == tokenizer("old", "words").vocab and old.do_lower_case
    assert sorted(os.listdir(folder)) == sorted(FILES + ["config.json", "model.safetensors"])
    assert (folder / "model.safetensors").read_bytes() == b"weights"
    assert [n for n in os.listdir(tmp_path) if n != "model"] == []  # no temporary folder left behind
    monkeypatch.undo()
    paths = tokenizer("new", "vocabulary", "here").save_pretrained(folder)
    assert sorted(paths) == sorted(str(folder / n) for n in FILES)  # the paths in the folder, not temporary ones
    assert BertTokenizer.from_pretrained(folder).vocab == tokenizer("new", "vocabulary", "here").vocab
    assert json.loads((folder / "config.json").read_text()) == {"model_type": "bert"}      # carried over
    assert (folder / "model.safetensors").read_bytes() == b"weights"


@pytest.mark.parametrize("name", ["tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"])
def test_json_files_with_a_byte_order_mark_are_read(tmp_path, name):
    """As config.json is read (bert/jsonconfig.py); transformers refuses them. vocab.txt with a mark stays an error
    (test_vocab.py): there transformers reads the mark as part of the first token, other ids, silently."""
    tokenizer("hello", do_lower_case=False).save_pretrained(tmp_path)
    (tmp_path / name).write_bytes(codecs.BOM_UTF8 + (tmp_path / name).read_bytes())   # as some Windows editors save
    loaded = BertTokenizer.from_pretrained(tmp_path)
    assert loaded.vocab == tokenizer("hello").vocab and loaded.do_lower_case is False
