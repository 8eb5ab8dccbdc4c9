"""vocab.txt: read, write, and train a WordPiece vocabulary.

The file format of google-research/bert and Hugging Face: one token per line, the line number (from 0) is the id,
UTF-8, lines end with "\\n". Continuation pieces start with "##".

Training uses the Rust `tokenizers` library (its WordPiece trainer, a BPE-style merge procedure that writes
WordPiece vocabularies) with BERT's normalisation and pre-tokenisation, so the trained vocabulary fits the
from-scratch tokenizer of this package (tests check that both give the same ids on it).

Determinism. Called as it is (`BertWordPieceTokenizer.train`), the library's trainer gives another vocabulary on
every run, even on one thread (RAYON_NUM_THREADS=1) and whatever PYTHONHASHSEED is, because of its Rust hash maps
(`ahash`, seeded at random in each process; tokenizers/src/models/bpe/trainer.rs):

  1. ties between pairs. The merge queue orders pairs by count, then by the ids of the two pieces. The ids of the
     continuation pieces "##c" are handed out while iterating over the word counts, a hash map, so their order,
     and with it which of two equally frequent pairs is merged first, changes from run to run. Later counts
     depend on earlier merges, so one tie changes more than two tokens.
  2. ties at the alphabet limit. When the corpus has more than `limit_alphabet` characters, the least frequent are
     dropped after an unstable sort of the hash map's entries: which of two equally rare characters goes is chance.

So the words are counted here, with the library's own BertNormalizer and BertPreTokenizer (what its trainer does
to each text), and the trainer is then given everything that was left to hash order: the kept characters
(`initial_alphabet`: the most frequent, ties broken by code point) and the "##c" pieces in sorted order (as
special tokens, which take the first ids, so they get their ids in that order). The vocabulary is then what the
library would compute on a run that happened to meet its hash maps in sorted order, and the same on every run.
Threads do not matter: the trainer's parallel steps only add counts, and addition does not depend on the order.
"""

from __future__ import annotations

import codecs
import io
import os
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .files import atomic_write
from .options import option_problem

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def load_vocab(path: str | os.PathLike) -> dict[str, int]:
    """Read vocab.txt -> {token: id}. Raises OSError (missing file) and ValueError naming the file (not UTF-8,
    a byte order mark, empty, a duplicate entry).

    A UTF-8 byte order mark (BOM, bytes EF BB BF, which some Windows editors write) is refused, not stripped:
    transformers and the `tokenizers` library read it as part of the first token ("\\ufeff[PAD]", so that
    "[PAD]" is missing), and a vocabulary that loads one way here and another way there would silently give other
    ids. The error says how to fix the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"vocab_file: no such file {path!r} (expected a vocab.txt, one token per line)")
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(codecs.BOM_UTF8):
        raise ValueError(f"vocab_file: {path!r} starts with a UTF-8 byte order mark (BOM); transformers would read "
                         "it as part of the first token. Save the file as UTF-8 without a BOM")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"vocab_file: {path!r} is not UTF-8 text ({e.reason} at byte {e.start}, line {line}); "
                         f"vocab.txt must be UTF-8") from None
    # newline="": lines end at "\n", "\r\n" or "\r", as reading the file in text mode did before
    tokens = [line.rstrip("\n").rstrip("\r") for line in io.StringIO(text, newline="")]
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

    Give exactly one of `files` (a UTF-8 text file or a list of them) and `texts` (an iterable of strings:
    documents or lines). The special tokens come first (ids 0..4 by default), then single characters (the
    `limit_alphabet` most frequent), then "##" + each character, then longer pieces in the order they were merged.
    The normalisation options are the BertTokenizer ones. If `output` is given, the vocabulary is also written
    there (vocab.txt format, atomically). The same texts always give the same vocabulary, in every process and
    with any number of threads (see the module's notes on determinism).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if (files is None) == (texts is None):
        raise ValueError("train_wordpiece_vocab: give exactly one of files= (paths) and texts= (strings)")
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size <= len(special_tokens):
        raise ValueError(f"vocab_size: expected an int > {len(special_tokens)} (the special tokens), "
                         f"got {vocab_size!r}")
    for name, value in (("do_lower_case", do_lower_case), ("strip_accents", strip_accents),
                        ("tokenize_chinese_chars", tokenize_chinese_chars)):
        if option_problem(name, value):
            raise TypeError(f"{name}: {option_problem(name, value)[1]}")
    counts = _count_words(_corpus(files, texts), do_lower_case, strip_accents, tokenize_chinese_chars)
    specials = list(dict.fromkeys(special_tokens))
    alphabet = _alphabet(counts, limit_alphabet)
    known = set(alphabet) | set(specials)      # the trainer writes "##c" for each c after a word's first character
    continuations = sorted({"##" + c for word in counts for c in word[1:] if c in known} - set(specials))
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, limit_alphabet=limit_alphabet, show_progress=False,
        initial_alphabet=alphabet, special_tokens=specials + continuations, continuing_subword_prefix="##")
    tok = Tokenizer(models.WordPiece())
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()       # the words are normalised and split already
    tok.train_from_iterator((" ".join(itertools.repeat(w, n)) for w, n in sorted(counts.items())), trainer=trainer)
    vocab = tok.get_vocab()
    set_of_continuations = set(continuations)
    by_id = sorted(vocab, key=vocab.__getitem__)              # specials, continuations, alphabet, merges
    head = [t for t in by_id if t in known]                     # specials + alphabet: the ids before any merge
    rest = [t for t in by_id if t not in known and t not in set_of_continuations]
    tokens = head + continuations + rest                      # the library's usual layout
    if output is not None:
        save_vocab(tokens, output)
    return tokens


def _corpus(files: Any, texts: Any) -> Iterable[str]:
    """The texts of `files` (line by line, UTF-8, with clear errors) or `texts` (checked to be strings)."""
    if texts is not None:
        if isinstance(texts, str):
            raise TypeError("texts: expected an iterable of strings, got one str (wrap it in a list)")
        return _only_strings(texts)
    paths = [os.fspath(files)] if isinstance(files, (str, os.PathLike)) else [os.fspath(f) for f in files]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing or not paths:
        raise FileNotFoundError(f"files: expected existing text files, missing {missing or paths!r}")
    return _lines(paths)


def _lines(paths: Sequence[str]) -> Iterable[str]:
    for path in paths:
        with open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                try:
                    yield line.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ValueError(f"files: {path!r} is not UTF-8 text ({e.reason} on line {n}, at byte "
                                     f"{e.start} of the line)") from None


def _only_strings(items: Iterable[str]) -> Iterable[str]:
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"corpus: expected file paths or strings, item {i} is {type(item).__name__}")
        yield item


def _count_words(texts: Iterable[str], do_lower_case: bool, strip_accents: bool | None,
                 tokenize_chinese_chars: bool) -> Counter[str]:
    """{word: count} after BERT's normalisation and pre-tokenisation, by the library's own BertNormalizer and
    BertPreTokenizer (what its trainer does to each text before counting)."""
    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=tokenize_chinese_chars,
                                            strip_accents=strip_accents, lowercase=do_lower_case)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    texts = iter(texts)
    while batch := list(itertools.islice(texts, 256)):  # 256 texts a call ("\n" keeps their words apart): faster
        joined = normalizer.normalize_str("\n".join(batch))
        counts.update(word for word, _ in pre_tokenizer.pre_tokenize_str(joined))
    return counts


def _alphabet(counts: Mapping[str, int], limit: int | None) -> list[str]:
    """The characters the vocabulary starts from: the `limit` most frequent, ties broken by code point (the
    library breaks them by hash order), in code point order."""
    chars: Counter[str] = Counter()
    for word, n in counts.items():
        for c in word:
            chars[c] += n
    kept = sorted(chars, key=lambda c: (-chars[c], c))[:limit]
    return sorted(kept)
