"""Rule figure_losses: generator and discriminator losses of a group of experiments."""

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.report.figures import losses_figure

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    group = sm.params.group
    losses = dict(zip(group["experiments"], sm.input))
    losses_figure(losses, sm.output[0], columns=group.get("columns", ("d_loss", "g_loss")))
    record(snakemake)  # noqa: F821
