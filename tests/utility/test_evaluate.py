"""Classification metrics against scikit-learn; the bootstrap resamples patients, not images."""

import numpy as np
import pytest
from sklearn import metrics as sk

from deeppc.utility.evaluate import auroc, patient_bootstrap, scores


def _case(n: int, k: int, seed: int, ties: bool = False, imbalance: float = 0.0):
    rng = np.random.default_rng(seed)
    p = np.full(k, 1.0)
    p[0] += imbalance * k  # class 0 the majority
    y = rng.choice(k, size=n, p=p / p.sum())
    logits = rng.standard_normal((n, k)) + 1.5 * np.eye(k)[y]
    if ties:  # coarse probabilities: many exact ties, the case rank formulas get wrong
        logits = np.round(logits)
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if ties:
        prob = np.round(prob, 1)
        prob /= prob.sum(axis=1, keepdims=True)
    return y, prob


CASES = [(40, 2, 0, False, 0), (200, 2, 1, True, 3), (7, 2, 2, False, 0), (300, 3, 3, False, 2),
         (120, 4, 4, True, 0), (60, 3, 5, False, 8)]  # fmt: skip


@pytest.mark.parametrize("n,k,seed,ties,imbalance", CASES)
def test_scores_agree_with_scikit_learn(n, k, seed, ties, imbalance):
    y, prob = _case(n, k, seed, ties, imbalance)
    classes = tuple(f"c{i}" for i in range(k))
    ours = scores(y, prob, classes)
    pred = prob.argmax(axis=1)
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(y, pred), abs=1e-15)
    assert ours["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, pred), abs=1e-12)
    assert ours["macro_f1"] == pytest.approx(sk.f1_score(y, pred, average="macro", zero_division=0), abs=1e-12)
    reference = sk.roc_auc_score(y, prob[:, 1]) if k == 2 else sk.roc_auc_score(y, prob, multi_class="ovr")
    assert ours["auroc"] == pytest.approx(reference, abs=1e-12)
    recalls = sk.recall_score(y, pred, average=None, labels=range(k), zero_division=0)
    assert [ours[f"recall_c{i}"] for i in range(k)] == pytest.approx(recalls, abs=1e-15)


def test_a_class_never_predicted_scores_zero_f1_and_recall():
    y = np.array([0, 0, 0, 1, 1])
    prob = np.array([[0.9, 0.1]] * 5)  # always class 0
    ours = scores(y, prob, ("a", "b"))
    assert ours["recall_b"] == 0 and ours["balanced_accuracy"] == 0.5
    assert ours["macro_f1"] == pytest.approx(sk.f1_score(y, [0] * 5, average="macro", zero_division=0))


def test_auroc_is_undefined_without_both_classes():
    assert np.isnan(auroc(np.zeros(4, dtype=int), np.full((4, 2), 0.5)))


def _width(ci):
    return ci["high"] - ci["low"]


def test_bootstrap_resamples_patients_not_images():
    y, prob = _case(80, 2, 11)
    patients = np.array([f"p{i}" for i in range(80)], dtype=object)
    # every patient imaged 6 times, identically: no new information, so the interval must not shrink
    y6, prob6, patients6 = np.repeat(y, 6), np.repeat(prob, 6, axis=0), np.repeat(patients, 6)
    one = patient_bootstrap(y, prob, patients, ("a", "b"), n_boot=800, seed=1)
    six = patient_bootstrap(y6, prob6, patients6, ("a", "b"), n_boot=800, seed=1)
    as_images = patient_bootstrap(y6, prob6, np.arange(480).astype(str), ("a", "b"), n_boot=800, seed=1)
    for metric in ("accuracy", "auroc", "balanced_accuracy"):
        assert _width(six[metric]) == pytest.approx(_width(one[metric]), rel=0.2)
        # treating images as independent narrows it by about sqrt(6) = 2.4: the error this guards against
        assert _width(as_images[metric]) < _width(one[metric]) / 1.8
        assert six[metric]["low"] <= scores(y, prob, ("a", "b"))[metric] <= six[metric]["high"]


def test_bootstrap_counts_replicates_without_a_class():
    y = np.array([0, 1, 1, 1])
    prob = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.1, 0.9]])
    out = patient_bootstrap(y, prob, np.array(["a", "b", "c", "d"]), ("n", "p"), n_boot=400, seed=0)
    # about (3/4)^4 = 32 % of resamples lack the only class-0 patient: no AUROC or recall there
    assert 200 < out["auroc"]["n_valid"] < 340
    assert out["accuracy"]["n_valid"] == 400
