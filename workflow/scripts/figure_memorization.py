"""Rule figure_memorization: generated images beside their nearest training images."""

import json

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.report.figures import memorization_figure

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    score = json.loads(open(sm.input.score).read())
    first = score["repeats"][0]
    subtitle = (f"iteration {score['iteration']}: {first['mem_fraction']:.1%} of generated images are closer to a "
                f"training image than {first['mem_quantile']:.0%} of held-out images are")  # fmt: skip
    memorization_figure(sm.input.pairs, sm.output[0], title=f"{sm.wildcards.experiment}: nearest training images",
                        subtitle=subtitle)  # fmt: skip
    record(snakemake)  # noqa: F821
