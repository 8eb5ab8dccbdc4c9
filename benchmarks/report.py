"""Write one named section of docs/benchmarks.md, leaving the other sections as they are.

A `--quick` (smoke) run writes to docs/benchmarks-quick.md instead (and its figures and raw results to
docs/*-quick.*), so it never replaces the recorded full-run numbers."""

from __future__ import annotations

import os
import platform
import re
import sys

import torch

from tokenization.files import write_text

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
DOC = os.path.join(DOCS, "benchmarks.md")
HEADER = ("# Benchmarks\n\nWritten by `make bench` (`python -m benchmarks`); each section says the machine and the "
          "command that produced it. Ratios are from interleaved runs in one process, because these machines are "
          "noisy.\n")
QUICK_HEADER = ("# Benchmarks: quick smoke runs\n\nWritten by `python -m benchmarks --quick` (small sizes, few "
                "repeats: a check that the benchmarks run, not a measurement); the recorded numbers are in "
                "benchmarks.md.\n")


def machine() -> str:
    """One line naming the machine: CPU model, cores/threads, torch version, and the GPU if one is used."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"Python {platform.python_version()}{gpu}")


def doc_path(filename: str, quick: bool = False) -> str:
    """docs/FILENAME, or docs/STEM-quick.EXT for a quick run (docs/benchmarks-quick.md, ...)."""
    stem, ext = os.path.splitext(filename)
    return os.path.join(DOCS, f"{stem}-quick{ext}" if quick else filename)


def write_section(name: str, body: str, device: str = "cpu", doc: str | None = None,
                  quick: bool = False) -> None:
    """Replace (or append) the block between `<!-- begin NAME -->` and `<!-- end NAME -->` of `doc` (default:
    docs/benchmarks.md, or docs/benchmarks-quick.md when `quick`), atomically. Results on another device than the
    CPU go to their own block (NAME-cuda), so a GPU run keeps the CPU tables."""
    doc = doc or doc_path("benchmarks.md", quick)
    name = name if device == "cpu" else f"{name}-{device.split(':')[0]}"
    text = open(doc, encoding="utf-8").read() if os.path.exists(doc) else (QUICK_HEADER if quick else HEADER)
    block = f"<!-- begin {name} -->\n{body.rstrip()}\n<!-- end {name} -->"
    pattern = re.compile(rf"<!-- begin {re.escape(name)} -->.*?<!-- end {re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    os.makedirs(os.path.dirname(doc), exist_ok=True)
    write_text(doc, text)


def command() -> str:
    """The command line that ran, as a user types it: `python -m benchmarks …` or `python -m benchmarks.NAME …`."""
    first = sys.argv[0]
    module = "benchmarks" if first.endswith("__main__.py") else (
        f"benchmarks.{os.path.basename(first)[:-3]}" if first.endswith(".py") else first)
    return "python -m " + " ".join([module, *sys.argv[1:]])
