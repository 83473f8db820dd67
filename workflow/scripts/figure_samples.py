"""Rule figure_samples: fixed-noise sample grids of a family at the report's iterations."""

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.report.figures import sample_grid_figure

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    grids = {name: {int(p.rsplit("/", 1)[1].removesuffix(".png")): p for p in paths}
             for name, paths in sm.params.grids.items()}  # fmt: skip
    sample_grid_figure(grids, sm.output[0], title=f"{sm.wildcards.family}: samples during training")
    record(snakemake)  # noqa: F821
