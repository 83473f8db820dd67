"""Weights files: config resolution, sha256 checks, fetching (from file:// URLs, no network)."""

from __future__ import annotations

import hashlib

import pytest

from deeppc.metrics.weights import WeightsError, fetch, resolve


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "source.bin"
    path.write_bytes(b"weights" * 1000)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_file_names_the_config_key_and_the_fetch_rule(tmp_path):
    config = {"inception": {"path": str(tmp_path / "absent.pth")}}
    with pytest.raises(WeightsError, match=r"'weights\.inception\.path'.*fetch_weights"):
        resolve(config, "inception")
    with pytest.raises(WeightsError, match=r"'weights\.medfid\.path' is not set"):
        resolve(config, "medfid")


def test_resolve_checks_the_configured_hash(source):
    path, digest = source
    assert resolve({"inception": {"path": str(path), "sha256": digest.upper()}}, "inception") == path
    with pytest.raises(WeightsError, match="expected 0000"):
        resolve({"inception": {"path": str(path), "sha256": "0" * 64}}, "inception")


def test_fetch_downloads_verifies_and_skips_when_present(source, tmp_path):
    path, digest = source
    out = tmp_path / "weights" / "w.pth"
    assert fetch(path.as_uri(), digest, out) == out
    assert out.read_bytes() == path.read_bytes()
    path.unlink()  # a second fetch must not need the source any more
    assert fetch("file:///nonexistent", digest, out) == out


def test_fetch_with_wrong_hash_leaves_nothing(source, tmp_path):
    path, _ = source
    out = tmp_path / "weights" / "w.pth"
    with pytest.raises(WeightsError, match="expected"):
        fetch(path.as_uri(), "f" * 64, out)
    assert not out.parent.exists()  # not even the folder the failed download created


@pytest.mark.parametrize("given", [None, "", "abc", "0cc3c7bd"])
def test_fetch_refuses_a_missing_or_short_hash_unless_told_not_to_verify(source, tmp_path, given):
    path, digest = source
    out = tmp_path / "w.pth"
    with pytest.raises(WeightsError, match="64 hex digits.*--no-verify"):
        fetch(path.as_uri(), given, out)
    assert not out.exists()
    assert fetch(path.as_uri(), given, out, verify=False) == out and out.read_bytes() == path.read_bytes()


def test_a_sha256_prefix_is_checked_like_torchvision_does(tmp_path):
    from deeppc.files import sha256_file
    from deeppc.metrics.weights import WeightsError, check

    unnamed = tmp_path / "inception_v3_google.pth"
    unnamed.write_bytes(b"weights")
    digest = sha256_file(unnamed)
    path = unnamed.rename(tmp_path / f"inception_v3_google-{digest[:8]}.pth")
    check(path, digest[:8])  # the 8 hex digits torchvision puts in its file names
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:8]
    with pytest.raises(WeightsError, match="not a full sha256"):  # the name and the config disagree
        check(path, wrong)
    with pytest.raises(WeightsError, match="expected"):  # a file named for another content
        check(path.rename(tmp_path / f"inception_v3_google-{wrong}.pth"), wrong)
    renamed = (tmp_path / f"inception_v3_google-{wrong}.pth").rename(tmp_path / "inception_v3_google.pth")
    with pytest.raises(WeightsError, match="not a full sha256"):  # a prefix the name does not carry
        check(renamed, digest[:8])
