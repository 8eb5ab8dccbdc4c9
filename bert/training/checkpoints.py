"""Training checkpoints: everything needed to continue a run exactly where it stopped, written atomically.

A checkpoint is a folder `OUT/checkpoints/step-0000123/` holding

    model.safetensors    the module's own state_dict (safetensors: loading runs no code; tied tensors stored once)
    trainer_state.pt     optimizer and grad-scaler state, every process's RNG states (torch, CUDA, Python's
                         random), the data position, the step, the elapsed time, the run's settings

and a file `OUT/checkpoints/latest` naming the newest complete one. Writing goes: a temporary folder → rename it to
its final name → rewrite `latest` (temporary file + rename). A crash at any moment leaves `latest` naming a complete
checkpoint, and loading reads `trainer_state.pt` with `torch.load(weights_only=True)` (tensors and plain Python
values only — no pickled code runs).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from tokenization.files import write_text

MODEL_FILE, STATE_FILE, LATEST = "model.safetensors", "trainer_state.pt", "latest"


def checkpoint_root(out: str) -> str:
    return os.path.join(out, "checkpoints")


def save_checkpoint(out: str, step: int, model: nn.Module, state: dict[str, Any], keep: int = 2) -> str:
    """Write checkpoint `step` (model + `state`) under OUT/checkpoints, point `latest` at it, and delete all but
    the `keep` newest. Returns its folder."""
    root = checkpoint_root(out)
    os.makedirs(root, exist_ok=True)
    name = f"step-{step:07d}"
    final = os.path.join(root, name)
    tmp = os.path.join(root, f".tmp-{name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    save_model(model, os.path.join(tmp, MODEL_FILE))
    torch.save(state, os.path.join(tmp, STATE_FILE))
    if os.path.exists(final):          # an older attempt at the same step (a rerun): `latest` may not name it
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_text(os.path.join(root, LATEST), name + "\n")
    older = sorted(d for d in os.listdir(root) if d.startswith("step-") and d != name)
    for d in older[:max(0, len(older) - (keep - 1))]:
        shutil.rmtree(os.path.join(root, d), ignore_errors=True)
    return final


def latest_checkpoint(out: str) -> str | None:
    """The folder `latest` names, or None when the run has no checkpoint yet."""
    pointer = os.path.join(checkpoint_root(out), LATEST)
    if not os.path.isfile(pointer):
        return None
    with open(pointer, encoding="utf-8") as f:
        path = os.path.join(checkpoint_root(out), f.read().strip())
    if not os.path.isfile(os.path.join(path, STATE_FILE)):
        raise OSError(f"checkpoint {path!r} named by {pointer!r} is incomplete or missing")
    return path


def load_checkpoint(path: str, model: nn.Module, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load the weights into `model` (strictly: every tensor, same names and shapes) and return the state dict."""
    missing, unexpected = load_model(model, os.path.join(path, MODEL_FILE), strict=False, device=str(map_location))
    if missing or unexpected:
        raise ValueError(f"checkpoint {path!r} does not fit this model: missing {sorted(missing)}, "
                         f"unexpected {sorted(unexpected)}")
    return torch.load(os.path.join(path, STATE_FILE), map_location=map_location, weights_only=True)
