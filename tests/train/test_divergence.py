"""A NaN loss stops the run with a clear message, a diverged summary and its own exit code."""

from __future__ import annotations

import csv
import json

import pytest

from deeppc.cli import main
from deeppc.train import EXIT_DIVERGED, Diverged, TrainSettings, run

from .conftest import write_config


def test_nan_stops_with_loss_and_iteration(tmp_path, images16):
    settings = TrainSettings(experiment="v", family="hooked", lr=2e-4, betas=(0.5, 0.999), image_size=16,
                             batch_size=8, iterations=40, checkpoint_every=10, loss={"nan_at": 17})
    with pytest.raises(Diverged) as info:
        run(settings, images16, tmp_path / "run", "cpu")
    assert (info.value.loss, info.value.iteration) == ("d_loss", 17)
    assert "d_loss is nan at iteration 17" in str(info.value)

    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["iterations"] == 17
    assert summary["divergence"]["loss"] == "d_loss" and summary["divergence"]["iteration"] == 17
    assert summary["checkpoints"] == [10]  # nothing written after the divergence
    with open(tmp_path / "run" / "losses.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[-1]["iteration"] == "17" and rows[-1]["d_loss"] == "nan"
    assert not (tmp_path / "run" / "state" / "resume.pt").exists()  # a rerun starts afresh
    assert (tmp_path / "run" / "state" / "summary.json").exists()  # survives deletion of failed outputs


def test_cli_exit_code_for_divergence(tmp_path, image_dir, capsys):
    config = write_config(tmp_path / "config.yaml", {"image_size": 16, "batch_size": 8, "iterations": 20},
                          {"bad": {"family": "hooked", "lr": 2e-4, "betas": [0.5, 0.999], "loss": {"nan_at": 3}}})
    rc = main(["train", "--config", str(config), "--experiment", "bad", "--data", str(image_dir),
               "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert rc == EXIT_DIVERGED == 3
