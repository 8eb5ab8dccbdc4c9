"""Text files as the corpus readers see them: UTF-8 (a byte-order mark dropped), line by line, with clear errors."""

from __future__ import annotations

import os
from collections.abc import Iterator

Document = list[str]  # one document: its sentences, in order


def _open_text(path: str):
    if not os.path.exists(path):
        raise FileNotFoundError(f"corpus: no such file {path!r} (expected a UTF-8 text file, a folder of .txt files, "
                                f"'stdlib' or 'peoples-daily')")
    if not os.path.isfile(path):
        raise IsADirectoryError(f"corpus: {path!r} is not a file")
    return open(path, encoding="utf-8-sig", errors="strict")          # UTF-8, with or without a byte-order mark


def text_lines(path: str) -> Iterator[str]:
    """The lines of a UTF-8 text file (a byte-order mark dropped), without their line ends; clear errors."""
    with _open_text(path) as f:
        try:
            for line in f:
                yield line.rstrip("\n")
        except UnicodeDecodeError as e:
            raise ValueError(f"corpus: {path!r} is not UTF-8 text ({e.reason} at byte {e.start})") from None
