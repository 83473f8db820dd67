"""Fixtures: score files in the score-stage contract (tests/score_files.py)."""

from score_files import study, study_values, write_score  # noqa: F401 (fixtures)
