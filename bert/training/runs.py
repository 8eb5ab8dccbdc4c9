"""What every training CLI shares around the loop: the rules for --out, run.json (the settings a resumed run must
keep), the ranges of numeric options, the check of the model a CLI loads (`load_checked`), and `main`'s exit codes
(`run_cli`, which also keeps freed memory in the process: allocator.py).

OUT/run.json holds {"args": the command line's settings, "data": what the data came to, …, "summary": the loop's
summary at the end}. It is written first, before anything else, and marks OUT as a run of ours: `--overwrite`
replaces only such a folder, removing only what the run wrote (`check_out`, `clear_run_outputs`). `--resume`
continues a run only with the settings that decide its data, model and batches (each CLI names them in its
RESUME_KEYS; the learning rate among them); anything else (more steps, another eval interval) may change.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from tokenization.files import atomic_folder, write_json

from .allocator import keep_freed_memory
from .interrupt import TrainingInterrupted
from .loop import NonFiniteLossError

RUN_FILE = "run.json"


def check_resume(args: argparse.Namespace, keys: Sequence[str]) -> None:
    """--resume: OUT/run.json must exist and agree with `args` on every setting in `keys`."""
    path = os.path.join(args.out, RUN_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--resume: {path!r} not found; is {args.out!r} the folder of an earlier run?")
    if not is_our_run(args.out):
        raise ValueError(f"--resume: {path!r} is not the record of a run of ours (expected a JSON object with the "
                         "run's \"args\")")
    with open(path, encoding="utf-8-sig") as f:
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
        with open(path, encoding="utf-8-sig") as f:
            run = json.load(f)
    write_json(path, {**run, **sections})


def run_cli(prog: str, fn: Callable[[list[str] | None], Any], argv: list[str] | None, resumable: bool = True) -> Any:
    """`fn(argv)` for a training CLI: a NaN/inf stop exits with status 3, a bad argument or path with status 2, a
    Ctrl-C / SIGTERM with 130 / 143 (interrupt.py: where the last checkpoint is and, for a CLI with --resume
    (`resumable`), the command that continues the run), each with a one-line message instead of a traceback.
    Before it, `keep_freed_memory()` (allocator.py): glibc keeps the freed tensors' memory for the next step."""
    keep_freed_memory()
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
RUN_OUTPUTS = ("run.json", "metrics.jsonl", "metrics.png", "metrics.json")   # what a run of ours writes besides
                                                                            # the model and tokenizer, checkpoints/
CHECKPOINT_ENTRY = re.compile(r"^(step-\d+|latest|vocab\.txt|\.step-\d+\.(tmp|old)-\d+|\.tmp-.+|(latest|vocab)\.tmp-\d+"
                              r"(\.txt)?)$")
# in checkpoints/: our step folders, `latest`, the run's vocabulary and the leftovers of killed saves


def is_our_run(out: str) -> bool:
    """OUT/run.json is the record of one of our CLIs' runs: a JSON object with an "args" object."""
    try:
        with open(os.path.join(out, RUN_FILE), encoding="utf-8-sig") as f:
            run = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(run, dict) and isinstance(run.get("args"), dict)


def check_out(out: str, *, resume: bool, overwrite: bool, inputs: Mapping[str, str | None] = {}) -> None:
    """The rules for a CLI's --out, checked before anything is written (every process, then a barrier):

    - --out may not be, or lie inside, one of the run's inputs (`inputs`: {"--teacher": path, …}) — with or
      without --overwrite: writing there would replace the teacher or the model being fine-tuned;
    - with --resume, --out must be an earlier run of this CLI (run.json; `check_resume` compares the settings);
    - otherwise --out must be new or empty (the run's own input files aside, e.g. a --config inside it), or an
      earlier run of ours (run.json) with --overwrite given; a folder holding anything else — a user's files, a
      checkpoint of another program — is refused, with or without --overwrite: --overwrite removes only what an
      earlier run of ours wrote (`clear_run_outputs`).
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
    if resume or not os.path.isdir(out):
        return
    own_inputs = {os.path.realpath(p) for p in inputs.values() if p is not None}
    entries = sorted(e for e in os.listdir(out) if os.path.realpath(os.path.join(out, e)) not in own_inputs)
    if not entries:
        return
    if not is_our_run(out):
        listing = ", ".join(entries[:5]) + ("…" if len(entries) > 5 else "")
        raise FileExistsError(f"--out {out!r} is not empty ({listing}) and holds no run.json of an earlier run of "
                              "ours: choose a new or empty folder (--overwrite replaces only an earlier run, never "
                              "other files)")
    if not overwrite:
        raise FileExistsError(f"--out {out!r} holds an earlier run (run.json): continue it with --resume, or give "
                              "--overwrite to replace it")


def clear_run_outputs(out: str) -> None:
    """--overwrite (after `check_out`: OUT is an earlier run of ours): remove its run.json, metrics and checkpoints
    (in checkpoints/ only our step folders, `latest` and the run's vocabulary: anything else stays, and so does the
    folder then), so the new run's never mix with them. The model and tokenizer files stay until the new run saves
    its own, together (`model_folder`): a run stopped before that leaves the earlier model whole, with its own
    vocabulary. Nothing else is touched."""
    for name in RUN_OUTPUTS:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(out, name))
    root = os.path.join(out, "checkpoints")
    if not os.path.isdir(root) or os.path.islink(root):
        return
    for entry in os.listdir(root):
        path = os.path.join(root, entry)
        if CHECKPOINT_ENTRY.match(entry):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    if not os.listdir(root):
        os.rmdir(root)


def start_run(out: str, args: argparse.Namespace) -> None:
    """A new run in OUT, after every check: an earlier run's outputs removed (--overwrite: `clear_run_outputs`),
    then OUT/run.json written first of all, so that from here on the folder is a run of ours — one killed at any
    later moment is replaced by --overwrite, never refused as someone else's."""
    if getattr(args, "overwrite", False):
        clear_run_outputs(out)
    os.makedirs(out, exist_ok=True)
    write_run(out, new=True, args=vars(args))


@contextlib.contextmanager
def model_folder(out: str) -> Iterator[str]:
    """`with model_folder(OUT) as tmp:` save the model, its tokenizer (and labels) into `tmp`; OUT then holds them
    all, swapped in together in one atomic step (tokenization/files.py `atomic_folder`): a kill leaves the earlier
    model with its own vocabulary or the new one with the new, never a mix. The rest of OUT (run.json, metrics,
    checkpoints/, a user's notes) is carried over; an earlier model's other weight files and labels.json are not."""
    from bert.checkpoint import WEIGHT_FILES

    with atomic_folder(out, carry_over=lambda name: not WEIGHT_FILES.match(name) and name != "labels.json") as tmp:
        yield tmp


def named(flag: str, path: str, load: Callable[[], Any]) -> Any:
    """`load()` (e.g. a tokenizer read from `path`); a ValueError that does not name `path` gets "FLAG 'path': " in
    front, so a vocabulary without [MASK] says which file it is."""
    try:
        return load()
    except ValueError as e:
        if path in str(e):
            raise
        raise ValueError(f"{flag} {path!r}: {e}") from None


def fit_length(flag: str, given: int | None, default: int, positions: int, model: str) -> int:
    """An example length for a model with `positions` (its max_position_embeddings): the option `flag`'s value
    `given`, or by default `default`, or fewer when the model has fewer. A `given` beyond `positions` is a ValueError
    naming the option and `model` — before the first step, not at it."""
    if given is not None and given > positions:
        raise ValueError(f"{flag} {given} exceeds the max_position_embeddings of {model} ({positions}); give {flag} "
                         f"{positions} or less")
    return min(default, positions) if given is None else given


def check_device(device: str, auto: bool = True) -> str:
    """--device: "auto" (when `auto`), "cpu", "cuda" or "cuda:N" on a machine that has it — checked before anything
    is read or written, so a typo is a one-line error naming --device, not torch's RuntimeError mid-run."""
    wanted = ("'auto', " if auto else "") + "'cpu', 'cuda' or 'cuda:N'"
    if device == "auto" and auto:
        return device
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"--device {device!r}: expected {wanted}") from None
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {device!r}: expected {wanted}")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device!r}: CUDA is not available on this machine (give --device cpu)")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ValueError(f"--device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                         f"numbered from 0")
    return device


def check_precision(precision: str, device: str) -> None:
    """--precision bf16/fp16 needs CUDA (autocast on the CPU would be slower, not faster): refused at the start,
    naming both options, when --device is (or "auto" resolves to) the CPU."""
    on_cpu = not torch.cuda.is_available() if device == "auto" else torch.device(device).type == "cpu"
    if precision in ("bf16", "fp16") and on_cpu:
        raise ValueError(f"--precision {precision} needs a CUDA device, and --device {device!r} is the CPU here; "
                         "give --precision fp32 (or auto)")


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
                   help="replace an earlier run in --out (one with run.json): its run.json, metrics and checkpoints "
                        "are removed, its model and tokenizer replaced when this run saves; a folder that is not a "
                        "run of ours is refused, with or without --overwrite")
    g.add_argument("--eval-every", type=COUNT, default=200, help="steps between held-out evaluations (200; 0 = end only)")
    g.add_argument("--save-every", type=COUNT, default=200, help="steps between checkpoints (200; 0 = end only)")
    g.add_argument("--log-every", type=POSITIVE_INT, default=10, help="steps between metrics records (10)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--no-plot", action="store_true",
                   help="no OUT/metrics.png at the end (saves the matplotlib import; metrics.jsonl is written anyway)")


def load_checked(load: Callable[..., nn.Module], args: argparse.Namespace, num_labels: int, **extra) -> nn.Module:
    """`load(…, **extra)`; a --model with a classifier for another number of labels is refused in one line saying
    what to do (--ignore-mismatched-sizes starts a new one). The weights started anew are listed, as loading does."""
    log = logging.getLogger("bert.checkpoint")              # its warning names a Python argument: said here instead
    disabled, log.disabled = log.disabled, True
    try:
        model = load(args.model, num_labels, args.task, ignore_mismatched_sizes=True,
                     dropout=getattr(args, "dropout", None), **extra)
    finally:
        log.disabled = disabled
    info = getattr(model, "loading_info", None) or {}
    new, mismatched = info.get("newly_initialized", []), info.get("mismatched", [])
    if mismatched and not args.ignore_mismatched_sizes:
        raise ValueError(f"--model {args.model!r} has a classifier for {mismatched[0][1][0]} labels, the data have "
                         f"{num_labels}: give --ignore-mismatched-sizes to start a new one on its encoder, or a "
                         "--model without a classifier (the pre-trained model)")
    if new or mismatched:
        print(f"  newly initialised: {', '.join(new + [m[0] for m in mismatched])} (train them before use)", flush=True)
    return model
