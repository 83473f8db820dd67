"""Rule preprocess: the data stage."""

from pathlib import Path

from deeppc.data import stage
from deeppc.logs import log_to_file
from deeppc.provenance import record

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    stage.run(
        snakemake.input.folder,  # noqa: F821
        Path(snakemake.output.manifest).parent,  # noqa: F821
        snakemake.params.data,  # noqa: F821
        snakemake.params.seed,  # noqa: F821
        threads=snakemake.threads,  # noqa: F821
    )
    record(snakemake)  # noqa: F821
