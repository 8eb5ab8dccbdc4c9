"""`make bench`: run every benchmark (or those named with --only) and write docs/benchmarks.md.

With --quick (small sizes, few repeats: a smoke run, not a measurement) the sections go to
docs/benchmarks-quick.md instead, with the figure and raw results as docs/*-quick.* beside it, so a smoke run never
replaces the recorded numbers. Each benchmark module has `run(device: str, data: str | None, quick: bool) -> None`;
the timing loop they share is bert/tools/timing.py.
"""

from __future__ import annotations

import argparse
import importlib
import os

import torch

from bert.training.allocator import keep_freed_memory

# modules of this package, run in this order
BENCHES = ["attention", "model", "tokenizer", "pretraining", "classroom", "distil", "ner", "step", "optimizer",
           "allocator", "padding", "zh-pretraining", "zh", "explore", "unpad-model"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=BENCHES, help="run only these benchmarks")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    ap.add_argument("--data", default="../shared/data", help="folder with sst2/ etc. (default: ../shared/data)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2, this machine's cores)")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes and few repeats (a smoke run), written to docs/benchmarks-quick.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    keep_freed_memory()                                             # as the training CLIs do (bert/training/allocator.py)
    data = args.data if args.data and os.path.isdir(args.data) else None
    for name in args.only or BENCHES:
        print(f"== benchmark: {name}", flush=True)
        module = name.replace("-", "_")                             # "unpad-model" -> benchmarks/unpad_model.py
        importlib.import_module(f"benchmarks.{module}").run(device=args.device, data=data, quick=args.quick)


if __name__ == "__main__":
    main()
