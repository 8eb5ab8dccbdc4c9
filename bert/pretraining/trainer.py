"""A generic training loop: any nn.Module whose forward returns an object with `.loss`, fed by ShardedBatches.

One step (all processes alike):

    for each of this process's micro-batches:         # accumulation micro-batches
        loss_k = model(**batch).loss                   # under bf16/fp16 autocast on CUDA when asked
        backward(loss_k / accumulation)                # DDP: gradients all-reduced (averaged) on the last one only
    sum loss, tokens, "non-finite?" over processes     # one all_reduce; a NaN/inf anywhere stops every process
    clip the global gradient norm, AdamW step          # schedule.py: lr = peak · f(progress)

so the gradient is the mean over the world_size × accumulation micro-batches of each one's mean loss, whether they
ran in one process one after the other or in several processes side by side.

Around it: evaluation on held-out data every `eval_every` steps (rank 0; the others wait), metrics to
OUT/metrics.jsonl, a tqdm progress bar with rate and ETA (rank 0), checkpoints every `save_every` steps
(checkpoints.py) and `resume=True` to continue from the latest one. Resuming restores the weights, the optimizer,
the grad scaler, every process's RNG states (dropout), the data position and the clock, so on the CPU a run
stopped and resumed computes bit for bit the losses of a run that never stopped (tests check it).

A loss that is NaN or infinite stops the run with `NonFiniteLossError` before the optimizer touches the weights:
no checkpoint is written, and the latest one (the last good state) stays as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from .batches import Position, ShardedBatches
from .checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from .distributed import DistributedContext
from .metrics import MetricsLog
from .schedule import build_optimizer, progress_factor, step_factor, warmup_steps

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the weights were not updated and no checkpoint was written."""


@dataclass
class TrainingArguments:
    out: str                              # folder for metrics.jsonl and checkpoints/
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
    save_every: int = 200                 # steps between checkpoints (0 = only at the end)
    keep_checkpoints: int = 2             # newest checkpoints kept
    seed: int = 0                         # seeds dropout (and anything else drawn from torch / random)
    progress: bool = True                 # show the progress bar

    def __post_init__(self) -> None:
        if self.max_steps is None and self.minutes is None:
            raise ValueError("give max_steps or minutes (or both): the run needs an end")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise ValueError(f"max_steps must be a positive int, got {self.max_steps!r}")
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"minutes must be > 0, got {self.minutes!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        for name in ("log_every", "eval_every", "save_every", "keep_checkpoints"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (1 if name in ("log_every", "keep_checkpoints") else 0):
                raise ValueError(f"{name} must be an int >= {1 if name in ('log_every', 'keep_checkpoints') else 0}, "
                                 f"got {value!r}")


def resolve_precision(requested: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: None for fp32. bf16/fp16 need CUDA (on the CPU they would be slower, not faster)."""
    if requested == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if requested == "fp32":
        return None
    if device.type != "cuda":
        raise ValueError(f"precision {requested!r} needs a CUDA device (running on {device.type}); use fp32")
    return torch.bfloat16 if requested == "bf16" else torch.float16


def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _tokens(batch: dict[str, torch.Tensor]) -> int:
    """Real (non-pad) tokens of a batch: the attention mask's sum, else the size of input_ids, else 0."""
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return batch["input_ids"].numel() if "input_ids" in batch else 0


class Trainer:
    """Trains `model` on `batches` with `args` (see the module docstring).

    evaluate: called on rank 0 as evaluate(model) → {name: float} with the model in eval mode, under no_grad (and
    autocast); its numbers go to the "eval" records. forward_kwargs: extra arguments for every forward call
    (e.g. masked_only=True). callbacks: called as callback(trainer, record) after each step's bookkeeping.
    """

    def __init__(self, model: nn.Module, batches: ShardedBatches, args: TrainingArguments,
                 evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
                 ctx: DistributedContext | None = None, forward_kwargs: dict[str, Any] | None = None,
                 callbacks: list[Callable[["Trainer", dict], None]] | None = None):
        self.ctx = ctx or DistributedContext()
        if batches.world_size != self.ctx.world_size or batches.rank != self.ctx.rank:
            raise ValueError(f"batches are planned for rank {batches.rank} of {batches.world_size}, but this is "
                             f"rank {self.ctx.rank} of {self.ctx.world_size}")
        self.args, self.batches, self.evaluate = args, batches, evaluate
        self.forward_kwargs = forward_kwargs or {}
        self.callbacks = callbacks or []
        self.device = self.ctx.device
        self.model = model.to(self.device)
        self.autocast_dtype = resolve_precision(args.precision, self.device)
        self.optimizer = build_optimizer(self.model, args.lr, args.weight_decay, args.adam_betas, args.adam_eps)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast_dtype == torch.float16)
        self.step, self.position, self.elapsed, self.tokens_seen = 0, Position(), 0.0, 0
        self.last_eval: dict[str, float] = {}
        self.last_checkpoint: str | None = None

    # ------------------------------------------------------------------ pieces
    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _lr_factor(self) -> float:
        a = self.args
        if a.max_steps is not None:
            return step_factor(self.step, a.max_steps, warmup_steps(a.max_steps, a.warmup))
        return progress_factor(min(1.0, self.elapsed / (a.minutes * 60)), a.warmup)

    def _finished(self) -> bool:
        a = self.args
        return ((a.max_steps is not None and self.step >= a.max_steps)
                or (a.minutes is not None and self.elapsed >= a.minutes * 60))

    def _state(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.position.epoch, "batch": self.position.batch,
                "elapsed": self.elapsed, "tokens_seen": self.tokens_seen, "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(),
                "world_size": self.ctx.world_size, "global_batch_size": self.batches.global_batch_size,
                "args": {k: v for k, v in dataclasses.asdict(self.args).items() if k != "out"}}

    def save(self) -> None:
        """Checkpoint now (every process hands its RNG state to rank 0, which writes)."""
        rngs = self.ctx.gather_to_main(_rng_state(self.device))
        if self.ctx.is_main:
            state = self._state()
            state["rng"] = rngs
            self.last_checkpoint = save_checkpoint(self.args.out, self.step, self.model, state,
                                                   self.args.keep_checkpoints)
        self.last_checkpoint = self.ctx.broadcast_object(self.last_checkpoint)

    def restore(self) -> None:
        """Continue from OUT/checkpoints/latest (see checkpoints.py)."""
        path = latest_checkpoint(self.args.out)
        if path is None:
            raise FileNotFoundError(f"resume: no checkpoint in {self.args.out!r} (expected "
                                    f"{self.args.out}/checkpoints/latest); start without --resume")
        state = load_checkpoint(path, self.model, self.device)
        if state["global_batch_size"] != self.batches.global_batch_size:
            raise ValueError(f"resume: the checkpoint was trained with global batches of {state['global_batch_size']}"
                             f" examples, this run has {self.batches.global_batch_size}; keep batch size × "
                             "accumulation × processes the same")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.elapsed, self.tokens_seen = state["step"], state["elapsed"], state["tokens_seen"]
        self.position = Position(state["epoch"], state["batch"])
        rngs = state["rng"]
        if len(rngs) == self.ctx.world_size:
            _set_rng_state(rngs[self.ctx.rank], self.device)
        else:  # another number of processes: the data are the same, dropout draws are not
            torch.manual_seed(self.args.seed + 1000 * self.step + self.ctx.rank)
        self.last_checkpoint = path

    def run_evaluation(self) -> dict[str, float]:
        """evaluate(model) on rank 0 in eval mode; the other processes wait. Returns the scores (rank 0)."""
        scores: dict[str, float] = {}
        if self.evaluate is not None and self.ctx.is_main:
            self.model.eval()
            with torch.no_grad(), self._autocast():
                scores = self.evaluate(self.model)
            self.model.train()
        self.ctx.barrier()
        return scores

    # ------------------------------------------------------------------ the loop
    def train(self, resume: bool = False) -> dict[str, Any]:
        """Train until max_steps / minutes. Returns {"step", "elapsed", "eval", "checkpoint"}."""
        a, ctx = self.args, self.ctx
        torch.manual_seed(a.seed + ctx.rank)
        random.seed(a.seed + ctx.rank)
        if resume:
            self.restore()
        log = MetricsLog(f"{a.out}/metrics.jsonl", truncate_after_step=self.step if resume else None) \
            if ctx.is_main else None
        model = self.model
        if ctx.enabled:
            model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.model.train()
        bar = tqdm(total=a.max_steps, initial=self.step, disable=not (a.progress and ctx.is_main), unit="step",
                   dynamic_ncols=True, desc="pre-training")
        start = time.perf_counter() - self.elapsed

        def record_eval() -> None:
            scores = self.run_evaluation()
            if scores and log is not None:
                self.last_eval = scores
                log.write({"kind": "eval", "step": self.step, "time": round(self.elapsed, 3),
                           "tokens": self.tokens_seen, **scores})
                bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()
                                                           if isinstance(v, float)))

        if self.step == 0 and self.evaluate is not None:
            record_eval()
        steps = self.batches.steps(self.position)
        window_tokens, window_seconds = 0, 0.0                    # training throughput, evaluation excluded
        try:
            while not self._finished():
                step_start = time.perf_counter()
                factor = self._lr_factor()
                for group in self.optimizer.param_groups:
                    group["lr"] = a.lr * factor
                position, micro = next(steps)
                totals = torch.zeros(5, dtype=torch.float64)                  # loss, mlm, nsp, tokens, non-finite
                for k, batch in enumerate(micro):
                    batch = {name: t.to(self.device, non_blocking=True) for name, t in batch.items()}
                    last = k == len(micro) - 1
                    sync = contextlib.nullcontext() if (last or not ctx.enabled) else model.no_sync()
                    with sync:
                        with self._autocast():
                            out = model(**batch, **self.forward_kwargs)
                        loss = out.loss.float()
                        self.scaler.scale(loss / len(micro)).backward()
                    value = loss.item()
                    totals[0] += value / len(micro)
                    for j, name in ((1, "mlm_loss"), (2, "nsp_loss")):       # the parts, when the model gives them
                        part = getattr(out, name, None)
                        totals[j] += (part.item() if part is not None else math.nan) / len(micro)
                    totals[3] += _tokens(batch)
                    totals[4] += 0.0 if math.isfinite(value) else 1.0
                now = time.perf_counter() - start
                totals = torch.cat([totals, torch.tensor([now if ctx.is_main else 0.0], dtype=torch.float64)])
                ctx.all_reduce_sum(totals)
                self.elapsed = float(totals[5])                               # rank 0's clock, on every process
                if totals[4] > 0:
                    self.optimizer.zero_grad(set_to_none=True)
                    where = (f"the last good checkpoint is {self.last_checkpoint!r}" if self.last_checkpoint
                             else "no checkpoint was written yet")
                    raise NonFiniteLossError(
                        f"the loss is not finite (nan/inf) at step {self.step + 1} (epoch {self.position.epoch}, "
                        f"batch {self.position.batch}) — stopped without updating the weights; {where}. Resume "
                        "from it with a lower learning rate (--lr), gradient clipping, or fp32.")
                self.scaler.unscale_(self.optimizer)
                norm = (nn.utils.clip_grad_norm_(self.model.parameters(), a.grad_clip) if a.grad_clip > 0
                        else torch.nan)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                self.position = position
                window_tokens += float(totals[3])
                window_seconds += time.perf_counter() - step_start
                self.tokens_seen += int(totals[3])
                world = ctx.world_size
                record = {"kind": "train", "step": self.step, "time": round(self.elapsed, 3),
                          "epoch": position.epoch, "tokens": self.tokens_seen, "loss": float(totals[0]) / world,
                          "mlm_loss": float(totals[1]) / world, "nsp_loss": float(totals[2]) / world,
                          "lr": a.lr * factor, "grad_norm": float(norm)}
                bar.update(1)
                if a.max_steps is None and a.minutes is not None and self.elapsed > 0:
                    bar.total = max(self.step, int(self.step * a.minutes * 60 / self.elapsed))
                if self.step % a.log_every == 0 or self._finished():
                    record["tokens_per_s"] = window_tokens / window_seconds if window_seconds > 0 else math.nan
                    window_tokens, window_seconds = 0, 0.0
                    if log is not None:
                        log.write(record)
                    bar.set_postfix(loss=f"{record['loss']:.3f}", lr=f"{record['lr']:.2e}", refresh=False)
                if (a.eval_every and self.step % a.eval_every == 0) or self._finished():
                    record_eval()
                if (a.save_every and self.step % a.save_every == 0) or self._finished():
                    self.save()
                for callback in self.callbacks:
                    callback(self, record)
        finally:
            bar.close()
        return {"step": self.step, "elapsed": self.elapsed, "tokens": self.tokens_seen, "eval": self.last_eval,
                "checkpoint": self.last_checkpoint}
