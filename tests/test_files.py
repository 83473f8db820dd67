"""Atomic writes: all or nothing, with ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest

from deeppc import files


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "table.csv"
    files.write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with files.atomic_open(target, "w") as fh:
            fh.write("half a ta")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]  # no temporary left behind


def test_files_get_umask_permissions_not_owner_only(tmp_path):
    mask = os.umask(0)
    os.umask(mask)
    files.write_text(tmp_path / "a.txt", "x")
    ordinary = tmp_path / "b.txt"
    ordinary.write_text("x")  # what a plain open() gives under this umask
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == stat.S_IMODE(ordinary.stat().st_mode)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~mask


def test_json_handles_numpy_scalars(tmp_path):
    import numpy as np

    files.write_json(tmp_path / "s.json", {"a": np.float64(1.5), "b": np.int64(2)})
    assert (tmp_path / "s.json").read_text().split() == ["{", '"a":', "1.5,", '"b":', "2", "}"]
