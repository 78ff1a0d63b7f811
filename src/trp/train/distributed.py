"""Data-parallel training across the processes `torchrun` starts: one process per GPU (NCCL) or
per CPU worker (gloo), DistributedDataParallel around the network, and the collectives a stage
needs around it (a sum, a broadcast from rank 0, a barrier, a check that every process holds the
same weights).

TRP keeps the replicas identical without extra communication: DDP all-reduces the gradients, so
every process holds the same weights; the RankRegularizer projects and adds the nuclear
sub-gradient from SVDs of those same weights, so it does the same on each. `identical_across`
checks this (weights, buffers and projection ranks, hashed) and raises if it ever fails.
"""
import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..config import ConfigError

# Ranks other than 0 wait at barriers while rank 0 writes checkpoints and measures the networks.
TIMEOUT = datetime.timedelta(minutes=30)


class ReplicasDiffer(RuntimeError):
    """The processes' weights (or projection ranks) are not the same: a bug, never a user error."""


@dataclass(frozen=True)
class Process:
    """This process's place among the ones torchrun started (rank 0 of 1 without torchrun)."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def start(device_type: str) -> Process:
    """Join the process group torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
    MASTER_PORT) describes: NCCL and GPU `LOCAL_RANK` on "cuda", gloo on "cpu". Without
    torchrun, or with one process, no group is started."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Process(device=torch.device(device_type))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    device = torch.device(device_type, local_rank) if device_type == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"torchrun started more processes on this machine than its {torch.cuda.device_count()} "
                              "GPUs; pass --nproc_per_node at most that")
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
    return Process(rank, world_size, local_rank, device)


def finish(process: Process) -> None:
    if process.distributed and dist.is_initialized():
        dist.destroy_process_group()


def sum_across(process: Process) -> Callable[[torch.Tensor], None] | None:
    """An in-place sum of a tensor over the processes (for trp.train.fit / evaluate), or None
    for one process."""
    return dist.all_reduce if process.distributed else None


def barrier(process: Process) -> None:
    if process.distributed:
        dist.barrier()


def broadcast_ints(values: list[int], process: Process) -> list[int]:
    """Rank 0's `values`, on every process (each process passes a list of the same length)."""
    if not process.distributed:
        return list(values)
    t = torch.tensor(list(values), dtype=torch.int64, device=process.device)
    dist.broadcast(t, 0)
    return t.tolist()


def broadcast_int(value: int, process: Process) -> int:
    """Rank 0's `value`, on every process."""
    return broadcast_ints([value], process)[0]


class DistributedNetwork(DistributedDataParallel):
    """DDP whose checkpoints are the wrapped network's own (its state_dict has no "module."
    prefix, so a run resumes under any number of processes), and whose evaluation runs each
    process's network alone: switching to eval mode first copies rank 0's BatchNorm statistics
    to every process (DDP's training forward leaves each with its last batch's update), then
    eval-mode forwards skip DDP, whose collectives would hang when the shards' batch counts
    differ. Every process must switch modes at the same points (trp.train.fit does)."""

    def state_dict(self, *args, **kwargs):
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        return self.module.load_state_dict(state_dict, strict, assign)

    def train(self, mode: bool = True):
        if not mode and self.training:
            for b in self.module.buffers():
                dist.broadcast(b, 0)
        return super().train(mode)

    def forward(self, *inputs, **kwargs):
        if not self.training:
            return self.module(*inputs, **kwargs)
        return super().forward(*inputs, **kwargs)


def wrap(model: nn.Module, process: Process) -> nn.Module:
    """`model` under DistributedNetwork when there are several processes, else `model` itself."""
    if not process.distributed:
        return model
    return DistributedNetwork(model, device_ids=[process.device.index] if process.device.type == "cuda" else None)


def state_digest(model: nn.Module, ranks: dict[str, int] | None = None) -> bytes:
    """sha256 of every parameter and buffer (name, dtype, shape, bytes) and of `ranks`."""
    h = hashlib.sha256(json.dumps(sorted((ranks or {}).items())).encode())
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.digest()


def identical_across(model: nn.Module, process: Process, ranks: dict[str, int] | None = None) -> list[str]:
    """Every process's state_digest (hex), gathered on each; ReplicasDiffer if they differ."""
    mine = torch.tensor(list(state_digest(model, ranks)), dtype=torch.uint8, device=process.device)
    gathered = [mine]
    if process.distributed:
        gathered = [torch.empty_like(mine) for _ in range(process.world_size)]
        dist.all_gather(gathered, mine)
    digests = [bytes(t.cpu().tolist()).hex() for t in gathered]
    if len(set(digests)) > 1:
        raise ReplicasDiffer(f"the {process.world_size} processes hold different weights or projection ranks "
                             f"(state digests {[d[:12] for d in digests]})")
    return digests
