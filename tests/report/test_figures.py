"""Figures: valid PNGs of the expected pixel size, written atomically, clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deeppc.report import figures, style
from deeppc.stats import StatsSettings, run_analysis


@pytest.fixture
def stats_dir(study, tmp_path) -> Path:
    run_analysis(study, tmp_path / "stats", StatsSettings(compare_at=800))
    return tmp_path / "stats"


def _check_png(path: str, size: tuple[int, int]) -> None:
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == size
        im.verify()
    leftovers = [p.name for p in Path(path).parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_score_curves(stats_dir, tmp_path):
    out = figures.score_curves_figure(stats_dir / "curves.csv", "medfid", tmp_path / "fig" / "curves.png",
                                      best=stats_dir / "best_checkpoints.csv", compare_iteration=800)
    assert out == str(tmp_path / "fig" / "curves.png")
    _check_png(out, style.pixels(style.inches(3)))  # stylegan2, vanilla, wgangp
    one = figures.score_curves_figure(stats_dir / "curves.csv", "medfid", tmp_path / "w.png", families=["wgangp"],
                                      max_iteration=400)
    _check_png(one, style.pixels(style.inches(1)))


def test_comparison_figure(stats_dir, tmp_path):
    out = figures.comparison_figure(stats_dir / "observations.csv", "medfid", tmp_path / "cmp.png",
                                    families=["vanilla", "wgangp"])
    _check_png(out, style.pixels(style.inches(2)))


def test_losses_figure(tmp_path):
    paths = {}
    for name in ("vanilla3", "vanilla5"):
        iterations = np.arange(0, 500, 5)
        table = pd.DataFrame({"iteration": iterations, "d_loss": np.cos(iterations / 50),
                              "g_loss": 1 + iterations / 500})
        paths[name] = tmp_path / f"{name}.csv"
        table.to_csv(paths[name], index=False)
    out = figures.losses_figure(paths, tmp_path / "losses.png", window=10)
    _check_png(out, style.pixels(style.inches(2)))


def _grid_png(path: Path, seed: int) -> Path:
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (96, 96), dtype=np.uint8)).save(path)
    return path


def test_sample_grid_and_memorization(tmp_path):
    grids = {name: {it: _grid_png(tmp_path / f"{name}-{it}.png", it) for it in (800, 5600)}
             for name in ("vanilla1", "wgangp1")}
    grids["stylegan2"] = {800: _grid_png(tmp_path / "sg.png", 1)}  # 5600 not sampled: an empty cell
    out = figures.sample_grid_figure(grids, tmp_path / "grid.png", title="samples")
    _check_png(out, style.pixels(style.inches(2, 3, (style.IMAGE_CELL, style.IMAGE_CELL))))
    pairs = tmp_path / "pairs.png"
    Image.fromarray(np.zeros((100, 400), dtype=np.uint8)).save(pairs)
    mem = figures.memorization_figure(pairs, tmp_path / "mem.png", subtitle="wgangp1, iteration 800")
    width = 2 * style.PANEL[0]
    _check_png(mem, style.pixels((width, width * 100 / 400 + 0.5)))


def test_missing_inputs_fail_clearly_and_write_nothing(stats_dir, tmp_path):
    out = tmp_path / "never.png"
    with pytest.raises(FileNotFoundError, match="score curves table not found"):
        figures.score_curves_figure(tmp_path / "nope.csv", "medfid", out)
    with pytest.raises(ValueError, match="no 'kid' rows"):
        figures.score_curves_figure(stats_dir / "curves.csv", "kid", out)
    with pytest.raises(ValueError, match="no data for family"):
        figures.score_curves_figure(stats_dir / "curves.csv", "medfid", out, families=["biggan"])
    with pytest.raises(ValueError, match="lacks column.*value"):
        figures.comparison_figure(pd.DataFrame({"metric": ["medfid"]}), "medfid", out)
    with pytest.raises(FileNotFoundError, match="losses file not found"):
        figures.losses_figure({"a": tmp_path / "losses.csv"}, out)
    (tmp_path / "l.csv").write_text("iteration,d_loss\n1,0.5\n")
    with pytest.raises(ValueError, match="lacks column.*g_loss"):
        figures.losses_figure({"a": tmp_path / "l.csv"}, out)
    with pytest.raises(FileNotFoundError, match="sample grid of a not found"):
        figures.sample_grid_figure({"a": {800: tmp_path / "missing.png"}}, out)
    with pytest.raises(FileNotFoundError, match="memorization pairs image not found"):
        figures.memorization_figure(tmp_path / "missing.png", out)
    assert not out.exists()
