"""Writing a file so that a crash never leaves half of one: the one atomic-write helper of the project.

    write to PATH.tmp-<pid> (beside PATH, same file system) → flush → fsync → os.replace(tmp, PATH)

`os.replace` is atomic: at every instant PATH is either the old file or the complete new one. A failure while
writing removes the temporary file and leaves PATH as it was. It lives in `tokenization`, the lowest of the three
packages, so that tokenization, bert and distil share it (their dependencies point one way:
tokenization ← bert ← distil).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import IO, Any


def _temporary_name(path: str) -> str:
    """PATH.tmp-<pid><ext>: beside the target, unique per process, keeping the extension (savefig reads it)."""
    root, ext = os.path.splitext(path)
    return f"{root}.tmp-{os.getpid()}{ext}"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path to write by name (for libraries that take a path: safetensors, torch.save,
    savefig); on success it is fsynced and renamed to `path`, on failure removed."""
    path = os.fspath(path)
    tmp = _temporary_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """`with atomic_write(path) as f: f.write(...)` — an open file that replaces `path` when the block ends."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=None if mode == "wb" else encoding) as f:
            yield f


def write_text(path: str | os.PathLike, text: str) -> None:
    """Replace `path` by `text` (UTF-8), atomically."""
    with atomic_write(path) as f:
        f.write(text)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    """Replace `path` by `obj` as JSON, atomically."""
    with atomic_write(path) as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
        f.write("\n")


__all__ = ["atomic_path", "atomic_write", "write_text", "write_json"]
