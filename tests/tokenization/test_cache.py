"""Tests for tokenization/cache.py: the tokenizer's memo of chunk -> ids stays within its documented bound however
long and varied the input, evicts the least recently used entry, and never changes an answer."""

from __future__ import annotations

import itertools
import pickle
import string

from tokenization import BertTokenizer
from tokenization.cache import MAX_CHARS, MAX_ENTRIES, BoundedCache

LETTERS = string.ascii_lowercase
TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *LETTERS, *("##" + c for c in LETTERS), "ab", "##cd", ","]


def _distinct_words(n: int) -> list[str]:
    """n different 4-letter words: aaaa, aaab, ..."""
    return ["".join(w) for w in itertools.islice(itertools.product(LETTERS, repeat=4), n)]


def test_the_bound_is_the_documented_one():
    cache = BertTokenizer(vocab=TOKENS)._cache
    assert (cache.max_entries, cache.max_chars) == (MAX_ENTRIES, MAX_CHARS) == (65_536, 32)  # as cache.py says


def test_many_distinct_words_keep_the_memo_at_its_bound():
    tok = BertTokenizer(vocab=TOKENS)
    tok._cache = BoundedCache(max_entries=1_000)      # the default's behaviour, at a size a test can fill quickly
    words = _distinct_words(3_000)
    ids = tok(" ".join(words), add_special_tokens=False)["input_ids"]
    assert len(tok._cache) == 1_000                              # full, not beyond
    assert words[0] not in tok._cache and words[-1] in tok._cache  # the oldest went first
    assert ids == [i for w in words for i in tok.convert_tokens_to_ids(tok.wordpiece_tokenizer.tokenize(w))]


def test_long_chunks_are_not_remembered():
    tok = BertTokenizer(vocab=TOKENS)
    long_chunk = "ab," * 10_000                                      # one "word" of 30,000 characters, no space
    assert tok.tokenize(long_chunk)[:3] == ["ab", ",", "ab"]
    assert long_chunk not in tok._cache and len(tok._cache) == 0
    assert tok.tokenize("ab" * 16) == ["ab"] + ["##a", "##b"] * 15 and "ab" * 16 in tok._cache   # 32 chars: kept


def test_a_small_memo_gives_the_same_answers():
    """Evicting (a memo of 8 entries, each chunk recomputed again and again) changes nothing, offsets included."""
    texts = [" ".join(_distinct_words(50)[i::3]) + " abcd, ab ab" for i in range(3)] * 2
    big, small = BertTokenizer(vocab=TOKENS), BertTokenizer(vocab=TOKENS)
    small._cache = BoundedCache(max_entries=8, max_chars=4)
    for text in texts:
        assert small(text, return_offsets_mapping=True) == big(text, return_offsets_mapping=True)
    assert len(small._cache) == 8


def test_least_recently_used_goes_first():
    cache = BoundedCache(max_entries=2, max_chars=3)
    cache.put("a", 1), cache.put("b", 2)
    assert cache.get("a") == 1          # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert cache.put("long", 4) == 4 and "long" not in cache and len(cache) == 2


def test_a_tokenizer_with_its_memo_pickles():
    tok = BertTokenizer(vocab=TOKENS)
    tok.tokenize("ab cd abcd")
    again = pickle.loads(pickle.dumps(tok))
    assert again.tokenize("abcd ab") == tok.tokenize("abcd ab") and len(again._cache) == len(tok._cache)
