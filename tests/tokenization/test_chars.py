"""Tests for tokenization/chars.py: each character class by hand (google-research/bert's definitions), then every
class against the Rust `tokenizers` library on every code point Python's Unicode database assigns."""

from __future__ import annotations

import unicodedata

import pytest

from tokenization.basic import BasicTokenizer, _CharMap, _rewrite
from tokenization.chars import (CJK_RANGE_MISSING_IN_TOKENIZERS, CJK_RANGES, is_accent, is_chinese_char, is_control,
                                is_punctuation, is_whitespace)

SENTINEL = "\u4e00"  # a CJK ideograph: untouched by the normaliser when CJK handling is off; separates the probes


def test_whitespace_by_hand():
    for ch in " \t\n\r\u00a0\u3000\u2009\u2028\u2029":   # space, tab, LF, CR, no-break, ideographic, thin, Zl, Zp
        assert is_whitespace(ch), hex(ord(ch))
    for ch in "a\x0b\x0c\x85\u200b_":                      # VT, FF, NEL are controls (Cc); U+200B is Cf
        assert not is_whitespace(ch), hex(ord(ch))


def test_control_by_hand():
    for ch in "\x00\x07\x0b\x1f\x7f\x85\u200b\u200d\u200e\ufeff\ue000":  # Cc, Cf (zero-width, marks, BOM), Co
        assert is_control(ch), hex(ord(ch))
    for ch in "\t\n\r a\u0301\ufffd":                      # tab/LF/CR count as whitespace; U+FFFD is So
        assert not is_control(ch), hex(ord(ch))
    assert not is_control("\U000e0fff")                    # unassigned (Cn): kept, as the reference does
    assert not is_control("\u0890")                        # Cf added in Unicode 14: not in the reference's tables


def test_cjk_by_hand():
    for ch in "中文字\u3400\uf900\U00020000\U0002b820":     # unified, ext A, compatibility, ext B, ext E
        assert is_chinese_char(ch), hex(ord(ch))
    for ch in "あア한aー。":                                 # hiragana, katakana, hangul, latin, prolonged mark, 。
        assert not is_chinese_char(ch), hex(ord(ch))
    assert CJK_RANGES[5] == (0x2B820, 0x2CEAF)             # google-research/bert's sixth range


def test_punctuation_by_hand():
    for ch in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~":         # every ASCII symbol, including $ + < = > ^ ` | ~ (S*)
        assert is_punctuation(ch), ch
    for ch in "。，、「」¿¡—…\u00b7":                           # Unicode P*
        assert is_punctuation(ch), ch
    for ch in "a1 €©\u0301中":                                # letters, digits, space, non-ASCII symbols, marks
        assert not is_punctuation(ch), ch


def test_accent_by_hand():
    assert [c for c in unicodedata.normalize("NFD", "é") if is_accent(c)] == ["\u0301"]
    assert not is_accent("e") and not is_accent("\u0903")  # a letter; a spacing mark (Mc)
    assert is_accent("\ufe0f")                              # variation selector-16 is Mn


def test_ascii_fast_path_matches_the_general_path():
    """clean_and_split_chinese takes a str.translate shortcut for ASCII: same result as the per-character rules."""
    basic = BasicTokenizer()
    slow = _CharMap(lambda ch: basic.split_chinese(basic.clean(ch)))
    for cp in range(128):
        text = f"a{chr(cp)}b"
        fast_text, fast_origins = basic.clean_and_split_chinese(text)
        assert (fast_text, list(fast_origins)) == _rewrite(text, slow), cp


def test_python_whitespace_never_survives_cleaning():
    """After cleaning, " " is the only whitespace left, so str.split() and splitting on " " agree."""
    for cp in range(0x110000):
        ch = chr(cp)
        if ch.isspace():
            assert is_whitespace(ch) or is_control(ch), hex(cp)


def _assigned() -> list[int]:
    """Code points Python's unicodedata assigns (no Cn, no surrogates), + the ends of the private-use planes."""
    cps = [cp for cp in range(0x110000) if unicodedata.category(chr(cp)) not in ("Cn", "Cs", "Co")]
    cps += [0xE000, 0xF8FF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD]
    return [cp for cp in cps if chr(cp) != SENTINEL]


def _per_char(normalizer, cps: list[int], sentinel: str = SENTINEL) -> list[str]:
    """Normalise each code point on its own, in one call: sentinel c1 sentinel c2 ... sentinel."""
    out = normalizer.normalize_str(sentinel + sentinel.join(map(chr, cps)) + sentinel).split(sentinel)[1:-1]
    assert len(out) == len(cps)
    return out


@pytest.mark.slow
def test_every_class_matches_the_reference_library_on_every_assigned_code_point():
    pytest.importorskip("tokenizers")
    from tokenizers import normalizers, pre_tokenizers

    cps = _assigned()
    bert_normalizer = normalizers.BertNormalizer
    # stage 1: control characters vanish, whitespace becomes " "
    cleaned = _per_char(bert_normalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                        lowercase=False), cps)
    basic = BasicTokenizer(do_lower_case=False, tokenize_chinese_chars=False)
    wrong = [hex(cp) for cp, ref in zip(cps, cleaned) if basic.clean(chr(cp)) != ref]
    assert not wrong, f"clean differs from tokenizers on {len(wrong)} code points: {wrong[:20]}"
    # stage 2: CJK ideographs get spaces around them (except the range the library leaves out, tested elsewhere)
    lo, hi = CJK_RANGE_MISSING_IN_TOKENIZERS
    cjk_cps = [cp for cp in cps if not lo <= cp <= hi and cp != ord("~")] + [ord(SENTINEL)]
    spaced = _per_char(bert_normalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False,
                                       lowercase=False), cjk_cps, sentinel="~")
    wrong = [hex(cp) for cp, ref in zip(cjk_cps, spaced) if (ref != chr(cp)) != is_chinese_char(chr(cp))]
    assert not wrong, f"is_chinese_char differs on {wrong[:20]}"
    # stage 3: NFD + accent removal, and lower-casing, one character at a time
    stripped = _per_char(bert_normalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                         lowercase=False), cps)
    strip_only = BasicTokenizer(do_lower_case=False, strip_accents=True, tokenize_chinese_chars=False)
    wrong = [hex(cp) for cp, ref in zip(cps, stripped) if strip_only.normalize(chr(cp)) != ref]
    assert not wrong, f"accent stripping differs on {wrong[:20]}"
    lowered = _per_char(bert_normalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                                        lowercase=True), cps)
    lower_only = BasicTokenizer(do_lower_case=True, strip_accents=False, tokenize_chinese_chars=False)
    wrong = [hex(cp) for cp, ref in zip(cps, lowered) if lower_only.normalize(chr(cp)) != ref]
    assert not wrong, f"lower-casing differs on {wrong[:20]}"
    # stage 4: a punctuation character between two letters becomes a word of its own
    probes = [cp for cp in cps if not (is_whitespace(chr(cp)) or chr(cp).isspace() or chr(cp) == "a")]
    pieces = pre_tokenizers.BertPreTokenizer().pre_tokenize_str("a" + "a".join(map(chr, probes)) + "a")
    isolated = {piece for piece, _ in pieces if len(piece) == 1 and piece != "a"}
    wrong = [hex(cp) for cp in probes if (chr(cp) in isolated) != is_punctuation(chr(cp))]
    assert not wrong, f"is_punctuation differs on {wrong[:20]}"
