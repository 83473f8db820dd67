"""Rule real_stats: features, mean and covariance of one real image set for one extractor."""

from pathlib import Path

from deeppc.logs import log_to_file
from deeppc.metrics import extractors
from deeppc.metrics.stats_cache import stats_for_folder
from deeppc.provenance import record
from deeppc.train.device import select

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    wc = snakemake.wildcards  # noqa: F821
    device = str(select(snakemake.params.device))  # noqa: F821 (checked: auto, cpu, cuda[:N] with a GPU)
    net = extractors.create(wc.extractor, snakemake.input.weights, device)  # noqa: F821
    folder = Path(snakemake.input.images) / wc.split  # noqa: F821
    stats_for_folder(folder, net, snakemake.output[0], snakemake.params.batch_size)  # noqa: F821
    record(snakemake)  # noqa: F821
