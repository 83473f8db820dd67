"""The train stage's entry point: one training run from a folder of PNGs, with its exit code.

Called by the workflow (rule train_{experiment}) and the command line
(`deeppc train`) alike. Exit codes: 0 finished; EXIT_DIVERGED when the losses
diverged; an interrupted run's code (it resumes when started again).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch

from deeppc.data.imageset import list_images, load_uint8, require_images
from deeppc.data.split import image_groups, nested_subset
from deeppc.train import distributed
from deeppc.train.device import select
from deeppc.train.loop import run
from deeppc.train.losslog import Diverged
from deeppc.train.settings import TrainSettings
from deeppc.train.signals import Interrupted

EXIT_DIVERGED = 3  # distinct from a crash (1), a usage/config error (2) and a signal (128 + n)
log = logging.getLogger(__name__)


def train_experiment(settings: TrainSettings, data: Path | Mapping[str, Path], out: Path, device: str = "auto",
                     threads: int | None = None, manifest: Path | None = None) -> int:
    """Train one experiment from a PNG folder; returns the exit code (see the module docstring).

    A class-conditional run (``classes``) reads one folder per class: `data`
    maps class names to folders, or is a folder with a subfolder per class.
    A run with ``train_fraction`` keeps that share of the images, whole
    patients at a time (the data stage's `manifest` says whose an image is).
    Launched by torchrun with several processes, each is one rank of a
    data-parallel run (deeppc.train.distributed); a run with ``gpus`` > 1
    started otherwise launches torchrun itself (deeppc.train.launch).
    """
    shard = distributed.from_environment()
    if (settings.gpus or 1) > 1 and not shard.active:
        return _launch(settings, data, out, device, threads, manifest)
    if threads:
        torch.set_num_threads(threads)
    chosen = select(distributed.local_device(device))
    images, labels = training_images(settings, data, manifest)
    distributed.start(shard, chosen)
    try:
        run(settings, images, out, chosen, labels, shard)
    except Diverged as exc:
        log.error("%s", exc)
        return EXIT_DIVERGED
    except Interrupted as exc:
        log.warning("%s", exc)
        return exc.exit_code
    finally:
        distributed.stop(shard)
    return 0


def _launch(settings: TrainSettings, data: Path | Mapping[str, Path], out: Path, device: str,
            threads: int | None, manifest: Path | None) -> int:
    from deeppc.train.launch import launch

    folders = list(_folders(settings, data).values())
    params = {k: v for k, v in settings.to_dict().items() if k != "experiment"}
    log.info("launching %s on %d processes (torchrun)", settings.experiment, settings.gpus)
    return launch(params, settings.experiment, folders, Path(out), device, threads, int(settings.gpus or 1), manifest)


def training_images(settings: TrainSettings, data: Path | Mapping[str, Path],
                    manifest: Path | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 images (N, H, W) and, for a conditional run, their class indices in `settings.classes` order."""
    keep = _subset(settings, manifest)
    parts = [_load(folder, settings.image_size, keep) for folder in _folders(settings, data).values()]
    if not settings.classes:
        return parts[0], None
    labels = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(parts)])
    return np.concatenate(parts), labels


def _folders(settings: TrainSettings, data: Path | Mapping[str, Path]) -> dict[str | None, Path]:
    """The image folder of each class in `settings.classes` order (a conditional run), else {None: data}."""
    if not settings.classes:
        return {None: Path(data)}  # type: ignore[arg-type]
    folders = data if isinstance(data, Mapping) else {c: Path(data) / c for c in settings.classes}
    missing = [c for c in settings.classes if c not in folders]
    if missing:
        raise ValueError(f"no image folder for class(es) {', '.join(missing)}")
    return {c: Path(folders[c]) for c in settings.classes}


def _load(folder: Path, size: int, keep: Callable[[list[Path]], list[Path]] | None = None) -> np.ndarray:
    paths = list_images(folder)
    require_images(paths, folder, 1)
    if keep is not None:
        found = len(paths)
        paths = keep(paths)
        log.info("train_fraction: %d of %d images (whole patients, nested)", len(paths), found)
    images = load_uint8(paths, size)
    log.info("loaded %d training images from %s at %d px", len(paths), folder, size)
    return images


def _subset(settings: TrainSettings, manifest: Path | None) -> Callable[[list[Path]], list[Path]] | None:
    """The image filter of `train_fraction`: the same patients for every experiment and replicate."""
    if settings.train_fraction is None:
        return None
    if manifest is None:
        raise ValueError(f"experiment '{settings.experiment}': train_fraction needs the data stage's manifest.csv")
    def keep(paths: list[Path]) -> list[Path]:
        groups = image_groups(manifest, paths, "training image").tolist()  # the data stage split's patients
        kept = nested_subset(groups, float(settings.train_fraction), settings.seed)
        return [p for p, k in zip(paths, kept) if k]

    return keep

