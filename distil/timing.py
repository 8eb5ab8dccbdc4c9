"""Inference time of several models on the same batches, measured interleaved so that a noisy machine slows
them alike: for each batch and each round, every model runs once, in an order that rotates between rounds; the
report is the median time per batch of each model and the median of the per-batch ratios."""

from __future__ import annotations

import statistics
import time
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn


@torch.inference_mode()
def interleaved_times(models: Mapping[str, nn.Module], batches: Sequence[dict[str, Tensor]], rounds: int = 3,
                      warmup: int = 1) -> dict[str, dict[str, float]]:
    """{name: {"median_s": median seconds per batch, "ratio": median over batches of (its time / the first
    model's time)}}. Each model runs `warmup` batches first (not timed). Models are put in eval mode."""
    if not models or not batches:
        raise ValueError("interleaved_times needs at least one model and one batch")
    if rounds < 1:
        raise ValueError(f"rounds must be ≥ 1, got {rounds}")
    names = list(models)
    for m in models.values():
        m.eval()
        for b in batches[:warmup]:
            m(**b)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for b in batches:
            order = names[r % len(names):] + names[:r % len(names)]             # rotate who goes first
            for n in order:
                start = time.perf_counter()
                models[n](**b)
                times[n].append(time.perf_counter() - start)
    base = times[names[0]]
    return {n: {"median_s": statistics.median(times[n]),
                "ratio": statistics.median(t / b for t, b in zip(times[n], base))} for n in names}


__all__ = ["interleaved_times"]
