"""Rule figure_curves: score over training per family, and mean ± sd at the compared iteration."""

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.report.figures import comparison_figure, score_curves_figure

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    compare = sm.params.compare if isinstance(sm.params.compare, int) else None
    score_curves_figure(sm.input.curves, sm.wildcards.metric, sm.output.curves, best=sm.input.best,
                        compare_iteration=compare, max_iteration=sm.params.max_iteration)  # fmt: skip
    comparison_figure(sm.input.observations, sm.wildcards.metric, sm.output.comparison)
    record(snakemake)  # noqa: F821
