"""Welch t-tests, corrections, Hedges' g and Welch's ANOVA against independent references."""

from __future__ import annotations

import math
import statistics
import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from deeppc.stats.scores import StatsInputError, load_scores
from deeppc.stats.tests import Comparison, Selector, adjust, hedges_g, oneway_tests, pairwise_tests, welch_test
from deeppc.stats.units import select_observations

A = [170.2, 165.1, 168.9, 172.4, 166.0]
B = [110.3, 107.9, 112.6, 108.8, 109.1]


def test_welch_matches_scipy_and_the_satterthwaite_formula():
    res = welch_test(A, B)
    ref = stats.ttest_ind(A, B, equal_var=False)
    assert res.t == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p == pytest.approx(ref.pvalue, rel=1e-12)
    va, vb = statistics.variance(A) / 5, statistics.variance(B) / 5
    assert res.df == pytest.approx((va + vb) ** 2 / (va**2 / 4 + vb**2 / 4), rel=1e-12)
    assert res.note == ""


def test_hedges_g_and_ci_by_hand():
    # a = 1..5, b = 3..7: means 3 and 5, both sd sqrt(2.5), df = 8
    # d = -2 / sqrt(2.5) = -1.264911; J(8) = Γ(4) / (√4 Γ(3.5)) = 0.902703; g = -1.141839
    # SE = √(10/25 + g²/20) = 0.682048; 95% CI = g ± 1.959964 SE = (-2.478630, 0.194951)
    effect = hedges_g([1, 2, 3, 4, 5], [3, 4, 5, 6, 7])
    assert effect.g == pytest.approx(-1.141839, abs=1e-6)
    assert (effect.ci_low, effect.ci_high) == pytest.approx((-2.478630, 0.194951), abs=1e-6)


def test_hedges_g_formula_on_unequal_groups():
    a, b = [3.1, 2.7, 3.9, 4.4], [1.0, 2.2, 1.7, 0.9, 1.4, 2.0]
    na, nb = len(a), len(b)
    pooled = math.sqrt(((na - 1) * statistics.variance(a) + (nb - 1) * statistics.variance(b)) / (na + nb - 2))
    df = na + nb - 2
    j = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
    g = j * (statistics.mean(a) - statistics.mean(b)) / pooled
    se = math.sqrt((na + nb) / (na * nb) + g * g / (2 * (na + nb)))
    z = statistics.NormalDist().inv_cdf(0.95)
    effect = hedges_g(a, b, confidence=0.90)
    assert effect.g == pytest.approx(g, rel=1e-12)
    assert (effect.ci_low, effect.ci_high) == pytest.approx((g - z * se, g + z * se), rel=1e-12)


def test_identical_scores_give_a_reason_not_nan():
    res = welch_test([5.0] * 5, [5.0] * 5)
    assert (res.t, res.df, res.p) == (None, None, None)
    assert "identical values in both groups" in res.note
    effect = hedges_g([5.0] * 5, [5.0] * 5)
    assert effect.g is None and "pooled standard deviation is 0" in effect.note


def test_constant_but_different_groups_are_not_testable():
    res = welch_test([5.0] * 3, [7.0] * 3)
    assert res.p is None and "zero variance in both groups" in res.note


def test_one_constant_group_is_tested_and_noted():
    res = welch_test([5.0] * 4, [6.1, 6.3, 5.9, 6.4])
    with warnings.catch_warnings():  # scipy warns about the constant group; the result is exact
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = stats.ttest_ind([5.0] * 4, [6.1, 6.3, 5.9, 6.4], equal_var=False)
    assert res.p == pytest.approx(ref.pvalue) and res.df == pytest.approx(3.0)
    assert res.note == "sd_a = 0 (all values identical)"


@pytest.mark.parametrize("a, b, message", [
    ([1.0], [2.0, 3.0], "too few observations (n_a=1, n_b=2)"),
    ([1.0, 2.0], [], "no observations for b"),
])
def test_too_few_observations(a, b, message):
    res = welch_test(a, b)
    assert res.p is None and message in res.note
    assert hedges_g(a, b).g is None


def test_adjust_matches_statsmodels_and_none_keeps_p():
    p = [0.001, 0.04, 0.03, 0.2, 0.012]
    for method in ("holm", "bonferroni", "fdr_bh", "hommel"):
        reject, adjusted, _, _ = multipletests(p, alpha=0.05, method=method)
        got_adj, got_reject = adjust(p, method, 0.05)
        assert got_adj == pytest.approx(adjusted) and list(got_reject) == list(reject)
    same, reject = adjust(p, "none", 0.05)
    assert list(same) == p and list(reject) == [True, True, True, False, True]
    with pytest.raises(StatsInputError, match="correction must be one of"):
        adjust(p, "holmes", 0.05)


def _observations(study, **kw):
    return select_observations(load_scores(study), "medfid", 800, **kw)


def test_pairwise_against_independent_scipy_and_statsmodels(study, study_values):
    comparisons = [Comparison(Selector(family="stylegan2"), Selector(family="wgangp"), "stylegan2 vs wgangp")]
    table = pairwise_tests(_observations(study), comparisons, correction="holm", alpha=0.05)
    values = study_values
    pairs = [("vanilla1", "vanilla2"), ("vanilla1", "vanilla3"), ("vanilla2", "vanilla3"), ("wgangp1", "wgangp2"),
             ("stylegan2", "wgangp1"), ("stylegan2", "wgangp2")]
    assert list(zip(table.a, table.b)) == pairs
    raw = [stats.ttest_ind(values[a], values[b], equal_var=False).pvalue for a, b in pairs]
    reject, adjusted, _, _ = multipletests(raw, alpha=0.05, method="holm")
    assert table["p"].to_numpy() == pytest.approx(raw, rel=1e-12)
    assert table["p_adjusted"].to_numpy() == pytest.approx(adjusted, rel=1e-12)
    assert table["significant"].tolist() == list(reject)
    assert set(table["unit"]) == {"sample_sets"} and set(table["correction"]) == {"holm"}
    assert table.loc[4, ["comparison", "kind", "family_a", "family_b"]].tolist() == \
        ["stylegan2 vs wgangp", "cross", "stylegan2", "wgangp"]
    assert table["note"].eq("").all()


def test_correction_none_reproduces_uncorrected_tests(study):
    table = pairwise_tests(_observations(study), correction="none")
    assert table["p_adjusted"].tolist() == table["p"].tolist()
    assert table["significant"].tolist() == (table["p"] <= 0.05).tolist()


def test_scope_comparison_corrects_each_group_separately(study):
    table = pairwise_tests(_observations(study), correction="bonferroni", scope="comparison")
    vanilla = table[table.comparison == "vanilla"]
    assert vanilla["p_adjusted"].to_numpy() == pytest.approx(np.minimum(vanilla["p"].to_numpy() * 3, 1))
    wgangp = table[table.comparison == "wgangp"]
    assert wgangp["p_adjusted"].tolist() == wgangp["p"].tolist()


def test_untestable_rows_are_left_out_of_the_correction(write_score):
    write_score("a", "f", 1, {"fid": [1.0, 2.0, 3.0]})
    write_score("b", "f", 1, {"fid": [2.0, 3.5, 4.0]})
    write_score("c", "f", 1, {"fid": [9.0]})  # one sample set
    obs = select_observations(load_scores(write_score.root), "fid", 1)
    table = pairwise_tests(obs, correction="bonferroni")
    tested = table[table.p.notna()]
    assert list(zip(tested.a, tested.b)) == [("a", "b")]
    assert tested["p_adjusted"].iloc[0] == pytest.approx(tested["p"].iloc[0])  # a family of one test
    untested = table[table.p.isna()]
    assert untested["p_adjusted"].isna().all() and untested["significant"].isna().all()
    assert untested["hedges_g"].isna().all()
    assert all("too few observations" in note for note in untested["note"])
    assert untested["mean_b"].tolist() == [9.0, 9.0] and untested["sd_b"].isna().all()


def test_identical_scores_in_pairwise_table(write_score):
    write_score("a", "f", 1, {"fid": [4.0, 4.0, 4.0]})
    write_score("b", "f", 1, {"fid": [4.0, 4.0, 4.0]})
    table = pairwise_tests(select_observations(load_scores(write_score.root), "fid", 1))
    row = table.iloc[0]
    assert math.isnan(row["p"]) and math.isnan(row["t"]) and row["sd_a"] == 0
    assert "identical values in both groups" in row["note"]


def test_cross_comparison_by_experiment_list_and_errors(study):
    obs = _observations(study)
    cmp = Comparison.from_config({"name": "sg vs w1", "a": {"experiments": ["stylegan2"]}, "b": ["wgangp1"]})
    table = pairwise_tests(obs, [cmp], within=False)
    assert list(zip(table.comparison, table.a, table.b)) == [("sg vs w1", "stylegan2", "wgangp1")]
    with pytest.raises(StatsInputError, match="family 'nope'"):
        pairwise_tests(obs, [Comparison.parse("stylegan2:nope")])
    with pytest.raises(StatsInputError, match="unknown experiment"):
        pairwise_tests(obs, [Comparison.from_config({"a": ["stylegan2"], "b": ["wgangp9"]})])
    with pytest.raises(StatsInputError, match="exactly one of"):
        Comparison.from_config({"a": {"family": "x", "experiments": ["y"]}, "b": "z"})
    # a bare command-line name that is an experiment, not a family
    assert Comparison.parse("wgangp1:vanilla").pairs(obs.families)[0] == ("wgangp1", "vanilla1")


def test_welch_anova_matches_scipy(study, study_values):
    table = oneway_tests(_observations(study))
    vanilla = table[table.family == "vanilla"].iloc[0]
    groups = [study_values[name] for name in ("vanilla1", "vanilla2", "vanilla3")]
    ref = stats.f_oneway(*groups, equal_var=False)
    assert vanilla["statistic"] == pytest.approx(ref.statistic, rel=1e-10)
    assert vanilla["p"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert (vanilla["k"], vanilla["n_total"], vanilla["df_num"]) == (3, 15, 2.0)
    single = table[table.family == "stylegan2"].iloc[0]
    assert math.isnan(single["p"]) and "fewer than 2 experiments" in single["note"]


def test_welch_anova_degenerate_groups(write_score):
    write_score("a", "f", 1, {"fid": [1.0, 2.0]})
    write_score("b", "f", 1, {"fid": [3.0, 3.0]})
    write_score("c", "f", 1, {"fid": [5.0, 6.0]})
    row = oneway_tests(select_observations(load_scores(write_score.root), "fid", 1)).iloc[0]
    assert math.isnan(row["p"]) and row["note"] == "Welch's ANOVA undefined with zero variance in: b"


def test_experiments_in_natural_order(write_score):
    for name in ("wgangp10", "wgangp2", "wgangp1"):
        write_score(name, "wgangp", 1, {"fid": [1.0, 2.0]})
    write_score("stylegan2", "stylegan2", 1, {"fid": [1.0, 2.0]})
    obs = select_observations(load_scores(write_score.root), "fid", 1)
    table = pairwise_tests(obs, [Comparison.parse("stylegan2:wgangp")])
    assert list(zip(table.a, table.b))[:3] == [("wgangp1", "wgangp2"), ("wgangp1", "wgangp10"), ("wgangp2", "wgangp10")]
    assert table.b.tolist()[3:] == ["wgangp1", "wgangp2", "wgangp10"]
