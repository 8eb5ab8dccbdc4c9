"""Tests for tokenization/basic.py: each stage of BERT's basic tokenizer on hand-worked examples, and the offsets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenization import BasicTokenizer

FEW = settings(max_examples=60, deadline=None)


def test_clean_drops_controls_and_normalises_whitespace():
    basic = BasicTokenizer()
    # NUL, U+FFFD, zero-width space (Cf), BEL, DEL vanish; tab, ideographic space, no-break space become " "
    assert basic.clean("a\x00b\ufffdc\u200bd\x07e\x7ff\tg\u3000h\u00a0i") == "abcdef g h i"
    assert basic.clean("x\r\ny") == "x  y"


def test_cjk_ideographs_become_words():
    basic = BasicTokenizer()
    assert basic.split_chinese("我爱BERT") == " 我  爱 BERT"
    assert basic.tokenize("我爱BERT模型。") == ["我", "爱", "bert", "模", "型", "。"]
    # kana and hangul are not CJK ideographs: they stay in one word
    assert BasicTokenizer(strip_accents=False).tokenize("ひらがな 한국어") == ["ひらがな", "한국어"]
    # (uncased models strip accents: NFD turns the voiced mark of が into a separate Mn mark, which goes, and a
    # hangul syllable into its jamo letters, which stay)
    assert basic.tokenize("ひらがな 한") == ["ひらかな", "\u1112\u1161\u11ab"]
    assert BasicTokenizer(tokenize_chinese_chars=False).tokenize("我爱BERT") == ["我爱bert"]


def test_accents_and_case():
    assert BasicTokenizer().normalize("Café Ünïcödé") == "cafe unicode"
    assert BasicTokenizer(strip_accents=False).normalize("Café") == "café"           # lower only
    assert BasicTokenizer(do_lower_case=False).normalize("Café") == "Café"           # cased: accents kept too
    assert BasicTokenizer(do_lower_case=False, strip_accents=True).normalize("Café") == "Cafe"
    # lower-casing one character at a time: a word-final capital sigma becomes σ, not the final form ς
    assert BasicTokenizer().normalize("ΟΔΟΣ") == "οδοσ" and "ΟΔΟΣ".lower() == "οδος"
    # İ lower-cases to i + U+0307, but accents are stripped first: "istanbul"
    assert BasicTokenizer().tokenize("İstanbul") == ["istanbul"]


def test_punctuation_split():
    basic = BasicTokenizer()
    assert basic.split_punctuation("don't!") == ["don", "'", "t", "!"]
    assert basic.split_punctuation("$5.00") == ["$", "5", ".", "00"]
    assert basic.tokenize("Hello, world... (really?)") == ["hello", ",", "world", ".", ".", ".", "(", "really",
                                                           "?", ")"]


def test_never_split_keeps_a_chunk_whole():
    basic = BasicTokenizer(never_split=["[FOO]"])
    assert basic.tokenize("Hi [FOO] there [FOO]x") == ["hi", "[FOO]", "there", "[", "foo", "]", "x"]


def test_offsets_point_at_the_source_characters():
    basic = BasicTokenizer()
    text = "Héllo,\u200b 世界 İx"
    got = basic.tokenize_with_offsets(text)
    assert got == [("hello", 0, 5), (",", 5, 6), ("世", 8, 9), ("界", 9, 10), ("ix", 11, 13)]
    # a control character inside a word is skipped but stays inside the word's span
    assert basic.tokenize_with_offsets("ab\x00cd") == [("abcd", 0, 5)]


@FEW
@given(st.text(max_size=40))
def test_offsets_are_ordered_and_in_range(text):
    basic = BasicTokenizer()
    spans = basic.tokenize_with_offsets(text)
    assert [w for w, _, _ in spans] == basic.tokenize(text)
    for word, start, end in spans:
        assert word and 0 <= start < end <= len(text)
    starts = [s for _, s, _ in spans]
    assert starts == sorted(starts)


@FEW
@given(st.text(alphabet=st.characters(max_codepoint=0x2FFF, exclude_categories=("Cs",)), max_size=40))
def test_words_hold_no_whitespace_no_controls_and_isolated_punctuation(text):
    """What BERT's basic tokenizer promises its output: no empty words, no whitespace or control characters, and a
    punctuation character only ever as a one-character word; re-tokenizing the joined words changes nothing."""
    from tokenization.chars import is_control, is_punctuation, is_whitespace

    basic = BasicTokenizer()
    words = basic.tokenize(text)
    for word in words:
        assert word and not any(is_whitespace(c) or is_control(c) for c in word)
        assert len(word) == 1 or not any(is_punctuation(c) for c in word)
    assert basic.tokenize(" ".join(words)) == words
