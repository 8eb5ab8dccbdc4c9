"""Character classes of BERT's basic tokenizer: whitespace, control, CJK ideograph, accent mark, punctuation.

Each class is one small function of one character, so a reader can check it against its definition:

    whitespace   "\\t", "\\n", "\\r" and the Unicode space separators Z* (Zs, Zl, Zp)
    control      Unicode "other" characters Cc, Cf, Co, Cs, except "\\t", "\\n", "\\r" (those count as whitespace)
    CJK          the code-point ranges of google-research/bert `tokenization.py::_is_chinese_char`
    accent mark  Unicode Mn (non-spacing mark): what NFD splits off "é" -> "e" + U+0301
    punctuation  the ASCII symbol ranges 33-47, 58-64, 91-96, 123-126 (so "$", "+", "^", "`" count) + Unicode P*

Sources: google-research/bert `tokenization.py` (`_is_whitespace`, `_is_control`, `_is_punctuation`,
`_is_chinese_char`), Devlin et al. 2019 §3 (WordPiece input), and the Rust `tokenizers` library (normalizers/bert.rs,
pre_tokenizers/bert.rs), which produces the ids of the checkpoints people use today.

Reference tables. Python's `unicodedata` follows the Unicode version of the interpreter (14.0 for Python 3.11);
`tokenizers` classifies control characters, accent marks and punctuation with Unicode 8.0 tables, and its NFD
tables are older too (characters were added or re-categorised since). So that our ids are identical to the
reference on every character Python knows, the few code points on which the two databases disagree are listed
below; a test compares every class with `tokenizers` on every assigned code point. Code points that are
*unassigned* in Python's database are kept as ordinary characters (the reference does not drop them either).
The lists are relative to Python 3.10-3.11 (Unicode 13-14); a newer Python knows newer characters, which the test
would then report.
"""

from __future__ import annotations

import re
import unicodedata


def _code_points(spec: str) -> frozenset[int]:
    """'0890-0891 08E2' -> {0x890, 0x891, 0x8E2}: hexadecimal code points and inclusive ranges."""
    out: set[int] = set()
    for item in spec.split():
        first, _, last = item.partition("-")
        out.update(range(int(first, 16), int(last or first, 16) + 1))
    return frozenset(out)


# Format characters (Cf) added after Unicode 8.0: the reference keeps them as ordinary characters.
NOT_CONTROL = _code_points("""
    0890-0891 08E2 110CD 13430-13438
""")
# Accent marks per Unicode 8.0 that are no longer Mn (U+1734 HANUNOO SIGN PAMUDPOD is Mc since Unicode 14).
MARK_ALSO = _code_points("""
    1734
""")
# Non-spacing marks (Mn) that Unicode 8.0 did not have as Mn: the reference keeps them when stripping accents.
NOT_MARK = _code_points("""
    07FD 0898-089F 08CA-08E1 09FE 0AFA-0AFF 0B55 0C04 0C3C 0D00 0D3B-0D3C 0D81 0EBA 180F 1885-1886 1ABF-1ACE
    1DF6-1DFB A82C A8C5 A8FF A9BD 10D24-10D27 10EAB-10EAC 10F46-10F50 10F82-10F85 11070 11073-11074 110C2
    111C9 111CF 1123E 1133B 11438-1143F 11442-11444 11446 1145E 1182F-11837 11839-1183A 1193B-1193C 1193E
    11943 119D4-119D7 119DA-119DB 119E0 11A01-11A0A 11A33-11A38 11A3B-11A3E 11A47 11A51-11A56 11A59-11A5B
    11A8A-11A96 11A98-11A99 11C30-11C36 11C38-11C3D 11C3F 11C92-11CA7 11CAA-11CB0 11CB2-11CB3 11CB5-11CB6
    11D31-11D36 11D3A 11D3C-11D3D 11D3F-11D45 11D47 11D90-11D91 11D95 11D97 11EF3-11EF4 16F4F 16FE4
    1CF00-1CF2D 1CF30-1CF46 1E000-1E006 1E008-1E018 1E01B-1E021 1E023-1E024 1E026-1E02A 1E130-1E136 1E2AE
    1E2EC-1E2EF 1E944-1E94A
""")
# Punctuation per Unicode 8.0 that is no longer P* (U+166D is So since Unicode 12, U+111C9 Mn since Unicode 13).
PUNCTUATION_ALSO = _code_points("""
    166D 111C9
""")
# Punctuation (P*) added after Unicode 8.0: the reference does not split on it.
NOT_PUNCTUATION = _code_points("""
    061D 09FD 0A76 0C77 0C84 1B7D-1B7E 2E43-2E4F 2E52-2E5D 10EAD 10F55-10F59 10F86-10F89 1144B-1144F
    1145A-1145B 1145D 11660-1166C 116B9 1183B 11944-11946 119E2 11A3F-11A46 11A9A-11A9C 11A9E-11AA2
    11C41-11C45 11C70-11C71 11EF7-11EF8 11FFF 12FF1-12FF2 16E97-16E9A 16FE2 1E95E-1E95F
""")

# Characters with a canonical decomposition newer than the reference's tables (U+11938 DIVES AKURU VOWEL SIGN O,
# Unicode 13): the reference leaves them whole when it applies NFD.
NOT_DECOMPOSED = _code_points("""
    11938
""")
_NOT_DECOMPOSED_RE = re.compile("([" + "".join(map(chr, sorted(NOT_DECOMPOSED))) + "])")

# google-research/bert's CJK Unified Ideographs blocks (+ extensions A-F and the compatibility blocks). Hangul,
# hiragana and katakana are not here: those scripts write space-separated words.
CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)
# The Rust `tokenizers` library writes the sixth range as 0x2B920-0x2CEAF, so it does not isolate these 256
# ideographs (CJK extension E, none in BERT's vocabularies). We follow google-research/bert (and transformers'
# Python BertTokenizer); the tests show the difference, and our fast path isolates them too.
CJK_RANGE_MISSING_IN_TOKENIZERS = (0x2B820, 0x2B91F)


def is_whitespace(ch: str) -> bool:
    """"\\t", "\\n", "\\r" or a Unicode separator (Zs space, Zl line, Zp paragraph); each becomes one space."""
    return ch in "\t\n\r " or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def is_control(ch: str) -> bool:
    """Cc/Cf/Co/Cs, i.e. Unicode "other" minus unassigned, but not "\\t\\n\\r"; NUL and U+FFFD are dropped as well
    by `BasicTokenizer.clean`. Zero-width space/joiner (U+200B/U+200D, Cf) are controls: they vanish."""
    if ch in "\t\n\r":
        return False
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Co", "Cs") or (cat == "Cf" and ord(ch) not in NOT_CONTROL)


def is_chinese_char(ch: str) -> bool:
    """A CJK ideograph (google-research/bert's ranges): it becomes a word of its own."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


def is_accent(ch: str) -> bool:
    """A non-spacing mark (Mn, Unicode 8.0 tables); removed after NFD when accents are stripped."""
    cp = ord(ch)
    return (unicodedata.category(ch) == "Mn" and cp not in NOT_MARK) or cp in MARK_ALSO


def is_punctuation(ch: str) -> bool:
    """ASCII symbols 33-47, 58-64, 91-96, 123-126 or Unicode P* (Unicode 8.0 tables): a word of its own."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return (unicodedata.category(ch).startswith("P") and cp not in NOT_PUNCTUATION) or cp in PUNCTUATION_ALSO


def nfd(text: str) -> str:
    """Unicode NFD (canonical decomposition, combining marks in canonical order), as the reference computes it:
    characters in NOT_DECOMPOSED stay whole (they are starters, so nothing reorders across them)."""
    if text.isascii():
        return text
    parts = _NOT_DECOMPOSED_RE.split(text)  # odd positions: the characters kept whole
    return "".join(part if i % 2 else unicodedata.normalize("NFD", part) for i, part in enumerate(parts))
