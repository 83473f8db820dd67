"""Choosing the compared iteration and the unit of analysis (sample sets vs training seeds)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from deeppc.stats.scores import StatsInputError, load_scores
from deeppc.stats.tests import pairwise_tests
from deeppc.stats.points import parse_compare_at
from deeppc.stats.units import select_observations


def _replicated(write_score):
    # two experiments, three training seeds each, two sample sets per seed
    seeds = {"wgangp1": [[10.0, 11.0], [12.0, 12.5], [9.0, 10.0]],
             "wgangp2": [[14.0, 15.0], [16.5, 15.5], [13.0, 14.0]]}
    for name, per_seed in seeds.items():
        for k, values in enumerate(per_seed, start=1):
            write_score(f"{name}@r{k}", "wgangp", 800, {"fid": values})
    return {name: [sum(v) / 2 for v in per_seed] for name, per_seed in seeds.items()}


def test_auto_uses_training_seeds_when_every_experiment_has_them(write_score):
    means = _replicated(write_score)
    obs = select_observations(load_scores(write_score.root), "fid", 800)
    assert obs.unit == "training_seeds"
    assert obs.values("wgangp1").tolist() == means["wgangp1"]
    assert obs.table["n_sets"].tolist() == [2] * 6
    row = pairwise_tests(obs).iloc[0]
    ref = stats.ttest_ind(means["wgangp1"], means["wgangp2"], equal_var=False)
    assert (row["n_a"], row["unit"]) == (3, "training_seeds")
    assert row["p"] == pytest.approx(ref.pvalue, rel=1e-12)


def test_sample_sets_pool_replicates_with_a_note(write_score):
    _replicated(write_score)
    obs = select_observations(load_scores(write_score.root), "fid", 800, unit="sample_sets")
    assert len(obs.values("wgangp1")) == 6
    assert obs.notes["wgangp1"] == ["sample sets pooled over 3 training seeds"]
    assert "wgangp1: sample sets pooled over 3 training seeds" in pairwise_tests(obs).iloc[0]["note"]


def test_auto_falls_back_to_sample_sets_when_one_experiment_has_one_seed(write_score):
    _replicated(write_score)
    write_score("stylegan2", "stylegan2", 800, {"fid": [8.0, 8.5, 7.9]})
    assert select_observations(load_scores(write_score.root), "fid", 800).unit == "sample_sets"


def test_training_seeds_forced_with_a_single_seed_is_explained(write_score):
    write_score("a", "f", 800, {"fid": [1.0, 2.0, 3.0]})
    write_score("b", "f", 800, {"fid": [1.5, 2.5, 3.5]})
    obs = select_observations(load_scores(write_score.root), "fid", 800, unit="training_seeds")
    row = pairwise_tests(obs).iloc[0]
    assert (row["n_a"], row["mean_a"]) == (1, 2.0)
    assert math.isnan(row["p"]) and "too few observations (n_a=1, n_b=1)" in row["note"]


def test_missing_iteration_and_missing_metric_are_noted(study, write_score):
    write_score("wgangp3", "wgangp", 400, {"medfid": [99.0]})
    write_score("wgangp4", "wgangp", 800, {"fid": [1.0, 2.0]})
    obs = select_observations(load_scores(study), "medfid", 800)
    assert obs.notes["wgangp3"] == ["no 'medfid' score at iteration 800 (scored: 400)"]
    assert obs.notes["wgangp4"] == ["no 'medfid' values in any score file of wgangp4"]
    table = pairwise_tests(obs)
    row = table[(table.a == "wgangp1") & (table.b == "wgangp3")].iloc[0]
    assert row["n_b"] == 0 and math.isnan(row["p"])
    assert "wgangp3: no 'medfid' score at iteration 800" in row["note"] and "no observations for b" in row["note"]


def test_non_finite_values_are_dropped_and_noted(write_score):
    write_score("a", "f", 1, {"fid": [1.0, math.inf, 2.0]})
    obs = select_observations(load_scores(write_score.root), "fid", 1)
    assert obs.values("a").tolist() == [1.0, 2.0]
    assert obs.notes["a"] == ["1 non-finite value(s) dropped (inf)"]


def test_last_iteration_per_experiment(write_score):
    write_score("a", "f", 100, {"fid": [5.0, 6.0]})
    write_score("a", "f", 200, {"fid": [3.0, 4.0]})
    write_score("b", "f", 100, {"fid": [7.0, 8.0]})
    frame = load_scores(write_score.root)
    assert select_observations(frame, "fid", "last").iterations == {"a": 200, "b": 100}


def test_order_and_bad_settings(study):
    frame = load_scores(study)
    obs = select_observations(frame, "medfid", 800, order=["wgangp2", "vanilla3"])
    assert obs.experiments[:3] == ["wgangp2", "vanilla3", "stylegan2"]
    with pytest.raises(StatsInputError, match="unit must be one of"):
        select_observations(frame, "medfid", 800, unit="seeds")
    with pytest.raises(StatsInputError, match="'kid' is in no score file"):
        select_observations(frame, "kid", 800)
    assert parse_compare_at("800").label() == "iteration 800" and parse_compare_at("Best").kind == "best"
    assert parse_compare_at("448 kimg").value == 448 and parse_compare_at("200 epochs").kind == "epochs"
    for bad in ("final", "0 kimg", "12 images", True):
        with pytest.raises(StatsInputError, match="compare_at must be"):
            parse_compare_at(bad)
