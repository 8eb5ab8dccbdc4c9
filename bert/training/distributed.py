"""Several processes with torch.distributed: who am I, which device, and the few collective calls the trainer needs.

`torchrun --nproc_per_node=N -m bert.pretrain …` starts N copies of the program with RANK, WORLD_SIZE and
LOCAL_RANK in their environment; `init_distributed` reads them and joins the process group — NCCL when the
processes run on CUDA devices, gloo on the CPU. Without those variables it is a single process and every call
here is a no-op. Only rank 0 writes files (`is_main`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


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



@dataclass(frozen=True)
class DistributedContext:
    """rank / world_size / local_rank of this process and its device; `enabled` when a process group is up."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum of `t` over the processes (in place; returned for convenience)."""
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def gather_to_main(self, obj: Any) -> list[Any] | None:
        """Every process's `obj` (picklable) as a list on rank 0; None elsewhere."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world_size if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def scatter_from_main(self, objs: list[Any] | None) -> Any:
        """Rank 0's objs[r] to process r."""
        if not self.enabled:
            return objs[0]
        out = [None]
        dist.scatter_object_list(out, objs if self.is_main else None, src=0)
        return out[0]

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's `obj` on every process."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def resolve_device(requested: str = "auto") -> torch.device:
    """"auto" → cuda if available, else cpu; "cpu" / "cuda" / "cuda:N" as given (cuda without CUDA is an error)."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} asked for, but CUDA is not available (use --device cpu)")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {requested!r}")
    return device


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the process group torchrun set up (env RANK, WORLD_SIZE, LOCAL_RANK), or stay a single process.
    On CUDA each process takes the GPU `cuda:LOCAL_RANK` and NCCL; on the CPU, gloo."""
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return DistributedContext(device=resolve_device(device))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    dev = resolve_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world,
                                device_id=dev if dev.type == "cuda" else None)
    return DistributedContext(rank, world, local_rank, dev, enabled=True)


def shutdown(ctx: DistributedContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
