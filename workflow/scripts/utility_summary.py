"""Rule utility_summary: every arm against real-only (paired by seed, corrected), gain beside image quality."""

from pathlib import Path

import pandas as pd

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.utility.stage import UtilitySettings, source_quality, summary_job

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    settings = UtilitySettings.from_config(sm.params.utility, sm.params.seed)
    scores = list(sm.input.scores)
    quality = source_quality(scores, sm.params.sources, sm.params.iterations) if scores else pd.DataFrame(
        columns=["source"])
    summary_job(list(sm.input.arms), settings, Path(sm.output[0]).parent, quality, sm.params.skipped)
    record(snakemake)  # noqa: F821
