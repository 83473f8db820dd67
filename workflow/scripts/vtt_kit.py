"""Rule vtt_kit: sample each model at its chosen checkpoint and draw the blinded kit."""

from pathlib import Path

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.report.vtt import study_kit

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    study_kit(sm.params.checkpoints, Path(sm.input.best), sm.params.metric, sm.params.vtt,
              holdout=Path(sm.input.images) / "holdout", out=Path(sm.output[0]), seed=sm.params.seed,
              batch_size=sm.params.batch_size)  # fmt: skip
    record(snakemake)  # noqa: F821
