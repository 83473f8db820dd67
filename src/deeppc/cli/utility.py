"""`deeppc utility`: the utility study in one process, on a data stage folder and generated images."""

from __future__ import annotations

import argparse
from pathlib import Path

from deeppc.cli import checks


def _source(text: str) -> tuple[str, str, Path]:
    """NAME=CLASS:PATH -> (name, class, path); PATH is a folder of PNGs or a pool .npz."""
    name, sep, rest = text.partition("=")
    label, sep2, path = rest.partition(":")
    if not (sep and sep2 and name and label and path):
        raise argparse.ArgumentTypeError(f"expected NAME=CLASS:PATH (e.g. sg2=LAT:gen/LAT), got {text!r}")
    if not Path(path).exists():
        raise argparse.ArgumentTypeError(f"{path} not found")
    return name, label, Path(path)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `deeppc utility` to the `deeppc` parser."""
    p = sub.add_parser(
        "utility", help="do generated images help a classifier on real held-out patients? (the utility stage)",
        description="Train classifiers on real, real + augmented, real + synthetic (each ratio) and synthetic-only "
                    "images over several seeds, test them on the data stage's held-out patients, and compare "
                    "every arm with real-only (paired by seed). Writes runs.csv, arms.csv, paired.csv, task.json.",
    )  # fmt: skip
    p.add_argument("--data", required=True, type=checks.input_folder, help="the data stage's folder (results/data)")
    p.add_argument("--out", required=True, type=checks.output_folder, help="output folder")
    p.add_argument("--synthetic", nargs="*", default=[], type=_source, metavar="NAME=CLASS:PATH",
                   help="generated images of CLASS from source NAME: a folder of PNGs or a pool .npz (repeatable "
                        "per class)")  # fmt: skip
    p.add_argument("--labels", type=checks.input_file, help="labels CSV (sha256 or path, label); default: the view")
    p.add_argument("--classes", nargs="+", help="class order (default: the labels found)")
    p.add_argument("--size", type=checks.positive, help="image side the classifier sees (default: as stored)")
    p.add_argument("--ratios", nargs="+", type=checks.in_range(0, float("inf"), open_low=True), default=[0.5, 1, 2])
    p.add_argument("--balance", choices=["balanced", "minority"], default="balanced")
    p.add_argument("--seeds", type=checks.at_least(2), default=5, help="classifier seeds (default 5)")
    p.add_argument("--seed", type=checks.non_negative, default=0, help="root seed")
    p.add_argument("--network", choices=["resnet18", "small_cnn"], default="resnet18")
    p.add_argument("--weights", type=checks.input_file, help="torchvision ResNet-18 ImageNet weights (.pth)")
    p.add_argument("--steps", type=checks.positive, default=2000)
    p.add_argument("--batch-size", type=checks.positive, default=32)
    p.add_argument("--no-augment", dest="augment", action="store_false", help="skip the classical-augmentation arm")
    p.add_argument("--no-synthetic-only", dest="synthetic_only", action="store_false")
    p.add_argument("--device", type=checks.device, default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.set_defaults(func=_utility)


def _synthetic(sources: list[tuple[str, str, Path]], size: int | None) -> dict:
    from deeppc.data.imageset import load_folder
    from deeppc.utility.synthetic import read_pool
    from deeppc.validate import InputError

    found: dict[str, dict] = {}
    for name, label, path in sources:
        pool = read_pool(path, size) if path.is_file() else {label: load_folder(path, size, min_images=1)}
        if label not in pool:
            raise InputError(f"{path} holds images of class(es) {sorted(pool)}, not {label!r}")
        found.setdefault(name, {})[label] = pool[label]
    return found


def _utility(args: argparse.Namespace) -> int:
    from deeppc.train.device import select
    from deeppc.utility.fit import FitSettings
    from deeppc.utility.stage import UtilitySettings, run_study
    from deeppc.utility.task import load_task

    fit = FitSettings(network=args.network, weights=str(args.weights) if args.weights else None, steps=args.steps,
                      batch_size=args.batch_size, device=str(select(args.device)))  # fmt: skip
    settings = UtilitySettings(fit=fit, seeds=args.seeds, ratios=tuple(args.ratios), balance=args.balance,
                               augment=args.augment, synthetic_only=args.synthetic_only, seed=args.seed)  # fmt: skip
    task = load_task(args.data, args.labels, args.classes, args.size)
    size = task["train"].images.shape[1]
    tables = run_study(task, _synthetic(args.synthetic, size), settings, args.out)
    gains = tables["paired"].query("metric == 'balanced_accuracy'")
    for row in gains.itertuples():
        print(f"{row.arm}: balanced accuracy {row.mean_diff:+.3f} vs real only (adjusted p = {row.p_adjusted:.2g})")
    print(f"wrote {args.out}")
    return 0
