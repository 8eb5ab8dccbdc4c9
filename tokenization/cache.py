"""A memo of bounded size: the tokenizer remembers each chunk of text it has split, but never more than a fixed number.

Splitting a whitespace-free chunk of cleaned text ("unaffable," -> una ##ffa ##ble ,) is the slow part of the
from-scratch tokenizer, and text repeats its words (Zipf's law: a few thousand chunks make up most of any
corpus), so `BertTokenizer` keeps chunk -> (ids, spans). Unbounded, that memo grows with every new word of a long
input, and a stream of distinct chunks (numbers, hashes, URLs, a text without spaces) grows it without limit.

The bound, in numbers:

    at most MAX_ENTRIES = 65,536 chunks      the least recently used one is dropped to make room
    each of at most MAX_CHARS = 32 chars     a longer chunk is split every time and not remembered

so the memo holds at most 65,536 x 32 characters of keys and their ids and spans. Measured (tracemalloc): about
500 bytes an entry on English text (about 30 MB when full), about 2.7 KB for the worst entry, a 32-character chunk
of 32 one-character pieces (under 200 MB when full of those). The answer never depends on the memo: a miss
computes what a hit would return.
(The same policy as `functools.lru_cache(maxsize=...)`, written out so that a tokenizer still pickles, e.g. into
DataLoader workers.)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")

MAX_ENTRIES = 65_536
MAX_CHARS = 32


class BoundedCache(Generic[V]):
    """str -> value, least recently used first out, holding at most `max_entries` keys of at most `max_chars`
    characters each (`put` ignores longer keys)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_chars: int = MAX_CHARS):
        if max_entries < 1 or max_chars < 1:
            raise ValueError(f"BoundedCache: max_entries and max_chars must be >= 1, got {max_entries}, {max_chars}")
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._entries: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        """The value remembered for `key` (now the most recently used), or None."""
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> V:
        """Remember `value` for `key` (unless the key is too long), dropping the least recently used entry when
        full; returns `value`."""
        if len(key) <= self.max_chars:
            self._entries[key] = value
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def clear(self) -> None:
        self._entries.clear()


__all__ = ["MAX_CHARS", "MAX_ENTRIES", "BoundedCache"]
