"""Device choice and numerics switches for training.

Exactness first: deterministic algorithms on, TF32 and mixed precision off
unless the experiment asks for them. On CPU a run is then bit-reproducible
(for a fixed thread count and library build); on CUDA it is deterministic
run to run on one GPU model and software stack.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Callable, ContextManager

import torch

from deeppc import validate

log = logging.getLogger(__name__)


def select(name: str = "auto") -> torch.device:
    """``auto`` (CUDA if present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    return validate.torch_device(name, "device (--device or config key resources.train.device)")


def configure(device: torch.device, deterministic: bool, tf32: bool) -> None:
    """Process-wide switches; call before the first CUDA operation."""
    if deterministic and device.type == "cuda":
        # cuBLAS needs a fixed workspace to be deterministic; must be set before it initialises
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def autocast(device: torch.device, amp: bool) -> Callable[[], ContextManager]:
    """A factory of autocast contexts: bfloat16 on CUDA when `amp`, else no-op.

    bfloat16 needs no loss scaling, which keeps the gradient penalty's double
    backward simple; fp16 is not offered for that reason.
    """
    if not amp:
        return contextlib.nullcontext
    if device.type != "cuda":
        log.warning("amp is ignored on %s (CUDA only)", device)
        return contextlib.nullcontext
    return lambda: torch.autocast("cuda", dtype=torch.bfloat16)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a CPU tensor to `device` without stalling the host on CUDA.

    A copy from ordinary (pageable) memory waits for the GPU to finish its
    queued work; from pinned memory it is queued like a kernel (PyTorch keeps
    the pinned block alive until the copy has run).
    """
    if device.type != "cuda":
        return x.to(device)
    return x.pin_memory().to(device, non_blocking=True)
