"""Loading score JSONs into the long table, replicate naming, and clear errors."""

from __future__ import annotations

import json
import math

import pytest

from deeppc.run_names import split_run
from deeppc.stats.scores import ScoreFileError, StatsInputError, load_scores, require_metric


def test_long_table_has_one_row_per_repeat_and_metric(study):
    frame = load_scores(study)
    assert len(frame) == 6 * (1 + 5 * 2)  # per experiment: 1 medfid at 400, 5 medfid + 5 fid at 800
    row = frame[(frame.experiment == "wgangp1") & (frame.iteration == 800) & (frame.metric == "medfid")]
    assert row["value"].tolist() == [92.1, 95.3, 88.7, 94.8, 91.0]
    assert set(row["replicate"]) == {0} and row["seed"].tolist() == [1000, 1001, 1002, 1003, 1004]


def test_bookkeeping_keys_and_non_numbers_are_not_metrics(write_score):
    path = write_score("a", "f", 1, {"fid": [1.0]})
    record = json.loads(path.read_text())
    record["repeats"][0].update({"note": "text", "ok": True, "broken": None})
    path.write_text(json.dumps(record))
    assert set(load_scores(path)["metric"]) == {"fid"}


@pytest.mark.parametrize("run, expected", [("wgangp1@r2", ("wgangp1", 2)), ("wgangp1", ("wgangp1", 0)),
                                           ("a@b@r10", ("a@b", 10)), ("x@rr", ("x@rr", 0)), ("x@r0", ("x@r0", 0))])
def test_replicate_names(run, expected):
    assert split_run(run) == expected


def test_replicates_share_the_experiment_name(write_score):
    write_score("wgangp1@r1", "wgangp", 800, {"fid": [1.0, 2.0]}, replicate=1)
    write_score("wgangp1@r2", "wgangp", 800, {"fid": [3.0, 4.0]})
    frame = load_scores(write_score.root)
    assert set(frame["experiment"]) == {"wgangp1"}
    assert sorted(set(frame["replicate"])) == [1, 2]
    assert set(frame["run"]) == {"wgangp1@r1", "wgangp1@r2"}


def test_replicate_field_must_match_the_name(write_score):
    write_score("wgangp1@r1", "wgangp", 800, {"fid": [1.0]}, replicate=3)
    with pytest.raises(ScoreFileError, match="disagrees"):
        load_scores(write_score.root)


def test_non_finite_values_are_kept_for_the_analysis_to_report(write_score):
    write_score("a", "f", 1, {"fid": [math.inf, 2.0]})
    assert math.isinf(load_scores(write_score.root)["value"].iloc[0])


def test_missing_keys_name_the_file(tmp_path):
    bad = tmp_path / "scores" / "x" / "1.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"experiment": "x", "iteration": 1, "repeats": [{"fid": 1}]}))
    with pytest.raises(ScoreFileError, match=r"1\.json: missing key\(s\) family"):
        load_scores(bad)


def test_unreadable_json_and_empty_repeats(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ScoreFileError, match="not a readable score JSON"):
        load_scores(tmp_path / "a.json")
    (tmp_path / "a.json").write_text(json.dumps({"experiment": "a", "family": "f", "iteration": 1, "repeats": []}))
    with pytest.raises(ScoreFileError, match="non-empty list"):
        load_scores(tmp_path / "a.json")


def test_duplicate_experiment_iteration_is_an_error(write_score, tmp_path):
    first = write_score("a", "f", 1, {"fid": [1.0]})
    copy = tmp_path / "elsewhere" / "1.json"
    copy.parent.mkdir()
    copy.write_text(first.read_text())
    with pytest.raises(ScoreFileError, match="duplicate scores for a iteration 1"):
        load_scores([write_score.root, copy])


def test_family_must_be_consistent(write_score):
    write_score("a", "f", 1, {"fid": [1.0]})
    write_score("a", "g", 2, {"fid": [1.0]})
    with pytest.raises(ScoreFileError, match="several families"):
        load_scores(write_score.root)


def test_missing_inputs_and_missing_metric(study, tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_scores(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no score files"):
        load_scores(tmp_path / "empty")
    with pytest.raises(StatsInputError, match="'kid' is in no score file; available: fid, medfid"):
        require_metric(load_scores(study), "kid")
