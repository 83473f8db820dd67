"""`deeppc stats`: pairwise tests, best checkpoints and Table-3 style tables from score files."""

from __future__ import annotations

import argparse
import logging
from dataclasses import fields

from deeppc.cli import checks

log = logging.getLogger("deeppc.stats")


def register(sub: argparse._SubParsersAction) -> None:
    """Add `deeppc stats` to the `deeppc` parser."""
    p = sub.add_parser(
        "stats", help="statistics over score files (Welch t-tests, correction, Hedges' g, best checkpoints)",
        description="Read scores/{experiment}/{iteration}.json files and write pairwise.csv, oneway.csv, "
                    "best_checkpoints.csv and table3_{metric}.md. Options given here override the "
                    "config's stats: section.",
    )
    p.add_argument("--scores", nargs="+", required=True, metavar="DIR_OR_FILE", type=checks.input_path,
                   help="score JSON files or folders searched recursively")
    p.add_argument("--out", required=True, type=checks.output_folder, help="output folder (results/stats)")
    p.add_argument("--config", type=checks.input_file, help="study config; its stats: section gives the defaults")
    p.add_argument("--metric", nargs="+", dest="metrics", metavar="METRIC",
                   help="metric key(s) in the score files (default medfid)")
    p.add_argument("--at", "--iteration", dest="compare_at", metavar="POINT",
                   help="where runs are compared: 'K kimg' (equal images seen), 'E epochs', 'best' (chosen on "
                        "sample set 0, tested on the others), 'last' (default) or an iteration N")
    p.add_argument("--unit", choices=["auto", "sample_sets", "training_seeds"],
                   help="unit of analysis (default auto: training seeds when every experiment has >= 2)")
    p.add_argument("--correction", metavar="METHOD",
                   help="none, holm (default), bonferroni, fdr_bh, ... (statsmodels names)")
    p.add_argument("--scope", dest="correction_scope", choices=["metric", "comparison"],
                   help="tests corrected together: all of a metric (default) or each comparison group")
    p.add_argument("--alpha", type=checks.probability, help="significance level (default 0.05)")
    p.add_argument("--cross", action="append", metavar="A:B",
                   help="cross comparison, each side a family or comma list of experiments, "
                        "e.g. stylegan2:wgangp (repeatable)")
    p.add_argument("--no-within", dest="within_family", action="store_const", const=False,
                   help="skip the within-family pairs")
    p.add_argument("--window", dest="smoothing_window", type=checks.positive, metavar="N",
                   help="smoothing window in checkpoints (odd, default 3)")
    p.add_argument("--patience", type=checks.positive, metavar="N",
                   help="early-stopping patience in checkpoints (default 3)")
    p.add_argument("--min-delta", dest="min_delta", type=checks.in_range(0, float("inf")), metavar="X",
                   help="smallest improvement that counts (default 0)")
    p.add_argument("--table-p", dest="table_p_values", action="store_const", const=True,
                   help="print adjusted p-values in the matrix tables")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace):
    """Config's stats: section (if any), overridden by every option given on the command line."""
    from deeppc.config import load
    from deeppc.stats import Comparison, StatsSettings

    settings = StatsSettings.from_config(load(args.config)) if args.config else StatsSettings()
    for f in fields(StatsSettings):
        value = getattr(args, f.name, None)
        if value is not None:
            setattr(settings, f.name, value)
    if args.cross:
        settings.comparisons = [Comparison.parse(text) for text in args.cross]
    return settings


def run(args: argparse.Namespace) -> int:
    from deeppc.stats import run_analysis

    settings = settings_from_args(args)
    paths = run_analysis(args.scores, args.out, settings)
    _summarise(paths["pairwise"])
    for name, path in paths.items():
        log.info("wrote %s: %s", name, path)
    return 0


def _summarise(pairwise_csv: str) -> None:
    import pandas as pd

    table = pd.read_csv(pairwise_csv)
    for metric, rows in table.groupby("metric"):
        tested = rows["p"].notna()
        significant = rows["significant"].astype(str).str.lower().eq("true")
        log.info("%s: %d pairs, %d tested, %d significant (%s, unit: %s)", metric, len(rows), tested.sum(),
                 significant.sum(), rows["correction"].iloc[0], rows["unit"].iloc[0])
