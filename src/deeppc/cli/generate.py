"""`deeppc generate`: sample a generator checkpoint into a folder of PNGs."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's subcommands to the `deeppc` parser."""
    p = sub.add_parser("generate", help="write N images of a generator checkpoint as PNGs (seeded)")
    p.add_argument("checkpoint", type=Path, help="runs/NAME/ckpt/ITERATION.pt")
    p.add_argument("--n", type=int, required=True, help="number of images")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--batch-size", type=int, default=64, help="sampling batch (batch-statistics generators)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from deeppc.sampling import write_samples

    paths = write_samples(args.checkpoint, args.n, args.seed, args.out, batch_size=args.batch_size, device=args.device)
    print(f"wrote {len(paths)} images to {args.out}")
    return 0
