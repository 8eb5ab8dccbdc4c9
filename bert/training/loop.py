"""The one training loop: pre-training, fine-tuning and both distillation settings all run here.

A task gives the loop its data (a ShardedBatches plan, batches.py) and a step function,

    step(model, batch) -> (loss, parts)     loss: a scalar tensor to minimise; parts: {name: scalar tensor} to log

and one optimizer step reads, top to bottom:

    for each of this process's micro-batches:           # gradient accumulation
        loss, parts = step(model, batch)                 # forward + loss (under bf16/fp16 autocast on CUDA if asked)
        backward(loss / accumulation)                    # DDP all-reduces (averages) the gradients on the last one
    sum the losses, parts and tokens over processes      # one all_reduce and one read back per step
    stop if the loss is NaN/inf                          # before the optimizer touches the weights
    clip the global gradient norm; AdamW step            # lr = peak · f(progress), schedule.py
    log; evaluate; checkpoint                            # every log_every / eval_every / save_every steps

so the gradient is the mean over the world_size × accumulation micro-batches of each one's mean loss, whether they
ran one after the other in one process or side by side in several (Goyal et al. 2017 §2; tests check both).

Around it: metrics to OUT/metrics.jsonl (metrics.py), a tqdm progress bar with rate and ETA (rank 0), checkpoints
(checkpoints.py) and `resume=True` to continue from the latest one. Resuming restores the weights, the optimizer,
the grad scaler, every process's RNG states (dropout), the data position and the clock, so on the CPU a run stopped
and resumed computes bit for bit the losses of a run that never stopped (tests check it). The step's loss is the
only thing read back to the host each step (one device sync); the gradient norm is read only when logged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .batches import Position, ShardedBatches
from .checkpoints import checkpoint_candidates, load_checkpoint, save_checkpoint
from .distributed import PRECISIONS, DistributedContext, resolve_precision
from .metrics import MetricsLog
from .schedule import build_optimizer, progress_factor, step_factor, warmup_steps

Step = Callable[[nn.Module, dict[str, Tensor]], tuple[Tensor, dict[str, Tensor]]]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the weights were not updated and no checkpoint was written."""


def model_step(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    """The step of a model that computes its own loss (pre-training, fine-tuning): loss = model(**batch).loss, and
    the output's partial losses (`mlm_loss`, `nsp_loss` of BertForPreTraining) as the parts to log."""
    out = model(**batch)
    parts = {name: getattr(out, name) for name in ("mlm_loss", "nsp_loss") if getattr(out, name, None) is not None}
    return out.loss, parts


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


def _tokens(batch: dict[str, Tensor]) -> Tensor:
    """Real (non-pad) tokens of a batch, as a tensor on the batch's device (no read back)."""
    if "attention_mask" in batch:
        return batch["attention_mask"].sum()
    return torch.tensor(batch["input_ids"].numel() if "input_ids" in batch else 0)


class Trainer:
    """Trains `model` on `batches` with `step` and `args` (see the module docstring).

    evaluate: called on rank 0 as evaluate(model) → {name: float} with the model in eval mode, under no_grad (and
    autocast); its numbers go to the "eval" records. callbacks: called as callback(trainer, record) after each
    step's bookkeeping (a callback may raise to stop the run, as the tests do).
    """

    def __init__(self, model: nn.Module, batches: ShardedBatches, args: TrainingArguments, step: Step = model_step,
                 evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
                 ctx: DistributedContext | None = None,
                 callbacks: list[Callable[["Trainer", dict], None]] | None = None):
        self.ctx = ctx or DistributedContext()
        if batches.world_size != self.ctx.world_size or batches.rank != self.ctx.rank:
            raise ValueError(f"batches are planned for rank {batches.rank} of {batches.world_size}, but this is "
                             f"rank {self.ctx.rank} of {self.ctx.world_size}")
        self.args, self.batches, self.step_fn, self.evaluate = args, batches, step, evaluate
        self.callbacks = callbacks or []
        self.device = self.ctx.device
        self.model = model.to(self.device)
        self.autocast_dtype = resolve_precision(args.precision, self.device)
        self.optimizer = build_optimizer(self.model, args.lr, args.weight_decay, args.adam_betas, args.adam_eps)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast_dtype == torch.float16)
        self.step, self.position, self.elapsed, self.tokens_seen = 0, Position(), 0.0, 0
        self.last_eval: dict[str, float] = {}
        self.last_checkpoint: str | None = None

    # ------------------------------------------------------------------ the loop
    def train(self, resume: bool = False) -> dict[str, Any]:
        """Train until max_steps / minutes. Returns {"step", "elapsed", "tokens", "eval", "checkpoint"}."""
        a, ctx = self.args, self.ctx
        torch.manual_seed(a.seed + ctx.rank)
        random.seed(a.seed + ctx.rank)
        if resume:
            self.restore()
        self.log = (MetricsLog(f"{a.out}/metrics.jsonl", truncate_after_step=self.step if resume else None)
                    if ctx.is_main and a.out is not None else None)
        model = self.model
        if ctx.enabled:
            model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.model.train()
        self.bar = tqdm(total=a.max_steps, initial=self.step, disable=not (a.progress and ctx.is_main),
                        unit="step", dynamic_ncols=True, desc=a.desc)
        self._start = time.perf_counter() - self.elapsed
        if self.step == 0 and self.evaluate is not None:
            self._record_eval()
        steps = self.batches.steps(self.position)
        window = [0.0, 0.0]                                            # tokens, seconds: throughput, eval excluded
        try:
            while not self._finished():
                step_start = time.perf_counter()
                lr = a.lr * self._lr_factor()
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                position, micro = next(steps)
                sums, names = self._forward_backward(model, micro)   # forward, loss, backward per micro-batch
                totals = self._reduce(sums, names)                   # over processes; the one read back
                loss, tokens = totals["loss"], int(totals["tokens"])
                if not math.isfinite(loss):
                    self._stop_non_finite()
                grad_norm = self._clip_and_step()                    # unscale, clip, AdamW, zero the gradients
                self.step, self.position = self.step + 1, position
                self.tokens_seen += tokens
                window[0] += tokens
                window[1] += time.perf_counter() - step_start
                record = {"kind": "train", "step": self.step, "time": round(self.elapsed, 3),
                          "epoch": position.epoch, "tokens": self.tokens_seen, "loss": loss,
                          **{n: totals[n] for n in names}, "lr": lr}
                self.bar.update(1)
                if a.max_steps is None and self.elapsed > 0:          # a time budget: the bar's total follows
                    self.bar.total = max(self.step, int(self.step * a.minutes * 60 / self.elapsed))
                if self.step % a.log_every == 0 or self._finished():
                    record.update(grad_norm=float(grad_norm), tokens_per_s=window[0] / max(window[1], 1e-9))
                    window = [0.0, 0.0]
                    if self.log is not None:
                        self.log.write(record)
                    self.bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}", refresh=False)
                if (a.eval_every and self.step % a.eval_every == 0) or self._finished():
                    self._record_eval()
                if a.out is not None and a.checkpoints and ((a.save_every and self.step % a.save_every == 0)
                                                            or self._finished()):
                    self.save()
                for callback in self.callbacks:
                    callback(self, record)
        finally:
            self.bar.close()
        return {"step": self.step, "elapsed": self.elapsed, "tokens": self.tokens_seen, "eval": self.last_eval,
                "checkpoint": self.last_checkpoint}

    # ------------------------------------------------------------------ the pieces of one step
    def _forward_backward(self, model: nn.Module, micro: list[dict[str, Tensor]]) -> tuple[Tensor, list[str]]:
        """Forward, loss and backward over the micro-batches. Returns the sums, on the device, of
        [loss/n, part/n for each part, real tokens] and the parts' names."""
        sums, names = None, []
        for k, batch in enumerate(micro):
            batch = {name: t.to(self.device, non_blocking=True) for name, t in batch.items()}
            last = k == len(micro) - 1
            with contextlib.nullcontext() if (last or not self.ctx.enabled) else model.no_sync():
                with self._autocast():
                    loss, parts = self.step_fn(model, batch)
                loss = loss.float()
                self.scaler.scale(loss / len(micro)).backward()       # the library's one backward()
            names = list(parts)
            row = torch.stack([loss.detach(), *(p.detach().float() for p in parts.values())]) / len(micro)
            row = torch.cat([row, _tokens(batch).float().reshape(1).to(row.device)])
            sums = row if sums is None else sums + row
        return sums, names

    def _reduce(self, sums: Tensor, names: list[str]) -> dict[str, float]:
        """Sum over processes (one all_reduce, rank 0's clock riding along), read back once: the loss and parts
        as means over processes, the tokens as a total."""
        clock = time.perf_counter() - self._start if self.ctx.is_main else 0.0
        totals = torch.cat([sums.double(), torch.tensor([clock], dtype=torch.float64, device=sums.device)])
        *values, tokens, clock = self.ctx.all_reduce_sum(totals).tolist()   # the step's one device sync
        self.elapsed = clock                                            # rank 0's clock, on every process
        out = {name: v / self.ctx.world_size for name, v in zip(["loss", *names], values)}
        return {**out, "tokens": tokens}

    def _clip_and_step(self) -> Tensor:
        self.scaler.unscale_(self.optimizer)
        norm = (nn.utils.clip_grad_norm_(self.model.parameters(), self.args.grad_clip) if self.args.grad_clip > 0
                else torch.tensor(math.nan))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return norm

    def _stop_non_finite(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        where = (f"the last good checkpoint is {self.last_checkpoint!r}" if self.last_checkpoint
                 else "no checkpoint was written yet")
        raise NonFiniteLossError(
            f"the loss is not finite (nan/inf) at step {self.step + 1} (epoch {self.position.epoch}, batch "
            f"{self.position.batch}) — stopped without updating the weights; {where}. Resume from it with a lower "
            "learning rate (--lr), gradient clipping, or fp32.")

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

    # ------------------------------------------------------------------ evaluation and checkpoints
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

    def _record_eval(self) -> None:
        scores = self.run_evaluation()
        if scores:
            self.last_eval = scores
            if self.log is not None:
                self.log.write({"kind": "eval", "step": self.step, "time": round(self.elapsed, 3),
                                "tokens": self.tokens_seen, **scores})
            self.bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()
                                                            if isinstance(v, float)))

    def _state(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.position.epoch, "batch": self.position.batch,
                "elapsed": self.elapsed, "tokens_seen": self.tokens_seen, "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(),
                "world_size": self.ctx.world_size, "global_batch_size": self.batches.global_batch_size,
                "args": {k: v for k, v in dataclasses.asdict(self.args).items() if k != "out"}}

    def save(self) -> None:
        """Checkpoint now (every process hands its RNG state to rank 0, which writes)."""
        rngs = self.ctx.gather_to_main(rng_state(self.device))
        if self.ctx.is_main:
            state = {**self._state(), "rng": rngs}
            self.last_checkpoint = save_checkpoint(self.args.out, self.step, self.model, state,
                                                   self.args.keep_checkpoints)
        self.last_checkpoint = self.ctx.broadcast_object(self.last_checkpoint)

    def restore(self) -> None:
        """Continue from the newest intact checkpoint: OUT/checkpoints/latest, or — when that one is truncated or
        corrupt — the newest older one that loads (each one skipped is named, with the reason)."""
        errors = []
        for path in checkpoint_candidates(self.args.out) if self.args.out is not None else []:
            try:
                state = load_checkpoint(path, self.model, self.device)
                break
            except Exception as e:  # noqa: BLE001 — a torn file fails in torch, safetensors or the OS
                errors.append(f"{path}: {type(e).__name__}: {e}")
                print(f"resume: skipping checkpoint {path!r} ({type(e).__name__}: {e})", file=sys.stderr)
        else:
            raise FileNotFoundError(f"resume: no checkpoint to resume from in {self.args.out!r}/checkpoints"
                                    + (f" ({'; '.join(errors)})" if errors else ""))
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
            set_rng_state(rngs[self.ctx.rank], self.device)
        else:  # another number of processes: the data are the same, dropout draws are not
            torch.manual_seed(self.args.seed + 1000 * self.step + self.ctx.rank)
        self.last_checkpoint = path


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
