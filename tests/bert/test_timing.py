"""bert/tools/timing.py: every contestant runs once per round in a rotating order, the times are aligned by round, and
interleaved_times (every model on every batch in every round) gives per-batch ratios."""

import time

import pytest
import torch
from torch import nn

from bert.tools.timing import interleaved, interleaved_times, measure, medians, peak_memory, ratios


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


def test_interleaved_rotates_the_order_feeds_each_round_its_input_and_syncs_around_every_call():
    calls, syncs = [], []
    fns = {n: (lambda x, n=n: calls.append((n, x))) for n in "abc"}
    times = interleaved(fns, repeats=4, warmup=1, inputs=["w", "x", "y"], sync=lambda: syncs.append(1))
    assert [n for n, _ in calls] == list("abc" "bca" "cab" "abc" "bca")        # rotate by one per round
    assert [x for _, x in calls] == ["w"] * 3 + ["x"] * 3 + ["y"] * 3 + ["w"] * 3 + ["x"] * 3   # round r: inputs[r % 3]
    assert len(syncs) == 2 * len(calls)                                        # before the clock and after each call
    assert sorted(times) == ["a", "b", "c"] and all(len(t) == 4 for t in times.values())   # warm-up not timed
    with pytest.raises(ValueError, match="repeats"):
        interleaved(fns, repeats=0)


def test_medians_and_ratios_use_the_rounds_pairwise():
    times = {"a": [1.0, 10.0, 3.0], "b": [2.0, 20.0, 2.0]}   # round 1 slowed both: the per-round ratio ignores it
    assert medians(times) == {"a": 3.0, "b": 2.0}
    assert ratios(times, base="b") == {"a": 0.5, "b": 1.0}


def test_measure_gives_time_and_the_peak_memory_beyond_the_inputs():
    x = torch.zeros(1000, 1000)                                                # 4 MB held before: not counted
    with torch.no_grad():
        r = measure({"copy": lambda: x + 1, "sleep": lambda: time.sleep(0.01)}, "cpu", repeats=2)
    assert r["seconds"]["sleep"] >= 0.01
    assert r["peak"]["copy"] >= 4_000_000 > r["peak"]["sleep"] and peak_memory(lambda: x[0, 0], "cpu") < 4_000_000


def test_peak_memory_silences_the_profilers_native_lines_and_restores_stderr(capfd):
    """The profiler's C++ side writes straight to file descriptor 2; peak_memory drops what is written there during
    the measurement (a native write stands in for the profiler's) and gives descriptor 2 back afterwards."""
    import os

    peak_memory(lambda: os.write(2, b"profiler_start USDT noise\n") and torch.zeros(1000), "cpu")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "USDT" not in err and "after" in err
