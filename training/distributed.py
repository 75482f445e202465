"""Data-parallel training under ``torchrun``: the process group, DDP wrappers and the per-rank split of sequences.

``torchrun`` starts one process per GPU (or CPU slot) on every machine and sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous address; one machine: ``torchrun --standalone --nproc_per_node N``,
several: ``torchrun --nnodes M --nproc_per_node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT --rdzv-id RUN``
on each. Gradients are averaged by :class:`torch.nn.parallel.DistributedDataParallel` (bucketed, all-reduced
while the backward pass runs): NCCL on GPUs, gloo on CPU. Each step draws the sequence starts of the global
batch (``batch`` x world) from one seeded stream and every rank takes its interleaved share (as
``DistributedSampler`` does), so N processes train on what one process with an N times larger batch would.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def init_distributed(cuda: bool) -> tuple[int, int]:
    """``(rank, world)`` of this process: ``(0, 1)`` outside torchrun; under it, joins the process group
    (NCCL when training on CUDA, with this process's GPU selected; gloo on CPU)."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return 0, 1
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(local_rank())
        dist.init_process_group("nccl" if cuda else "gloo")
    return dist.get_rank(), dist.get_world_size()


def finish_distributed() -> None:
    """Leave the process group at the end of a torchrun job: wait for every rank (rank 0 may still be writing
    the last checkpoint), then tear the group down before the interpreter exits; a rank exiting with its gloo
    group alive can abort in gloo's threads ("terminate called without an active exception"). No-op outside
    torchrun."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def local_rank() -> int:
    """This process's index on its machine (its GPU), from torchrun's ``LOCAL_RANK``."""
    return int(os.environ.get("LOCAL_RANK", "0"))


class LossStep(nn.Module):
    """``fn`` as the forward of a module owning ``modules``: several networks trained by one backward pass
    (the discriminators, each called several times per step) become one DDP forward, as DDP requires."""

    def __init__(self, modules: dict[str, nn.Module], fn: Callable[..., Any]) -> None:
        super().__init__()
        self.nets = nn.ModuleDict(modules)
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)


def data_parallel(module: nn.Module, world: int, device: torch.device,
                  find_unused: bool = False) -> nn.Module:
    """``module`` wrapped in DDP under torchrun (itself in a single process). ``find_unused``: some of its
    parameters may get no gradient in a step (a temporal scale whose window does not fit yet); DDP then
    finds them from the forward's outputs instead of waiting for their gradients."""
    if world == 1:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)


def rank_share(global_items: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This rank's interleaved share ``global_items[rank::world]`` (the ``DistributedSampler`` split)."""
    if len(global_items) % world:
        raise ValueError(f"{len(global_items)} items do not split evenly over {world} processes")
    return global_items[rank::world]
