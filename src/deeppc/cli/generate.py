"""`deeppc generate`: sample a generator checkpoint into a folder of PNGs."""

from __future__ import annotations

import argparse

from deeppc.cli import checks


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's subcommands to the `deeppc` parser."""
    p = sub.add_parser("generate", help="write N images of a generator checkpoint as PNGs (seeded)")
    p.add_argument("checkpoint", type=checks.input_file, help="runs/NAME/ckpt/ITERATION.pt")
    p.add_argument("--n", type=checks.positive, required=True, help="number of images")
    p.add_argument("--seed", type=checks.non_negative, required=True)
    p.add_argument("--out", type=checks.output_folder, required=True, help="output folder")
    p.add_argument("--batch-size", type=checks.positive, default=64,
                   help="sampling batch (batch-statistics generators)")
    p.add_argument("--device", type=checks.device, default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from deeppc.models.checkpoint import write_samples
    from deeppc.train.device import select

    device = select(args.device)
    paths = write_samples(args.checkpoint, args.n, args.seed, args.out, batch_size=args.batch_size, device=device)
    print(f"wrote {len(paths)} images to {args.out}")
    return 0
