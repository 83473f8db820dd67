"""The layer contract in pyproject.toml, checked by import-linter on the real import graph."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(src: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}
    return subprocess.run([str(LINT), "--no-cache", "--no-logo"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_stages_import_only_downstream():
    result = lint(REPO / "src", REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: 2 kept, 0 broken", result.stdout), result.stdout


def test_an_upstream_import_breaks_the_contract(tmp_path):
    """The contract can fail: metrics importing the score stage (the loop the medfid registry once hid)."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    kid = src / "deeppc" / "metrics" / "kid.py"
    kid.write_text(kid.read_text() + "\nimport deeppc.score  # noqa: E402,F401\n")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    result = lint(src, tmp_path)
    assert result.returncode == 1
    assert "deeppc.metrics.kid -> deeppc.score" in result.stdout and "1 broken" in result.stdout


def test_no_string_imports_between_packages():
    """Imports by name string hide edges from the import graph the contract checks."""
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in (REPO / "src" / "deeppc").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"import_module\(|__import__\(", line)
    ]
    assert offenders == []
