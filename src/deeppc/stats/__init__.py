"""Statistics over score files: loading, pairwise tests, best checkpoints, tables.

Modules follow the data: `scores` reads `scores/{experiment}/{iteration}.json`
into one long table, `units` picks the observations compared (which iteration,
which unit of analysis), `tests` runs Welch t-tests, corrections, effect sizes
and one-way tests, `best` finds best checkpoints and early-stopping points,
`tables` writes the CSV and Markdown outputs, and `analysis` ties them together
for the `deeppc stats` command and the workflow.
"""

from deeppc.stats.analysis import StatsSettings, run_analysis
from deeppc.stats.best import best_checkpoints, score_curves
from deeppc.run_names import split_run
from deeppc.stats.scores import ScoreFileError, StatsInputError, load_scores
from deeppc.stats.tables import best_markdown, table3_markdown
from deeppc.stats.tests import Comparison, Selector, hedges_g, oneway_tests, pairwise_tests, welch_test
from deeppc.stats.units import select_observations

__all__ = [
    "Comparison",
    "ScoreFileError",
    "Selector",
    "StatsInputError",
    "StatsSettings",
    "best_checkpoints",
    "best_markdown",
    "hedges_g",
    "load_scores",
    "oneway_tests",
    "pairwise_tests",
    "run_analysis",
    "score_curves",
    "select_observations",
    "split_run",
    "table3_markdown",
    "welch_test",
]
