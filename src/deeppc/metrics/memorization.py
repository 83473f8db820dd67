"""Memorization: does the generator copy training images? One verdict, with its evidence.

The question is whether generated images are copies of training images,
verbatim or nearly so (a copy with noise, a slightly shifted copy), as
opposed to images that are merely typical: the mean image, blurred images,
collapsed outputs, or fresh images of new patients. Being close to a training
image is not enough (the mean of high-dimensional features is closer to every
training image than training images are to each other); a copy is close to
*its* training image and not to new real images.

Method
------
Spaces. Distances are Euclidean in the primary extractor's feature space and,
when the images are given, in pixel space: RMS differences on the [-1, 1]
model scale after area-averaging to `pixel_size` (0 is identical, 2 is black
against white; averaging ignores single-pixel noise, which is why pixel space
catches noisy copies that feature space may miss). A copy caught in either
space counts.

Holdout halves. The holdout split (real images the generator never saw) is
divided once and deterministically into a reference half R and a calibration
half C: alternate images in the given (file-name) order, or alternate groups
(patients) when `holdout_groups` is given, so a group stays on one side.

Copy ratio. For an image z and a space,

    ρ(z) = d(z, T) / d(z, R)      (0/0 := 1),

the distance to its nearest training image over that to its nearest reference
image. A copy sits far closer to the training set T than to R (ρ ≪ 1); a
typical image of any kind sits about equally close to both, however close
that is.

Copy score. For each reference image r, the leave-one-out ratio
d(r, T) / d(r, R ∖ group(r)) gives the spread of ρ among new real images;
F_space is its empirical CDF, interpolated linearly in ρ/(1+ρ) (continuous
and strictly increasing, so scores do not tie). The copy score s(z) = min over spaces of F_space(ρ_space(z)) is low
when z is unusually close to training in *either* space; per-space scores
use one F alone.

Flags. Under the null hypothesis, in its idealised form, a generated image is
exchangeable with a new real image, so with the calibration images: s is a
fixed function of T and R, and with M = |C|, l = ⌊α(M+1)⌋ and s_(l) the l-th
smallest calibration score, g is flagged when s(g) < s_(l). That is the split
conformal p-value (1 + #{c : s(c) ≤ s(g)}) / (M+1) ≤ α; under the null each g
is flagged with probability l/(M+1) ≤ α (the expected rate, ≈ α = `mem_alpha`).

Test. All generated images share one calibration set, so their flags are not
independent: given C each is flagged with probability U = F(s_(l)), a uniform
order statistic, Beta(l, M+1−l). The number flagged among n, K, is therefore
Beta-Binomial(n, l, M+1−l) under the null, exactly for continuous scores
(ties only make the test conservative), and p = P(K ≥ k). The verdict is
"copying" when p < `mem_level` (default 0.01), "no copying" otherwise, and
"inconclusive" when the calibration half is too small: l = 0 (M+1 < 1/α), or
not even k = n could reach the level. Repeats of one checkpoint share C, so
their pooled count is again Beta-Binomial with n the total (`pooled`).

Evidence. The flagged fraction k/n (`mem_fraction`), the expected rate
e = l/(M+1), the excess (k/n − e)/(1 − e) (`mem_excess`: an unbiased estimate
of the share of copies when every copy is flagged and the rest are flagged at
the null rate; negative by chance when there are none), the per-space flagged
fractions, the medians of ρ, and the closest pairs ordered by copy score.

Why split the holdout rather than leave one out on all of it: with
leave-one-out a generated image's ratio has M references and a holdout
image's M−1, and the calibration scores depend on one another, so the
Beta-Binomial law would hold only approximately; the split makes it exact at
the cost of half the calibration images.

Limits. (1) Patients: a calibration image of a patient with another image in
R has a small d(·, R), hence a large ratio, and fresh samples are then
flagged more often than e; pass `holdout_groups` when the holdout has several
images per patient. (2) Collapse: n identical outputs are one draw, not n,
and are all flagged or none (the latter with probability about 1 − α for a
collapse onto a fresh image); look at the pairs. (3) The null is idealised: a
generator that does not copy but sits nearer its training images than new
patients do is flagged at an elevated rate, which is what the test asks about.
"""

from __future__ import annotations

import math
import os
import textwrap
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy.stats import betabinom

from deeppc.data.imageset import uint8_to_unit
from deeppc.files import save_png
from deeppc.metrics.prdc import squared_distances

_BLOCK = 1024
COPYING, NO_COPYING, INCONCLUSIVE = "copying", "no copying", "inconclusive"
VERDICTS = (COPYING, NO_COPYING, INCONCLUSIVE)


@dataclass(frozen=True)
class SpaceResult:
    """Copy ratios in one space: generated, calibration and (leave-one-out) reference images."""

    train_distance: np.ndarray = field(repr=False)  # generated: d(g, T)
    train_index: np.ndarray = field(repr=False)  # generated: index of the nearest training image
    ratio: np.ndarray = field(repr=False)  # generated: d(g, T) / d(g, R)
    calibration_ratio: np.ndarray = field(repr=False)
    reference_ratio: np.ndarray = field(repr=False)  # sorted leave-one-out ratios within R

    def cdf(self, ratio: np.ndarray) -> np.ndarray:
        """F: the reference ratios' empirical CDF, continuous and strictly increasing: i/(m+1) at the i-th
        smallest, linear in between in ρ/(1+ρ) (which maps [0, ∞] onto [0, 1], so F(0) = 0 and F(∞) = 1)."""
        m = len(self.reference_ratio)
        xs = np.concatenate([[0.0], _squash(self.reference_ratio), [1.0]])
        ys = np.arange(m + 2) / (m + 1)
        return np.interp(_squash(np.asarray(ratio, dtype=np.float64)), xs, ys)


def _squash(ratio: np.ndarray) -> np.ndarray:
    """ρ/(1+ρ), with ∞ -> 1 (an image identical to a reference image: as un-copy-like as it gets)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(ratio), 1.0, ratio / (1.0 + ratio))


@dataclass(frozen=True)
class CopyTest:
    """The Beta-Binomial test of a flagged count against the calibration's null rate."""

    flagged: int
    n: int
    n_calibration: int
    alpha: float
    level: float
    flagged_by_space: Mapping[str, int]

    @property
    def rank(self) -> int:
        """l = ⌊α(M+1)⌋ (tolerant of float rounding: α = 0.05, M+1 = 20 gives 1)."""
        return math.floor(self.alpha * (self.n_calibration + 1) + 1e-9)

    @property
    def expected(self) -> float:
        """Null flag rate l/(M+1), the mean of Beta(l, M+1−l)."""
        return self.rank / (self.n_calibration + 1)

    @property
    def fraction(self) -> float:
        return self.flagged / self.n

    @property
    def excess(self) -> float:
        """(k/n − e)/(1 − e): the estimated share of copies (unbiased when every copy is flagged)."""
        return (self.fraction - self.expected) / (1.0 - self.expected)

    def null_distribution(self):
        """The flagged count K under the null: Beta-Binomial(n, l, M+1−l) (needs l ≥ 1)."""
        return betabinom(self.n, self.rank, self.n_calibration + 1 - self.rank)

    @property
    def p_value(self) -> float | None:
        """P(K ≥ k) under the null, or None when no null rate can be calibrated (l = 0)."""
        if self.rank == 0:
            return None
        return float(min(1.0, self.null_distribution().sf(self.flagged - 1)))

    @property
    def verdict(self) -> str:
        if self.rank == 0 or self.null_distribution().pmf(self.n) >= self.level:
            return INCONCLUSIVE
        return COPYING if self.p_value < self.level else NO_COPYING

    @property
    def reason(self) -> str:
        m, e = self.n_calibration, self.expected
        if self.rank == 0:
            need = math.ceil(1.0 / self.alpha - 1e-9) - 1
            return (f"the calibration half of the holdout has {m} images; alpha = {self.alpha:g} needs at least "
                    f"{need} (alpha·(M+1) ≥ 1; a holdout about twice that size), so no null flag rate can be "
                    f"calibrated")  # fmt: skip
        if self.verdict == INCONCLUSIVE:
            return (f"with {m} calibration images and {self.n} generated images not even all of them flagged "
                    f"would reach p < {self.level:g}; use more holdout or generated images")  # fmt: skip
        word = "more" if self.verdict == COPYING else "not significantly more"
        return (f"{self.flagged} of {self.n} generated images ({self.fraction:.1%}) are flagged, {word} than the "
                f"{e:.1%} expected without copying (Beta-Binomial p = {self.p_value:.2g}, level {self.level:g})")

    def evidence(self) -> dict[str, Any]:
        """JSON-ready verdict and numbers (the score file's top-level `memorization` object)."""
        out = {
            "verdict": self.verdict, "reason": self.reason, "flagged": self.flagged, "n": self.n,
            "fraction": self.fraction, "expected": self.expected, "excess": self.excess,
            "fraction_by_space": {s: k / self.n for s, k in self.flagged_by_space.items()},
            "alpha": self.alpha, "level": self.level, "n_calibration": self.n_calibration, "rank": self.rank,
        }  # fmt: skip
        if self.p_value is not None:
            out["p"] = self.p_value
        return out


def copy_test(
    flagged: int,
    n: int,
    n_calibration: int,
    *,
    alpha: float,
    level: float,
    flagged_by_space: Mapping[str, int] | None = None,
) -> CopyTest:
    """Validate and build the test of `flagged` out of `n` against `n_calibration` calibration images."""
    _check_probability("mem_alpha", alpha)
    _check_probability("mem_level", level)
    if n < 1 or not 0 <= flagged <= n:
        raise ValueError(f"flagged count must lie in [0, n] with n ≥ 1, got {flagged} of {n}")
    if n_calibration < 1:
        raise ValueError(f"memorization needs at least one calibration image, got {n_calibration}")
    return CopyTest(int(flagged), int(n), int(n_calibration), alpha, level, dict(flagged_by_space or {}))


def _check_probability(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")


@dataclass(frozen=True)
class Memorization:
    """Per-image copy scores and flags, per-space ratios and the copy test of one generated set."""

    spaces: Mapping[str, SpaceResult]
    score: np.ndarray = field(repr=False)
    calibration_score: np.ndarray = field(repr=False)
    flagged: np.ndarray = field(repr=False)
    n_reference: int
    test: CopyTest

    @property
    def feature(self) -> SpaceResult:
        return self.spaces["feature"]

    @property
    def pixel(self) -> SpaceResult | None:
        return self.spaces.get("pixel")

    def p_values(self) -> np.ndarray:
        """Conformal p-value of each generated image, (1 + #{c : s(c) ≤ s(g)}) / (M+1)."""
        ordered = np.sort(self.calibration_score)
        return (1 + np.searchsorted(ordered, self.score, side="right")) / (len(ordered) + 1)

    def summary(self) -> dict[str, Any]:
        """Flat values for a score file: numbers, plus the verdict and its reason as strings."""
        test = self.test
        out: dict[str, Any] = {
            "mem_alpha": test.alpha, "mem_level": test.level, "mem_n_reference": self.n_reference,
            "mem_n_calibration": test.n_calibration, "mem_n": test.n, "mem_flagged": test.flagged,
            "mem_fraction": test.fraction, "mem_expected": test.expected, "mem_excess": test.excess,
            "mem_verdict": test.verdict, "mem_reason": test.reason,
        }  # fmt: skip
        if test.p_value is not None:
            out["mem_p"] = test.p_value
        for name, space in self.spaces.items():
            out[f"mem_flagged_{name}"] = test.flagged_by_space[name]
            out[f"mem_fraction_{name}"] = test.flagged_by_space[name] / test.n
            out[f"mem_ratio_median_{name}"] = float(np.median(space.ratio))
            out[f"mem_holdout_ratio_median_{name}"] = float(np.median(space.calibration_ratio))
        return out

    def closest_pairs(self, n_pairs: int) -> list[dict]:
        """The `n_pairs` most copy-like generated images (lowest copy score, then nearest), most first."""
        order = np.lexsort((self.feature.train_distance, self.score))[:n_pairs]
        p = self.p_values()
        pairs = []
        for g in order:
            pair = {"generated": int(g), "score": float(self.score[g]), "p": float(p[g]),
                    "flagged": bool(self.flagged[g])}  # fmt: skip
            for name, space in self.spaces.items():
                pair[f"train_{name}"] = int(space.train_index[g])
                pair[f"{name}_distance"] = float(space.train_distance[g])
                pair[f"{name}_ratio"] = float(space.ratio[g])
            pairs.append(pair)
        return pairs


def nearest_neighbours(queries: np.ndarray, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query row to its nearest reference row, and that row's index."""
    queries = np.asarray(queries, dtype=np.float64)
    refs = np.asarray(refs, dtype=np.float64)
    if len(refs) == 0:
        raise ValueError("nearest neighbours need at least one reference sample")
    centre = refs.mean(axis=0)  # translation invariance; smaller norms, smaller rounding error
    queries, refs = queries - centre, refs - centre
    distance = np.empty(len(queries))
    index = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), _BLOCK):
        d2 = squared_distances(queries[start : start + _BLOCK], refs)
        best = d2.argmin(axis=1)
        index[start : start + len(best)] = best
        distance[start : start + len(best)] = np.sqrt(d2[np.arange(len(best)), best])
    return distance, index


def _leave_group_out_distance(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Distance from each row of x to its nearest row of another group (itself always excluded)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    distance = np.empty(len(x))
    for start in range(0, len(x), _BLOCK):
        d2 = squared_distances(x[start : start + _BLOCK], x)
        d2[groups[start : start + len(d2), None] == groups[None, :]] = np.inf
        distance[start : start + len(d2)] = np.sqrt(d2.min(axis=1))
    return distance


def _ratio(to_train: np.ndarray, to_reference: np.ndarray) -> np.ndarray:
    """d_T / d_R, with 0/0 := 1 (an image equal to a training and a reference image) and x/0 := inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = to_train / to_reference
    ratio[(to_train == 0) & (to_reference == 0)] = 1.0
    return ratio


def split_holdout(n_holdout: int, groups: Sequence | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the reference and calibration halves: alternate groups in order of first appearance
    (each image its own group when `groups` is None), so the split is fixed by the holdout alone."""
    keys = _group_codes(n_holdout, groups)
    first_seen = np.unique(keys, return_index=True)[1]
    order = keys[np.sort(first_seen)]  # group codes in order of first appearance
    to_reference = np.zeros(keys.max() + 1 if len(keys) else 0, dtype=bool)
    to_reference[order[0::2]] = True
    reference = np.flatnonzero(to_reference[keys])
    calibration = np.flatnonzero(~to_reference[keys])
    if len(np.unique(keys[reference])) < 2 or len(calibration) < 1:
        raise ValueError(
            f"memorization needs a holdout of at least 3 images (3 groups) to split into a reference half "
            f"of 2 or more and a calibration half; got {n_holdout} images in {len(order)} group(s)"
        )
    return reference, calibration


def _group_codes(n_holdout: int, groups: Sequence | np.ndarray | None) -> np.ndarray:
    if groups is None:
        return np.arange(n_holdout)
    groups = np.asarray(groups)
    if groups.shape != (n_holdout,):
        raise ValueError(f"holdout_groups must have one key per holdout image ({n_holdout}), got shape {groups.shape}")
    return np.unique(groups, return_inverse=True)[1].reshape(-1)


def space_ratios(
    generated: np.ndarray,
    train: np.ndarray,
    holdout: np.ndarray,
    reference: np.ndarray,
    calibration: np.ndarray,
    groups: np.ndarray,
    space: str = "feature",
) -> SpaceResult:
    """Copy ratios of generated, calibration and reference images in one space (rows are vectors)."""
    generated, train, holdout = (_matrix(x, f"{space} {what}") for x, what in
                                 ((generated, "generated"), (train, "train"), (holdout, "holdout")))  # fmt: skip
    if not generated.shape[1] == train.shape[1] == holdout.shape[1]:
        raise ValueError(
            f"{space} vectors differ in dimension: generated {generated.shape}, train {train.shape}, "
            f"holdout {holdout.shape}"
        )
    ref, cal = holdout[reference], holdout[calibration]
    train_distance, train_index = nearest_neighbours(generated, train)
    ratio = _ratio(train_distance, nearest_neighbours(generated, ref)[0])
    calibration_ratio = _ratio(nearest_neighbours(cal, train)[0], nearest_neighbours(cal, ref)[0])
    loo = _ratio(nearest_neighbours(ref, train)[0], _leave_group_out_distance(ref, groups[reference]))
    return SpaceResult(train_distance, train_index, ratio, calibration_ratio, np.sort(loo))


def _matrix(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{what}: expected a non-empty (n, d) array, got shape {x.shape}")
    return x


def pixel_vectors(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W) -> (N, size²) float64 whose Euclidean distances are RMS differences on [-1, 1]."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}")
    small = np.stack([_area_resize(im, size) for im in images]) if len(images) else np.zeros((0, size, size))
    return uint8_to_unit(small).reshape(len(images), -1).astype(np.float64) / size


def _area_resize(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape == (size, size):
        return image.astype(np.float32)
    # BOX resampling on a float image is area averaging: no rounding back to 8 bits
    resized = Image.fromarray(image.astype(np.float32), mode="F").resize((size, size), Image.Resampling.BOX)
    return np.asarray(resized, dtype=np.float32)


def memorization(
    generated_features: np.ndarray,
    train_features: np.ndarray,
    holdout_features: np.ndarray,
    *,
    alpha: float = 0.05,
    level: float = 0.01,
    generated_images: np.ndarray | None = None,
    train_images: np.ndarray | None = None,
    holdout_images: np.ndarray | None = None,
    pixel_size: int = 64,
    holdout_groups: Sequence | np.ndarray | None = None,
) -> Memorization:
    """Copy scores, flags and the copy test in feature space (and pixel space when images are given)."""
    _check_probability("mem_alpha", alpha)
    _check_probability("mem_level", level)
    n_holdout = len(np.asarray(holdout_features))
    if n_holdout == 0:
        raise ValueError("memorization needs holdout images (real images the generator never saw); got none")
    groups = _group_codes(n_holdout, holdout_groups)
    reference, calibration = split_holdout(n_holdout, groups)
    vectors = {"feature": (generated_features, train_features, holdout_features)}
    images = (generated_images, train_images, holdout_images)
    if any(im is not None for im in images):
        if any(im is None for im in images):
            raise ValueError("pixel-space memorization needs generated, train and holdout images")
        vectors["pixel"] = tuple(pixel_vectors(im, pixel_size) for im in images)
        _same_counts(vectors)
    spaces = {name: space_ratios(*v, reference, calibration, groups, space=name) for name, v in vectors.items()}
    return _assemble(spaces, len(reference), alpha, level)


def _same_counts(vectors: Mapping[str, tuple]) -> None:
    counts = {name: tuple(len(x) for x in v) for name, v in vectors.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"features and images disagree in number (generated, train, holdout): {counts}")


def _assemble(spaces: Mapping[str, SpaceResult], n_reference: int, alpha: float, level: float) -> Memorization:
    per_space = {name: (s.cdf(s.ratio), s.cdf(s.calibration_ratio)) for name, s in spaces.items()}
    score = np.min([g for g, _ in per_space.values()], axis=0)
    calibration_score = np.min([c for _, c in per_space.values()], axis=0)
    n_calibration = len(calibration_score)
    probe = copy_test(0, 1, n_calibration, alpha=alpha, level=level)
    flagged = _flags(score, calibration_score, probe.rank)
    by_space = {name: int(_flags(g, c, probe.rank).sum()) for name, (g, c) in per_space.items()}
    test = copy_test(int(flagged.sum()), len(score), n_calibration, alpha=alpha, level=level,
                     flagged_by_space=by_space)  # fmt: skip
    return Memorization(spaces, score, calibration_score, flagged, n_reference, test)


def _flags(score: np.ndarray, calibration_score: np.ndarray, rank: int) -> np.ndarray:
    """s(g) < s_(l), the l-th smallest calibration score: conformal p-value ≤ α (none when l = 0)."""
    if rank == 0:
        return np.zeros(len(score), dtype=bool)
    return score < np.partition(calibration_score, rank - 1)[rank - 1]


def pooled(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One verdict from several generated sets scored against the same calibration half (repeats of a
    checkpoint): counts add up and the total is again Beta-Binomial. Takes `Memorization.summary()` dicts."""
    if not summaries:
        raise ValueError("pooling memorization needs at least one scored set")
    first = summaries[0]
    # the calibration's own numbers (its median ratios) identify it along with its size and the settings
    settings = [k for k in first if k.startswith("mem_holdout_ratio_median_")]
    settings += ["mem_alpha", "mem_level", "mem_n_calibration", "mem_n_reference"]
    for other in summaries[1:]:
        if set(other) != set(first) or any(other[key] != first[key] for key in settings):
            raise ValueError("pooled memorization sets must share one calibration (same holdout, alpha and level)")
    spaces = [key.removeprefix("mem_flagged_") for key in first if key.startswith("mem_flagged_")]
    test = copy_test(
        sum(s["mem_flagged"] for s in summaries), sum(s["mem_n"] for s in summaries), first["mem_n_calibration"],
        alpha=first["mem_alpha"], level=first["mem_level"],
        flagged_by_space={name: sum(s[f"mem_flagged_{name}"] for s in summaries) for name in spaces},
    )  # fmt: skip
    return {**test.evidence(), "sets": len(summaries), "n_reference": first["mem_n_reference"],
            "holdout_ratio_median": {name: first[f"mem_holdout_ratio_median_{name}"] for name in spaces}}


def describe(evidence: Mapping[str, Any]) -> str:
    """The verdict and its evidence in words (figure subtitles), from `CopyTest.evidence()` or `pooled`."""
    spaces = ", ".join(f"{name} {value:.1%}" for name, value in evidence["fraction_by_space"].items())
    head = f"Verdict: {evidence['verdict']}."
    if evidence["verdict"] == INCONCLUSIVE:
        return f"{head} {evidence['reason'][0].upper()}{evidence['reason'][1:]}."
    compare = "<" if evidence["verdict"] == COPYING else "≥"
    return (f"{head} {evidence['flagged']} of {evidence['n']} generated images ({evidence['fraction']:.1%}) are "
            f"flagged as closer to a training image than new patients' images are, against "
            f"{evidence['expected']:.1%} expected without copying (Beta-Binomial p = {evidence['p']:.2g} {compare} "
            f"level {evidence['level']:g}); estimated share of copies {evidence['excess']:.1%}; flagged by space: "
            f"{spaces}; calibrated on {evidence['n_calibration']} held-out images.")  # fmt: skip


def wrap(text: str, width: int = 110) -> str:
    """Line breaks for a long subtitle."""
    return "\n".join(textwrap.wrap(text, width))


def pairs_grid(
    result: Memorization,
    generated_images: np.ndarray,
    train_images: np.ndarray,
    n_pairs: int = 16,
    tile: int = 128,
    per_row: int = 4,
) -> np.ndarray:
    """A uint8 grid of the most copy-like generated images, `per_row` to a row, each a group of tiles
    (generated | nearest train by features | by pixels), groups separated by a wider gap."""
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be at least 1, got {n_pairs}")
    pairs = result.closest_pairs(n_pairs)
    columns = 1 + len(result.spaces)
    gap, group_gap = 4, 16
    group_width = columns * tile + (columns - 1) * gap
    across = min(per_row, len(pairs))
    rows = -(-len(pairs) // across)
    grid = Image.new("L", (across * group_width + (across - 1) * group_gap, rows * (tile + gap)), 255)
    for index, pair in enumerate(pairs):
        mark = "COPY? " if pair["flagged"] else ""
        tiles = [(generated_images[pair["generated"]], f"{mark}gen {pair['generated']} p={pair['p']:.2g}")]
        for name in result.spaces:
            label = f"{name[:4]} {pair[f'train_{name}']} r={pair[f'{name}_ratio']:.2f}"
            tiles.append((train_images[pair[f"train_{name}"]], label))
        x0, y = (index % across) * (group_width + group_gap), (index // across) * (tile + gap)
        for col, (image, label) in enumerate(tiles):
            grid.paste(_labelled_tile(image, label, tile), (x0 + col * (tile + gap), y))
    return np.asarray(grid)


def _labelled_tile(image: np.ndarray, label: str, tile: int) -> Image.Image:
    im = Image.fromarray(np.asarray(image, dtype=np.uint8)).resize((tile, tile), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, tile - 12, tile, tile), fill=0)
    draw.text((2, tile - 12), label, fill=255)
    return im


def save_pairs_grid(
    path: str | os.PathLike,
    result: Memorization,
    generated_images: np.ndarray,
    train_images: np.ndarray,
    n_pairs: int = 16,
) -> None:
    """Write the closest-pairs grid as a PNG, atomically."""
    save_png(path, pairs_grid(result, generated_images, train_images, n_pairs))
