"""Rule class_images: the images of one class of one view, for a GAN trained on that class only."""

import logging
from pathlib import Path

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.utility.task import write_class_folder

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    counts = write_class_folder(Path(sm.input.manifest).parent, sm.input.labels, sm.wildcards.view,
                                sm.wildcards.label, sm.output[0])  # fmt: skip
    logging.getLogger("deeppc.utility").info("class %s of %s: %s", sm.wildcards.label, sm.wildcards.view, counts)
    record(snakemake)  # noqa: F821
