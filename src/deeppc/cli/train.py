"""`deeppc train`: train one experiment of the study config into its run folder.

Exit codes: 0 finished; 2 bad config or input; 3 diverged (NaN/inf loss;
summary.json says so); 128 + n stopped by signal n after saving the resume
state (143 for SIGTERM) so a scheduler's retry resumes; 1 anything else.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import yaml

from deeppc.config import ConfigError

log = logging.getLogger("deeppc.train")


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's subcommands to the `deeppc` parser."""
    p = sub.add_parser(
        "train",
        help="train one GAN experiment (checkpoints, losses.csv, samples, exact resume)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, type=Path, help="study config YAML (train: + experiments:)")
    p.add_argument("--experiment", required=True, help="name under the config's experiments:")
    p.add_argument("--data", required=True, type=Path, help="folder of training PNGs, e.g. results/data/LAT/train")
    p.add_argument("--out", required=True, type=Path, help="run folder, e.g. results/runs/NAME")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--log", type=Path, default=None, help="also log to this file (the rule's log)")
    p.set_defaults(func=_train)


def read_config(path: Path) -> dict:
    """The study config as a dict.

    Reads the YAML directly until the schema has ``train`` and
    ``experiments``; then this becomes ``deeppc.config.load(path)``.
    """
    try:
        config = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return config


def _train(args: argparse.Namespace) -> int:
    import torch

    from deeppc import logs
    from deeppc.cli import UserError
    from deeppc.data.imageset import list_images, load_uint8
    from deeppc.train import EXIT_DIVERGED, Diverged, Interrupted, from_config, run
    from deeppc.train.device import select

    if args.log:
        logs.setup(args.log)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = from_config(read_config(args.config), args.experiment)
    try:
        device = select(args.device)
    except (ValueError, RuntimeError) as exc:
        raise UserError(str(exc)) from None
    paths = list_images(args.data)
    if not paths:
        raise FileNotFoundError(f"no PNG images in {args.data}")
    log.info("loading %d training images from %s at %d px", len(paths), args.data, settings.image_size)
    images = load_uint8(paths, settings.image_size)
    try:
        run(settings, images, args.out, device)
    except Diverged as exc:
        log.error("%s", exc)
        return EXIT_DIVERGED
    except Interrupted as exc:
        log.warning("%s", exc)
        return exc.exit_code
    return 0
