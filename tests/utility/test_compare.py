"""Paired tests against scipy and statsmodels; rank correlation against scipy; degenerate cases explained."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from deeppc.utility.compare import paired_against, quality_correlation


def _runs(values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"arm": arm, "seed": i, "auroc": v} for arm, vs in values.items() for i, v in enumerate(vs)])


def test_paired_tests_match_scipy_and_holm_matches_statsmodels():
    rng = np.random.default_rng(3)
    base = rng.normal(0.8, 0.03, 5)
    arms = {"real": base, "a": base + rng.normal(0.02, 0.01, 5), "b": base + rng.normal(0.0, 0.02, 5),
            "c": base + rng.normal(-0.05, 0.01, 5)}  # fmt: skip
    table = paired_against(_runs({k: list(v) for k, v in arms.items()}), ["auroc"]).set_index("arm")
    p = []
    for arm in ("a", "b", "c"):
        ref = stats.ttest_rel(arms[arm], base)
        d = arms[arm] - base
        row = table.loc[arm]
        assert row.t == pytest.approx(ref.statistic, rel=1e-12) and row.p == pytest.approx(ref.pvalue, rel=1e-12)
        assert row.cohens_dz == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
        ci = stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d))
        assert (row.diff_ci_low, row.diff_ci_high) == pytest.approx(ci, rel=1e-10)
        assert row.n == 5 and row.unit.startswith("classifier seeds")
        p.append(ref.pvalue)
    reject, adjusted, _, _ = multipletests(p, alpha=0.05, method="holm")
    assert list(table.loc[["a", "b", "c"], "p_adjusted"]) == pytest.approx(adjusted, rel=1e-12)
    assert list(table.loc[["a", "b", "c"], "significant"]) == list(reject)


def test_pairs_are_matched_by_seed_not_by_order():
    runs = _runs({"real": [0.5, 0.6, 0.7], "x": [0.52, 0.61, 0.73]})
    shuffled = runs.sample(frac=1, random_state=0)
    a = paired_against(runs, ["auroc"]).iloc[0]
    b = paired_against(shuffled, ["auroc"]).iloc[0]
    assert a.t == b.t and a.p == pytest.approx(stats.ttest_rel([0.52, 0.61, 0.73], [0.5, 0.6, 0.7]).pvalue)


def test_degenerate_differences_are_explained_not_nan_tested():
    # binary fractions, so the differences are exactly equal
    table = paired_against(_runs({"real": [0.5, 0.25, 0.75], "same": [1.0, 0.75, 1.25], "one": [0.9]}), ["auroc"])
    notes = dict(zip(table.arm, table.note))
    # the same gain on every seed up to float rounding (0.71 - 0.70 != 0.72 - 0.71) is no evidence of anything
    rounding = paired_against(_runs({"real": [0.70, 0.71, 0.68], "x": [0.71, 0.72, 0.69]}), ["auroc"]).iloc[0]
    assert np.isnan(rounding.p) and "zero variance" in rounding.note
    assert "zero variance" in notes["same"] and "at least 2" in notes["one"]
    assert table.p.isna().all() and table.p_adjusted.isna().all()


def test_quality_correlation_matches_scipy_and_needs_three_sources():
    gains = pd.DataFrame({"gain": [0.05, 0.01, -0.02, 0.03, 0.0], "fid": [20.0, 45.0, 80.0, 30.0, 60.0],
                          "recall": [0.5, 0.5, 0.5, 0.5, 0.5]})  # fmt: skip
    table = quality_correlation(gains, "gain", ["fid", "recall"]).set_index("quality")
    ref = stats.spearmanr(gains.gain, gains.fid)
    assert table.loc["fid", "rho"] == pytest.approx(ref.statistic) and table.loc["fid", "p"] == pytest.approx(ref.pvalue)
    assert table.loc["fid", "rho"] == pytest.approx(-1.0)  # planted: lower FID, larger gain
    assert np.isnan(table.loc["recall", "rho"]) and "not all equal" in table.loc["recall", "note"]
    few = quality_correlation(gains.head(2), "gain", ["fid"])
    assert np.isnan(few.rho[0]) and few.n[0] == 2
