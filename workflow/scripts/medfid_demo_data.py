"""Rule medfid_demo_data: phantom radiographs of several body parts in MURA and LERA layout."""

from deeppc.logs import log_to_file
from deeppc.demo.body_parts import write_demo_tree
from deeppc.provenance import record

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    demo = snakemake.params.demo  # noqa: F821
    write_demo_tree(snakemake.output[0], demo["per_class"], demo["size"], demo["seed"])  # noqa: F821
    record(snakemake)  # noqa: F821
