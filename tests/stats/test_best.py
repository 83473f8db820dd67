"""Best checkpoint (centered smoothing) and early stopping (trailing smoothing, patience) by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from deeppc.stats.best import best_checkpoints, best_iteration_map, early_stop, score_curves, smooth
from deeppc.stats.scores import StatsInputError, load_scores

# one sample set per checkpoint; a lucky dip at 300 and a later, broader minimum
CURVE = {100: 50.0, 200: 40.0, 300: 20.0, 400: 38.0, 500: 26.0, 600: 24.0, 700: 25.0, 800: 30.0, 900: 31.0}


def _frame(write_score, curve=CURVE, name="g1", family="f"):
    for iteration, value in curve.items():
        write_score(name, family, iteration, {"medfid": [value]})
    return load_scores(write_score.root)


def test_smoothing_windows_by_hand():
    values = [50.0, 40.0, 20.0, 38.0]
    assert smooth(values, 3, centered=True).tolist() == pytest.approx([45.0, 110 / 3, 98 / 3, 29.0])
    assert smooth(values, 3, centered=False).tolist() == pytest.approx([50.0, 45.0, 110 / 3, 98 / 3])


def test_best_checkpoint_uses_the_centered_average(write_score):
    row = best_checkpoints(_frame(write_score), "medfid", window=3, patience=3).iloc[0]
    # centered means: 200 -> 36.67, 300 -> 32.67, 400 -> 28.0, 500 -> 29.33, 600 -> 25.0, 700 -> 26.33
    assert row["best_iteration"] == 600 and row["best_smoothed"] == pytest.approx(25.0)
    assert row["best_raw"] == 24.0
    assert (row["min_raw_iteration"], row["min_raw"]) == (300, 20.0)  # the lucky dip is not chosen


def test_early_stopping_by_hand(write_score):
    # trailing means: 50, 45, 36.67, 32.67, 28, 29.33, 25, 26.33, 28.67
    # improvements at 100..500 and 700; 800, 900 do not improve -> patience 2 stops at 900
    row = best_checkpoints(_frame(write_score), "medfid", window=3, patience=2).iloc[0]
    assert (row["last_improvement"], row["stop_iteration"]) == (700, 900)
    assert row["note"] == ""
    # patience 3 never runs out of checkpoints without improvement
    row = best_checkpoints(_frame(write_score), "medfid", window=3, patience=3).iloc[0]
    assert row["last_improvement"] == 700 and pd.isna(row["stop_iteration"])
    assert "no early stop" in row["note"]


def test_min_delta_ignores_small_improvements():
    assert early_stop([10.0, 9.5, 9.2, 9.1], patience=2, min_delta=1.0) == (0, 2)
    assert early_stop([10.0, 9.5, 9.2, 9.1], patience=2, min_delta=0.0) == (3, None)


def test_window_one_is_unsmoothed(write_score):
    row = best_checkpoints(_frame(write_score), "medfid", window=1, patience=1).iloc[0]
    assert row["best_iteration"] == 300 and row["smoothing"] == "none"
    assert (row["last_improvement"], row["stop_iteration"]) == (300, 400)


def test_curves_average_replicates_equally(write_score):
    write_score("g@r1", "f", 100, {"medfid": [10.0, 12.0, 14.0]})
    write_score("g@r2", "f", 100, {"medfid": [20.0]})
    curve = score_curves(load_scores(write_score.root), "medfid").iloc[0]
    assert curve["mean"] == pytest.approx(16.0)  # (12 + 20) / 2, not the mean of all four sets
    assert (curve["n"], curve["replicates"]) == (4, 2)


def test_degenerate_curves(write_score):
    write_score("one", "f", 100, {"medfid": [3.0]})
    write_score("bad", "f", 100, {"medfid": [math.inf]})
    table = best_checkpoints(load_scores(write_score.root), "medfid").set_index("experiment")
    assert table.loc["one", "best_iteration"] == 100 and "single checkpoint" in table.loc["one", "note"]
    assert pd.isna(table.loc["bad", "best_iteration"])
    assert table.loc["bad", "note"] == "no finite 'medfid' values for bad"
    assert best_iteration_map(table.reset_index()) == {"bad": None, "one": 100}


def test_bad_settings(write_score):
    frame = _frame(write_score)
    with pytest.raises(StatsInputError, match="odd number"):
        best_checkpoints(frame, "medfid", window=2)
    with pytest.raises(StatsInputError, match="patience"):
        best_checkpoints(frame, "medfid", patience=0)
