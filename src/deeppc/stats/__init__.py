"""Statistics over score files: loading, pairwise tests, best checkpoints, tables.

Modules follow the data: `scores` reads `scores/{experiment}/{iteration}.json`
into one long table, `units` picks the observations compared (which iteration,
which unit of analysis), `tests` runs Welch t-tests, corrections, effect sizes
and one-way tests, `best` finds best checkpoints and early-stopping points,
`tables` writes the CSV and Markdown outputs, and `analysis` ties them together
for the `deeppc stats` command and the workflow.
"""

from deeppc.stats.analysis import StatsSettings, run_analysis
from deeppc.stats.best import best_checkpoints
from deeppc.stats.scores import load_scores, split_replicate
from deeppc.stats.tests import Comparison, Selector, hedges_g, pairwise_tests, welch_test
from deeppc.stats.units import select_observations

__all__ = [
    "Comparison",
    "Selector",
    "StatsSettings",
    "best_checkpoints",
    "hedges_g",
    "load_scores",
    "pairwise_tests",
    "run_analysis",
    "select_observations",
    "split_replicate",
    "welch_test",
]
