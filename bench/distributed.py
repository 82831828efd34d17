"""torchrun support: shard embedding extraction across ranks, consolidate on rank 0.

Under ``torchrun --nproc-per-node N bench run ...`` (or several nodes), every rank embeds
every N-th pending clip into the shared embedding store; after a barrier rank 0
consolidates the parts and runs the protocols, the other ranks stop. gloo on CPU, NCCL on
GPU; nothing home-made beyond torch.distributed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


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


def dist_info() -> DistInfo:
    return DistInfo(
        rank=int(os.environ.get("RANK", "0")),
        world=int(os.environ.get("WORLD_SIZE", "1")),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def init(device: str) -> DistInfo:
    """Join the process group torchrun set up (no-op in a single process)."""
    info = dist_info()
    if not info.active:
        return info
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return info


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def rank_device(device: str, info: DistInfo) -> str:
    """``cuda`` becomes ``cuda:<local rank>`` so each rank drives its own GPU."""
    return f"cuda:{info.local_rank}" if device == "cuda" and info.active else device
