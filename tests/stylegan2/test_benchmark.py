"""benchmarks/stylegan2.py keeps working (tiny CPU run; timings themselves are not checked)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "stylegan2.py"


def test_benchmark_runs_and_reports_sec_per_kimg(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("stylegan2_benchmark", BENCHMARK)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "rows.json"
    tiny = ["--quick", "--device", "cpu", "--size", "32", "--channel-base", "256", "--channel-max", "16", "--ada"]
    assert bench.main([*tiny, "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["implementation"] for r in rows] == ["deeppc"]
    assert rows[0]["sec_per_kimg"] > 0 and rows[0]["resolution"] == 32 and rows[0]["batch"] == 16
    # the side-by-side needs the official code (a checkout the user provides): a folder without it is named
    with pytest.raises(SystemExit, match="not a stylegan2-ada-pytorch checkout"):
        bench.main([*tiny, "--official", str(tmp_path)])
