"""Measuring code on a noisy machine: interleaved timing, medians and per-round ratios, and the peak memory of a call.

A machine shared with other work slows whatever runs while the other work runs. So the contestants are timed
**interleaved**: every one runs once per round, in an order that rotates by one each round

    round 0: A B C      round 1: B C A      round 2: C A B      round 3: A B C ...

and the summary is robust to the rounds that were slowed for all of them:

    median_A  = median_r t_A[r]                         (seconds of one call)
    ratio_A,B = median_r ( t_A[r] / t_B[r] )            (< 1: A is faster; both times from the same round)

On CUDA a call returns before its kernels finish, so the clock waits for the device (`sync`) before it starts and
after every call.

    times = interleaved({"ours": lambda: ours(**batch), "theirs": lambda: theirs(**batch)}, repeats=11,
                        sync=synchronizer(device))
    medians(times)["ours"], ratios(times, base="theirs")["ours"]

Used by every benchmark in `benchmarks/`, by the SST-2 distillation report (`interleaved_times`) and, with
`peak_memory`, by notebook 06 (`measure`).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.profiler import ProfilerActivity, profile


def synchronizer(device: str | torch.device) -> Callable[[], None] | None:
    """The `sync` for `device`: torch.cuda.synchronize on a CUDA device (its kernels run asynchronously), else None."""
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else None


def interleaved(fns: Mapping[str, Callable[..., Any]], repeats: int, warmup: int = 1, *,
                inputs: Sequence[Any] | None = None, sync: Callable[[], None] | None = None) -> dict[str, list[float]]:
    """Seconds of each call, {name: [round 0, round 1, ...]} over `repeats` timed rounds (aligned: entry r of every
    list comes from the same round), after `warmup` untimed rounds.

    Each round calls every fn once, the order rotating by one each round. Without `inputs` a fn is called with no
    argument; with `inputs`, round r (warm-up rounds counted first) calls fn(inputs[r % len(inputs)]) — the same
    batch for everyone in a round. `sync` (e.g. `synchronizer(device)`) runs before the clock starts and after each
    call. What a fn returns is dropped."""
    if not fns:
        raise ValueError("interleaved needs at least one function to time")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be ≥ 1 and warmup ≥ 0, got repeats={repeats}, warmup={warmup}")
    if inputs is not None and len(inputs) == 0:
        raise ValueError("inputs: give at least one, or None to call the functions without an argument")
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + repeats):
        args = () if inputs is None else (inputs[r % len(inputs)],)
        k = r % len(names)
        for name in names[k:] + names[:k]:                          # rotate who goes first
            if sync is not None:
                sync()
            start = time.perf_counter()
            fns[name](*args)
            if sync is not None:
                sync()
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def medians(times: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """{name: median seconds} of `interleaved`'s result."""
    return {name: statistics.median(ts) for name, ts in times.items()}


def ratios(times: Mapping[str, Sequence[float]], base: str) -> dict[str, float]:
    """{name: median over rounds of t_name[r] / t_base[r]}: time relative to `base` (< 1: faster), from the
    per-round pairs, so a round slowed for everyone cancels out. ratios(...)[base] is 1.0."""
    return {name: statistics.median(t / b for t, b in zip(ts, times[base])) for name, ts in times.items()}


@torch.inference_mode()
def interleaved_times(models: Mapping[str, nn.Module], batches: Sequence[dict[str, Tensor]], rounds: int = 3,
                      warmup: int = 1) -> dict[str, dict[str, float]]:
    """Inference time of several models on the same batches: {name: {"median_s": median seconds per batch,
    "ratio": median over (round, batch) of its time / the first model's time}}.

    Every model runs on the first `warmup` batches first (not timed), then on every batch in each of `rounds`
    rounds, interleaved. Models are put in eval mode."""
    if not models or not batches:
        raise ValueError("interleaved_times needs at least one model and one batch")
    if rounds < 1:
        raise ValueError(f"rounds must be ≥ 1, got {rounds}")
    for m in models.values():
        m.eval()
    calls = {name: (lambda batch, m=m: m(**batch)) for name, m in models.items()}
    warm = list(batches[:warmup])
    times = interleaved(calls, repeats=rounds * len(batches), warmup=len(warm), inputs=warm + list(batches) * rounds)
    median_s, ratio = medians(times), ratios(times, base=next(iter(models)))
    return {name: {"median_s": median_s[name], "ratio": ratio[name]} for name in models}


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block: the profiler's C++ side writes its start/stop lines
    ("USDT", "profiler_start") straight to it, into a notebook's or a terminal's output. Exceptions still propagate;
    in a terminal, Python's own messages from inside the block (sys.stderr is descriptor 2 there) are dropped too."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def peak_memory(fn: Callable[[], Any], device: str | torch.device = "cpu") -> int:
    """The most bytes held at once while fn() runs, beyond those held before it (its output included):

      - CPU: every allocation and free through PyTorch's CPU allocator during the call (tensors and the kernels'
        scratch buffers), from `torch.profiler` with `profile_memory=True`, replayed in time order (Python's
        tracemalloc does not see them); the profiler's own native log lines are silenced;
      - CUDA: torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), minus the bytes held before."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        out = fn()
        torch.cuda.synchronize()
        del out
        return torch.cuda.max_memory_allocated() - before
    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
        del out
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    held = peak = 0
    for e in events:                                                # nbytes > 0: an allocation, < 0: a free
        held += e.nbytes()
        peak = max(peak, held)
    return peak


def measure(fns: Mapping[str, Callable[[], Any]], device: str | torch.device = "cpu",
            repeats: int = 11) -> dict[str, dict[str, float]]:
    """Time and memory of each fn: {"seconds": {name: median of `repeats` interleaved calls after one warm-up
    round}, "peak": {name: peak_memory in bytes}}. Call it under torch.no_grad() to measure inference."""
    times = interleaved(fns, repeats, warmup=1, sync=synchronizer(device))
    return {"seconds": medians(times), "peak": {name: peak_memory(fn, device) for name, fn in fns.items()}}


__all__ = ["interleaved", "interleaved_times", "measure", "medians", "peak_memory", "ratios", "synchronizer"]
