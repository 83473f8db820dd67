"""Rule vtt_score: score the raters' answers and set each model's FID against their false-positive rate."""

from pathlib import Path

import pandas as pd

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.report.vtt import kit_iterations
from deeppc.report.vtt_score import fid_fpr_figure, kit_fids, score_vtt

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    iterations = kit_iterations(Path(sm.input.best), sm.params.metric, sm.params.vtt)
    fids = kit_fids(sm.params.scores, iterations, "fid")
    paths = score_vtt(Path(sm.input.kit) / "kit" / "key.csv", list(sm.input.answers), sm.output.table, fids)
    fid_fpr_figure(pd.read_csv(paths["fid_fpr"]), pd.read_csv(paths["correlation"]), "fid", sm.output.figure)
    record(snakemake)  # noqa: F821
