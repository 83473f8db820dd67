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


def test_a_failed_write_leaves_no_folder_it_created(tmp_path):
    with pytest.raises(RuntimeError):
        with files.atomic_open(tmp_path / "new" / "deeper" / "t.csv", "w") as fh:
            fh.write("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_folder_publishes_everything_or_nothing(tmp_path):
    out = tmp_path / "new" / "kit"
    with pytest.raises(RuntimeError):
        with files.atomic_folder(out) as build:
            files.write_text(build / "a.csv", "a\n")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []  # neither the kit nor the folder above it
    with files.atomic_folder(out) as build:
        files.write_text(build / "a.csv", "a\n")
        assert not (out / "a.csv").exists()  # nothing visible before the end
    assert (out / "a.csv").read_text() == "a\n" and [p.name for p in out.iterdir()] == ["a.csv"]


def test_atomic_folder_keeps_other_files_unless_told_to_replace(tmp_path):
    files.write_text(tmp_path / "mine.txt", "user's\n")
    files.write_text(tmp_path / "a.csv", "old\n")
    with pytest.raises(RuntimeError):
        with files.atomic_folder(tmp_path) as build:
            files.write_text(build / "a.csv", "new\n")
            raise RuntimeError("killed")
    assert (tmp_path / "a.csv").read_text() == "old\n"  # a failure leaves what was there
    with files.atomic_folder(tmp_path) as build:
        files.write_text(build / "a.csv", "new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "mine.txt"]
    with files.atomic_folder(tmp_path, replace=True) as build:
        files.write_text(build / "b.csv", "b\n")
    assert [p.name for p in tmp_path.iterdir()] == ["b.csv"]
