"""`deeppc train`: train one experiment of the study config into its run folder.

Exit codes: 0 finished; 2 bad config or input; 3 diverged (NaN/inf loss;
summary.json says so); 128 + n stopped by signal n after saving the resume
state (143 for SIGTERM) so a scheduler's retry resumes; 1 anything else.
"""

from __future__ import annotations

import argparse

from deeppc.cli import checks


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
    from deeppc.train import from_config, train_experiment

    if args.log:
        logs.setup(args.log)
    settings = from_config(config.load(args.config), args.experiment)
    return train_experiment(settings, args.data, args.out, args.device, args.threads)
