"""Tests for tokenization/wordpiece.py: greedy longest-match-first WordPiece, by hand and against a plain
re-statement of the algorithm (every end position tried, no length bound), and on the real vocabulary."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenization import WordpieceTokenizer

# google-research/bert's own test vocabulary (tokenization_test.py), + a few entries to exercise the rules
VOCAB = {t: i for i, t in enumerate(["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn",
                                     "##ing", ",", "low", "lowest", "a", "##a", "##aa", "b", "##b"])}


def brute_force(word: str, vocab, max_chars: int = 100, unk: str = "[UNK]") -> list[str]:
    """WordPiece as stated: from each start, the longest vocabulary piece (trying every end, longest first)."""
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = ("##" if start else "") + word[start:end]
            if piece in vocab:
                pieces.append(piece)
                start = end
                break
        else:
            return [unk]
    return pieces


def test_google_examples():
    wp = WordpieceTokenizer(VOCAB)
    assert wp.tokenize("") == []
    assert wp.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
    assert wp.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]  # one bad character: the whole word


def test_longest_match_first_is_greedy():
    wp = WordpieceTokenizer(VOCAB)
    assert wp.tokenize("lowest") == ["lowest"]          # not low + ##est
    assert wp.tokenize("aaaaa") == ["a", "##aa", "##aa"]
    assert wp.split("aab") == [("a", 0, 1), ("##a", 1, 2), ("##b", 2, 3)]


def test_too_long_words_are_unknown():
    wp = WordpieceTokenizer(VOCAB, max_input_chars_per_word=100)
    assert wp.tokenize("a" * 100) == ["a"] + ["##aa"] * 49 + ["##a"]
    assert wp.split("a" * 101) == [("[UNK]", 0, 101)]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abwantedlosu", max_size=30), st.integers(1, 40))
def test_matches_the_algorithm_as_stated(word, max_chars):
    wp = WordpieceTokenizer(VOCAB, max_input_chars_per_word=max_chars)
    pieces = wp.split(word)
    assert [p for p, _, _ in pieces] == brute_force(word, VOCAB, max_chars)
    if pieces and pieces[0][0] != "[UNK]":
        # the pieces cover the word exactly, in order, and glue back into it
        assert [(s, e) for _, s, e in pieces] == list(zip([0] + [e for _, _, e in pieces[:-1]],
                                                          [e for _, _, e in pieces]))
        assert "".join(p.removeprefix("##") for p, _, _ in pieces) == word


def test_real_vocabulary_examples(ours):
    wp = ours.wordpiece_tokenizer
    assert wp.tokenize("unaffable") == ["una", "##ffa", "##ble"]
    assert wp.tokenize("tokenization") == ["token", "##ization"]
    for word in ["unaffable", "tokenization", "supercalifragilistic", "embeddings", "ñandú", "x" * 99]:
        assert wp.tokenize(word) == brute_force(word, ours.vocab)
