"""Data commands: `deeppc demo-data`, `deeppc preprocess`."""

from __future__ import annotations

import argparse
import json
import os

from deeppc.cli import checks


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo-data", help="write the synthetic demo DICOM dataset (deterministic from a seed)")
    demo.add_argument("out", type=checks.output_folder, help="output folder (created; must be empty or absent)")
    demo.add_argument("--patients", type=checks.positive, default=24)
    demo.add_argument("--seed", type=checks.non_negative, default=7)
    demo.add_argument("--min-size", type=checks.at_least(16), default=384, help="smallest image side in pixels")
    demo.add_argument("--max-size", type=checks.at_least(16), default=768, help="largest image side in pixels")
    demo.set_defaults(func=_demo)

    pre = sub.add_parser("preprocess", help="DICOM/PNG folder -> 8-bit PNG dataset split by view, with manifest and audit")
    pre.add_argument("--config", type=checks.input_file, required=True,
                     help="study config (its `data` section is used)")
    pre.add_argument("--input", type=checks.input_folder, help="input folder (default: config data.input)")
    pre.add_argument("--out", type=checks.output_folder, required=True, help="output folder, e.g. results/data")
    pre.add_argument("--threads", type=checks.positive, default=os.cpu_count() or 1)
    pre.set_defaults(func=_preprocess)


def _demo(args: argparse.Namespace) -> int:
    from deeppc.demo.export import write_demo_dataset

    truth = write_demo_dataset(args.out, patients=args.patients, seed=args.seed,
                               min_size=args.min_size, max_size=args.max_size)  # fmt: skip
    print(f"wrote {len(truth)} files to {args.out}")
    return 0


def _preprocess(args: argparse.Namespace) -> int:
    from deeppc import config
    from deeppc.cli import UserError
    from deeppc.data import stage

    cfg = config.load(args.config)
    source = args.input or cfg["data"].get("input")
    if source is None:
        raise UserError("no input folder: pass --input or set data.input in the config")
    summary = stage.run(source, args.out, cfg["data"], cfg["seed"], threads=args.threads)
    print(json.dumps(summary["status"], sort_keys=True))
    return 0
