"""torchrun support: which process this is, and the few collective steps bench needs.

Under ``torchrun --nproc-per-node N bench run ...`` (or several nodes), every rank embeds
every N-th pending clip into the shared embedding store; after a barrier rank 0
consolidates the parts and runs the protocols, the other ranks stop. ``bench train
wav2clip`` splits each batch across ranks and rank 0 validates and writes. gloo on CPU, NCCL
on GPU; nothing home-made beyond torch.distributed. In a single process every collective
is a no-op, so callers never branch on the world size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def broadcast_float(self, value: float, device: str) -> float:
        """Rank 0's ``value`` on every rank."""
        if not self.active:
            return value
        import torch

        t = torch.tensor([value], dtype=torch.float64, device=device)
        torch.distributed.broadcast(t, src=0)
        return float(t.item())

    def mean(self, value: float, device: str) -> float:
        """The mean of ``value`` over ranks."""
        if not self.active:
            return value
        import torch

        t = torch.tensor([value], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t)
        return float(t.item()) / self.world

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.active:
            return [obj]
        import torch

        out: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out


def dist_info() -> DistInfo:
    return DistInfo(
        rank=int(os.environ.get("RANK", "0")),
        world=int(os.environ.get("WORLD_SIZE", "1")),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def init(device: str) -> DistInfo:
    """Join the process group torchrun set up, on this rank's GPU (no-op in a single process)."""
    info = dist_info()
    if not info.active:
        return info
    import torch
    import torch.distributed as dist

    if device.startswith("cuda"):
        torch.cuda.set_device(rank_device(device, info))  # before NCCL picks a GPU for this rank
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return info


def rank_device(device: str, info: DistInfo) -> str:
    """Under torchrun, ``cuda`` (or any ``cuda:N``) becomes ``cuda:<local rank>``: one GPU per rank."""
    return f"cuda:{info.local_rank}" if device.startswith("cuda") and info.active else device
