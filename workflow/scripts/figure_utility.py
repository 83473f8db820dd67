"""Rule figure_utility: the arms side by side, gain against ratio, gain against image quality."""

import pandas as pd

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.report.utility_figures import arms_figure, quality_figure, ratios_figure

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    runs, paired = pd.read_csv(sm.input.runs), pd.read_csv(sm.input.paired)
    arms_figure(runs, sm.output.utility_arms)
    ratios_figure(runs, paired, sm.output.utility_ratios)
    quality_figure(pd.read_csv(sm.input.quality), pd.read_csv(sm.input.correlation), sm.output.utility_quality)
    record(snakemake)  # noqa: F821
