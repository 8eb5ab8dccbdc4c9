"""Which examples go into which step, on which process: the plan of global batches, and a resumable position.

One optimizer step consumes one *global batch* of G = batch_size × accumulation × world_size examples. The plan of
epoch e is a function of (seed, e) only:

    1. shuffle the example indices with Random("order:{seed}:{e}");
    2. (length grouping, `group_by_length` = k > 0) cut the shuffled list into pools of k·G examples and sort each
       pool by length, so that the examples of one batch have similar lengths and padding per batch stays small;
    3. cut into global batches of G (the last, incomplete one is dropped) and, with grouping, shuffle their order;
    4. global batch j is split into world_size × accumulation micro-batches of batch_size: process r takes the
       r-th block of accumulation micro-batches.

So 1 process with accumulation 2 and 2 processes with accumulation 1 see the same micro-batches in each step, and a
run that restarts at position (epoch, j) reads exactly what an uninterrupted run would have read.
Any data object with `num_examples(epoch)`, `lengths(epoch)` and `collate(epoch, indices) -> dict` fits.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from torch import Tensor


class EpochData(Protocol):
    def num_examples(self, epoch: int) -> int: ...
    def lengths(self, epoch: int) -> list[int]: ...
    def collate(self, epoch: int, indices: list[int]) -> dict[str, Tensor]: ...


@dataclass(frozen=True)
class Position:
    """Where the data stands: the next step reads global batch `batch` of epoch `epoch`."""
    epoch: int = 0
    batch: int = 0


class ShardedBatches:
    """The global-batch plan (module docstring) and this process's micro-batches, step by step."""

    def __init__(self, data: EpochData, batch_size: int, accumulation: int = 1, world_size: int = 1, rank: int = 0,
                 seed: int = 0, group_by_length: int = 0):
        for name, value in (("batch_size", batch_size), ("accumulation", accumulation), ("world_size", world_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank!r}")
        if group_by_length < 0:
            raise ValueError(f"group_by_length must be >= 0, got {group_by_length!r}")
        self.data = data
        self.batch_size, self.accumulation = batch_size, accumulation
        self.world_size, self.rank = world_size, rank
        self.seed = seed
        self.group_by_length = group_by_length
        self._plan: tuple[int, list[list[int]]] | None = None

    @property
    def global_batch_size(self) -> int:
        return self.batch_size * self.accumulation * self.world_size

    def plan(self, epoch: int) -> list[list[int]]:
        """The global batches of `epoch` (lists of example indices), computed once per epoch."""
        if self._plan is not None and self._plan[0] == epoch:
            return self._plan[1]
        n, G = self.data.num_examples(epoch), self.global_batch_size
        if n < G:
            raise ValueError(f"an epoch has {n} examples, fewer than one global batch of {G} (batch_size "
                             f"{self.batch_size} × accumulation {self.accumulation} × processes {self.world_size}); "
                             "use a larger corpus or a smaller batch")
        order = list(range(n))
        random.Random(f"order:{self.seed}:{epoch}").shuffle(order)
        if self.group_by_length:
            lengths = self.data.lengths(epoch)
            pool = self.group_by_length * G
            order = [i for s in range(0, n, pool) for i in sorted(order[s:s + pool], key=lengths.__getitem__)]
        batches = [order[s:s + G] for s in range(0, n - G + 1, G)]
        if self.group_by_length:
            random.Random(f"batches:{self.seed}:{epoch}").shuffle(batches)
        self._plan = (epoch, batches)
        return batches

    def micro_batches(self, global_batch: list[int]) -> list[list[int]]:
        """This process's share of one global batch: `accumulation` lists of `batch_size` indices."""
        b, a = self.batch_size, self.accumulation
        mine = global_batch[self.rank * a * b:(self.rank + 1) * a * b]
        return [mine[k * b:(k + 1) * b] for k in range(a)]

    def steps(self, start: Position = Position()) -> Iterator[tuple[Position, list[dict[str, Tensor]]]]:
        """From `start` on, for ever: (the position after this step, this step's collated micro-batches)."""
        epoch, j = start.epoch, start.batch
        while True:
            batches = self.plan(epoch)
            if j >= len(batches):
                epoch, j = epoch + 1, 0
                continue
            micro = [self.data.collate(epoch, idx) for idx in self.micro_batches(batches[j])]
            j += 1
            yield Position(epoch, j), micro
