"""Scores of a classifier on real held-out patients, with patient-level bootstrap confidence intervals.

Accuracy, balanced accuracy (mean per-class recall: what a minority class
cannot hide in), macro-F1, AUROC (two classes: the Mann–Whitney statistic of
the positive class's probability, ties counted half; more classes: the mean
of one-vs-rest AUROCs) and each class's recall.

Intervals resample patients, not images: the images of one patient are not
independent (same anatomy, same device), so an image-level bootstrap would
give intervals too narrow by up to √(images per patient). Replicates that
lack a class (no recall or AUROC defined) are dropped and counted; the
percentile interval is taken over the rest.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "auroc")


def _recalls(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    return np.array([np.mean(pred[y == c] == c) if np.any(y == c) else np.nan for c in range(k)])


def _macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    f1 = []
    for c in range(k):
        tp = np.sum((pred == c) & (y == c))
        denominator = np.sum(pred == c) + np.sum(y == c)
        f1.append(2 * tp / denominator if denominator else 0.0)
    return float(np.mean(f1))


def auroc(y: np.ndarray, prob: np.ndarray) -> float:
    """AUROC of class probabilities (N, k); one-vs-rest macro mean when k > 2; NaN when a class is absent."""
    k = prob.shape[1]
    columns = [1] if k == 2 else range(k)
    values = []
    for c in columns:
        positive = y == c
        n_pos, n_neg = int(positive.sum()), int((~positive).sum())
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        ranks = stats.rankdata(prob[:, c])  # midranks: ties count half
        values.append((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return float(np.mean(values))


def scores(y: np.ndarray, prob: np.ndarray, classes: tuple[str, ...]) -> dict[str, float]:
    """All metrics of one prediction; `recall_<class>` for each class."""
    k = len(classes)
    pred = prob.argmax(axis=1)
    recalls = _recalls(y, pred, k)
    out = {
        "accuracy": float(np.mean(pred == y)),
        "balanced_accuracy": float(np.nanmean(recalls)),
        "macro_f1": _macro_f1(y, pred, k),
        "auroc": auroc(y, prob),
    }
    out.update({f"recall_{name}": float(r) for name, r in zip(classes, recalls)})
    return out


def patient_bootstrap(
    y: np.ndarray, prob: np.ndarray, groups: np.ndarray, classes: tuple[str, ...], n_boot: int = 1000,
    seed: int = 0, confidence: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Percentile intervals `{metric: {low, high, n_valid}}` from resampling patients with replacement."""
    patients, index = np.unique(groups.astype(str), return_inverse=True)
    members = [np.flatnonzero(index == i) for i in range(len(patients))]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(n_boot):
        take = np.concatenate([members[i] for i in rng.integers(0, len(patients), len(patients))])
        for name, value in scores(y[take], prob[take], classes).items():
            draws.setdefault(name, []).append(value)
    tail = 100 * (1 - confidence) / 2
    out = {}
    for name, values in draws.items():
        v = np.asarray(values)
        v = v[np.isfinite(v)]
        low, high = np.percentile(v, [tail, 100 - tail]) if len(v) else (np.nan, np.nan)
        out[name] = {"low": float(low), "high": float(high), "n_valid": int(len(v))}
    return out
