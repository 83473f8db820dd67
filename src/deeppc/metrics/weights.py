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

log = logging.getLogger(__name__)

FETCH_HINT = (
    "Fetch it on a machine with internet access (e.g. a login node): "
    "`snakemake fetch_weights`, or `deeppc fetch-weights --url URL --sha256 HEX --out PATH`."
)


class WeightsError(FileNotFoundError):
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
    """Raise WeightsError unless the file's sha256 is (or starts with) `sha256`.

    A prefix is accepted because torchvision publishes its weights with only
    the first 8 hex digits of their sha256 in the file name and checks those.
    """
    actual = sha256_file(path)
    if not actual.startswith(sha256.lower()):
        raise WeightsError(f"{what}: {path} has sha256 {actual}, expected {sha256.lower()}. {FETCH_HINT}")


def fetch(url: str, sha256: str, out: str | Path, *, timeout: float = 60.0) -> Path:
    """Download `url` to `out` unless a file with the right sha256 is already there."""
    out = Path(out)
    expected = sha256.lower()
    if out.is_file() and sha256_file(out).startswith(expected):
        log.info("weights already present and verified: %s", out)
        return out
    log.info("downloading %s -> %s", url, out)
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response, atomic_open(out, "wb") as fh:
        shutil.copyfileobj(_HashingReader(response, digest), fh)
        if not digest.hexdigest().startswith(expected):
            # raising inside atomic_open removes the temporary file: nothing is left at `out`
            raise WeightsError(f"download of {url} has sha256 {digest.hexdigest()}, expected {expected}")
    return out


class _HashingReader:
    """File-like wrapper that hashes what is read through it."""

    def __init__(self, raw, digest) -> None:
        self.raw, self.digest = raw, digest

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.digest.update(chunk)
        return chunk
