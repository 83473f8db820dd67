"""Which images each arm trains on: counts, class shares, labels, seeded draws, clear refusals."""

import numpy as np
import pytest

from deeppc.utility.arms import Arm, allocate, training_set
from deeppc.utility.task import SYNTHETIC_GROUP, LabelledImages
from deeppc.validate import InputError

CLASSES = ("normal", "abnormal")


def _real(n_normal: int, n_abnormal: int) -> LabelledImages:
    labels = np.array([0] * n_normal + [1] * n_abnormal)
    images = np.zeros((len(labels), 4, 4), dtype=np.uint8)
    return LabelledImages(images, labels, np.array([f"p{i}" for i in range(len(labels))], dtype=object), CLASSES)


def _pools(n: int) -> dict[str, np.ndarray]:
    # each generated image carries its class (1 or 2) and its index, to check what was taken
    return {name: np.stack([np.full((4, 4), c + 1, dtype=np.uint8)] * n) + np.arange(n, dtype=np.uint8)[:, None, None] * 3
            for c, name in enumerate(CLASSES)}  # fmt: skip


def test_allocate_balanced_and_minority():
    counts = {"normal": 30, "abnormal": 6}
    assert allocate(20, counts, ["normal", "abnormal"], "balanced") == {"normal": 10, "abnormal": 10}
    assert allocate(21, counts, ["normal", "abnormal"], "balanced") == {"normal": 11, "abnormal": 10}
    # the minority first: 24 close the gap, the remaining 6 split equally
    assert allocate(30, counts, ["normal", "abnormal"], "minority") == {"normal": 3, "abnormal": 27}
    assert allocate(10, counts, ["normal", "abnormal"], "minority") == {"normal": 0, "abnormal": 10}
    assert allocate(5, counts, ["normal"], "minority") == {"normal": 5}  # only one class has a source
    with pytest.raises(InputError, match="utility.balance"):
        allocate(5, counts, ["normal"], "even")
    with pytest.raises(InputError, match="no class"):
        allocate(5, counts, [], "balanced")


def test_mixed_arm_adds_ratio_times_the_real_count_and_keeps_the_real_part():
    real = _real(30, 6)
    out = training_set(Arm("mixed", "gan", 0.5), real, _pools(40), "minority", seed=1)
    synthetic = out.groups == SYNTHETIC_GROUP
    assert synthetic.sum() == 18 and len(out) == 36 + 18
    assert np.array_equal(out.labels[~synthetic], real.labels)
    assert out.counts() == {"normal": 30, "abnormal": 24}  # all 18 went to the minority
    # a generated image is labelled with the class it was generated for
    assert np.all(out.images[synthetic][:, 0, 0] % 3 == out.labels[synthetic] + 1)


def test_synthetic_only_has_the_real_count_and_no_real_image():
    out = training_set(Arm("synthetic_only", "gan"), _real(10, 10), _pools(20), "balanced", seed=0)
    assert len(out) == 20 and np.all(out.groups == SYNTHETIC_GROUP) and out.counts() == {"normal": 10, "abnormal": 10}


def test_draws_depend_on_the_seed_only():
    real, pools = _real(10, 10), _pools(40)
    a = training_set(Arm("mixed", "gan", 1.0), real, pools, "balanced", seed=5)
    b = training_set(Arm("mixed", "gan", 1.0), real, pools, "balanced", seed=5)
    c = training_set(Arm("mixed", "gan", 1.0), real, pools, "balanced", seed=6)
    assert np.array_equal(a.images, b.images) and not np.array_equal(a.images, c.images)


def test_refusals_name_the_problem():
    real = _real(10, 10)
    with pytest.raises(InputError, match="every class.*abnormal"):
        training_set(Arm("synthetic_only", "gan"), real, {"normal": _pools(20)["normal"]}, "balanced", 0)
    with pytest.raises(InputError, match="needs 40 synthetic images of class normal, the source has 5"):
        training_set(Arm("mixed", "gan", 2.0), real, {"normal": _pools(5)["normal"]}, "balanced", 0)
    with pytest.raises(InputError, match="ratio > 0"):
        Arm("mixed", "gan", 0)
    with pytest.raises(InputError, match="needs synthetic source"):
        Arm("mixed", None, 1.0)
    with pytest.raises(InputError, match="arm kind"):
        Arm("gan")


def test_arm_names():
    assert [Arm("real").name, Arm("mixed", "sg2", 0.5).name, Arm("synthetic_only", "sg2").name] == [
        "real", "real+sg2_0.5x", "sg2_only"]
