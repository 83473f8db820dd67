"""Rule medfid_validate: MedFID and FID of distorted real images against the clean set (appendix A.7)."""

from pathlib import Path

import torch

from deeppc.logs import log_to_file
from deeppc.medfid.stage import run_validation, select_device
from deeppc.provenance import record

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    torch.set_num_threads(sm.threads)
    run_validation(sm.params.stage, extractor=Path(sm.input.extractor), images=Path(sm.input.images) / "train",
                   out=Path(sm.output.summary).parent, device=select_device(sm.params.device))  # fmt: skip
    record(snakemake)  # noqa: F821
