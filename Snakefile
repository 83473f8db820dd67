"""deeppc: from a folder of radiographs to a statistically honest comparison of GANs.

Run the embedded demo:   snakemake --cores 2 --configfile config/demo.yaml
Run the paper's study:   snakemake --profile profiles/slurm   (after editing config/config.yaml)
"""

import os
import sys

# Jobs import deeppc from this checkout's src/, whatever else is installed, so
# the code that ran is the code whose commit the provenance records.
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)

from deeppc import config as deeppc_config
from deeppc.runtime import export_source_path

export_source_path(SRC)

# The paper's study is the default; --configfile replaces it instead of being
# merged into it, so a demo or user config never inherits the paper's input.
if not config:
    config.update(deeppc_config.load(workflow.source_path("config/config.yaml")))
deeppc_config.validate(config)


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/medfid.smk"
include: "rules/train.smk"
include: "rules/score.smk"
include: "rules/stats.smk"
include: "rules/report.smk"
include: "rules/utility.smk"


# The front page: once the workflow has written it, the study's answer (rule
# front_page); before that, the static description of what will run.
report: os.path.abspath(FRONT_PAGE) if os.path.exists(FRONT_PAGE) else "workflow/report/workflow.rst"


rule all:
    input:
        data_outputs(),
        medfid_outputs(),
        stats_files(),
        figure_files(),
        utility_outputs(),
        FRONT_PAGE,
    default_target: True
