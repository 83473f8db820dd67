"""Rule real_stats: features, mean and covariance of one real image set for one extractor."""

from pathlib import Path

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.score import real_statistics
from deeppc.train.device import select

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    wc = snakemake.wildcards  # noqa: F821
    device = str(select(snakemake.params.device))  # noqa: F821 (checked: auto, cpu, cuda[:N] with a GPU)
    folder = Path(snakemake.input.images) / wc.split  # noqa: F821
    real_statistics(folder, wc.extractor, snakemake.input.weights, snakemake.output[0],  # noqa: F821
                    snakemake.params.batch_size, device)  # noqa: F821
    record(snakemake)  # noqa: F821
