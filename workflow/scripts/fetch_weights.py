"""Rule fetch_weights: download a weights file and check its sha256 (needs internet: run on a login node)."""

from deeppc.logs import log_to_file
from deeppc.metrics.weights import fetch
from deeppc.provenance import record
from deeppc.validate import InputError

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    entry = snakemake.params.entry  # noqa: F821
    if not entry.get("url") or not entry.get("sha256"):
        raise InputError(f"weights file {entry['path']} is missing and the config gives no url + sha256 to fetch it")
    fetch(entry["url"], entry["sha256"], snakemake.output[0])  # noqa: F821
    record(snakemake)  # noqa: F821
