"""Training checkpoints: everything needed to continue a run exactly where it stopped, written atomically.

A checkpoint is a folder `OUT/checkpoints/step-0000123/` holding

    model.safetensors    the module's own state_dict (safetensors: loading runs no code; tied tensors stored once)
    trainer_state.pt     optimizer and grad-scaler state, every process's RNG states (torch, CUDA, Python's
                         random), the data position, the step, the elapsed time, the run's settings

and a file `OUT/checkpoints/latest` naming the newest complete one. Writing goes (tokenization/files.py
`atomic_folder`): the two files into a hidden folder `.step-0000123.tmp-<pid>`, each fsynced, and the folder
fsynced → rename it to `step-0000123` (or, when a rerun finds a folder of that name, swap the two atomically with
renameat2 RENAME_EXCHANGE) and fsync `checkpoints/` → rewrite `latest` (temporary file, fsync, rename, fsync
`checkpoints/`) → retire the older checkpoints (each renamed to a hidden `.step-….tmp-<pid>` name first, then
deleted, so no half-deleted `step-` folder is ever seen). A kill at any moment leaves `latest` naming a complete
checkpoint; the next save removes whatever hidden leftovers a killed save left (and `latest`'s temporary file).
A failed write (a full disk) is an OSError naming the checkpoint folder (bert/safeguards.py `save_errors`).
Loading reads `trainer_state.pt` with `torch.load(weights_only=True)` (tensors and plain Python values only — no
pickled code runs).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import re
import shutil
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from bert.safeguards import save_errors
from tokenization.files import atomic_folder, clean_leftovers, folder_to_read, fsync_dir, write_text

MODEL_FILE, STATE_FILE, LATEST = "model.safetensors", "trainer_state.pt", "latest"
_STALE_TEMPORARY = re.compile(r"^(\.tmp-.+|latest\.tmp-\d+)$")  # an earlier layout's folders; latest's temp file


def checkpoint_root(out: str) -> str:
    return os.path.join(out, "checkpoints")


def save_checkpoint(out: str, step: int, model: nn.Module, state: dict[str, Any], keep: int = 2) -> str:
    """Write checkpoint `step` (model + `state`) under OUT/checkpoints, point `latest` at it, and delete all but
    the `keep` newest. Returns its folder."""
    root = checkpoint_root(out)
    os.makedirs(root, exist_ok=True)
    remove_leftovers(root)
    name = f"step-{step:07d}"
    final = os.path.join(root, name)
    with save_errors(final), atomic_folder(final, carry_over=lambda entry: False) as tmp:  # a rerun's: replaced
        save_model(model, os.path.join(tmp, MODEL_FILE))
        torch.save(state, os.path.join(tmp, STATE_FILE))
    write_text(os.path.join(root, LATEST), name + "\n")
    fsync_dir(root)
    older = sorted(d for d in os.listdir(root) if d.startswith("step-") and d != name)
    for d in older[:max(0, len(older) - (keep - 1))]:
        trash = os.path.join(root, f".{d}.tmp-{os.getpid()}")
        os.rename(os.path.join(root, d), trash)
        shutil.rmtree(trash, ignore_errors=True)
    return final


def remove_leftovers(root: str) -> None:
    """Remove what killed saves left in OUT/checkpoints: hidden `.step-….tmp-<pid>` folders (an old folder a
    fallback swap set aside is put back first: tokenization/files.py `clean_leftovers`), `.tmp-…` folders of the
    earlier layout, and `latest`'s temporary file."""
    clean_leftovers(root)
    for entry in os.listdir(root):
        if _STALE_TEMPORARY.match(entry):
            path = os.path.join(root, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)


def latest_checkpoint(out: str) -> str | None:
    """The folder `latest` names, or None when the run has no checkpoint yet."""
    pointer = os.path.join(checkpoint_root(out), LATEST)
    if not os.path.isfile(pointer):
        return None
    with open(pointer, encoding="utf-8") as f:
        path = folder_to_read(os.path.join(checkpoint_root(out), f.read().strip()))
    if not os.path.isfile(os.path.join(path, STATE_FILE)):
        raise OSError(f"checkpoint {path!r} named by {pointer!r} is incomplete or missing")
    return path


def checkpoint_candidates(out: str) -> list[str]:
    """The checkpoints a resume may try, best first: the folder `latest` names (even when it is missing or torn —
    loading it then fails with the reason, and the caller moves on), then every other `step-` folder, newest
    first. Empty when the run has none."""
    root = checkpoint_root(out)
    if not os.path.isdir(root):
        return []
    steps = sorted((d for d in os.listdir(root) if d.startswith("step-")), reverse=True)
    named = []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        with open(os.path.join(root, LATEST), encoding="utf-8") as f:
            named = [f.read().strip()]
    return [folder_to_read(os.path.join(root, d)) for d in named + [d for d in steps if d not in named] if d]


def load_checkpoint(path: str, model: nn.Module, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load the weights into `model` (strictly: every tensor, same names and shapes) and return the state dict."""
    missing, unexpected = load_model(model, os.path.join(path, MODEL_FILE), strict=False, device=str(map_location))
    if missing or unexpected:
        raise ValueError(f"checkpoint {path!r} does not fit this model: missing {sorted(missing)}, "
                         f"unexpected {sorted(unexpected)}")
    state = os.path.join(path, STATE_FILE)
    try:
        return torch.load(state, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:     # torch's long advice would be to run the pickled code: never
        found = str(e).partition("Unsupported global: ")[2].split(" was not")[0] or "a Python object"
        raise OSError(f"{state!r} holds {found}, not only tensors and plain values (loading it could run code): "
                      "refused; it was not written by this library's training loop") from None


def rng_state(device: torch.device) -> dict[str, Any]:
    """This process's random states: torch (CPU), Python's random, and CUDA's when on a GPU."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
