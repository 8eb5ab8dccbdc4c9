"""Checks that keep a bad config or a failed write from doing worse than a clear error, for BERT and DistilBERT.

- The memory a config asks for (`memory_problem`, run by JsonConfig.check on every config, read or built): its
  parameter count (the config's `parameter_count`: bert/config.py and distil/config.py `count_parameters`) × 4
  bytes (float32) must fit in this machine's memory (`physical_memory`: SC_PHYS_PAGES × SC_PAGE_SIZE; not checked
  where unknown). `vocab_size: 10000000000` is then a ValueError naming the file and the field, not the
  allocator's "tried to allocate 640000000000 bytes". The field named is the one whose value, set back to its
  default, shrinks the model most.
- The sizes a config gives against the weights it comes with (`check_config_against_weights`, run by
  `from_pretrained` after reading config.json and the weights, before building anything): the encoder blocks the
  weights hold must be 0 … L−1 for the config's L, and the tensors in the config's `weight_shapes` must have the
  shapes its fields give (vocab × width, positions × width, intermediate × width, …). A config.json that says
  `num_hidden_layers: 100000` beside a two-block checkpoint is refused at once, not after building 100,000 blocks.
- A failed write (`save_errors`): safetensors' SafetensorError and torch.save's RuntimeError ("[enforce fail at
  inline_container.cc…]") are not OSErrors, so a CLI that reports OSErrors in one line (`run_cli`) would print a
  traceback; they become an OSError naming the file or folder being saved, errno kept.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from safetensors import SafetensorError

BYTES_PER_PARAMETER = 4                                             # float32, torch's default dtype
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")  # read in this order


def physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the OS does not say (os.sysconf is POSIX)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def memory_problem(values: Mapping[str, Any], count: Callable[[Mapping[str, Any]], int],
                   defaults: Mapping[str, int]) -> tuple[str, str] | None:
    """(field, problem) when the parameters `count(values)` gives need more bytes than this machine has, else None.
    `defaults`: the size fields and their default values, to find the field to blame."""
    memory = physical_memory()
    need = count(values) * BYTES_PER_PARAMETER
    if memory is None or need <= memory:
        return None
    field = min(defaults, key=lambda name: count({**values, name: defaults[name]}))
    return field, (f"= {values[field]}: with these sizes the model has {need // BYTES_PER_PARAMETER:,} parameters, "
                   f"{need / 1e9:,.1f} GB as float32 — more than this machine's memory ({memory / 1e9:,.1f} GB); "
                   "is the value a typo?")


def weights_file(directory: str) -> str:
    """The weight file `read_state_dict` reads in `directory` (for messages)."""
    return next((os.path.join(directory, n) for n in WEIGHT_FILES if os.path.isfile(os.path.join(directory, n))),
                directory)


def check_config_against_weights(config: Any, shapes: Mapping[str, tuple[int, ...]], prefix: str, where: str,
                                 weights: str, overrides: Mapping[str, Any], caller: str, sizes: bool = True) -> None:
    """ValueError naming the file `where` (or, for a value in `overrides`, the call `caller`) and the field where
    `config` disagrees with the weights' `shapes` (HF names; `prefix`, e.g. "bert.", stripped): the block count
    always, the `weight_shapes` unless `sizes` is False (ignore_mismatched_sizes re-initialises such tensors)."""
    def label(field: str) -> str:
        value = getattr(config, field)
        return f"{caller}({field}={value})" if field in overrides else f"{where}: {field} = {value}"

    shapes = {k.removeprefix(prefix): tuple(v) for k, v in shapes.items()}
    pattern, field = config.layer_weights
    found = sorted({int(m.group(1)) for k in shapes if (m := re.match(pattern, k))})
    if found != list(range(getattr(config, field))):
        held = ("no encoder layers" if not found else f"{len(found)} layers ({found[0]}–{found[-1]})"
                if found == list(range(len(found))) else f"{len(found)} layers ({found})")
        raise ValueError(f"{label(field)}, but {weights} holds {held}: the config does not describe these weights")
    for name, fields in config.weight_shapes.items() if sizes else ():
        if name not in shapes:
            continue
        for dim, field in enumerate(fields):
            if dim < len(shapes[name]) and shapes[name][dim] != getattr(config, field):
                raise ValueError(f"{label(field)}, but {weights} holds {name} of shape {list(shapes[name])}, "
                                 f"which says {field} = {shapes[name][dim]}: the config does not describe them")


_OS_ERROR = re.compile(r"\(os error (\d+)\)")


@contextlib.contextmanager
def save_errors(path: str | os.PathLike) -> Iterator[None]:
    """Inside the block, a failed write (OSError, safetensors' SafetensorError, torch.save's RuntimeError) becomes
    an OSError naming `path`, with the errno where one is known (ENOSPC for a full disk)."""
    try:
        yield
    except (OSError, SafetensorError, RuntimeError) as e:
        code = getattr(e, "errno", None) or next((int(m.group(1)) for m in _OS_ERROR.finditer(str(e))), None)
        message = f"could not write {os.fspath(path)!r} (the previous version, if any, is kept): {e}"
        if code is None and isinstance(e, RuntimeError):                # torch.save says only where its write stopped
            message += " — the write stopped short: is the disk full?"
        raise (OSError(code, message) if code else OSError(message)) from e


__all__ = ["physical_memory", "memory_problem", "weights_file", "check_config_against_weights", "save_errors"]
