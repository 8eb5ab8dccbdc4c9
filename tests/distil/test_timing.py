"""distil.timing.interleaved_times: every model runs on every batch in every round; the ratios are per batch."""

import time

import pytest
import torch
from torch import nn

from distil.timing import interleaved_times


class Sleeper(nn.Module):
    """Sleeps `seconds` per call and counts its calls."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.calls = seconds, 0

    def forward(self, x):
        self.calls += 1
        time.sleep(self.seconds)
        return x


def test_interleaved_times_counts_and_ratio():
    slow, fast = Sleeper(0.02), Sleeper(0.01)
    batches = [{"x": torch.zeros(1)} for _ in range(3)]
    out = interleaved_times({"slow": slow, "fast": fast}, batches, rounds=2, warmup=1)
    assert slow.calls == fast.calls == 1 + 3 * 2
    assert out["slow"]["ratio"] == 1.0
    assert 0.3 < out["fast"]["ratio"] < 0.8 and out["slow"]["median_s"] >= 0.02
    assert not slow.training


def test_interleaved_times_checks_arguments():
    with pytest.raises(ValueError, match="at least one"):
        interleaved_times({}, [{"x": torch.zeros(1)}])
    with pytest.raises(ValueError, match="rounds"):
        interleaved_times({"a": Sleeper(0)}, [{"x": torch.zeros(1)}], rounds=0)
