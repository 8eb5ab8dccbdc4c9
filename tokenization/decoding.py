"""Ids -> text: how the reference WordPiece decoder joins tokens back into a string.

    ["the", "un", "##aff", "##able", "man", "."]  ->  "the unaffable man."

Tokens are joined by spaces, except that a "##" piece is glued to the token before it; each token (with its
leading space) then loses the space before "." "?" "!" "," and a few contractions (`join_tokens`, as the
`tokenizers` library's WordPiece decoder does). Hugging Face's `clean_up_tokenization_spaces` is a second,
optional clean-up of the whole string (`clean_up_tokenization`).
"""

from __future__ import annotations

import numbers
from typing import Any

# (dirty, clean) pairs: the first for each token, the second for a whole decoded string (Hugging Face's lists)
_TOKEN_CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                  (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))
_TEXT_CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                 (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def join_tokens(tokens: list[str]) -> str:
    """WordPiece tokens -> text, as the reference WordPiece decoder does (see the module docstring)."""
    out = []
    for i, token in enumerate(tokens):
        if i > 0:
            token = token[2:] if token.startswith("##") else " " + token
        for dirty, clean in _TOKEN_CLEANUP:  # each token (with its leading space) on its own
            token = token.replace(dirty, clean)
        out.append(token)
    return "".join(out)


def clean_up_tokenization(text: str) -> str:
    """Hugging Face's clean_up_tokenization_spaces, on a whole decoded string."""
    for dirty, clean in _TEXT_CLEANUP:
        text = text.replace(dirty, clean)
    return text


def as_id_list(ids: Any, name: str) -> list[int]:
    """A sequence of ints (list, tuple, 1-D tensor or array) or one int -> list of int; anything else -> TypeError."""
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    if isinstance(ids, numbers.Integral) and not isinstance(ids, bool):
        return [int(ids)]
    if not isinstance(ids, (list, tuple)) or not all(isinstance(i, numbers.Integral) and not isinstance(i, bool)
                                                     for i in ids):
        raise TypeError(f"{name}: expected a sequence of ints (one sequence; use batch_decode for a batch), "
                        f"got {type(ids).__name__}")
    return [int(i) for i in ids]


__all__ = ["as_id_list", "clean_up_tokenization", "join_tokens"]
