"""The train stage's entry point: one training run from a folder of PNGs, with its exit code.

Called by the workflow (rule train_{experiment}) and the command line
(`deeppc train`) alike. Exit codes: 0 finished; EXIT_DIVERGED when the losses
diverged; an interrupted run's code (it resumes when started again).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from deeppc.data.imageset import list_images, load_uint8, require_images
from deeppc.train.device import select
from deeppc.train.loop import run
from deeppc.train.losslog import Diverged
from deeppc.train.settings import TrainSettings
from deeppc.train.signals import Interrupted

EXIT_DIVERGED = 3  # distinct from a crash (1), a usage/config error (2) and a signal (128 + n)
log = logging.getLogger(__name__)


def train_experiment(settings: TrainSettings, data: Path, out: Path, device: str = "auto", threads: int | None = None) -> int:
    """Train one experiment from a PNG folder; returns the exit code (see the module docstring)."""
    if threads:
        torch.set_num_threads(threads)
    chosen = select(device)
    paths = list_images(data)
    require_images(paths, data, 1)
    images = load_uint8(paths, settings.image_size)
    log.info("loaded %d training images from %s at %d px", len(paths), data, settings.image_size)
    try:
        run(settings, images, out, chosen)
    except Diverged as exc:
        log.error("%s", exc)
        return EXIT_DIVERGED
    except Interrupted as exc:
        log.warning("%s", exc)
        return exc.exit_code
    return 0
