"""Pretrained weight files: named in the config, fetched only on request, checked by sha256.

Jobs never use the network. The config names every weight file:

    weights:
      inception:
        path: weights/weights-inception-2015-12-05-6726825d.pth
        url: https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth
        sha256: <64 hex>

`resolve` returns the path or stops with an error naming the config key and
how to fetch the file; `fetch` (the `fetch_weights` rule, meant for a login
node with internet access) downloads to a temporary name, checks the sha256
while streaming, and renames into place only when it matches.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import urllib.request
from pathlib import Path
from typing import Mapping

from deeppc.files import atomic_open, sha256_file
from deeppc.validate import InputError, expected_sha256, first_line

log = logging.getLogger(__name__)

FETCH_HINT = (
    "Fetch it on a machine with internet access (e.g. a login node): "
    "`snakemake fetch_weights`, or `deeppc fetch-weights --url URL --sha256 HEX --out PATH`."
)


class WeightsError(InputError, FileNotFoundError):
    """A weights file is missing or is not the file the config names."""


def resolve(weights_config: Mapping[str, Mapping], key: str, *, verify: bool = True) -> Path:
    """Path of the weights file configured under `weights.<key>`, checked against its sha256 if given."""
    entry = weights_config.get(key)
    if not entry or not entry.get("path"):
        raise WeightsError(f"config key 'weights.{key}.path' is not set: name the weights file there. {FETCH_HINT}")
    path = Path(entry["path"])
    if not path.is_file():
        raise WeightsError(f"weights file for config key 'weights.{key}.path' not found: {path}. {FETCH_HINT}")
    if verify and entry.get("sha256"):
        check(path, entry["sha256"], f"weights.{key}")
    return path


def check(path: str | Path, sha256: str, what: str = "weights file") -> None:
    """Raise WeightsError unless the file's sha256 is `sha256`.

    `sha256` must be the full 64 hex digits, or the prefix the file's own name
    carries (torchvision publishes `inception_v3_google-0cc3c7bd.pth` and checks
    those 8 digits): see deeppc.validate.expected_sha256.
    """
    path = Path(path)
    try:
        label = f"config key {what}.sha256" if what.startswith("weights.") else "sha256"
        expected = expected_sha256(sha256, path.name, label)
    except InputError as exc:
        raise WeightsError(str(exc)) from None
    actual = sha256_file(path)
    if not actual.startswith(expected):
        raise WeightsError(f"{what}: {path} has sha256 {actual}, expected {expected}. {FETCH_HINT}")


def fetch(url: str, sha256: str | None, out: str | Path, *, timeout: float = 60.0, verify: bool = True) -> Path:
    """Download `url` to `out` unless a file with the right sha256 is already there.

    The hash is checked in full while streaming (`sha256` as in `check`), and the
    file is renamed into place only when it matches. `verify=False` skips the
    check (always downloading) and logs a warning saying so.
    """
    out = Path(out)
    expected = ""
    if verify:
        try:
            expected = expected_sha256(sha256, out.name, "--sha256 (or config key weights.<name>.sha256)")
        except InputError as exc:
            raise WeightsError(f"{exc}; or pass --no-verify to download without a check") from None
        if out.is_file() and sha256_file(out).startswith(expected):
            log.info("weights already present and verified: %s", out)
            return out
    log.debug("downloading %s -> %s", url, out)  # info only on success: a failure is its one error line
    digest = hashlib.sha256()
    with _open_url(url, timeout) as response, atomic_open(out, "wb") as fh:
        shutil.copyfileobj(_HashingReader(response, digest), fh)
        if verify and not digest.hexdigest().startswith(expected):
            # raising inside atomic_open removes the temporary file: nothing is left at `out`
            raise WeightsError(f"download of {url} has sha256 {digest.hexdigest()}, expected {expected}")
    if verify:
        log.info("downloaded %s -> %s (sha256 verified)", url, out)
    else:
        log.warning("%s written WITHOUT a hash check (--no-verify); its sha256 is %s", out, digest.hexdigest())
    return out


def _open_url(url: str, timeout: float):
    """urlopen, with an unreachable or missing URL as an InputError naming it."""
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except (ValueError, OSError) as exc:  # URLError is an OSError; ValueError: not a URL at all
        raise InputError(f"cannot download {url}: {first_line(exc)}") from None


class _HashingReader:
    """File-like wrapper that hashes what is read through it."""

    def __init__(self, raw, digest) -> None:
        self.raw, self.digest = raw, digest

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.digest.update(chunk)
        return chunk
