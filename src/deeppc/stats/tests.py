"""Pairwise Welch t-tests, multiple-comparison correction, Hedges' g, one-way tests.

Choices, and why:

- Welch's t-test (unequal variances): the spread of scores differs a lot
  between configurations (the paper: WGAN-GP at lr 1e-3 "much more variant"),
  and Welch costs almost nothing when variances are in fact equal.
- Correction with statsmodels' `multipletests`, Holm by default (controls the
  family-wise error rate without assumptions on dependence); `none`
  reproduces the paper. The family of tests corrected together is every test
  of one metric (`scope='metric'`, the whole Table 3) or each comparison
  group separately (`scope='comparison'`). Pairs that cannot be tested are
  left out of the family.
- Hedges' g: Cohen's d with the pooled standard deviation, times the exact
  small-sample factor J(df) = Γ(df/2) / (√(df/2) Γ((df−1)/2)), df = n_a+n_b−2.
  Its confidence interval is g ± z·SE with the Hedges & Olkin (1985) large-
  sample SE = √((n_a+n_b)/(n_a·n_b) + g²/(2(n_a+n_b))); with 5 per group it
  is approximate. Positive g means a scores higher than b (for FID-like
  metrics: a is worse). The pooled SD assumes equal variances, unlike the
  test; g is a size, the test decides.
- One-way test per family: Welch's ANOVA (statsmodels `anova_oneway` with
  unequal variances), the k-group analogue of the Welch t-test, for the same
  reason; Kruskal–Wallis would test a different hypothesis and has little
  power with 5 values per group.

Degenerate inputs never yield silent NaN: the row keeps its descriptive
columns, leaves `t`/`p`/`hedges_g` empty and explains why in `note`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.oneway import anova_oneway

from deeppc.stats.scores import StatsInputError
from deeppc.stats.units import Observations

CORRECTIONS = (
    "none", "holm", "bonferroni", "sidak", "holm-sidak", "simes-hochberg", "hommel",
    "fdr_bh", "fdr_by", "fdr_tsbh", "fdr_tsbky",
)
SCOPES = ("metric", "comparison")
PAIRWISE_COLUMNS = [
    "metric", "comparison", "kind", "a", "b", "family_a", "family_b", "unit", "compare_at", "iteration_a",
    "iteration_b", "at_a", "at_b", "n_a", "n_b", "mean_a", "mean_b", "sd_a", "sd_b", "t", "df", "p", "p_adjusted",
    "correction", "alpha", "significant", "hedges_g", "g_ci_low", "g_ci_high", "note", "warning",
]
ONEWAY_COLUMNS = [
    "metric", "family", "unit", "iteration", "method", "k", "n_total", "experiments",
    "statistic", "df_num", "df_den", "p", "note", "warning",
]


@dataclass(frozen=True)
class WelchResult:
    t: float | None
    df: float | None
    p: float | None
    note: str = ""


@dataclass(frozen=True)
class EffectSize:
    g: float | None
    ci_low: float | None
    ci_high: float | None
    note: str = ""


def _constant(x: np.ndarray) -> bool:
    # exact check: scipy's variance of identical floats can be 1e-30, not 0
    return len(x) > 0 and bool(np.all(x == x[0]))


def _too_small(a: np.ndarray, b: np.ndarray) -> str:
    if len(a) >= 2 and len(b) >= 2:
        return ""
    empty = [label for label, x in (("a", a), ("b", b)) if len(x) == 0]
    if empty:
        return "no observations for " + " and ".join(empty)
    return (f"too few observations (n_a={len(a)}, n_b={len(b)}): a single value has no variance; "
            "a t-test needs at least 2 per group")


def welch_test(a: Sequence[float], b: Sequence[float]) -> WelchResult:
    """Welch's two-sided t-test of a vs b, or empty values and a reason."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    reason = _too_small(a, b)
    if reason:
        return WelchResult(None, None, None, reason)
    if _constant(a) and _constant(b):
        if a[0] == b[0]:
            return WelchResult(None, None, None, "identical values in both groups (zero variance): nothing to test")
        return WelchResult(None, None, None, f"zero variance in both groups (each constant, {a[0]:g} vs {b[0]:g}): "
                                             "t is undefined; more sample sets or seeds are needed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(a, b, equal_var=False)
    note = "; ".join(f"sd_{label} = 0 (all values identical)" for label, x in (("a", a), ("b", b)) if _constant(x))
    return WelchResult(float(res.statistic), float(res.df), float(res.pvalue), note)


def hedges_j(df: float) -> float:
    """Exact small-sample correction factor of Hedges (1981)."""
    return math.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / math.sqrt(df / 2)


def hedges_g(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> EffectSize:
    """Hedges' g of a − b with a normal-approximation confidence interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return EffectSize(None, None, None, "effect size needs at least 2 observations per group")
    df = na + nb - 2
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / df)
    if pooled == 0 or (_constant(a) and _constant(b)):
        return EffectSize(None, None, None, "pooled standard deviation is 0: effect size undefined")
    g = hedges_j(df) * (a.mean() - b.mean()) / pooled
    se = math.sqrt((na + nb) / (na * nb) + g * g / (2 * (na + nb)))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return EffectSize(float(g), float(g - z * se), float(g + z * se))


@dataclass(frozen=True)
class Selector:
    """Experiments picked by family name or listed by name."""

    family: str | None = None
    experiments: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, value: dict | str | Sequence[str]) -> "Selector":
        """`{family: wgangp}` or `{experiments: [a, b]}` (a bare list means experiments)."""
        if isinstance(value, dict):
            if set(value) - {"family", "experiments"} or bool(value.get("family")) == bool(value.get("experiments")):
                raise StatsInputError(f"a comparison side needs exactly one of 'family' or 'experiments': {value!r}")
            return cls(value.get("family"), tuple(value.get("experiments") or ()))
        if isinstance(value, str):
            return cls(family=value)
        return cls(experiments=tuple(value))

    def resolve(self, families: dict[str, str]) -> list[str]:
        """Experiment names this selector stands for, in the analysis order."""
        if self.family is not None:
            names = [name for name, fam in families.items() if fam == self.family]
            if not names:
                raise StatsInputError(f"comparison names family {self.family!r}, which has no scores; "
                                      f"families: {', '.join(sorted(set(families.values())))}")
            return names
        unknown = [name for name in self.experiments if name not in families]
        if unknown:
            raise StatsInputError(f"comparison names unknown experiment(s): {', '.join(unknown)}")
        return list(self.experiments)

    def label(self) -> str:
        return self.family if self.family is not None else ",".join(self.experiments)


@dataclass(frozen=True)
class Comparison:
    """Every experiment of side a against every experiment of side b (the paper: StyleGAN2 vs WGAN-GP)."""

    a: Selector
    b: Selector
    name: str = ""

    @classmethod
    def from_config(cls, entry: dict) -> "Comparison":
        if not isinstance(entry, dict) or "a" not in entry or "b" not in entry:
            raise StatsInputError(f"a comparison needs keys 'a' and 'b': {entry!r}")
        a, b = Selector.from_config(entry["a"]), Selector.from_config(entry["b"])
        return cls(a, b, entry.get("name") or f"{a.label()} vs {b.label()}")

    @classmethod
    def parse(cls, text: str) -> "Comparison":
        """Command-line form `A:B`; each side a family name or a comma list of experiments."""
        sides = text.split(":")
        if len(sides) != 2 or not all(sides):
            raise StatsInputError(f"comparison must look like FAMILY:FAMILY or EXP,EXP:FAMILY, got {text!r}")
        a, b = (Selector(experiments=tuple(s.split(","))) if "," in s else Selector(family=s) for s in sides)
        return cls(a, b, f"{sides[0]} vs {sides[1]}")

    def resolve_side(self, selector: Selector, families: dict[str, str]) -> list[str]:
        # a bare name on the command line may be an experiment rather than a family
        if selector.family is not None and selector.family not in families.values() and selector.family in families:
            return [selector.family]
        return selector.resolve(families)

    def pairs(self, families: dict[str, str]) -> list[tuple[str, str]]:
        a, b = self.resolve_side(self.a, families), self.resolve_side(self.b, families)
        return [(x, y) for x in a for y in b if x != y]


def adjust(pvalues: Sequence[float], method: str, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values and rejections; `none` keeps p and rejects at p <= alpha."""
    p = np.asarray(pvalues, dtype=float)
    if method not in CORRECTIONS:
        raise StatsInputError(f"correction must be one of {', '.join(CORRECTIONS)}, got {method!r}")
    if len(p) == 0:
        return p, np.zeros(0, dtype=bool)
    if method == "none":
        return p.copy(), p <= alpha
    reject, adjusted, _, _ = multipletests(p, alpha=alpha, method=method)
    return adjusted, reject


def _pairs(obs: Observations, comparisons: Iterable[Comparison], within: bool) -> list[tuple[str, str, str, str]]:
    """(comparison, kind, a, b) for every test, within families first."""
    pairs = []
    if within:
        for family in dict.fromkeys(obs.families[name] for name in obs.experiments):
            names = [name for name in obs.experiments if obs.families[name] == family]
            pairs += [(family, "within", x, y) for i, x in enumerate(names) for y in names[i + 1:]]
    for comparison in comparisons:
        pairs += [(comparison.name, "cross", x, y) for x, y in comparison.pairs(obs.families)]
    return pairs


def _describe(x: np.ndarray) -> tuple[float | None, float | None]:
    mean = float(x.mean()) if len(x) else None
    sd = float(x.std(ddof=1)) if len(x) > 1 else None
    return mean, sd


def _row(obs: Observations, comparison: str, kind: str, a: str, b: str, confidence: float) -> dict:
    xa, xb = obs.values(a), obs.values(b)
    test, effect = welch_test(xa, xb), hedges_g(xa, xb, confidence)
    (mean_a, sd_a), (mean_b, sd_b) = _describe(xa), _describe(xb)
    notes = [f"{name}: {n}" for name in (a, b) for n in obs.notes.get(name, [])]
    notes += [test.note] if test.note else []
    if effect.note and test.p is not None:  # when the test failed, its reason covers g too
        notes.append(effect.note)
    return {
        "metric": obs.metric, "comparison": comparison, "kind": kind, "a": a, "b": b,
        "family_a": obs.families[a], "family_b": obs.families[b], "unit": obs.unit, "compare_at": obs.iteration_mode,
        "iteration_a": obs.iterations.get(a), "iteration_b": obs.iterations.get(b),
        "at_a": obs.points.get(a, ""), "at_b": obs.points.get(b, ""), "warning": " | ".join(obs.warnings),
        "n_a": len(xa), "n_b": len(xb), "mean_a": mean_a, "mean_b": mean_b, "sd_a": sd_a, "sd_b": sd_b,
        "t": test.t, "df": test.df, "p": test.p, "hedges_g": effect.g,
        "g_ci_low": effect.ci_low, "g_ci_high": effect.ci_high, "note": "; ".join(notes),
    }


def pairwise_tests(
    obs: Observations,
    comparisons: Iterable[Comparison] = (),
    correction: str = "holm",
    alpha: float = 0.05,
    scope: str = "metric",
    within: bool = True,
) -> pd.DataFrame:
    """Every within-family pair and every configured cross pair, tested and corrected."""
    if scope not in SCOPES:
        raise StatsInputError(f"correction scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if not 0 < alpha < 1:
        raise StatsInputError(f"alpha must be between 0 and 1, got {alpha}")
    rows = [_row(obs, *pair, 1 - alpha) for pair in _pairs(obs, comparisons, within)]
    frame = pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)
    frame["correction"], frame["alpha"] = correction, alpha
    frame["p_adjusted"] = frame["significant"] = None
    keys = ["metric"] if scope == "metric" else ["metric", "comparison"]
    for _, group in frame.groupby(keys, sort=False):
        tested = group.index[group["p"].notna()]
        adjusted, reject = adjust(frame.loc[tested, "p"].to_numpy(dtype=float), correction, alpha)
        frame.loc[tested, "p_adjusted"] = adjusted
        frame.loc[tested, "significant"] = reject
    floats = ["mean_a", "mean_b", "sd_a", "sd_b", "t", "df", "p", "p_adjusted", "hedges_g", "g_ci_low", "g_ci_high"]
    return frame.astype({**dict.fromkeys(floats, float), "iteration_a": "Int64", "iteration_b": "Int64"})


def oneway_tests(obs: Observations) -> pd.DataFrame:
    """Welch's ANOVA across the experiments of each family (one row per family)."""
    rows = []
    for family in dict.fromkeys(obs.families[name] for name in obs.experiments):
        names = [name for name in obs.experiments if obs.families[name] == family]
        groups = [obs.values(name) for name in names]
        row = {"metric": obs.metric, "family": family, "unit": obs.unit, "iteration": obs.iteration_mode,
               "method": "Welch's ANOVA", "k": len(names), "n_total": int(sum(map(len, groups))),
               "experiments": ";".join(names), "statistic": None, "df_num": None, "df_den": None, "p": None,
               "warning": " | ".join(obs.warnings)}
        row["note"] = _oneway_problem(names, groups)
        if not row["note"]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = anova_oneway(groups, use_var="unequal", welch_correction=True)
            row.update(statistic=float(res.statistic), df_num=float(res.df_num),
                       df_den=float(res.df_denom), p=float(res.pvalue))
        rows.append(row)
    floats = ["statistic", "df_num", "df_den", "p"]
    return pd.DataFrame(rows, columns=ONEWAY_COLUMNS).astype(dict.fromkeys(floats, float))


def _oneway_problem(names: list[str], groups: list[np.ndarray]) -> str:
    # Welch's ANOVA weights each group by n/variance: n < 2 or zero variance breaks it
    if len(names) < 2:
        return "fewer than 2 experiments in this family: nothing to compare"
    small = [f"{n} (n={len(g)})" for n, g in zip(names, groups) if len(g) < 2]
    if small:
        return "Welch's ANOVA needs at least 2 observations per experiment: " + ", ".join(small)
    flat = [n for n, g in zip(names, groups) if _constant(g)]
    if flat:
        return "Welch's ANOVA undefined with zero variance in: " + ", ".join(flat)
    return ""
