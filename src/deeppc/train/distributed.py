"""Data-parallel training over several processes (``torchrun``): the same run as one process, split by sample.

A run launched by ``torchrun --nproc_per_node N`` has N ranks. Each holds the
full networks, optimizers and random stream; every iteration, rank r takes
samples r, r + N, r + 2N, ... of the global batch (strided, so StyleGAN2's
minibatch-standard-deviation groups are the very groups of the one-process
run whenever the group size divides the per-rank batch). Every random draw
of per-sample quantities (latents, classes, noise maps, path-length
directions, ADA and DiffAugment parameters) is drawn for the whole global
batch from the shared stream and sliced the same way, so the ranks together
see exactly the numbers one process would. After each phase's backward the
gradients are summed over ranks (each scaled by 1/N: every loss is a mean
over its samples), as are the logged values and the few statistics that
are means over samples (StyleGAN2's tracked w average and path-length mean,
ADA's overfitting heuristic), so every rank takes the same optimizer step
and keeps identical weights, G_ema and ADA p. One process and N processes
then differ only in floating-point summation order.

The global batch, learning rates and schedule are the config's; the
per-rank batch is batch_size / N (it must divide, and an epoch's last batch
must be dropped: ``drop_last``). Rank 0 writes the run folder; the other
ranks run the same loop writing to a private folder that is removed at the
end, so every rank reaches the same collectives in the same order (checkpoints,
divergence, SIGTERM) without extra messages. Resume state is rank-free, so a
run resumes onto any number of processes.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Shard:
    """This process's part of every global batch: rows rank, rank + world, ..."""

    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    def take(self, x: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global-batch tensor."""
        return x[self.rank :: self.world] if self.active else x

    def draw(self, sample: Callable[[tuple[int, ...]], torch.Tensor], n_local: int, *rest: int) -> torch.Tensor:
        """`sample(shape)` for the whole global batch (n_local * world rows), then this rank's rows."""
        return self.take(sample((n_local * self.world, *rest)))

    def all_mean(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over ranks of a tensor each rank computed on its equal share (identity with one process)."""
        if not self.active:
            return x
        out = x.detach().clone()
        dist.all_reduce(out)
        return out / self.world

    def average_gradients(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Replace every gradient by its mean over ranks (one flat all-reduce)."""
        if not self.active:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def any(self, flag: bool) -> bool:
        """True on every rank when any rank's `flag` is true (a stop request, say)."""
        if not self.active:
            return flag
        value = torch.tensor([1.0 if flag else 0.0])
        if dist.get_backend() == "nccl":
            value = value.cuda()
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)


SINGLE = Shard()


def run_folder(out_dir: Path, shard: Shard) -> Path:
    """Where this rank writes: `out_dir` on rank 0; elsewhere a private folder holding a copy of its resume state.

    Every rank must resume from the same state, so the others copy rank 0's
    before rank 0 may start a fresh run (which deletes it): a barrier orders them.
    """
    if not shard.active:
        return out_dir
    private = out_dir.with_name(f".{out_dir.name}.rank{shard.rank}")
    if shard.rank:
        shutil.rmtree(private, ignore_errors=True)
        if (out_dir / "state").is_dir():
            shutil.copytree(out_dir / "state", private / "state")
    dist.barrier()
    return out_dir if shard.rank == 0 else private


def drop_folder(folder: Path, out_dir: Path) -> None:
    """Remove a non-zero rank's private folder (never the run folder itself)."""
    if folder != out_dir:
        shutil.rmtree(folder, ignore_errors=True)


def from_environment() -> Shard:
    """The shard torchrun describes (RANK, WORLD_SIZE), or one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return Shard(int(os.environ.get("RANK", "0")), world) if world > 1 else SINGLE


def start(shard: Shard, device: torch.device) -> None:
    """Join the process group: NCCL on CUDA, gloo on the CPU (torchrun sets the rendezvous)."""
    if shard.active and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)  # NCCL collectives (the barrier too) use the current device
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def stop(shard: Shard) -> None:
    if shard.active and dist.is_initialized():
        dist.destroy_process_group()


def local_device(device: str) -> str:
    """A rank's device: cuda:LOCAL_RANK when training on CUDA with several processes."""
    local = os.environ.get("LOCAL_RANK")
    if local is not None and device in ("cuda", "auto") and torch.cuda.is_available():
        return f"cuda:{int(local)}"
    return device
