"""What every training CLI shares around the loop: run.json (the settings a resumed run must keep) and the exit
codes of `main`.

OUT/run.json holds {"args": the command line's settings, "data": what the data came to, …, "summary": the loop's
summary at the end}. `--resume` continues a run only with the settings that decide its data, model and batches
(each CLI names them in its RESUME_KEYS); anything else (more steps, another eval interval) may change.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tokenization.files import write_json

from .loop import NonFiniteLossError

RUN_FILE = "run.json"


def check_resume(args: argparse.Namespace, keys: Sequence[str]) -> None:
    """--resume: OUT/run.json must exist and agree with `args` on every setting in `keys`."""
    path = os.path.join(args.out, RUN_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--resume: {path!r} not found; is {args.out!r} the folder of an earlier run?")
    with open(path, encoding="utf-8") as f:
        before = json.load(f)["args"]
    now = vars(args)
    changed = [f"--{k.replace('_', '-')}: {before.get(k)!r} then, {now.get(k)!r} now" for k in keys
               if before.get(k) != now.get(k)]
    if changed:
        raise ValueError("--resume needs the settings of the run it continues; changed: " + "; ".join(changed))


def write_run(out: str, new: bool = False, **sections: Any) -> None:
    """Write `sections` into OUT/run.json, atomically: a fresh file when `new`, else added to what is there."""
    path = os.path.join(out, RUN_FILE)
    run: dict[str, Any] = {}
    if not new and os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            run = json.load(f)
    write_json(path, {**run, **sections})


def run_cli(prog: str, fn: Callable[[list[str] | None], Any], argv: list[str] | None) -> Any:
    """`fn(argv)` for a training CLI: a NaN/inf stop exits with status 3 and a bad argument or path with status 2,
    each with a one-line message instead of a traceback."""
    try:
        return fn(argv)
    except NonFiniteLossError as e:
        print(f"{prog}: stopped: {e}", file=sys.stderr)
        sys.exit(3)
    except (ValueError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
