"""Metrics commands: `deeppc score`, `deeppc real-stats`, `deeppc frechet`, `deeppc fetch-weights`."""

from __future__ import annotations

import argparse
import json

from typing import Any

from deeppc.cli import checks, user_errors

DEFAULT_EXTRACTOR = "inception-2015-12-05"


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's subcommands to the `deeppc` parser."""
    _score_parser(sub)
    _real_stats_parser(sub)
    p = sub.add_parser("frechet", help="Fréchet distance between two feature statistics files (.npz)")
    p.add_argument("a", type=checks.input_file,
                   help="statistics file written by `deeppc real-stats` (or the score stage)")
    p.add_argument("b", type=checks.input_file, help="second statistics file, same extractor")
    p.set_defaults(func=user_errors(_frechet))
    p = sub.add_parser("fetch-weights", help="download a weights file and check its sha256 (needs internet)")
    p.add_argument("--url", required=True)
    p.add_argument("--sha256", default=None,
                   help="expected sha256: 64 hex digits, or the prefix the --out file name carries (name-<hex>.pth)")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="download without a hash check (the output JSON and the log then say verified: false)")
    p.add_argument("--out", required=True, type=checks.output_file,
                   help="destination path (written only if the hash matches)")
    p.set_defaults(func=user_errors(_fetch))


def _extractor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extractor", default=DEFAULT_EXTRACTOR, help=f"extractor name (default {DEFAULT_EXTRACTOR})")
    p.add_argument("--weights", type=checks.input_file,
                   help="local weights file of the extractor (nothing is downloaded)")
    p.add_argument("--device", default="auto", type=checks.device,
                   help="cpu, cuda, cuda:N or auto (default: cuda if available)")
    p.add_argument("--batch-size", type=checks.positive, default=32)


def _score_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score generated images against real images; prints JSON")
    p.add_argument("--real", required=True, type=checks.input_path,
                   help="folder of real PNGs, or a statistics .npz from `deeppc real-stats`")
    p.add_argument("--fake", required=True, type=checks.input_folder, help="folder of generated PNGs")
    p.add_argument("--metrics", default="fid,kid,pr", help="comma-separated: fid,kid,pr,memorization")
    _extractor_args(p)
    p.add_argument("--train", type=checks.input_folder, help="training image folder (memorization)")
    p.add_argument("--holdout", type=checks.input_folder, help="holdout image folder, for memorization calibration")
    p.add_argument("--pairs-png", type=checks.output_file,
                   help="write the closest generated/training pairs here (memorization)")
    p.add_argument("--seed", type=checks.non_negative, default=2023, help="seed for KID subsets (default 2023)")
    p.add_argument("--kid-subsets", type=checks.positive, default=100)
    p.add_argument("--kid-subset-size", type=checks.at_least(2), default=1000)
    p.add_argument("--pr-k", type=checks.positive, default=3, help="k-th nearest neighbour radius of precision/recall")
    p.add_argument("--mem-alpha", type=checks.probability, default=0.05,
                   help="memorization: flag a generated image whose conformal p-value is at most this (default 0.05)")
    p.add_argument("--mem-level", type=checks.probability, default=0.01,
                   help="memorization: verdict 'copying' when the copy test's p-value is below this (default 0.01)")
    p.add_argument("--mem-pixel-size", type=checks.at_least(4), default=64)
    p.add_argument("--out", type=checks.output_file, help="also write the JSON to this file (atomically)")
    p.set_defaults(func=user_errors(_score))


def _real_stats_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("real-stats", help="compute (or reuse) the feature statistics file of an image folder")
    p.add_argument("--images", required=True, type=checks.input_folder, help="folder of PNGs")
    p.add_argument("--out", required=True, type=checks.output_file,
                   help="statistics .npz; reused when images and extractor are unchanged")
    _extractor_args(p)
    p.set_defaults(func=user_errors(_real_stats))



def _device(name: str) -> str:
    from deeppc.train.device import select

    return str(select(name))


def _extractor(args: argparse.Namespace):
    import deeppc.score  # noqa: F401  the score stage registers every extractor of the study (medfid too)
    from deeppc.metrics import extractors

    return extractors.create(args.extractor, weights=args.weights, device=_device(args.device))


def _score(args: argparse.Namespace) -> int:
    from deeppc.metrics.api import MetricOptions, score_folders

    options = MetricOptions(
        kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size, pr_k=args.pr_k,
        mem_alpha=args.mem_alpha, mem_level=args.mem_level, mem_pixel_size=args.mem_pixel_size,
    )  # fmt: skip
    result = score_folders(
        args.real, args.fake, _extractor(args), args.metrics, seed=args.seed, options=options,
        train=args.train, holdout=args.holdout, pairs_png=args.pairs_png,
        batch_size=args.batch_size, progress=True,
    )  # fmt: skip
    _emit(result, args.out)
    return 0


def _real_stats(args: argparse.Namespace) -> int:
    from deeppc.metrics.stats_cache import stats_for_folder

    # the same call as deeppc.score.real_statistics, with a progress bar for the terminal
    stats = stats_for_folder(args.images, _extractor(args), args.out, args.batch_size, progress=True)
    _emit({"out": str(args.out), "n": stats.n, "extractor": stats.extractor, "content_hash": stats.content_hash}, None)
    return 0


def _frechet(args: argparse.Namespace) -> int:
    from deeppc.metrics import samplesize
    from deeppc.metrics.extractors import identity_hash
    from deeppc.metrics.frechet import frechet_distance_factors
    from deeppc.metrics.stats_cache import FeatureStats

    a, b = FeatureStats.load(args.a), FeatureStats.load(args.b)
    if identity_hash(a.extractor) != identity_hash(b.extractor):
        raise ValueError(f"{args.a} and {args.b} were computed with different extractors or preprocessing")
    _emit(
        {
            "frechet_distance": frechet_distance_factors(a.factor(), b.factor()),
            "extractor": a.extractor.get("name"),
            "n_a": a.n,
            "n_b": b.n,
            "warnings": samplesize.frechet_warnings("frechet", a.n, b.n, a.feature_dim, ("first set", "second set")),
        },
        None,
    )
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from deeppc.files import sha256_file
    from deeppc.metrics.weights import fetch

    path = fetch(args.url, args.sha256, args.out, verify=args.verify)
    # the record of an unchecked download: verified false, with the hash the file turned out to have
    _emit({"out": str(path), "sha256": sha256_file(path), "verified": args.verify}, None)
    return 0


def _emit(result: dict[str, Any], out: str | None) -> None:
    text = json.dumps(result, indent=2, sort_keys=True)
    if out:
        from deeppc.files import write_text

        write_text(out, text + "\n")
    print(text)
