"""Helpers shared by the GAN training tests: toy image sets and watching a training process."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch


def blob_images(n: int, size: int, seed: int = 0, bar: bool = False) -> np.ndarray:
    """Toy 'radiographs': a bright disc on black at a random place and radius; `bar` darkens a row band
    through it, so there is structure for a convolutional generator to learn."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros((n, size, size), dtype=np.uint8)
    for image in images:
        cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
        radius = rng.uniform(size * 0.12, size * 0.25)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < radius**2] = 220
        if bar:
            image[int(cy) : int(cy) + 2, :] //= 2
    return images


def wait_for_row(process: subprocess.Popen, losses: Path, iteration: int, timeout: float = 120) -> None:
    """Block until losses.csv holds `iteration`'s row (rows reach the file in batches)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be interrupted"
        if losses.exists() and f"\n{iteration}," in losses.read_text():
            return
        time.sleep(0.01)
    raise AssertionError(f"iteration {iteration} never logged")


def run_outputs(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run directory by relative path, except summary.json (wall times, resume history)."""
    found = {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    found.pop("summary.json")
    return found


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Bit-identity needs a fixed thread count, and 1 thread is fastest for tiny nets on a shared machine.
    Import it into a folder's conftest to apply it to every test there."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
