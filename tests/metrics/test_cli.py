"""`deeppc score`, `deeppc real-stats`, `deeppc frechet`, `deeppc fetch-weights`, run in-process.

The Inception run uses randomly initialised weights from a temporary file (see conftest).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from deeppc.cli import main
from deeppc.metrics.frechet import frechet_distance_factors
from deeppc.metrics.stats_cache import FeatureStats


@pytest.fixture
def folders(tmp_path, gray_images, write_folder):
    return {
        name: write_folder(tmp_path / name, gray_images(n, size=16, seed=seed, brightness=b))
        for name, n, seed, b in [("real", 30, 1, 0), ("fake", 24, 2, 20), ("train", 30, 1, 0), ("holdout", 12, 3, 0)]
    }


def _run(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else None), captured.err


def test_score_prints_all_requested_metrics(capsys, folders, tmp_path):
    code, result, _ = _run(
        capsys, "score", "--real", str(folders["real"]), "--fake", str(folders["fake"]),
        "--metrics", "fid,kid,pr,memorization", "--extractor", "pixels", "--device", "cpu",
        "--train", str(folders["train"]), "--holdout", str(folders["holdout"]),
        "--pairs-png", str(tmp_path / "pairs.png"), "--kid-subsets", "4", "--out", str(tmp_path / "score.json"),
    )  # fmt: skip
    assert code == 0
    assert {"fd_pixels", "kid", "kid_std", "precision", "recall", "mem_fraction", "mem_verdict"} <= set(result)
    assert (result["n_real"], result["n_fake"], result["n_holdout"]) == (30, 24, 12)
    # 6 calibration images cannot calibrate alpha = 0.05 (7 × 0.05 < 1): no verdict, and it says why
    assert result["mem_verdict"] == "inconclusive" and "needs at least 19" in result["mem_reason"]
    assert json.loads((tmp_path / "score.json").read_text()) == result
    assert (tmp_path / "pairs.png").is_file()


def test_score_memorization_flags_reach_the_test(capsys, folders, tmp_path, gray_images, write_folder):
    copies = write_folder(tmp_path / "copies", gray_images(30, size=16, seed=1))  # the training images themselves
    code, result, _ = _run(
        capsys, "score", "--real", str(folders["real"]), "--fake", str(copies), "--metrics", "memorization",
        "--extractor", "pixels", "--device", "cpu", "--train", str(folders["train"]),
        "--holdout", str(folders["holdout"]), "--mem-alpha", "0.25", "--mem-level", "0.02",
    )  # fmt: skip
    assert code == 0 and (result["mem_alpha"], result["mem_level"]) == (0.25, 0.02)
    # l = ⌊0.25 × 7⌋ = 1: every copy flagged, and p = P(K = 30) = E[U^30], U ~ Beta(1, 6), is tiny
    assert result["mem_fraction"] == 1.0 and result["mem_verdict"] == "copying" and result["mem_p"] < 0.02


def test_real_stats_then_frechet(capsys, folders, tmp_path):
    for name in ("real", "fake"):
        code, _, _ = _run(capsys, "real-stats", "--images", str(folders[name]), "--out", str(tmp_path / f"{name}.npz"),
                          "--extractor", "pixels", "--device", "cpu")  # fmt: skip
        assert code == 0
    code, result, _ = _run(capsys, "frechet", str(tmp_path / "real.npz"), str(tmp_path / "fake.npz"))
    a, b = FeatureStats.load(tmp_path / "real.npz"), FeatureStats.load(tmp_path / "fake.npz")
    assert code == 0 and result["frechet_distance"] == pytest.approx(frechet_distance_factors(a.factor(), b.factor()))
    assert (result["n_a"], result["n_b"]) == (30, 24)

    code, scored, _ = _run(capsys, "score", "--real", str(tmp_path / "real.npz"), "--fake", str(folders["fake"]),
                           "--metrics", "fid", "--extractor", "pixels", "--device", "cpu")  # fmt: skip
    assert code == 0 and scored["fd_pixels"] == pytest.approx(result["frechet_distance"], rel=1e-9)

    FeatureStats.from_features(np.ones((3, 256)) * np.arange(3)[:, None], {"name": "other"}, "h").save(
        tmp_path / "other.npz"
    )
    code, _, err = _run(capsys, "frechet", str(tmp_path / "real.npz"), str(tmp_path / "other.npz"))
    assert code == 2 and "different extractors" in err


def test_score_with_inception_weights_file(capsys, tmp_path, gray_images, write_folder, random_inception_weights):
    few = write_folder(tmp_path / "few", gray_images(3, size=16, seed=4))
    code, result, _ = _run(
        capsys, "score", "--real", str(few), "--fake", str(few), "--metrics", "fid",
        "--weights", str(random_inception_weights), "--device", "cpu",
    )  # fmt: skip
    assert code == 0 and result["extractor"] == "inception-2015-12-05"
    assert result["fid"] <= 1e-6 * 2048  # the same images on both sides


def test_user_errors_are_one_line(capsys, folders, tmp_path):
    code, _, err = _run(capsys, "score", "--real", str(folders["real"]), "--fake", str(folders["fake"]),
                        "--metrics", "memorization", "--extractor", "pixels")  # fmt: skip
    assert code == 2 and "training and holdout" in err and "Traceback" not in err
    code, _, err = _run(capsys, "score", "--real", str(folders["real"]), "--fake", str(folders["fake"]),
                        "--weights", str(tmp_path / "missing.pth"), "--device", "cpu")  # fmt: skip
    assert code == 2 and "missing.pth" in err


def test_fetch_weights(capsys, tmp_path):
    source = tmp_path / "w.bin"
    source.write_bytes(b"abc" * 100)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    out = tmp_path / "out" / "w.bin"
    code, result, _ = _run(capsys, "fetch-weights", "--url", source.as_uri(), "--sha256", digest, "--out", str(out))
    assert code == 0 and out.read_bytes() == source.read_bytes() and result["sha256"] == digest
    code, _, err = _run(capsys, "fetch-weights", "--url", source.as_uri(), "--sha256", "0" * 64,
                        "--out", str(tmp_path / "bad.bin"))  # fmt: skip
    assert code == 2 and "expected" in err and not (tmp_path / "bad.bin").exists()
