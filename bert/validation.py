"""One switch for the checks that read tensor *values* back: on where a read is free, off where it stalls a GPU.

A model's `forward` checks its inputs' shapes and dtypes on every call: that is metadata, it reads no data and
costs nothing. Checking *values* — token ids in [0, vocab_size), an attention mask of 0/1, labels in range — means
reading data back to the host: `int(input_ids.max())` on a CUDA tensor waits until the GPU has run everything
queued before it (a device sync). A few of those per step cap a GPU's throughput; on a CPU the same read costs
microseconds. So value checks run only where `validates(t)` says so:

    set_validation(None)    auto, the default: on for CPU tensors, off for CUDA (any non-CPU) tensors
    set_validation(True)    always, on every device (e.g. to find a bad batch in a GPU run: slower, syncs)
    set_validation(False)   never (for data already checked where it entered: a tokenizer, a collator, a CLI)

and never while `torch.compile` traces a model (a read of data would break the graph). `with validation(mode):`
sets the switch for a block and restores it after. Tests run on CPU, so there every check is on.

The same switch decides the one other data read of a forward: `bert.model.padding_mask` drops an all-ones
attention mask (the attention kernels are fastest without a mask) only where `validates` allows the read.

The switch is global to the process (not per thread), like `torch.set_grad_enabled`'s default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

_mode: bool | None = None  # None = auto (CPU on, CUDA off); True = always; False = never


def set_validation(mode: bool | None) -> None:
    """Value checks: None = auto (on for CPU tensors, off for CUDA ones), True = always, False = never."""
    global _mode
    if mode is not None and not isinstance(mode, bool):
        raise TypeError(f"validation mode must be True, False or None (auto), got {mode!r}")
    _mode = mode


def get_validation() -> bool | None:
    """The current mode: None (auto), True or False."""
    return _mode


@contextlib.contextmanager
def validation(mode: bool | None) -> Iterator[None]:
    """`with validation(False): ...` — the switch set for the block, the previous mode restored after."""
    previous = _mode
    set_validation(mode)
    try:
        yield
    finally:
        set_validation(previous)


def validates(t: Tensor) -> bool:
    """May this call read `t`'s values back (to check them)? See the module docstring for the rule."""
    if torch.compiler.is_compiling():          # a data read would break the traced graph
        return False
    return t.device.type == "cpu" if _mode is None else _mode


__all__ = ["set_validation", "get_validation", "validation", "validates"]
