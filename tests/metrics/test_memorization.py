"""Memorization: copies, and only copies, are called copying; the test keeps its level.

Planted cases on Gaussian features and on phantom radiographs (pixel space and
a feature space): verbatim training copies and noisy near-copies must get the
verdict "copying"; outputs at the mean, blurred images and fresh images of new
patients must not. The feature space for the radiographs is a fixed,
randomly initialised three-layer convolutional net rather than the random
Inception: Inception resizes to 299 px and runs at about 3 images/s on a
2-core test machine (minutes for the ~800 images here), while the small net
takes milliseconds; like Inception it sees single pixels in its first layer,
so pixel noise moves its features (which is what makes noisy copies hard in
feature space).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage, stats

from deeppc.demo import phantom
from deeppc.metrics.memorization import (
    COPYING,
    INCONCLUSIVE,
    NO_COPYING,
    copy_test,
    describe,
    memorization,
    nearest_neighbours,
    pixel_vectors,
    pooled,
    save_pairs_grid,
    space_ratios,
    split_holdout,
)

ALPHA, LEVEL = 0.05, 0.01  # the defaults of MetricOptions and of the config


# ---------------------------------------------------------------- planted cases: Gaussian features

D = 64  # feature dimension: high enough that the mean is closer to every point than points are to each other


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200 + 400 + 300, D))
    return {"train": x[:200], "holdout": x[200:600], "fresh": x[600:], "rng": rng}


def _gaussian_case(data: dict, case: str) -> np.ndarray:
    train, rng = data["train"], np.random.default_rng(1)
    copies = train[rng.permutation(len(train))]
    return {
        "verbatim copies": copies,
        # a fifth of a coordinate's spread: ~1.6 from the copied point, against ~9 between points
        "near copies": copies + rng.normal(0.0, 0.2, copies.shape),
        "the feature mean": np.repeat(train.mean(axis=0)[None], 200, axis=0),
        "jitter around the mean": train.mean(axis=0) + rng.normal(0.0, 0.2, (200, D)),
        "fresh samples": data["fresh"][:200],
    }[case]


@pytest.mark.parametrize(
    "case, verdict",
    [("verbatim copies", COPYING), ("near copies", COPYING), ("the feature mean", NO_COPYING),
     ("jitter around the mean", NO_COPYING), ("fresh samples", NO_COPYING)],
)  # fmt: skip
def test_gaussian_features_flag_copies_only(gaussian, case, verdict):
    result = memorization(_gaussian_case(gaussian, case), gaussian["train"], gaussian["holdout"])
    assert result.test.verdict == verdict, result.test.reason
    if verdict == COPYING:
        assert result.flagged.all()  # every copy is caught, not just enough of them
    else:
        assert result.test.p_value >= LEVEL


# ---------------------------------------------------------------- planted cases: phantom radiographs

SIZE, PIXEL_SIZE, NOISE = 64, 32, 6.0  # px, area-averaged px, grey levels of the near-copies' noise


def _phantoms(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = [phantom.draw("elbow", "LAT", rng, (SIZE, SIZE)) for _ in range(n)]
    return np.round(np.stack(images) * 255).astype(np.uint8)


def _conv_features(images: np.ndarray) -> np.ndarray:
    """A fixed random conv net: 3×3 convolutions (He init), stride 2, ReLU, 2×2 average pool: 256 features."""
    gen = torch.Generator().manual_seed(7)
    x = torch.from_numpy(images).float().unsqueeze(1) / 127.5 - 1.0
    with torch.no_grad():
        for c_in, c_out in ((1, 16), (16, 32), (32, 64)):
            weight = torch.randn(c_out, c_in, 3, 3, generator=gen) * (2.0 / (9 * c_in)) ** 0.5
            x = torch.relu(torch.nn.functional.conv2d(x, weight, stride=2, padding=1))
        x = torch.nn.functional.adaptive_avg_pool2d(x, 2)
    return x.flatten(1).double().numpy()


@pytest.fixture(scope="module")
def radiographs():
    """Elbow radiographs of 160 training, 400 held-out and 200 new patients (one view: similar images)."""
    images = {"train": _phantoms(160, 1), "holdout": _phantoms(400, 2), "fresh": _phantoms(200, 3)}
    return {"images": images, "features": {k: _conv_features(v) for k, v in images.items()}}


def _radiograph_case(data: dict, case: str) -> np.ndarray:
    train, fresh, rng = data["images"]["train"], data["images"]["fresh"], np.random.default_rng(4)
    copies = train[rng.permutation(len(train))]
    if case == "verbatim copies":
        return copies
    if case == "noisy near-copies":
        return np.clip(np.round(copies + rng.normal(0.0, NOISE, copies.shape)), 0, 255).astype(np.uint8)
    if case == "the training-mean image":
        return np.repeat(np.round(train.mean(axis=0))[None].astype(np.uint8), 100, axis=0)
    if case == "blurred new patients":  # σ = 3 px at 64 px: anatomy kept, detail and noise gone
        return np.stack([np.round(ndimage.gaussian_filter(im.astype(float), 3.0)) for im in fresh]).astype(np.uint8)
    return fresh  # "new patients"


def _score_radiographs(data: dict, generated: np.ndarray):
    images, features = data["images"], data["features"]
    return memorization(
        _conv_features(generated), features["train"], features["holdout"], pixel_size=PIXEL_SIZE,
        generated_images=generated, train_images=images["train"], holdout_images=images["holdout"],
    )  # fmt: skip


@pytest.mark.parametrize(
    "case, verdict",
    [("verbatim copies", COPYING), ("noisy near-copies", COPYING), ("the training-mean image", NO_COPYING),
     ("blurred new patients", NO_COPYING), ("new patients", NO_COPYING)],
)  # fmt: skip
def test_radiographs_flag_copies_only(radiographs, case, verdict):
    result = _score_radiographs(radiographs, _radiograph_case(radiographs, case))
    assert result.test.verdict == verdict, result.test.reason
    if verdict == COPYING:
        assert result.flagged.all()
        assert result.summary()["mem_fraction_pixel"] == 1.0  # area averaging sees through the noise
    else:
        assert result.test.p_value >= LEVEL


def _excess_tolerance(n: int, n_copies: int, n_calibration: int) -> float:
    """Three standard deviations of the estimated share of copies when copies are always flagged and the
    others at the calibration's rate U ~ Beta(l, M+1−l): Var K = m E[U(1−U)] + m² Var U, m = n − copies."""
    test = copy_test(0, n, n_calibration, alpha=ALPHA, level=LEVEL)
    u = stats.beta(test.rank, n_calibration + 1 - test.rank)
    m = n - n_copies
    var_k = m * (u.mean() - u.var() - u.mean() ** 2) + m * m * u.var()
    return 3.0 * math.sqrt(var_k) / n / (1.0 - test.expected)


def _check_mixture(result, n_copies: int) -> None:
    test = result.test
    assert test.verdict == COPYING, test.reason
    assert result.flagged[:n_copies].all()
    assert test.excess == pytest.approx(n_copies / test.n, abs=_excess_tolerance(test.n, n_copies, test.n_calibration))
    np.testing.assert_array_equal(result.flagged, result.p_values() <= ALPHA)  # flags are conformal p ≤ α


def test_a_tenth_of_copies_among_fresh_samples_is_found(gaussian, radiographs):
    train, fresh = gaussian["train"], gaussian["fresh"]
    _check_mixture(memorization(np.concatenate([train[:30], fresh[30:]]), train, gaussian["holdout"]), 30)
    images = radiographs["images"]
    _check_mixture(_score_radiographs(radiographs, np.concatenate([images["train"][:20], images["fresh"][20:]])), 20)


# ---------------------------------------------------------------- the test's law and its level


def _beta_binomial_sf_exact(k: int, n: int, a: int, b: int) -> float:
    """P(K ≥ k), K ~ BetaBinomial(n, a, b), by exact rational summation of C(n, j) B(j+a, n−j+b) / B(a, b)."""

    def beta(x: int, y: int) -> Fraction:  # B(x, y) for positive integers
        return Fraction(math.factorial(x - 1) * math.factorial(y - 1), math.factorial(x + y - 1))

    return float(sum(math.comb(n, j) * beta(j + a, n - j + b) for j in range(k, n + 1)) / beta(a, b))


@pytest.mark.parametrize("k, n, m, alpha", [(0, 10, 19, 0.05), (3, 10, 19, 0.05), (14, 120, 200, 0.05),
                                            (40, 300, 99, 0.1), (300, 300, 99, 0.1)])  # fmt: skip
def test_p_value_is_the_beta_binomial_tail(k, n, m, alpha):
    test = copy_test(k, n, m, alpha=alpha, level=LEVEL)
    assert test.rank == math.floor(alpha * (m + 1) + 1e-9) >= 1
    assert test.p_value == pytest.approx(_beta_binomial_sf_exact(k, n, test.rank, m + 1 - test.rank), rel=1e-9)


def test_conformal_counts_follow_the_beta_binomial_law():
    """Monte Carlo of the conformal procedure itself: continuous scores, M calibration and n test ones."""
    rng, m, n, trials = np.random.default_rng(5), 39, 25, 20000
    calibration, test_scores = rng.random((trials, m)), rng.random((trials, n))
    # conformal p-value (1 + #{c ≤ s}) / (M+1) ≤ α, counted directly, without the library's rank shortcut
    below = (calibration[:, None, :] <= test_scores[:, :, None]).sum(axis=2)
    counts = ((1 + below) / (m + 1) <= ALPHA).sum(axis=1)
    for k in (1, 2, 4, 8):
        p = copy_test(k, n, m, alpha=ALPHA, level=LEVEL).p_value
        assert np.mean(counts >= k) == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / trials))


def test_fresh_samples_are_called_copying_at_most_at_the_level():
    """The whole procedure, repeated on fresh samples (exchangeable with the holdout): the rate of the verdict
    "copying" is the Beta-Binomial test's exact size (≤ its level), within binomial error."""
    rng, runs, alpha, level = np.random.default_rng(6), 1000, 0.1, 0.05  # α, level raised: more events per run
    n_train, n_holdout, n = 30, 41, 30
    calls = 0
    for _ in range(runs):
        x = rng.standard_normal((n_train + n_holdout + n, 4))
        result = memorization(x[n_train + n_holdout :], x[:n_train], x[n_train : n_train + n_holdout],
                              alpha=alpha, level=level)  # fmt: skip
        calls += result.test.verdict == COPYING
    rate = calls / runs
    null = copy_test(0, n, result.test.n_calibration, alpha=alpha, level=level).null_distribution()
    k = np.arange(n + 1)
    size = float(null.pmf(k)[null.sf(k - 1) < level].sum())  # probability of the rejection region
    assert size <= level
    assert rate <= stats.binom(runs, level).ppf(0.999) / runs
    assert rate == pytest.approx(size, abs=4 * math.sqrt(size * (1 - size) / runs))


def test_too_small_a_holdout_is_inconclusive(gaussian):
    train, fresh = gaussian["train"], gaussian["fresh"]
    tiny = memorization(train[:50], train, gaussian["holdout"][:30])  # 15 calibration images: 16 × 0.05 < 1
    assert tiny.test.verdict == INCONCLUSIVE and tiny.test.p_value is None
    assert "no null flag rate" in tiny.test.reason and not tiny.flagged.any()
    assert "mem_p" not in tiny.summary() and tiny.summary()["mem_verdict"] == INCONCLUSIVE
    # l = 1 with 19 calibration images: one generated image, even flagged, has p = 1/20 ≥ 0.01
    weak = memorization(train[:1], train, gaussian["holdout"][:38])
    assert weak.flagged.all() and weak.test.verdict == INCONCLUSIVE and "not even all" in weak.test.reason
    assert weak.test.p_value == pytest.approx(1 / 20)


def test_repeats_pool_into_one_test(gaussian):
    train, holdout, fresh = gaussian["train"], gaussian["holdout"], gaussian["fresh"]
    sets = [np.concatenate([train[i * 10 : i * 10 + 6], fresh[i * 100 : i * 100 + 94]]) for i in range(3)]
    summaries = [memorization(s, train, holdout).summary() for s in sets]
    evidence = pooled(summaries)
    flagged, n = sum(s["mem_flagged"] for s in summaries), sum(s["mem_n"] for s in summaries)
    expect = copy_test(flagged, n, summaries[0]["mem_n_calibration"], alpha=ALPHA, level=LEVEL)
    assert (evidence["flagged"], evidence["n"], evidence["sets"]) == (flagged, 300, 3)
    assert evidence["p"] == pytest.approx(expect.p_value) and evidence["verdict"] == expect.verdict
    assert evidence["fraction_by_space"]["feature"] == sum(s["mem_flagged_feature"] for s in summaries) / n
    text = describe(evidence)
    assert evidence["verdict"] in text and f"{evidence['fraction']:.1%}" in text and "Beta-Binomial" in text
    other = memorization(sets[0], train, holdout[:200]).summary()
    with pytest.raises(ValueError, match="share one calibration"):
        pooled([summaries[0], other])
    with pytest.raises(ValueError, match="at least one"):
        pooled([])


# ---------------------------------------------------------------- the pieces


def test_nearest_neighbours_match_brute_force(features):
    queries, refs = features(30, 8, seed=1), features(40, 8, seed=2)
    brute = np.linalg.norm(queries[:, None, :] - refs[None, :, :], axis=2)
    distance, index = nearest_neighbours(queries, refs)
    np.testing.assert_array_equal(index, brute.argmin(axis=1))
    np.testing.assert_allclose(distance, brute.min(axis=1), rtol=1e-9)


def test_holdout_split_alternates_and_keeps_groups_together():
    reference, calibration = split_holdout(7)
    np.testing.assert_array_equal(reference, [0, 2, 4, 6])
    np.testing.assert_array_equal(calibration, [1, 3, 5])
    groups = np.array(["p1", "p1", "p2", "p3", "p3", "p3", "p4", "p2"])
    reference, calibration = split_holdout(8, groups)
    assert set(groups[reference]) == {"p1", "p3"} and set(groups[calibration]) == {"p2", "p4"}
    with pytest.raises(ValueError, match="one key per holdout image"):
        split_holdout(8, groups[:5])
    with pytest.raises(ValueError, match="at least 3 images"):
        split_holdout(2)


def test_copy_ratios_match_their_definition(features):
    train, holdout, generated = features(25, 6, seed=3), features(12, 6, seed=4), features(9, 6, seed=5)
    groups = np.array([0, 0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9])
    reference, calibration = split_holdout(12, groups)

    def dist(a, b):
        return np.linalg.norm(a[:, None] - b[None], axis=2)

    ref = holdout[reference]
    result = space_ratios(generated, train, holdout, reference, calibration, groups)
    np.testing.assert_allclose(result.ratio, dist(generated, train).min(1) / dist(generated, ref).min(1), rtol=1e-9)
    cal = holdout[calibration]
    np.testing.assert_allclose(result.calibration_ratio, dist(cal, train).min(1) / dist(cal, ref).min(1), rtol=1e-9)
    within = dist(ref, ref)
    within[groups[reference][:, None] == groups[reference][None, :]] = np.inf  # itself and its group left out
    loo = np.sort(dist(ref, train).min(1) / within.min(1))
    np.testing.assert_allclose(result.reference_ratio, loo, rtol=1e-9)
    # F is the reference ratios' CDF: i/(m+1) at the i-th, continuous and increasing between them
    m = len(loo)
    np.testing.assert_allclose(result.cdf(loo), np.arange(1, m + 1) / (m + 1))
    grid = np.linspace(0, 2 * loo[-1], 50)
    assert np.all(np.diff(result.cdf(grid)) > 0) and result.cdf(np.array([0.0]))[0] == 0.0


def test_a_copy_of_an_image_in_both_sets_has_ratio_one(features):
    train, holdout = features(20, 4, seed=6), features(9, 4, seed=7)
    train[0] = holdout[0]  # a leaked duplicate: 0/0 is "no closer to training than to new images"
    reference, calibration = split_holdout(9)
    result = space_ratios(holdout[:1], train, holdout, reference, calibration, np.arange(9))
    assert result.ratio[0] == 1.0
    holdout[2] = holdout[4]  # two reference images alike: a leave-one-out ratio of d/0 = ∞, still a valid F
    result = space_ratios(holdout[:1], train, holdout, reference, calibration, np.arange(9))
    assert np.isinf(result.reference_ratio).sum() == 2
    assert result.cdf(np.array([np.inf]))[0] == 1.0 and np.all(np.isfinite(result.cdf(result.reference_ratio)))


def test_pixel_vectors_measure_rms_on_the_model_scale():
    black, white = np.zeros((1, 32, 32), np.uint8), np.full((1, 32, 32), 255, np.uint8)
    v = pixel_vectors(np.concatenate([black, white]), size=8)
    assert v.shape == (2, 64)
    assert np.linalg.norm(v[0] - v[1]) == pytest.approx(2.0)
    half = np.full((1, 32, 32), 0, np.uint8)
    half[:, :, 16:] = 255  # area averaging keeps the mean exactly at any size
    assert pixel_vectors(half, size=1)[0, 0] == pytest.approx(0.0)


def test_pairs_grid_shows_the_most_copy_like_first(features, gray_images, tmp_path):
    train_images, holdout_images = gray_images(40, seed=1), gray_images(60, seed=2)
    generated_images = np.concatenate([gray_images(15, seed=3), train_images[:5]])
    train, holdout = features(40, 16, seed=4), features(60, 16, seed=5)
    generated = np.concatenate([features(15, 16, seed=6), train[:5]])
    result = memorization(
        generated, train, holdout, generated_images=generated_images, train_images=train_images,
        holdout_images=holdout_images, pixel_size=16,
    )  # fmt: skip
    pairs = result.closest_pairs(5)
    assert {p["generated"] for p in pairs} == set(range(15, 20))  # the five copies, whatever their order
    assert all(p["flagged"] and p["pixel_distance"] < 1e-6 and p["train_pixel"] == p["generated"] - 15 for p in pairs)
    assert [p["score"] for p in pairs] == sorted(p["score"] for p in pairs)
    path = tmp_path / "pairs" / "closest.png"
    save_pairs_grid(path, result, generated_images, train_images, n_pairs=4)
    with Image.open(path) as im:
        # four (generated | feature NN | pixel NN) groups side by side in one row
        assert im.mode == "L" and im.size == (4 * (3 * 128 + 2 * 4) + 3 * 16, 128 + 4)
    assert [p.name for p in path.parent.iterdir()] == ["closest.png"]  # no temporary file left


def test_inputs_are_validated(features):
    train, holdout, fresh = features(20, 8, seed=8), features(10, 8, seed=9), features(5, 8, seed=10)
    with pytest.raises(ValueError, match="mem_alpha"):
        memorization(fresh, train, holdout, alpha=1.0)
    with pytest.raises(ValueError, match="mem_level"):
        memorization(fresh, train, holdout, level=0.0)
    with pytest.raises(ValueError, match="holdout images .* got none"):
        memorization(fresh, train, holdout[:0])
    with pytest.raises(ValueError, match="differ in dimension"):
        memorization(fresh, train, features(10, 6, seed=11))
    with pytest.raises(ValueError, match="feature generated"):
        memorization(fresh[:0], train, holdout)
    with pytest.raises(ValueError, match="pixel-space memorization needs"):
        memorization(fresh, train, holdout, generated_images=np.zeros((5, 8, 8), np.uint8))
    images = np.zeros((20, 8, 8), np.uint8)
    with pytest.raises(ValueError, match="disagree in number"):
        memorization(fresh, train, holdout, generated_images=images[:5], train_images=images,
                     holdout_images=images[:9])  # fmt: skip
    with pytest.raises(ValueError, match="holdout_groups"):
        memorization(fresh, train, holdout, holdout_groups=[1, 2])
    with pytest.raises(ValueError, match="uint8"):
        pixel_vectors(np.zeros((2, 8, 8)), size=4)
    with pytest.raises(ValueError, match="flagged count"):
        copy_test(6, 5, 19, alpha=ALPHA, level=LEVEL)
