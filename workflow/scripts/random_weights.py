"""Rule random_weights: randomly initialised extractor weights for the demo and tests (not comparable)."""

from deeppc.logs import log_to_file
from deeppc.metrics.inception import save_random_weights
from deeppc.provenance import record
from deeppc.validate import InputError

with log_to_file(snakemake.log[0]) as log:  # noqa: F821 (snakemake injects it)
    if snakemake.wildcards.key != "inception":  # noqa: F821
        raise InputError(f"no random initialisation is defined for weights.{snakemake.wildcards.key}")  # noqa: F821
    save_random_weights(snakemake.output[0], seed=0)  # noqa: F821
    log.warning("random Inception weights written: FID values from them are not comparable to published ones")
    record(snakemake)  # noqa: F821
