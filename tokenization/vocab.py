"""vocab.txt: read, write, and train a WordPiece vocabulary.

The file format of google-research/bert and Hugging Face: one token per line, the line number (from 0) is the id,
UTF-8, lines end with "\\n". Continuation pieces start with "##".

Training uses the Rust `tokenizers` library (its WordPiece trainer, a BPE-style merge procedure that writes
WordPiece vocabularies) with BERT's normalisation and pre-tokenisation, so the trained vocabulary fits the
from-scratch tokenizer of this package (tests check that both give the same ids on it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

from .files import atomic_write

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def load_vocab(path: str | os.PathLike) -> dict[str, int]:
    """Read vocab.txt -> {token: id}. Raises OSError (missing file), ValueError (empty file, duplicate entry)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"vocab_file: no such file {path!r} (expected a vocab.txt, one token per line)")
    with open(path, encoding="utf-8", newline="") as f:
        tokens = [line.rstrip("\n").rstrip("\r") for line in f]
    if not tokens:
        raise ValueError(f"vocab_file: {path!r} is empty (expected one token per line)")
    vocab: dict[str, int] = {}
    for i, token in enumerate(tokens):
        if token in vocab:
            raise ValueError(f"vocab_file: {path!r} has {token!r} twice, on lines {vocab[token] + 1} and {i + 1}; "
                             f"each token must appear once (its line number is its id)")
        vocab[token] = i
    return vocab


def save_vocab(vocab: Mapping[str, int] | Sequence[str], path: str | os.PathLike) -> str:
    """Write vocab.txt atomically (files.py: temporary file + os.replace). `vocab`: {token: id} with ids 0..n-1,
    or the list of tokens in id order. Returns the path written."""
    tokens = sorted(vocab, key=vocab.__getitem__) if isinstance(vocab, Mapping) else list(vocab)
    if isinstance(vocab, Mapping) and [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise ValueError(f"vocab: ids must be 0..{len(tokens) - 1} without gaps or repeats")
    if not tokens:
        raise ValueError("vocab: is empty")
    if len(set(tokens)) != len(tokens):
        raise ValueError("vocab: has duplicate tokens")
    bad = [t for t in tokens if not isinstance(t, str) or "\n" in t or "\r" in t]
    if bad:
        raise ValueError(f"vocab: tokens must be strings without line breaks, got {bad[:3]!r}")
    path = os.fspath(path)
    with atomic_write(path, "wb") as f:  # bytes: "\n" line ends on every platform
        f.write("".join(t + "\n" for t in tokens).encode("utf-8"))
    return path


def train_wordpiece_vocab(files: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                          texts: Iterable[str] | None = None, *, vocab_size: int = 30522, min_frequency: int = 2,
                          do_lower_case: bool = True, strip_accents: bool | None = None,
                          tokenize_chinese_chars: bool = True, special_tokens: Sequence[str] = SPECIAL_TOKENS,
                          limit_alphabet: int = 1000, output: str | os.PathLike | None = None) -> list[str]:
    """Train a WordPiece vocabulary with the `tokenizers` library; return its tokens in id order.

    Give exactly one of `files` (a text file or a list of them) and `texts` (an iterable of strings: documents or
    lines). The special tokens come first (ids 0..4 by default), then single characters, then longer pieces.
    The normalisation options are the BertTokenizer ones. If `output` is given, the vocabulary is also written
    there (vocab.txt format, atomically).
    """
    from tokenizers import BertWordPieceTokenizer

    if (files is None) == (texts is None):
        raise ValueError("train_wordpiece_vocab: give exactly one of files= (paths) and texts= (strings)")
    if not isinstance(vocab_size, int) or vocab_size <= len(special_tokens):
        raise ValueError(f"vocab_size: expected an int > {len(special_tokens)} (the special tokens), "
                         f"got {vocab_size!r}")
    trainer_args = dict(vocab_size=vocab_size, min_frequency=min_frequency, limit_alphabet=limit_alphabet,
                        special_tokens=list(special_tokens), show_progress=False, wordpieces_prefix="##")
    tok = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=tokenize_chinese_chars,
                                 strip_accents=strip_accents, lowercase=do_lower_case)
    if files is not None:
        paths = [os.fspath(files)] if isinstance(files, (str, os.PathLike)) else [os.fspath(f) for f in files]
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing or not paths:
            raise FileNotFoundError(f"files: expected existing text files, missing {missing or paths!r}")
        tok.train(paths, **trainer_args)
    else:
        if isinstance(texts, str):
            raise TypeError("texts: expected an iterable of strings, got one str (wrap it in a list)")
        tok.train_from_iterator(_only_strings(texts), **trainer_args)
    vocab = tok.get_vocab()
    tokens = sorted(vocab, key=vocab.__getitem__)
    if output is not None:
        save_vocab(tokens, output)
    return tokens


def _only_strings(items: Iterable[str]) -> Iterable[str]:
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"corpus: expected file paths or strings, item {i} is {type(item).__name__}")
        yield item
