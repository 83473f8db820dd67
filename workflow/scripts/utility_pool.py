"""Rule utility_pool: one GAN run's generated images at its chosen checkpoint, per class it generates."""

from pathlib import Path

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.seeding import derive_seed
from deeppc.train.device import select
from deeppc.utility.synthetic import pool_size, write_pool

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    data_dir = Path(sm.input.manifest).parent
    n = pool_size(data_dir, sm.params.labels, sm.params.classes, sm.params.pool)
    seed = derive_seed(sm.params.seed, "utility-pool", sm.wildcards.run) % 2**31
    write_pool(sm.input.ckpt, n, seed, list(sm.params.generates), sm.output[0], device=str(select(sm.params.device)))
    record(snakemake)  # noqa: F821
