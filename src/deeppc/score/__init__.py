"""The score stage: every kept checkpoint's sample sets measured against the real statistics.

Entry points: `real_statistics` (`real`, the reference statistics) and
`score_checkpoint(ScoreJob, out, pairs)` (`stage`, one checkpoint). Importing
this package also imports the medfid stage, which registers its "medfid"
extractor, so every scoring command can name any extractor of the study.
"""

import deeppc.medfid  # noqa: F401  registers the "medfid" feature extractor
from deeppc.score.real import real_statistics
from deeppc.score.stage import ScoreJob, holdout_groups, score_checkpoint

__all__ = ["ScoreJob", "holdout_groups", "real_statistics", "score_checkpoint"]
