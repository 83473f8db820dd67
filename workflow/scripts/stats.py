"""Rule stats: pairwise tests, corrections, effect sizes, best checkpoints, tables."""

from pathlib import Path

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.stats.analysis import StatsSettings, run_analysis

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    settings = StatsSettings.from_config({"stats": sm.params.stats, "experiments": sm.params.experiments})
    run_analysis(sm.input, Path(sm.output[0]).parent, settings)
    record(snakemake)  # noqa: F821
