"""Rule medfid_train: fine-tune the MedFID extractor (two phases) and write its evaluation."""

from pathlib import Path

import torch

from deeppc.logs import log_to_file
from deeppc.medfid.stage import run_training, select_device
from deeppc.provenance import record

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    torch.set_num_threads(sm.threads)
    run_training(sm.params.stage, data_root=Path(sm.params.data_root), out=Path(sm.output.extractor).parent,
                 device=select_device(sm.params.device))  # fmt: skip
    record(snakemake)  # noqa: F821
