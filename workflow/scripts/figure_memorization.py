"""Rule figure_memorization: the most copy-like generated images beside their nearest training images,
titled with the checkpoint's memorisation verdict and its evidence in words."""

import json

from deeppc.logs import log_to_file
from deeppc.metrics.memorization import describe, wrap
from deeppc.provenance import record
from deeppc.report.figures import memorization_figure

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    score = json.loads(open(sm.input.score).read())
    evidence = score["memorization"]  # all repeats pooled (docs/contracts.md, score stage)
    subtitle = wrap(f"Iteration {score['iteration']}, {evidence['sets']} sample set(s) pooled. {describe(evidence)}")
    memorization_figure(sm.input.pairs, sm.output[0], title=f"{sm.wildcards.experiment}: most copy-like generated "
                        "images and their nearest training images", subtitle=subtitle)  # fmt: skip
    record(snakemake)  # noqa: F821
