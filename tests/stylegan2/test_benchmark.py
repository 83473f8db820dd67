"""benchmarks/stylegan2.py keeps working (tiny CPU run; timings themselves are not checked)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "stylegan2.py"


def test_benchmark_runs_and_reports_sec_per_kimg(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("stylegan2_benchmark", BENCHMARK)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "rows.json"
    assert bench.main(["--quick", "--device", "cpu", "--size", "32", "--channel-base", "256", "--channel-max", "16",
                       "--ada", "--official", str(tmp_path), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["implementation"] for r in rows] == ["deeppc"]  # the official side needs CUDA
    assert rows[0]["sec_per_kimg"] > 0 and rows[0]["resolution"] == 32 and rows[0]["batch"] == 16
    assert "needs CUDA" in capsys.readouterr().out
