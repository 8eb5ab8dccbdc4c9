"""The one training loop: pre-training, fine-tuning and both distillation settings all run here.

A task gives the loop its data (a ShardedBatches plan, batches.py) and the function that computes its loss,

    compute_loss(model, batch) -> (loss, parts)     loss: a scalar tensor to minimise; parts: {name: scalar tensor}
                                                    to log (default `model_loss`: the model's own loss)

and one optimizer step reads, top to bottom:

    for each of this process's micro-batches:           # gradient accumulation
        loss, parts = compute_loss(model, batch)         # forward + loss (under bf16/fp16 autocast on CUDA if asked)
        backward(loss / accumulation)                    # DDP all-reduces (averages) the gradients on the last one
    sum the losses, parts and tokens over processes      # one all_reduce and one read back per step
    stop if the loss is NaN/inf                          # before the optimizer touches the weights
    clip the global gradient norm; AdamW step            # lr = peak · f(progress), schedule.py
    log; evaluate; checkpoint                            # every log_every / eval_every / save_every steps
    after a Ctrl-C / SIGTERM: checkpoint and stop        # on every process at once (interrupt.py)

so the gradient is the mean over the world_size × accumulation micro-batches of each one's mean loss, whether they
ran one after the other in one process or side by side in several (Goyal et al. 2017 §2; tests check both).

Around it: metrics to OUT/metrics.jsonl (metrics.py), a tqdm progress bar with rate and ETA (rank 0), checkpoints
(checkpoints.py) and `resume=True` to continue from the latest one. Resuming restores the weights, the optimizer,
the grad scaler, every process's RNG states (dropout), the data position and the clock, so on the CPU a run stopped
and resumed computes bit for bit the losses of a run that never stopped (tests check it). The step's loss is the
only thing read back to the host each step (one device sync); the gradient norm is read only when logged.
A step is counted in `Trainer.global_step`; the settings are `TrainingArguments` (arguments.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .arguments import TrainingArguments
from .batches import Position, ShardedBatches
from .checkpoints import checkpoint_candidates, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .distributed import DistributedContext, resolve_precision
from .interrupt import StopOnSignal, TrainingInterrupted
from .metrics import MetricsLog
from .schedule import build_optimizer, progress_factor, step_factor, warmup_steps

ComputeLoss = Callable[[nn.Module, dict[str, Tensor]], tuple[Tensor, dict[str, Tensor]]]
Callback = Callable[["Trainer", dict], None]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the weights were not updated and no checkpoint was written."""


def model_loss(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    """The loss of a model that computes its own (pre-training, fine-tuning): loss = model(**batch).loss, and as
    the parts to log every partial loss the output carries — its fields named `*_loss` (`mlm_loss`, `nsp_loss` of
    BertForPreTraining)."""
    out = model(**batch)
    parts = {name: value for name, value in vars(out).items() if name.endswith("_loss") and value is not None}
    return out.loss, parts


model_step = model_loss          # the name before issue 25, for students' code


def real_tokens(batch: dict[str, Tensor]) -> Tensor:
    """Real (non-pad) tokens of a batch, as a tensor on the batch's device (no read back)."""
    if "attention_mask" in batch:
        return batch["attention_mask"].sum()
    return torch.tensor(batch["input_ids"].numel() if "input_ids" in batch else 0)


class Trainer:
    """Trains `model` on `batches` with `compute_loss` and `args` (see the module docstring).

    evaluate: called on rank 0 as evaluate(model) → {name: float} with the model in eval mode, under no_grad (and
    autocast); its numbers go to the "eval" records. callbacks: called as callback(trainer, record) after each
    step's bookkeeping (a callback may raise to stop the run, as the tests do).
    """

    def __init__(self, model: nn.Module, batches: ShardedBatches, args: TrainingArguments,
                 compute_loss: ComputeLoss = model_loss, evaluate: Callable[[nn.Module], dict] | None = None,
                 ctx: DistributedContext | None = None, callbacks: list[Callback] | None = None):
        self.ctx = ctx or DistributedContext()
        if batches.world_size != self.ctx.world_size or batches.rank != self.ctx.rank:
            raise ValueError(f"batches are planned for rank {batches.rank} of {batches.world_size}, but this is "
                             f"rank {self.ctx.rank} of {self.ctx.world_size}")
        self.args, self.batches, self.compute_loss, self.evaluate = args, batches, compute_loss, evaluate
        self.callbacks = callbacks or []
        self.device = self.ctx.device
        self.model = model.to(self.device)
        self.autocast_dtype = resolve_precision(args.precision, self.device)
        self.optimizer = build_optimizer(self.model, args.lr, args.weight_decay, args.adam_betas, args.adam_eps)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast_dtype == torch.float16)
        self.global_step, self.position, self.elapsed, self.tokens_seen = 0, Position(), 0.0, 0
        self.last_eval: dict[str, float] = {}
        self.last_checkpoint: str | None = None
        self.signals, self.stop_requested = StopOnSignal(), False   # Ctrl-C / SIGTERM on this / on any process
        # what the run writes and shows; train() starts them where the run stands (step 0, or the checkpoint's)
        self.log = MetricsLog(f"{args.out}/metrics.jsonl") if self.ctx.is_main and args.out is not None else None
        self.bar = tqdm(disable=True)                           # the progress bar: a silent one until train()
        self.clock_start = time.perf_counter()                  # the clock: elapsed = now − clock_start
        self.window_tokens, self.window_seconds = 0, 0.0         # throughput since the last log

    # ------------------------------------------------------------------ the loop
    def train(self, resume: bool = False) -> dict[str, Any]:
        """Train until max_steps / minutes: the module docstring's loop, once per optimizer step.
        Returns {"step", "elapsed", "tokens", "eval", "checkpoint"}."""
        self._begin(resume)                                      # seed, restore; clock, bar, metrics.jsonl
        model = self._parallel()                                 # DDP when several processes train
        if self.global_step == 0 and self.evaluate is not None:
            self._record_eval()
        global_batches = self.batches.steps(self.position)
        with self.bar, self.signals:                             # Ctrl-C / SIGTERM now only ask to stop
            while not self._finished():
                step_began, lr = time.perf_counter(), self._set_lr()  # lr = peak · f(progress)
                position, micro = next(global_batches)              # this process's micro-batches
                sums = self._forward_backward(model, micro)         # compute_loss, backward per micro-batch
                totals = self._all_reduce(sums)                     # over processes: the step's one read back
                if not math.isfinite(totals["loss"]):
                    self._stop_non_finite()                         # before the optimizer touches the weights
                grad_norm = self._clip_and_step()                   # unscale, clip, AdamW, zero the gradients
                record = self._count_step(position, totals, lr, time.perf_counter() - step_began)  # global_step += 1
                if self._due(self.args.log_every):
                    self._log(record, grad_norm)
                if self._due(self.args.eval_every):
                    self._record_eval()
                if self._due(self.args.save_every) and self.args.out is not None and self.args.checkpoints:
                    self.save()
                for callback in self.callbacks:
                    callback(self, record)
                if self.stop_requested:                             # a signal reached a process (interrupt.py)
                    self._stop_on_signal()                          # checkpoint, then TrainingInterrupted
        return {"step": self.global_step, "elapsed": self.elapsed, "tokens": self.tokens_seen,
                "eval": self.last_eval, "checkpoint": self.last_checkpoint}

    # ------------------------------------------------------------------ the pieces of one step
    def _forward_backward(self, model: nn.Module, micro: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        """compute_loss and backward for each micro-batch. Returns the named sums, on the device: "loss" and each
        part, each divided by the number of micro-batches, and "tokens" (the real tokens)."""
        sums: dict[str, Tensor] = {}
        for k, batch in enumerate(micro):
            batch = {name: t.to(self.device, non_blocking=True) for name, t in batch.items()}
            last = k == len(micro) - 1
            with contextlib.nullcontext() if (last or not self.ctx.enabled) else model.no_sync():
                with self._autocast():
                    loss, parts = self.compute_loss(model, batch)
                loss = loss.float()
                self.scaler.scale(loss / len(micro)).backward()       # the library's one backward()
            for name, value in {"loss": loss, **parts}.items():
                sums[name] = sums.get(name, 0) + value.detach().float() / len(micro)
            sums["tokens"] = sums.get("tokens", 0) + real_tokens(batch).float().to(self.device)
        return sums

    def _all_reduce(self, sums: dict[str, Tensor]) -> dict[str, float]:
        """Sum the named sums over processes — one all_reduce of them stacked in the order of their sorted names,
        rank 0's clock and the stop flag riding along — and read them back once: the loss and parts as means over
        processes, the tokens as a total. Every process takes rank 0's clock as `elapsed`, and stops when any
        process was asked to (`stop_requested`: a Ctrl-C / SIGTERM, interrupt.py)."""
        names = sorted(sums)
        clock = time.perf_counter() - self.clock_start if self.ctx.is_main else 0.0
        riders = torch.tensor([clock, float(self.signals.requested > 0)], dtype=torch.float64, device=self.device)
        stacked = torch.cat([torch.stack([sums[name].double() for name in names]), riders])
        *values, self.elapsed, asked = self.ctx.all_reduce_sum(stacked).tolist()   # the step's one device sync
        self.stop_requested = asked > 0
        totals = dict(zip(names, values))
        return {name: totals[name] / (1 if name == "tokens" else self.ctx.world_size) for name in sums}

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
            f"the loss is not finite (nan/inf) at step {self.global_step + 1} (epoch {self.position.epoch}, batch "
            f"{self.position.batch}) — stopped without updating the weights; {where}. Resume from it with gradient "
            "clipping (--grad-clip) or fp32 (--precision fp32); a lower --lr needs a new run (--resume keeps the lr).")

    def _stop_on_signal(self) -> None:
        """After a Ctrl-C / SIGTERM, unless this step ended the run anyway: a checkpoint (when the run writes them
        and this step did not), then TrainingInterrupted — on every process, after the same step."""
        if self._finished():
            return
        if self.args.out is not None and self.args.checkpoints and not self._due(self.args.save_every):
            self.save()
        raise TrainingInterrupted(self.signals.requested or signal.SIGINT, self.global_step, self.last_checkpoint)

    def _count_step(self, position: Position, totals: dict[str, float], lr: float, seconds: float) -> dict:
        """Count the step done (its data position, tokens and time) and move the bar; returns its "train" record."""
        tokens = int(totals.pop("tokens"))
        self.global_step, self.position = self.global_step + 1, position
        self.tokens_seen += tokens
        self.window_tokens, self.window_seconds = self.window_tokens + tokens, self.window_seconds + seconds
        self._move_bar()
        return {"kind": "train", "step": self.global_step, "time": round(self.elapsed, 3), "epoch": position.epoch,
                "tokens": self.tokens_seen, **totals, "lr": lr}

    def _log(self, record: dict, grad_norm: Tensor) -> None:
        """Complete the record (the gradient norm, read back now; the throughput) and write it."""
        record.update(grad_norm=float(grad_norm), tokens_per_s=self._throughput())
        if self.log is not None:
            self.log.write(record)
        self.bar.set_postfix(loss=f"{record['loss']:.3f}", lr=f"{record['lr']:.2e}", refresh=False)

    # ------------------------------------------------------------------ the budget, the schedule, the bar, the clock
    def _finished(self) -> bool:
        a = self.args
        return ((a.max_steps is not None and self.global_step >= a.max_steps)
                or (a.minutes is not None and self.elapsed >= a.minutes * 60))

    def _due(self, every: int) -> bool:
        """Whether this step logs / evaluates / saves: every `every` steps (0: never) and at the end."""
        return (every > 0 and self.global_step % every == 0) or self._finished()

    def _set_lr(self) -> float:
        """lr = peak · f(progress) (schedule.py): progress in steps, or in time under a time budget."""
        a = self.args
        if a.max_steps is not None:
            factor = step_factor(self.global_step, a.max_steps, warmup_steps(a.max_steps, a.warmup))
        else:
            factor = progress_factor(min(1.0, self.elapsed / (a.minutes * 60)), a.warmup)
        lr = a.lr * factor
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _move_bar(self) -> None:
        """One step on the bar; under a time budget its total is the number of steps the budget allows at this pace."""
        self.bar.update(1)
        a = self.args
        if a.max_steps is None and self.elapsed > 0:
            self.bar.total = max(self.global_step, int(self.global_step * a.minutes * 60 / self.elapsed))

    def _throughput(self) -> float:
        """Real tokens per second of the training steps since the last log (not evaluations, not checkpoints)."""
        rate = self.window_tokens / max(self.window_seconds, 1e-9)
        self.window_tokens, self.window_seconds = 0, 0.0
        return rate

    def _begin(self, resume: bool) -> None:
        """Seed this process and, resuming, restore the newest checkpoint (RNG states included); then start the
        clock, the bar and metrics.jsonl where the run stands: a resumed run goes on with its time, steps, records."""
        a = self.args
        torch.manual_seed(a.seed + self.ctx.rank)
        random.seed(a.seed + self.ctx.rank)
        if resume:
            self.restore()
        if self.log is not None:
            self.log.start(truncate_after_step=self.global_step if resume else None)
        self.model.train()
        self.bar = tqdm(total=a.max_steps, initial=self.global_step, disable=not (a.progress and self.ctx.is_main),
                        unit="step", dynamic_ncols=True, desc=a.desc)
        self.clock_start = time.perf_counter() - self.elapsed

    def _parallel(self) -> nn.Module:
        """The model each process runs: wrapped in DistributedDataParallel when several processes train."""
        if not self.ctx.enabled:
            return self.model
        return nn.parallel.DistributedDataParallel(
            self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

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
                self.log.write({"kind": "eval", "step": self.global_step, "time": round(self.elapsed, 3),
                                "tokens": self.tokens_seen, **scores})
            self.bar.write(f"step {self.global_step}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()
                                                            if isinstance(v, float)))

    def _state(self) -> dict[str, Any]:
        return {"step": self.global_step, "epoch": self.position.epoch, "batch": self.position.batch,
                "elapsed": self.elapsed, "tokens_seen": self.tokens_seen, "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(),
                "world_size": self.ctx.world_size, "global_batch_size": self.batches.global_batch_size,
                "args": {k: v for k, v in dataclasses.asdict(self.args).items() if k != "out"}}

    def save(self) -> None:
        """Checkpoint now (every process hands its RNG state to rank 0, which writes)."""
        rngs = self.ctx.gather_to_main(rng_state(self.device))
        if self.ctx.is_main:
            state = {**self._state(), "rng": rngs}
            self.last_checkpoint = save_checkpoint(self.args.out, self.global_step, self.model, state,
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
        self.global_step, self.elapsed, self.tokens_seen = state["step"], state["elapsed"], state["tokens_seen"]
        self.position = Position(state["epoch"], state["batch"])
        rngs = state["rng"]
        if len(rngs) == self.ctx.world_size:
            set_rng_state(rngs[self.ctx.rank], self.device)
        else:  # another number of processes: the data are the same, dropout draws are not
            torch.manual_seed(self.args.seed + 1000 * self.global_step + self.ctx.rank)
        self.last_checkpoint = path
