"""bert/training/allocator.py: glibc keeps freed memory, so a step's large tensors no longer fault their pages in
again (counted as minor page faults, not timed); elsewhere it does nothing and says so."""

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from bert.training import allocator, runs

ROOT = Path(__file__).resolve().parents[3]            # the repository: `import bert` in the child
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# In a fresh process: each round allocates four 20 MB tensors, writes them, frees them (as a training step does with
# its logits); the minor page faults of rounds 4-6, first with glibc's starting mmap threshold (128 KB) held fixed —
# its default moves that threshold as blocks are freed, so whether a given run's later rounds still fault depends on
# the run — then after keep_freed_memory() (by round 4 the heap has found its size).
PROBE = """
import ctypes, json, resource, torch
from bert.training import allocator
libc = ctypes.CDLL("libc.so.6")
def faults():
    counts = []
    for _ in range(6):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        blocks = [torch.empty(5 * 2 ** 20).fill_(1.0) for _ in range(4)]
        del blocks
        counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return sum(counts[3:])
assert libc.mallopt(allocator.M_MMAP_THRESHOLD, 128 * 1024) == 1
returned = faults()
kept = allocator.keep_freed_memory()
print(json.dumps({"returned": returned, "kept": kept, "after": faults()}))
"""


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only (Linux with glibc)")
def test_kept_memory_is_not_faulted_in_again_each_round():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=ROOT)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    pages = 3 * 4 * 20 * 2 ** 20 // 4096                # three rounds of 80 MB in 4 KB pages, if all are fresh
    assert r["kept"] is True
    assert r["returned"] > pages // 2                   # given back to the kernel: every round faults them in again
    assert r["after"] < pages // 20                     # kept: the heap's own pages are reused


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only (Linux with glibc)")
def test_it_says_true_with_glibc_and_a_second_call_changes_nothing():
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True


def test_without_glibc_it_does_nothing_and_says_false(monkeypatch):
    monkeypatch.setattr(allocator, "_kept", False)
    monkeypatch.setattr(allocator.platform, "system", lambda: "Darwin")
    assert allocator.keep_freed_memory() is False
    monkeypatch.setattr(allocator.platform, "system", lambda: "Linux")
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))      # musl
    assert allocator.keep_freed_memory() is False


def test_the_training_clis_keep_freed_memory_before_they_run(monkeypatch):
    calls = []
    monkeypatch.setattr(runs, "keep_freed_memory", lambda: calls.append("kept"))
    assert runs.run_cli("prog", lambda argv: calls.append(argv) or "done", ["--x"]) == "done"
    assert calls == ["kept", ["--x"]]
