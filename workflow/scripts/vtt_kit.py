"""Rule vtt_kit: sample each model at its chosen checkpoint and draw the blinded kit."""

from pathlib import Path

import pandas as pd

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.report.vtt import make_kit
from deeppc.sampling import write_samples
from deeppc.seeding import derive_seed
from deeppc.validate import InputError

with log_to_file(snakemake.log[0]) as log:  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    vtt, out = sm.params.vtt, Path(sm.output[0])
    best = pd.read_csv(sm.input.best)
    best = best[best.metric == sm.params.metric].set_index("experiment")["best_iteration"]
    ckpts = {(Path(c).parent.parent.name, Path(c).stem): Path(c) for c in sm.input.ckpts}  # runs/{model}/ckpt/{k}.pt
    fakes = {}
    for model in vtt["models"]:
        iteration = int(best[model]) if vtt["iteration"] == "best" else int(vtt["iteration"])
        ckpt = ckpts.get((model, str(iteration)))
        if ckpt is None:
            raise InputError(f"config key 'vtt.iteration': {model} has no kept checkpoint at iteration {iteration}")
        log.info("%s: sampling checkpoint %s", model, ckpt)
        folder = out / "generated" / model
        write_samples(ckpt, vtt["k"], derive_seed(sm.params.seed, "vtt", model, iteration), folder,
                      batch_size=sm.params.batch_size)  # fmt: skip
        fakes[model] = folder
    make_kit(Path(sm.input.images) / "holdout", fakes, vtt["k"], out / "kit", derive_seed(sm.params.seed, "vtt"),
             size=vtt["size"], embed=vtt["embed"])  # fmt: skip
    record(snakemake)  # noqa: F821
