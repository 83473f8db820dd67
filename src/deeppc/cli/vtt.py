"""`deeppc vtt make` and `deeppc vtt score`: the visual Turing test kit."""

from __future__ import annotations

import argparse
import logging

from deeppc.cli import checks

log = logging.getLogger("deeppc.vtt")


def register(sub: argparse._SubParsersAction) -> None:
    """Add `deeppc vtt {make,score}` to the `deeppc` parser."""
    p = sub.add_parser("vtt", help="visual Turing test: make a blinded image set, score raters' answers")
    vtt_sub = p.add_subparsers(dest="vtt_command", required=True, metavar="{make,score}")

    make = vtt_sub.add_parser(
        "make", help="draw K real and K generated images into a blinded answer sheet",
        description="Writes OUT/sheet/ (hand it to raters: sheet.html, images/, answers_template.csv) "
                    "and OUT/key.csv (keep it: the answer key).",
    )
    make.add_argument("--real", required=True, type=checks.input_folder, help="folder of real PNG images")
    make.add_argument("--fake", required=True, nargs="+", metavar="[MODEL=]DIR",
                      help="folder(s) of generated PNG images; name them MODEL=DIR for a multi-model test")
    make.add_argument("-k", type=checks.positive, required=True, help="images drawn from each folder")
    make.add_argument("--out", required=True, type=checks.output_folder, help="output folder")
    make.add_argument("--seed", type=checks.non_negative, required=True, help="seed of the draw, order and ids")
    make.add_argument("--size", type=checks.at_least(8),
                      help="resize every image to SIZE x SIZE (needed when sizes differ)")
    make.add_argument("--no-embed", dest="embed", action="store_false",
                      help="link images/ from the sheet instead of embedding them")
    make.add_argument("--title", default="Visual Turing test", help="sheet title")
    make.set_defaults(func=run_make)

    score = vtt_sub.add_parser(
        "score", help="score raters' answers against the key",
        description="Answers: one CSV per rater with columns image_id, answer (real/fake), rating (1-5) "
                    "and optionally rater (else the file name is the rater).",
    )
    score.add_argument("--key", required=True, type=checks.input_file, help="key.csv written by `vtt make`")
    score.add_argument("--answers", required=True, nargs="+", type=checks.input_file,
                       help="answer CSV files, one per rater")
    score.add_argument("--fid", nargs="+", metavar="MODEL=FID", help="FID per model, for the FID vs FPR correlation")
    score.add_argument("--out", required=True, type=checks.output_folder, help="output folder")
    score.set_defaults(func=run_score)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    from deeppc.cli import UserError

    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise UserError(f"{what} must look like NAME=VALUE, got {item!r}")
        if name in pairs:
            raise UserError(f"{what}: {name!r} given twice")
        pairs[name] = value
    return pairs


def _fakes(items: list[str]) -> dict[str, str] | str:
    from deeppc.cli import UserError

    if len(items) == 1 and "=" not in items[0]:
        return items[0]
    if any("=" not in item for item in items):
        raise UserError("with several --fake folders name each one: --fake MODEL=DIR MODEL=DIR ...")
    return _pairs(items, "--fake")


def run_make(args: argparse.Namespace) -> int:
    from deeppc.report.vtt import make_kit

    paths = make_kit(args.real, _fakes(args.fake), args.k, args.out, args.seed, args.size, args.embed, args.title)
    log.info("sheet for raters: %s (hand out its whole folder)", paths["sheet"])
    log.info("answer key (keep it from raters): %s", paths["key"])
    return 0


def run_score(args: argparse.Namespace) -> int:
    from deeppc.cli import UserError
    from deeppc.report.vtt_score import score_vtt

    fid = {}
    for name, value in _pairs(args.fid or [], "--fid").items():
        try:
            fid[name] = float(value)
        except ValueError:
            raise UserError(f"--fid {name}={value}: FID must be a number") from None
    paths = score_vtt(args.key, args.answers, args.out, fid or None)
    for name, path in paths.items():
        log.info("wrote %s: %s", name, path)
    return 0
