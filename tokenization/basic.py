"""BasicTokenizer: raw text -> words, before WordPiece (Devlin et al. 2019 §3; google-research/bert `BasicTokenizer`).

The four stages; every output character remembers the input character it came from (which gives the offsets):

    1. clean        drop NUL, U+FFFD and control characters; every kind of whitespace -> " "
    2. CJK          put spaces around each CJK ideograph: "我爱BERT" -> " 我  爱 BERT"
    3. normalise    strip accents (NFD, then drop Mn marks: "café" -> "cafe"), then lower-case
    4. split        on whitespace, then every punctuation character becomes a word: "don't!" -> don ' t !

Stages 1-2 rewrite one character at a time, on the whole text; 3-4 work on each whitespace-separated chunk, except
chunks listed in `never_split` (kept as they are). NFD decomposes each character and puts runs of combining marks
in canonical order. Lower-casing is done character by character, as the reference does (Python's str.lower() on a
whole string would write a word-final Greek sigma as "ς"; the reference writes "σ").
The character classes and their exact definitions are in `tokenization/chars.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from .chars import is_accent, is_chinese_char, is_control, is_punctuation, is_whitespace, nfd

# Stage 1 for pure-ASCII text, as one str.translate: ASCII controls vanish, "\t\n\r" become spaces.
_ASCII_CLEAN = {cp: None for cp in [*range(0, 9), 11, 12, *range(14, 32), 127]} | {9: " ", 10: " ", 13: " "}
_NON_SPACE = re.compile(r"[^ ]+")


class _CharMap(dict):
    """A memo of a function of one character: cache[ch] computes fn(ch) the first time."""

    def __init__(self, fn: Callable[[str], str]):
        super().__init__()
        self.fn = fn

    def __missing__(self, ch: str) -> str:
        out = self[ch] = self.fn(ch)
        return out


def _rewrite(text: str, char_map: _CharMap) -> tuple[str, list[int]]:
    """Apply a per-character rewrite; origins[i] is the index in `text` of the character that produced out[i]."""
    parts = list(map(char_map.__getitem__, text))
    origins = [i for i, part in enumerate(parts) for _ in part]
    return "".join(parts), origins


class BasicTokenizer:
    """Text -> words: clean, isolate CJK ideographs, strip accents and lower-case, split off punctuation.

    Args:
        do_lower_case: lower-case the text (uncased checkpoints).
        never_split: chunks (whitespace-separated, after cleaning) that are kept whole: not lower-cased, not split.
        tokenize_chinese_chars: make every CJK ideograph a word of its own.
        strip_accents: remove accent marks; None (default) means "the same as do_lower_case", as in BERT.
    """

    def __init__(self, do_lower_case: bool = True, never_split: Iterable[str] | None = None,
                 tokenize_chinese_chars: bool = True, strip_accents: bool | None = None):
        self.do_lower_case = bool(do_lower_case)
        self.never_split = frozenset(never_split or ())
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.strip_accents = self.do_lower_case if strip_accents is None else bool(strip_accents)
        self._text_chars = _CharMap(self._clean_and_cjk_char)  # stages 1-2, memoised

    # ---- each stage is a rewrite of one character ----
    @staticmethod
    def _clean_char(ch: str) -> str:
        if ch in "\x00\ufffd" or is_control(ch):
            return ""
        return " " if is_whitespace(ch) else ch

    def _cjk_char(self, ch: str) -> str:
        return f" {ch} " if self.tokenize_chinese_chars and len(ch) == 1 and is_chinese_char(ch) else ch

    def _clean_and_cjk_char(self, ch: str) -> str:  # a method, not a lambda, so that a tokenizer pickles
        return self._cjk_char(self._clean_char(ch))

    # ---- the stages on a whole text (python -m tokenization prints them one after the other) ----
    def clean(self, text: str) -> str:
        """Stage 1: drop NUL, U+FFFD and control characters; each whitespace character becomes one space."""
        return "".join(map(self._clean_char, text))

    def split_chinese(self, text: str) -> str:
        """Stage 2: surround each CJK ideograph with spaces, so that it becomes a word of its own."""
        return "".join(map(self._cjk_char, text))

    def normalize(self, text: str) -> str:
        """Stage 3: strip accents (NFD, then drop Mn marks) if asked, then lower-case character by character."""
        return self._normalize_with_origins(text)[0]

    def split_punctuation(self, text: str) -> list[str]:
        """Stage 4b (after splitting on spaces): every punctuation character is a word; the runs between are words."""
        return [word for word, _ in _split_punctuation(text, range(len(text)))]

    # ---- the whole pipeline ----
    def tokenize(self, text: str) -> list[str]:
        """Text -> words (no WordPiece yet)."""
        return [word for word, _, _ in self.tokenize_with_offsets(text)]

    def tokenize_with_offsets(self, text: str) -> list[tuple[str, int, int]]:
        """Text -> (word, start, end): text[start:end] is the stretch of input that the word came from."""
        cleaned, origins = self.clean_and_split_chinese(text)
        out = []
        for m in _NON_SPACE.finditer(cleaned):
            for word, where in self.words(m.group()):
                out.append((word, origins[m.start() + where[0]], origins[m.start() + where[-1]] + 1))
        return out

    def clean_and_split_chinese(self, text: str) -> tuple[str, Sequence[int]]:
        """Stages 1-2 on the whole text. Returns the result (whose only whitespace is " ") and, for each of its
        characters, the index of the input character it came from."""
        if text.isascii():  # fast path, same answer (tested): nothing to do but drop controls and map whitespace
            cleaned = text.translate(_ASCII_CLEAN)
            if len(cleaned) == len(text):
                return cleaned, range(len(text))
        return _rewrite(text, self._text_chars)

    def words(self, chunk: str) -> list[tuple[str, Sequence[int]]]:
        """Stages 3-4 on one whitespace-free chunk -> [(word, where)]: where[i] is the index in `chunk` of the
        character that word[i] came from (accent stripping and lower-casing may change the length)."""
        if chunk in self.never_split:
            return [(chunk, range(len(chunk)))]
        normalized, origins = self._normalize_with_origins(chunk)
        return _split_punctuation(normalized, origins)

    def _normalize_with_origins(self, text: str) -> tuple[str, list[int]]:
        chars, origins = text, range(len(text))
        if self.strip_accents:
            # NFD decomposes each character ("é" -> "e" + U+0301) and puts runs of combining marks in canonical
            # order; the k-th output character is credited to the input character whose decomposition holds
            # the k-th position (so a reordered mark is credited by position, not by identity).
            chars = nfd(text)
            origins = [i for i, ch in enumerate(text) for _ in nfd(ch)]
            kept = [k for k, ch in enumerate(chars) if not is_accent(ch)]
            chars, origins = "".join(chars[k] for k in kept), [origins[k] for k in kept]
        if self.do_lower_case:  # one character at a time: a final "Σ" becomes "σ", as in the reference
            lowered = [ch.lower() for ch in chars]
            chars = "".join(lowered)
            origins = [origin for origin, low in zip(origins, lowered) for _ in low]
        return chars, list(origins)


def _split_punctuation(text: str, origins: Sequence[int]) -> list[tuple[str, Sequence[int]]]:
    """Each punctuation character is a word, and so is each run of other characters; with their origins."""
    out, start = [], 0
    for i, ch in enumerate(text):
        if is_punctuation(ch):
            if start < i:
                out.append((text[start:i], origins[start:i]))
            out.append((ch, origins[i:i + 1]))
            start = i + 1
    if start < len(text):
        out.append((text[start:], origins[start:]))
    return out
