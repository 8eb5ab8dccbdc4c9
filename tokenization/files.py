"""Writing so that a crash never leaves half of anything: the one atomic-write helper of the project, for files
and for whole folders.

A file:    write to PATH.tmp-<owner> (beside PATH, same file system) → flush → fsync → os.replace(tmp, PATH)

`os.replace` is atomic: at every instant PATH is either the old file or the complete new one. A failure while
writing removes the temporary file and leaves PATH as it was.

A folder (`atomic_folder`, for checkpoints: config.json and the weights must change together):

    build the new folder beside the old one, .NAME.tmp-<pid>  (the caller writes its files into it)
    → carry over, as hard links, every entry of the old folder the caller did not write (vocab.txt, metrics.jsonl,
      a checkpoints/ subfolder: no data is copied)  → fsync every file written and every folder
    → swap the two folders in one step: renameat2(RENAME_EXCHANGE) (Linux ≥ 3.15; ext4, xfs, btrfs, tmpfs, …)
    → fsync the parent → delete the old folder (it now has the temporary name)

At every instant PATH is the complete old folder or the complete new one: a kill leaves one of them, never a mix.
Where RENAME_EXCHANGE is missing (another OS, a file system without it) two renames are used instead —
PATH → .NAME.old-<pid>, then the new folder → PATH — and between them PATH is absent; `folder_to_read` (used by
the loaders) then reads the old folder from .NAME.old-<pid>, and the next save puts it back before it starts.
Leftovers of a killed save (.NAME.tmp-<pid>, .NAME.old-<pid>) are hidden names that readers ignore; the next save
of the folder removes those whose owner <pid> has ended (`clean_leftovers`): a running writer's folder is left
alone. A thread other than the main one writes <pid>-<thread id> (`owner`), so two writers of one folder at once
each finish, and the folder is one complete version (the last swap's; the two-rename fallback wants one writer at
a time). A folder that cannot be renamed (a mount point; a parent we may not write) is updated in place, file by
file, with a warning.

A public, documented module — the bottom floor every package may use: it lives in `tokenization`, the lowest
package (tokenization ← bert ← distil), and imports nothing of the project. Its API (`__all__`): atomic_write,
atomic_path, write_text / write_json (read_json: the matching reader), atomic_folder (folder_to_read: where to read
one), and the folder swap's parts for the loaders and the tests: clean_leftovers, fsync_dir, exchange_paths.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import re
import shutil
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import IO, Any


def owner() -> str:
    """Who a temporary name belongs to: this process's id — and, in a thread other than the main one, the
    thread's id after it (`<pid>-<tid>`), so that two threads saving at once never share a temporary name."""
    if threading.current_thread() is threading.main_thread():
        return str(os.getpid())
    return f"{os.getpid()}-{threading.get_native_id()}"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path to write by name (for libraries that take a path: safetensors, torch.save,
    savefig); on success it is fsynced and renamed to `path`, on failure removed."""
    root, ext = os.path.splitext(os.fspath(path))
    tmp = f"{root}.tmp-{owner()}{ext}"              # beside it, one per writer, the extension kept (savefig reads it)
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


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file, UTF-8 with or without a byte-order mark (as Windows editors save it); a file that is
    not UTF-8 or not valid JSON is a ValueError naming it."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path!r} is not UTF-8 text ({e})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path!r} is not valid JSON: {e}") from None


# ---------------------------------------------------------------- folders
RENAME_EXCHANGE, AT_FDCWD = 2, -100           # <linux/fs.h>, <fcntl.h>
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)(-\d+)?$")  # -<thread id>: owner()


def fsync_dir(path: str) -> None:
    """Make the names in folder `path` durable (POSIX: fsync the folder itself); a no-op where not supported."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EBADF):  # some file systems cannot fsync a folder
            raise
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=None)
def _renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc ≥ 2.28
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


def exchange_paths(a: str, b: str) -> bool:
    """Swap the two existing paths `a` and `b` in one atomic step: renameat2(…, RENAME_EXCHANGE) through ctypes.
    Returns False, changing nothing, where the OS, C library or file system lacks it."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, f"renameat2(RENAME_EXCHANGE) of {a!r} and {b!r}: {os.strerror(err)}")


def _sibling(path: str, kind: str) -> str:
    parent, name = os.path.split(path)
    return os.path.join(parent, f".{name}.{kind}-{owner()}")


def _alive(pid: int) -> bool:
    """Is process `pid` running (this one included)? Signal 0 asks without sending anything; where there is no
    such signal (Windows) every other process counts as ended, the rule before owners were checked."""
    if pid == os.getpid() or os.name != "posix":
        return pid == os.getpid()
    try:
        os.kill(pid, 0)
    except (OSError, OverflowError) as e:
        return isinstance(e, PermissionError)           # another user's process; else none of that id
    return True


def _leftovers(parent: str, name: str | None = None) -> list[tuple[str, re.Match]]:
    found = [(os.path.join(parent, e), m) for e in sorted(os.listdir(parent)) if (m := _LEFTOVER.match(e))]
    return [(p, m) for p, m in found if name is None or m["name"] == name]


def folder_to_read(path: str | os.PathLike) -> str:
    """The folder a loader should read for `path`: `path` itself, or — while a save without RENAME_EXCHANGE is
    between its two renames, or was killed there — the old folder, .NAME.old-<pid> beside it. Reads only."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(parent):
        return path
    old = [p for p, m in _leftovers(parent, os.path.basename(os.path.abspath(path))) if m["kind"] == "old"]
    return max(old, key=os.path.getmtime) if old else path


def clean_leftovers(parent: str, name: str | None = None) -> None:
    """Remove what killed saves left in `parent` (of folder `name`, or of every folder): .NAME.tmp-<pid>;
    .NAME.old-<pid> is put back as NAME when NAME is missing (a fallback save killed between its renames). A
    leftover whose owner <pid> is a running process — this one, or another saving the same folder right now —
    is not a leftover: it is left alone (its owner removes it)."""
    for path, m in _leftovers(parent, name):
        target = os.path.join(parent, m["name"])
        if _alive(int(m["pid"])):
            continue
        if m["kind"] == "old" and os.path.isdir(path) and not os.path.lexists(target):
            os.rename(path, target)
        else:
            with contextlib.suppress(OSError):
                _remove(path)


def _fsync_tree(root: str, files: bool) -> None:
    for folder, _, names in os.walk(root):
        for n in names if files else ():
            p = os.path.join(folder, n)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
        fsync_dir(folder)


def _link_or_copy(src: str, dst: str) -> None:
    """A hard link (no data copied; the file is shared until the old folder is deleted); a copy where links fail."""
    try:
        os.link(src, dst)                               # src is never a symlink: those are recreated as links
    except OSError:
        shutil.copy2(src, dst)
        with open(dst, "rb") as f:
            os.fsync(f.fileno())


def _carry_over(old: str, new: str, keep: Callable[[str], bool]) -> None:
    """Put into `new` every entry of `old` that `new` lacks and `keep(name)` accepts (file trees as hard links).
    Another writer may swap `old` away and delete it meanwhile: then what was carried is dropped and the folder
    now at that path is carried over instead (up to three tries)."""
    written = set(os.listdir(new))
    for attempt in range(3):
        try:
            return _carry_entries(old, new, keep)
        except FileNotFoundError:
            if attempt == 2:
                raise
            for entry in set(os.listdir(new)) - written:
                _remove(os.path.join(new, entry))


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _carry_entries(old: str, new: str, keep: Callable[[str], bool]) -> None:
    for entry in os.scandir(old):
        dst = os.path.join(new, entry.name)
        if os.path.lexists(dst) or not keep(entry.name):
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), dst)
        elif entry.is_dir():
            shutil.copytree(entry.path, dst, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry.path, dst)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, carry_over: Callable[[str], bool] = lambda name: True) -> Iterator[str]:
    """`with atomic_folder(dir) as tmp:` write the new folder's files into `tmp`; when the block ends, `dir` becomes
    that folder in one atomic step, with every entry of the old `dir` that the block did not write and that
    `carry_over(name)` accepts carried over. A failure in the block removes `tmp` and leaves `dir` as it was.
    The scheme, its fallback and its guarantee: the module docstring. `dir` may be a symlink (its target is swapped).
    A process whose working directory is inside `dir` (e.g. `save_pretrained(".")`) is moved into the new folder,
    since the old one is deleted.

    A folder that cannot be swapped — a mount point, or one whose parent we may not write — is updated in place
    instead, with a warning: each entry replaced atomically by itself, not all of them together."""
    path = os.path.realpath(os.fspath(path))
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OSError(f"{path!r} exists and is not a directory")
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    in_place = os.path.isdir(path) and (os.path.ismount(path) or not os.access(parent, os.W_OK))
    if in_place:
        warnings.warn(f"{path!r} is a mount point or its parent is read-only, so it cannot be swapped as a whole: "
                      "its files are replaced one by one (each atomically); save into a subfolder to have the "
                      "whole-folder guarantee", RuntimeWarning, stacklevel=3)
    clean_leftovers(path if in_place else parent, name)  # first puts back an old folder a killed fallback set aside
    tmp = os.path.join(path, f".{name}.tmp-{owner()}") if in_place else _sibling(path, "tmp")
    os.mkdir(tmp)
    try:
        yield tmp
        _fsync_tree(tmp, files=True)                    # what the block wrote
        if in_place:
            _replace_entries(path, tmp, carry_over)
            return
        if os.path.isdir(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            _carry_over(path, tmp, carry_over)
            _fsync_tree(tmp, files=False)               # the carried names (their data is already on disk)
        cwd = _cwd_inside(path)
        if not _rename_if_new(tmp, path) and not exchange_paths(tmp, path):  # fallback: two renames (folder_to_read)
            old = _sibling(path, "old")
            os.rename(path, old)
            try:
                os.rename(tmp, path)
            except BaseException:
                os.rename(old, path)
                raise
            tmp = old
        fsync_dir(parent)
        if cwd is not None:                             # a process inside the old folder follows it to the new one
            os.chdir(cwd if os.path.isdir(cwd) else path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)          # the old folder (after a swap) or the unfinished new one


def _rename_if_new(tmp: str, path: str) -> bool:
    """Rename `tmp` to `path` when there is no `path`; False, changing nothing, when there is — also when another
    writer created it since we looked (the rename then fails: ENOTEMPTY / EEXIST)."""
    if os.path.lexists(path):
        return False
    try:
        os.rename(tmp, path)
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise
    return True


def _replace_entries(path: str, tmp: str, carry_over: Callable[[str], bool]) -> None:
    """In-place update of `path` from `tmp` (inside it): drop the old entries neither written nor carried over,
    then move each new entry into place with one rename (a folder entry: the old one removed first)."""
    written = set(os.listdir(tmp))
    for entry in os.listdir(path):
        old = os.path.join(path, entry)
        if old != tmp and entry not in written and not carry_over(entry):
            _remove(old)
    for entry in sorted(written):
        dst = os.path.join(path, entry)
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        os.replace(os.path.join(tmp, entry), dst)
    fsync_dir(path)


def _cwd_inside(path: str) -> str | None:
    with contextlib.suppress(OSError):
        cwd = os.getcwd()
        if cwd == path or cwd.startswith(path + os.sep):
            return cwd
    return None


__all__ = ["atomic_path", "atomic_write", "write_text", "write_json", "read_json", "atomic_folder",
           "exchange_paths", "folder_to_read", "clean_leftovers", "fsync_dir"]
