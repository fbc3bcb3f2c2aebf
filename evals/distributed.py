"""Runs split over processes with torch.distributed (torchrun), no scheduler of our own.

    torchrun --nproc_per_node 8 run_eval.py --task coco --model vit_h --device cuda ...
    srun torchrun --nnodes $SLURM_NNODES --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint $HEAD:29500 run_eval.py ...

Each rank predicts every world_size-th sample (rank, rank + world_size, ...) into the shared prediction store;
rank 0 then scores all samples in dataset order from the store, so the results equal a single-process run's for
any world size. A rank that dies leaves its finished samples stored; rerunning resumes only the missing ones.
"""
from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist

# How long ranks wait for each other at the end of the prediction phase: shards of a ViT-H run take hours.
DEFAULT_TIMEOUT = timedelta(hours=72)


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_environment(device: str, timeout: timedelta = DEFAULT_TIMEOUT) -> str:
    """Join the process group torchrun describes; returns this rank's device (cuda -> cuda:<LOCAL_RANK>)."""
    if not launched_by_torchrun() or dist.is_initialized():
        return device
    if device.startswith("cuda"):
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo", timeout=timeout)
    return device


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard(samples: list, rank: int, world_size: int) -> list:
    """This rank's samples: deterministic, balanced to within one sample."""
    return samples[rank::world_size]


def barrier() -> None:
    if rank_and_world()[1] > 1:
        dist.barrier()


def gather(value):
    """Every rank's `value`, in rank order (just [value] without a process group)."""
    rank, world_size = rank_and_world()
    if world_size == 1:
        return [value]
    values = [None] * world_size
    dist.all_gather_object(values, value)
    return values
