"""`deeppc medfid`: the MedFID extractor (paper, appendix A): demo data, training, validation."""

from __future__ import annotations

import argparse
import json

from deeppc.cli import checks, user_errors


def register(sub: argparse._SubParsersAction) -> None:
    """Add `deeppc medfid demo-data|train|validate`."""
    p = sub.add_parser("medfid", help="train and validate the MedFID feature extractor")
    group = p.add_subparsers(dest="medfid_command", required=True, metavar="SUBCOMMAND")

    d = group.add_parser("demo-data", help="write phantom radiographs of six body parts in MURA-v1.1 + LERA layout")
    d.add_argument("out", type=checks.output_folder, help="folder to create MURA-v1.1/ and LERA/ in")
    d.add_argument("--config", type=checks.input_file, help="take per_class, size and seed from medfid.demo")
    d.add_argument("--per-class", type=checks.positive, default=72, help="images per body part (default 72)")
    d.add_argument("--size", type=checks.at_least(16), default=96, help="approximate image side in px (default 96)")
    d.add_argument("--seed", type=checks.non_negative, default=11)
    d.set_defaults(func=user_errors(_demo_data))

    t = group.add_parser("train", help="fine-tune InceptionV3 on body-part classification; writes extractor.pt")
    t.add_argument("--config", required=True, type=checks.input_file, help="study config (medfid: section)")
    t.add_argument("--data", type=checks.input_folder,
                   help="folder that relative medfid.sources roots are under (default: cwd)")
    t.add_argument("--out", required=True, type=checks.output_folder, help="output folder, e.g. results/medfid")
    _common(t)
    t.set_defaults(func=user_errors(_train))

    v = group.add_parser("validate", help="MedFID and FID against blur, noise, salt & pepper and blocks")
    v.add_argument("--config", required=True, type=checks.input_file,
                   help="study config (medfid.validation, weights.inception)")
    v.add_argument("--extractor", required=True, type=checks.input_file,
                   help="extractor.pt written by `deeppc medfid train`")
    v.add_argument("--images", required=True, type=checks.input_folder,
                   help="folder of real radiograph PNGs (one size)")
    v.add_argument("--out", required=True, type=checks.output_folder,
                   help="output folder, e.g. results/medfid/validation")
    _common(v)
    v.set_defaults(func=user_errors(_validate))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, type=checks.device,
                   help="auto, cpu, cuda or cuda:N (default: medfid.device)")
    p.add_argument("--threads", type=checks.positive, default=None,
                   help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--log", type=checks.output_file, default=None, help="also log to this file (the rule's log)")



def _setup(args: argparse.Namespace) -> tuple[dict, object]:
    import torch

    from deeppc import logs
    from deeppc.config import load as load_config
    from deeppc.medfid.stage import select_device

    if args.log:
        logs.setup(args.log)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_config(args.config)
    return config, select_device(args.device or config["medfid"]["device"])


def _demo_data(args: argparse.Namespace) -> int:
    from deeppc.config import load as load_config
    from deeppc.demo.body_parts import write_demo_tree

    demo = {"per_class": args.per_class, "size": args.size, "seed": args.seed}
    if args.config:
        demo = load_config(args.config)["medfid"].get("demo") or demo
    print(json.dumps(write_demo_tree(args.out, demo["per_class"], demo["size"], demo["seed"]), indent=2))
    return 0


def _train(args: argparse.Namespace) -> int:
    from deeppc.medfid.stage import run_training

    config, device = _setup(args)
    metrics = run_training(config, data_root=args.data, out=args.out, device=device, progress=True)
    keys = ("test_accuracy", "selected", "phases", "comparable_to_published", "comparability_notes")
    print(json.dumps({k: metrics[k] for k in keys}, indent=2))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from deeppc.medfid.stage import run_validation

    config, device = _setup(args)
    run_validation(config, extractor=args.extractor, images=args.images, out=args.out, device=device)
    print((args.out / "correlations.md").read_text())
    return 0
