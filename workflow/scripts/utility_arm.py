"""Rule utility_arm: one classifier (one arm, one seed), trained and tested on real held-out patients."""

from pathlib import Path

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.train.device import select
from deeppc.utility.arms import Arm
from deeppc.utility.stage import UtilitySettings, arm_job

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    settings = UtilitySettings.from_config(sm.params.utility, sm.params.seed, str(select(sm.params.device)))
    arm_job(Arm(**sm.params.arm), int(sm.wildcards.seed), Path(sm.input.manifest).parent, list(sm.input.pools),
            settings, sm.output[0], labels_csv=sm.params.utility["labels"], classes=sm.params.classes,
            size=sm.params.size)  # fmt: skip
    record(snakemake)  # noqa: F821
