"""Tests for tokenization/vocab.py: vocab.txt reading/writing with clear errors, and training a WordPiece vocabulary
that our tokenizer reads exactly as the `tokenizers` library's own BERT WordPiece tokenizer does."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tokenization import BertTokenizer, load_vocab, save_vocab, train_wordpiece_vocab
from tokenization.chars import CJK_RANGE_MISSING_IN_TOKENIZERS

REPO = Path(__file__).resolve().parents[2]
ARTICLES = REPO.parent / "shared" / "articles"  # used when present


def test_load_and_save_round_trip(tmp_path):
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "##lo", "世", "é"]
    path = save_vocab(tokens, tmp_path / "vocab.txt")
    assert (tmp_path / "vocab.txt").read_text(encoding="utf-8") == "".join(t + "\n" for t in tokens)
    assert load_vocab(path) == {t: i for i, t in enumerate(tokens)}
    save_vocab(load_vocab(path), tmp_path / "again.txt")
    assert load_vocab(tmp_path / "again.txt") == load_vocab(path)
    assert sorted(os.listdir(tmp_path)) == ["again.txt", "vocab.txt"]  # no temporary file left behind


def test_windows_line_endings_are_read(tmp_path):
    (tmp_path / "v.txt").write_bytes(b"[PAD]\r\n[UNK]\r\nab\r\n")
    assert load_vocab(tmp_path / "v.txt") == {"[PAD]": 0, "[UNK]": 1, "ab": 2}


def test_real_vocabulary(minilm_dir):
    vocab = load_vocab(minilm_dir / "vocab.txt")
    assert len(vocab) == 30522 and vocab["[PAD]"] == 0 and vocab["[UNK]"] == 100 and vocab["[CLS]"] == 101
    assert vocab["[SEP]"] == 102 and vocab["[MASK]"] == 103 and vocab["the"] == 1996


def test_bad_vocab_files(tmp_path):
    with pytest.raises(OSError, match="no such file"):
        load_vocab(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        load_vocab(tmp_path / "empty.txt")
    (tmp_path / "dup.txt").write_text("[PAD]\nab\ncd\nab\n")
    with pytest.raises(ValueError, match=r"'ab' twice, on lines 2 and 4"):
        load_vocab(tmp_path / "dup.txt")
    with pytest.raises(ValueError, match="ids must be 0..1"):
        save_vocab({"a": 0, "b": 2}, tmp_path / "gap.txt")
    with pytest.raises(ValueError, match="line breaks"):
        save_vocab(["a", "b\nc"], tmp_path / "newline.txt")


def _stdlib_docstrings() -> list[str]:
    import collections
    import functools
    import itertools
    import json as json_module
    import pathlib
    import re
    return [inspect.getdoc(obj) or "" for module in (collections, functools, itertools, json_module, pathlib, re)
            for _, obj in inspect.getmembers(module) if inspect.isclass(obj) or inspect.isfunction(obj)]


def test_train_from_texts_and_files(tmp_path):
    texts = _stdlib_docstrings()
    tokens = train_wordpiece_vocab(texts=texts, vocab_size=600, output=tmp_path / "vocab.txt")
    assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(tokens) <= 600 and len(set(tokens)) == len(tokens)
    assert any(t.startswith("##") for t in tokens) and load_vocab(tmp_path / "vocab.txt") == \
        {t: i for i, t in enumerate(tokens)}
    (tmp_path / "corpus.txt").write_text("\n".join(texts), encoding="utf-8")
    from_file = train_wordpiece_vocab(files=tmp_path / "corpus.txt", vocab_size=600)
    assert from_file == tokens  # the same words, so the same vocabulary: training is deterministic


def test_train_errors(tmp_path):
    with pytest.raises(ValueError, match="exactly one of"):
        train_wordpiece_vocab()
    with pytest.raises(FileNotFoundError, match="missing"):
        train_wordpiece_vocab(files=[tmp_path / "nope.txt"])
    with pytest.raises(TypeError, match="item 1 is int"):
        train_wordpiece_vocab(texts=["ok", 3], vocab_size=50)
    with pytest.raises(ValueError, match="vocab_size"):
        train_wordpiece_vocab(texts=["ok"], vocab_size=3)
    with pytest.raises(TypeError, match="do_lower_case: expected a bool, got str 'false'"):
        train_wordpiece_vocab(texts=["ok"], vocab_size=50, do_lower_case="false")
    (tmp_path / "latin1.txt").write_bytes(b"line one\ncaf\xe9\n")
    with pytest.raises(ValueError, match=r"latin1.txt' is not UTF-8 text \(invalid continuation byte on line 2, "
                                         r"at byte 3 of the line\)"):
        train_wordpiece_vocab(files=tmp_path / "latin1.txt", vocab_size=50)


def test_a_byte_order_mark_or_another_encoding_is_an_error_naming_the_file(tmp_path):
    """A BOM is refused, not stripped: transformers keeps it as part of the first token (checked below when it is
    installed), so stripping it would give other ids than transformers on the same file."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello"]
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + "".join(t + "\n" for t in tokens).encode())
    with pytest.raises(ValueError, match=r"bom.txt' starts with a UTF-8 byte order mark \(BOM\)"):
        load_vocab(tmp_path / "bom.txt")
    (tmp_path / "latin1.txt").write_bytes(b"[PAD]\n[UNK]\ncaf\xe9\n")
    with pytest.raises(ValueError, match=r"latin1.txt' is not UTF-8 text \(invalid continuation byte at byte 15, "
                                         r"line 3\)"):
        BertTokenizer(tmp_path / "latin1.txt")
    try:
        from transformers import BertTokenizerFast
    except ImportError:
        return
    assert BertTokenizerFast(str(tmp_path / "bom.txt")).convert_ids_to_tokens(0) == "\ufeff[PAD]"


# Equally frequent pairs are everywhere in a small corpus: the library broke such ties by hash order (and, with
# more characters than limit_alphabet, chose the dropped characters so too), so these vocabularies changed run to run.
TIES = dict(vocab_size=40, limit_alphabet=8, min_frequency=1)
TIED_TEXTS = ["ab ac ad ae af ag xy xz", "q r s t u v w", "ba ca da ea fa", "aa bb"] * 3


def test_training_twice_gives_the_same_vocabulary():
    texts = _stdlib_docstrings()
    assert train_wordpiece_vocab(texts=texts, vocab_size=600) == train_wordpiece_vocab(texts=texts, vocab_size=600)
    first = train_wordpiece_vocab(texts=TIED_TEXTS, **TIES)
    assert first == train_wordpiece_vocab(texts=iter(TIED_TEXTS), **TIES)
    assert first[5:13] == list("abcdefgx")  # the 8 most frequent characters, ties broken by code point


def test_training_in_other_processes_gives_the_same_vocabulary(tmp_path):
    """Fresh processes (new hash seeds in Python and in Rust), one of them on a single thread: the same bytes."""
    (tmp_path / "corpus.txt").write_text("\n".join(_stdlib_docstrings()), encoding="utf-8")
    child = ("import sys; from tokenization import train_wordpiece_vocab as t; "
             "t(files=sys.argv[1], vocab_size=600, output=sys.argv[2])")
    outputs = []
    for seed, threads in (("1", None), ("2", "1")):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO))
        env.pop("RAYON_NUM_THREADS", None)
        if threads:
            env["RAYON_NUM_THREADS"] = threads
        out = tmp_path / f"vocab-{seed}.txt"
        subprocess.run([sys.executable, "-c", child, str(tmp_path / "corpus.txt"), str(out)], env=env, check=True,
                       timeout=120, cwd=REPO)
        outputs.append(out.read_bytes())
    train_wordpiece_vocab(files=tmp_path / "corpus.txt", vocab_size=600, output=tmp_path / "here.txt")
    assert outputs[0] == outputs[1] == (tmp_path / "here.txt").read_bytes()


@pytest.mark.parametrize("lowercase", [True, False])
def test_trained_vocab_gives_the_same_ids_as_the_library(tmp_path, lowercase):
    """Train on the stdlib docstrings + half of the articles; encode the other half + English with both tokenizers."""
    from tokenizers import BertWordPieceTokenizer

    articles = [line for f in sorted(ARTICLES.glob("*.txt")) for line in f.read_text(encoding="utf-8").splitlines()]
    articles = articles or ["词嵌入是自然语言处理中一个核心的概念。", "BERT是Google在2018年提出的一种新型预训练语言理解模型。"] * 20
    lo, hi = CJK_RANGE_MISSING_IN_TOKENIZERS
    held_out = [line for line in articles[1::2] if not any(lo <= ord(c) <= hi for c in line)]
    texts = _stdlib_docstrings()
    train_wordpiece_vocab(texts=texts + articles[::2], vocab_size=2000, do_lower_case=lowercase,
                          output=tmp_path / "vocab.txt")
    ours = BertTokenizer(tmp_path / "vocab.txt", do_lower_case=lowercase)
    theirs = BertWordPieceTokenizer(str(tmp_path / "vocab.txt"), lowercase=lowercase)
    sample = held_out + texts[::7] + ["Ünïcödé ΟΔΟΣ naïve café [MASK] x[SEP]y"]
    expected = [e.ids for e in theirs.encode_batch(sample)]
    assert ours(sample)["input_ids"] == expected
    assert [ours.tokenize(s) for s in sample] == [e.tokens[1:-1] for e in theirs.encode_batch(sample)]


def test_trained_vocab_saves_and_loads_as_a_checkpoint(tmp_path):
    train_wordpiece_vocab(texts=_stdlib_docstrings(), vocab_size=300, output=tmp_path / "vocab.txt")
    tok = BertTokenizer(tmp_path / "vocab.txt")
    tok.save_pretrained(tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "tokenizer_config.json").read_text())
    assert config["do_lower_case"] is True and config["tokenizer_class"] == "BertTokenizer"
    again = BertTokenizer.from_pretrained(tmp_path / "ckpt")
    assert again.vocab == tok.vocab and again("a docstring")["input_ids"] == tok("a docstring")["input_ids"]
