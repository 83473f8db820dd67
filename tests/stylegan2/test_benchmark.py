"""benchmarks/stylegan2.py keeps working (tiny CPU run; timings themselves are not checked)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "stylegan2.py"

TINY = ["--quick", "--device", "cpu", "--size", "32", "--channel-base", "256", "--channel-max", "16", "--ada"]


def _benchmark():
    spec = importlib.util.spec_from_file_location("stylegan2_benchmark", BENCHMARK)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_benchmark_runs_and_reports_sec_per_kimg(tmp_path, capsys):
    bench = _benchmark()
    out = tmp_path / "rows.json"
    assert bench.main([*TINY, "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["implementation"] for r in rows] == ["deeppc"]
    assert rows[0]["sec_per_kimg"] > 0 and rows[0]["resolution"] == 32 and rows[0]["batch"] == 16
    # the side-by-side needs the official code (a checkout the user provides): a folder without it is named
    with pytest.raises(SystemExit, match="not a stylegan2-ada-pytorch checkout"):
        bench.main([*TINY, "--official", str(tmp_path)])


@pytest.mark.peer
def test_side_by_side_with_the_official_code_on_the_cpu(tmp_path, official_checkout):
    # NVIDIA's own networks, loss and ADA pipeline at a tiny size, alternating with ours (timings not checked)
    out = tmp_path / "side_by_side.json"
    assert _benchmark().main([*TINY, "--rounds", "1", "--official", str(official_checkout), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    deeppc, official = result["rows"]
    assert official["implementation"] == "official stylegan2-ada-pytorch" and deeppc["implementation"] == "deeppc"
    assert official["custom_ops"] == {"bias_act": False, "upfirdn2d": False}  # its reference ops on the CPU
    assert len(official["rounds"]) == len(deeppc["rounds"]) == 1
    assert result["ratio"] == pytest.approx(official["sec_per_iteration"] / deeppc["sec_per_iteration"], rel=1e-3)
