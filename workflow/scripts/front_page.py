"""Rule front_page: the report's front page from the data summary, the statistics and the score files."""

from deeppc.logs import log_to_file
from deeppc.provenance import record
from deeppc.report.headline import front_page, write_front_page

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    text = front_page(summary=sm.input.summary, pairwise=sm.input.pairwise, best=sm.input.best,
                      settings=sm.input.settings, scores=sm.input.scores, links=sm.params.links,
                      title=sm.params.title, utility=sm.input.get("utility"))  # fmt: skip
    write_front_page(sm.output[0], text)
    record(snakemake)  # noqa: F821
