"""What every training CLI shares around the loop: the rules for --out, run.json (the settings a resumed run must
keep), the ranges of numeric options, and the exit codes of `main`.

OUT/run.json holds {"args": the command line's settings, "data": what the data came to, …, "summary": the loop's
summary at the end}. `--resume` continues a run only with the settings that decide its data, model and batches
(each CLI names them in its RESUME_KEYS); anything else (more steps, another eval interval) may change.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tokenization.files import write_json

from .interrupt import TrainingInterrupted
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


def run_cli(prog: str, fn: Callable[[list[str] | None], Any], argv: list[str] | None, resumable: bool = True) -> Any:
    """`fn(argv)` for a training CLI: a NaN/inf stop exits with status 3, a bad argument or path with status 2, a
    Ctrl-C / SIGTERM with 130 / 143 (interrupt.py: where the last checkpoint is and, for a CLI with --resume
    (`resumable`), the command that continues the run), each with a one-line message instead of a traceback."""
    try:
        return fn(argv)
    except TrainingInterrupted as e:
        if os.environ.get("RANK", "0") == "0":                       # one line, not one per process
            args = sys.argv[1:] if argv is None else argv
            print(f"{prog}: {e}; {resume_advice(prog, e.checkpoint, args if resumable else None)}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:                                        # outside the loop, or a second Ctrl-C in it
        print(f"{prog}: interrupted (Ctrl-C); the checkpoints written before are kept", file=sys.stderr)
        sys.exit(130)
    except NonFiniteLossError as e:
        print(f"{prog}: stopped: {e}", file=sys.stderr)
        sys.exit(3)
    except (ValueError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)


def resume_advice(prog: str, checkpoint: str | None, argv: Sequence[str] | None) -> str:
    """Where an interrupted run's last checkpoint is and the command that continues it: the same arguments with
    --resume (and without --overwrite, which would remove the run); argv None: the CLI cannot resume."""
    if checkpoint is None:
        return "this run writes no checkpoints, so no checkpoint was kept: start it again"
    if argv is None:
        return f"the last checkpoint is {checkpoint}; python -m {prog} cannot resume: run it again"
    world = os.environ.get("WORLD_SIZE", "1")                       # under torchrun: its command, on one node
    launcher = "python" if world == "1" else f"torchrun --nproc_per_node={os.environ.get('LOCAL_WORLD_SIZE', world)}"
    args = [a for a in argv if a != "--overwrite"] + ([] if "--resume" in argv else ["--resume"])
    return f"the last checkpoint is {checkpoint}; continue with: {launcher} -m {prog} {shlex.join(args)}"


# ----------------------------------------------------------------------------- --out: never destroy a user's data
RUN_OUTPUTS = ("run.json", "metrics.jsonl", "metrics.png", "checkpoints")   # what a training run writes besides
                                                                           # the model, vocab and tokenizer files


def check_out(out: str, *, resume: bool, overwrite: bool, inputs: Mapping[str, str | None] = {}) -> None:
    """The rules for a CLI's --out, checked before anything is written (every process, then a barrier):

    - --out may not be, or lie inside, one of the run's inputs (`inputs`: {"--teacher": path, …}) — with or
      without --overwrite: writing there would replace the teacher or the model being fine-tuned;
    - with --resume, --out must be an earlier run of this CLI (run.json; `check_resume` compares the settings);
    - otherwise --out must be new or empty, unless --overwrite is given: a folder holding anything — an earlier
      run, a checkpoint, a user's files — is refused, with a message that says how to continue or replace it.
    """
    real = os.path.realpath(out)
    for flag, path in inputs.items():
        if path is None:
            continue
        source = os.path.realpath(path)
        if real == source or real.startswith(source.rstrip(os.sep) + os.sep):
            where = "is" if real == source else "is inside"
            raise ValueError(f"--out {out!r} {where} {flag} {path!r}: the run would write over its own input; "
                             "choose another --out")
    if os.path.exists(out) and not os.path.isdir(out):
        raise NotADirectoryError(f"--out {out!r} exists and is not a folder")
    if resume or overwrite or not os.path.isdir(out) or not os.listdir(out):
        return
    if os.path.isfile(os.path.join(out, RUN_FILE)):
        raise FileExistsError(f"--out {out!r} holds an earlier run (run.json): continue it with --resume, or give "
                              "--overwrite to replace it")
    raise FileExistsError(f"--out {out!r} is not empty ({', '.join(sorted(os.listdir(out))[:5])}…): choose a new "
                          "folder, or give --overwrite to write into it")


def clear_run_outputs(out: str) -> None:
    """--overwrite: remove an earlier run's metrics, run.json and checkpoints (so the new run's never mix with
    them); the model and tokenizer files are replaced when the new run saves. Nothing else is touched."""
    for name in RUN_OUTPUTS:
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


# ----------------------------------------------------------------------------- numbers on the command line
def number(kind: type = int, low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False) -> Callable[[str], Any]:
    """An argparse `type` for a number in a range: `--grad-clip -1` is an error that says the range, not a value
    that silently means something else. Floats must be finite."""
    lo = "" if low is None else f"{'>' if low_open else '≥'} {low}"
    hi = "" if high is None else f"{'<' if high_open else '≤'} {high}"
    wanted = f"{'an integer' if kind is int else 'a number'}{' ' + lo if lo else ''}{' and ' + hi if hi else ''}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        if not math.isfinite(value) or (low is not None and (value < low or (low_open and value == low))) or \
                (high is not None and (value > high or (high_open and value == high))):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


POSITIVE_INT, COUNT = number(int, 1), number(int, 0)                  # ≥ 1; ≥ 0 (0 = "off" / "at the end")
POSITIVE = number(float, 0, low_open=True)                            # > 0: lr, minutes, temperature
NON_NEGATIVE = number(float, 0)                                       # ≥ 0: weight decay, clipping, α
FRACTION = number(float, 0, 1, high_open=True)                        # [0, 1): warmup, dropout
PROBABILITY = number(float, 0, 1)                                     # [0, 1]


def add_output_options(ap: argparse.ArgumentParser, out_help: str) -> None:
    """The "output" options every training CLI shares: --out, --resume, --overwrite, the intervals, --no-progress,
    --no-plot."""
    g = ap.add_argument_group("output")
    g.add_argument("--out", required=True, help=out_help)
    g.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoints/latest (or the newest intact checkpoint before it)")
    g.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty --out (an earlier run's metrics, run.json and checkpoints are removed)")
    g.add_argument("--eval-every", type=COUNT, default=200, help="steps between held-out evaluations (200; 0 = end only)")
    g.add_argument("--save-every", type=COUNT, default=200, help="steps between checkpoints (200; 0 = end only)")
    g.add_argument("--log-every", type=POSITIVE_INT, default=10, help="steps between metrics records (10)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--no-plot", action="store_true",
                   help="no OUT/metrics.png at the end (saves the matplotlib import; metrics.jsonl is written anyway)")
