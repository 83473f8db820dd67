"""Rule train_{experiment}: train (or resume) one experiment."""

import sys
from pathlib import Path

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.train import from_params, train_experiment

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    settings = from_params(snakemake.params.settings, snakemake.params.experiment)  # noqa: F821
    images = snakemake.input.images  # noqa: F821 (one folder, or a list of one per class)
    folders = [Path(p) / "train" for p in ([images] if isinstance(images, str) else images)]
    code = train_experiment(
        settings,
        dict(zip(settings.classes, folders)) if settings.classes else folders[0],
        Path(snakemake.output.summary).parent,  # noqa: F821
        device=snakemake.params.device,  # noqa: F821
        threads=snakemake.threads,  # noqa: F821
        manifest=Path(snakemake.input.manifest[0]) if snakemake.input.manifest else None,  # noqa: F821
    )
    if code == 0:
        record(snakemake)  # noqa: F821
sys.exit(code)
