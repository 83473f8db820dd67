"""`deeppc train`: train one experiment of the study config into its run folder.

Exit codes: 0 finished; 2 bad config or input; 3 diverged (NaN/inf loss;
summary.json says so); 128 + n stopped by signal n after saving the resume
state (143 for SIGTERM) so a scheduler's retry resumes; 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from deeppc.cli import checks

log = logging.getLogger("deeppc.train")


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's subcommands to the `deeppc` parser."""
    p = sub.add_parser(
        "train",
        help="train one GAN experiment (checkpoints, losses.csv, samples, exact resume)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, type=checks.input_file, help="study config YAML (train: + experiments:)")
    p.add_argument("--experiment", required=True, help="name under the config's experiments:")
    p.add_argument("--data", required=True, type=checks.input_folder,
                   help="folder of training PNGs, e.g. results/data/LAT/train")
    p.add_argument("--out", required=True, type=checks.output_folder, help="run folder, e.g. results/runs/NAME")
    p.add_argument("--device", default="auto", type=checks.device, help="auto (CUDA if present), cpu, cuda or cuda:N")
    p.add_argument("--threads", type=checks.positive, default=None,
                   help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--log", type=checks.output_file, default=None, help="also log to this file (the rule's log)")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from deeppc import config, logs
    from deeppc.train import from_config

    if args.log:
        logs.setup(args.log)
    settings = from_config(config.load(args.config), args.experiment)
    return train_experiment(settings, args.data, args.out, args.device, args.threads)


def train_experiment(settings, data: Path, out: Path, device: str = "auto", threads: int | None = None) -> int:
    """Train one experiment from a PNG folder; returns the exit code (see the module docstring)."""
    import torch

    from deeppc.data.imageset import list_images, load_uint8, require_images
    from deeppc.train import EXIT_DIVERGED, Diverged, Interrupted, run
    from deeppc.train.device import select

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
