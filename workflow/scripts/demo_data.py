"""Rule demo_data: write the synthetic demo DICOM set."""

from deeppc.demo.export import write_demo_dataset
from deeppc.logs import log_to_file
from deeppc.provenance import record

with log_to_file(snakemake.log[0]) as log:  # noqa: F821 (snakemake injects it)
    demo = snakemake.params.demo  # noqa: F821
    truth = write_demo_dataset(snakemake.output[0], **demo)  # noqa: F821
    log.info("demo data: %d files", len(truth))
    record(snakemake)  # noqa: F821
