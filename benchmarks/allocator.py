"""glibc keeping freed memory (bert/training/allocator.py) against its default, on the Chinese pre-training step.

The allocator is a setting of the whole process, so each variant runs in a process of its own: `python -c` runs
STEPS steps of the zh-pretraining recipe (benchmarks/zh_pretraining.py: 2 layers × 128, 32 × 64 characters, 40%
masking) through `bert.pretraining.cli.pretrain` — the training without the CLI wrapper, so without
`keep_freed_memory` — calling `keep_freed_memory()` first in the "kept" variant. The variants alternate, ROUNDS
rounds, and each reports the trainer's clock over its steps (and the one held-out evaluation at the end), the system CPU time (the kernel's, mostly zeroing
pages on first touch), the minor page faults, and its last training loss (the same in both: the setting moves no
number). × = the median per-round ratio of kept to default.

    python -m benchmarks --only allocator [--quick]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

from .report import command, machine, write_section

STEPS, ROUNDS = 400, 3
VARIANTS = {"glibc default": False, "keep_freed_memory()": True}

CHILD = """
import json, os, resource, sys, torch
torch.set_num_threads({threads})
if {keep}:
    from bert.training.allocator import keep_freed_memory
    assert keep_freed_memory()
from bert.pretraining.cli import pretrain
from bert.training.metrics import read_metrics
from benchmarks.zh_pretraining import recipe_args
out = {out!r}
before = resource.getrusage(resource.RUSAGE_SELF)
summary = pretrain(recipe_args({steps}, out, eval_every=0))
after = resource.getrusage(resource.RUSAGE_SELF)
last = read_metrics(os.path.join(out, "metrics.jsonl"), "train")[-1]
print(json.dumps({{"seconds": summary["elapsed"], "sys_s": after.ru_stime - before.ru_stime,
                  "user_s": after.ru_utime - before.ru_utime, "minflt": after.ru_minflt - before.ru_minflt,
                  "loss": last["loss"]}}))
"""


def child(keep: bool, steps: int, threads: int) -> dict:
    """One variant in a fresh process; returns its numbers."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        code = CHILD.format(threads=threads, keep=keep, out=os.path.join(tmp, "run"), steps=steps)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the {'kept' if keep else 'default'} variant failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(device: str, data: str | None, quick: bool) -> None:
    import torch

    if device != "cpu":
        print("allocator: skipped (glibc's malloc holds CPU tensors; CUDA memory has torch's caching allocator)")
        return
    steps, rounds = (STEPS // 4, 1) if quick else (STEPS, ROUNDS)
    threads = torch.get_num_threads()
    results = {name: [] for name in VARIANTS}
    for r in range(rounds):
        for name, keep in VARIANTS.items():
            print(f"allocator: round {r + 1}/{rounds}, {name}", flush=True)
            results[name].append(child(keep, steps, threads))
    base, kept = results["glibc default"], results["keep_freed_memory()"]
    ratio = statistics.median(k["seconds"] / b["seconds"] for b, k in zip(base, kept))
    lines = ["### The allocator: glibc keeping freed memory on a CPU training step", "",
             f"`{command()}` on {machine()}. {steps} steps of the zh-pretraining recipe (2 layers × "
             "128, 32 × 64 characters, 40% masking) per process, the variants alternating, "
             f"{rounds} round{'s' * (rounds > 1)}; medians over the rounds. × = median per-round ratio to the "
             "default.",
             "", "| variant | ms per step | system CPU s | minor page faults | last loss | × default |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, rows in results.items():
        med = {k: statistics.median(row[k] for row in rows) for k in ("seconds", "sys_s", "minflt")}
        lines.append(f"| {name} | {1e3 * med['seconds'] / steps:.1f} | {med['sys_s']:.1f} | {med['minflt']:,.0f} | "
                     f"{rows[-1]['loss']:.6f} | {1.0 if rows is base else ratio:.3f} |")
    same = all(b["loss"] == k["loss"] for b, k in zip(base, kept))
    lines += ["", f"The last losses are {'bit for bit the same' if same else 'NOT the same'} in every round: the "
              "setting changes where freed memory goes, not what is computed."]
    write_section("allocator", "\n".join(lines), device=device, quick=quick)
    print("\n".join(lines))
