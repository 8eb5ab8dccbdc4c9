"""WordpieceTokenizer: one word -> sub-word pieces, greedy longest-match-first.

WordPiece (Schuster & Nakajima 2012; Wu et al. 2016 §4.1, the GNMT word-piece model) as BERT applies it
(Devlin et al. 2019 §3 "we use WordPiece embeddings with a 30,000 token vocabulary"; google-research/bert
`WordpieceTokenizer`). Algorithm, for one word w of n characters:

    start = 0
    while start < n:
        end = the largest end > start such that piece = w[start:end] (written "##" + w[start:end] when start > 0)
              is in the vocabulary                                       # longest match first, greedy
        if there is none: the whole word is [UNK]
        emit piece; start = end

Example (uncased BERT vocabulary): "unaffable" -> "una", "##ffa", "##ble". A word longer than
`max_input_chars_per_word` characters (100) is [UNK] without trying. No vocabulary entry is longer than the longest
entry, so `end` starts at start + (longest entry length), not at n: the same answer without quadratic work.
"""

from __future__ import annotations

from collections.abc import Container, Iterable


class WordpieceTokenizer:
    """Greedy longest-match-first WordPiece over a fixed vocabulary.

    Args:
        vocab: the vocabulary (anything supporting `in`, e.g. the token -> id dict); continuation pieces carry
            the "##" prefix, as in BERT's vocab.txt.
        unk_token: what a word becomes when it cannot be covered by vocabulary pieces.
        max_input_chars_per_word: longer words are [UNK] outright (100 in BERT).
    """

    def __init__(self, vocab: Container[str] | Iterable[str], unk_token: str = "[UNK]",
                 max_input_chars_per_word: int = 100, prefix: str = "##"):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        self.prefix = prefix
        entries = list(vocab)
        # the longest piece worth trying: at the start of a word, and after the "##" prefix
        self._longest_first = max((len(t) for t in entries), default=0)
        self._longest_next = max((len(t) - len(prefix) for t in entries if t.startswith(prefix)), default=0)

    def split(self, word: str) -> list[tuple[str, int, int]]:
        """One word -> [(piece, start, end)], word[start:end] being the characters the piece covers.
        An unmatchable or too long word -> [(unk_token, 0, len(word))]."""
        n = len(word)
        if n > self.max_input_chars_per_word:
            return [(self.unk_token, 0, n)]
        pieces, start = [], 0
        while start < n:
            end = min(n, start + (self._longest_first if start == 0 else self._longest_next))
            while end > start:  # longest match first
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            else:
                return [(self.unk_token, 0, n)]
            pieces.append((piece, start, end))
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Whitespace-separated words (already basic-tokenized) -> pieces."""
        return [piece for word in text.split() for piece, _, _ in self.split(word)]
