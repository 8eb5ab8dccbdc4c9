"""The settings of a training run (`TrainingArguments`), checked when they are made: a wrong value is a clear error
before any model or data is touched. The loop that reads them is loop.py."""

from __future__ import annotations

from dataclasses import dataclass

from .distributed import PRECISIONS


@dataclass
class TrainingArguments:
    out: str | None                       # folder for metrics.jsonl and checkpoints/ (None: nothing on disk)
    max_steps: int | None = None          # optimizer steps: the schedule's length N (None: `minutes` sets the pace)
    minutes: float | None = None          # wall-clock budget; the run stops at max_steps or here, whichever is first
    lr: float = 1e-4                      # peak learning rate
    warmup: float = 0.1                   # fraction of the run spent warming up
    weight_decay: float = 0.01            # AdamW decay (not on biases and LayerNorm)
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-6
    grad_clip: float = 1.0                # max global gradient norm (0 = no clipping)
    precision: str = "auto"               # fp32 | bf16 | fp16 | auto (bf16 on CUDA when supported, else fp32)
    log_every: int = 10                   # steps between "train" records
    eval_every: int = 200                 # steps between evaluations (0 = only at the start and the end)
    save_every: int = 200                 # steps between checkpoints (0 = only at the end; none when out is None)
    keep_checkpoints: int = 2             # newest checkpoints kept
    checkpoints: bool = True              # False: none at all (a run that is never resumed, e.g. fine-tuning)
    seed: int = 0                         # seeds dropout (and anything else drawn from torch / random)
    progress: bool = True                 # show the progress bar
    desc: str = "training"                # the progress bar's label: what is being trained

    def __post_init__(self) -> None:
        if self.max_steps is None and self.minutes is None:
            raise ValueError("give max_steps or minutes (or both): the run needs an end")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise ValueError(f"max_steps must be a positive int, got {self.max_steps!r}")
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"minutes must be > 0, got {self.minutes!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        for name, least in (("log_every", 1), ("eval_every", 0), ("save_every", 0), ("keep_checkpoints", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
