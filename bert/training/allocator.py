"""Keep freed memory in the process: on Linux, glibc's malloc otherwise makes a CPU training step pay for page faults.

A training step allocates and frees the same large tensors every step — the MLM decoder's logits alone are
32 × 26 × 5,761 floats (19 MB) in the Chinese pre-training benchmark. glibc's malloc gives a block above its *mmap
threshold* back to the kernel as soon as it is freed (the threshold starts at 128 KB and rises, up to 32 MB, as such
blocks are freed), and returns the top of its heap to the kernel once more than its *trim threshold* is free there.
Either way the next step's tensor gets fresh pages, and the kernel zeroes each 4 KB page on first touch: in the
Chinese pre-training (2 threads, 32 × 64 tokens) 600 steps took 49 s, and the kernel's share of the CPU time was 14 s;
keeping the memory made the steps 16% faster with the same losses (docs/benchmarks.md, "allocator").

PyTorch's CPU performance tuning guide says the same and suggests replacing the allocator (jemalloc or tcmalloc,
through LD_PRELOAD, before the process starts). `keep_freed_memory` does the part that needs no extra library, from
inside a running process: glibc's mallopt(3) with the mmap threshold at its maximum (32 MB: smaller blocks come from
the heap and go back to it) and a trim threshold of 2 GB (the largest it takes), so the process keeps its peak heap.
The training CLIs call it (`runs.run_cli`); library code does not, since it changes the whole process. Elsewhere
(macOS, Windows, musl) it does nothing and says so by returning False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD = -1          # glibc's malloc.h: parameter numbers for mallopt(3)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024      # the largest mmap threshold glibc accepts on a 64-bit machine
TRIM_THRESHOLD_MAX = 2 ** 31 - 1           # mallopt takes an int: the most free memory (2 GB) kept on top

_kept = False


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks of up to 32 MB in the heap and to trim it only above 2 GB free. Returns True
    when glibc took both settings (Linux with glibc), False where there is no glibc; a second call changes nothing."""
    global _kept
    if _kept:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _kept = (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) == 1       # mallopt returns 1 on success
             and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_MAX) == 1)
    return _kept
