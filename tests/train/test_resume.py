"""Kill-and-resume: a run killed at any point finishes bit-identical to an uninterrupted one (CPU)."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deeppc.train import Interrupted, TrainSettings, run
from deeppc.train import state as resume_state

from toy_runs import run_outputs, wait_for_row

from .conftest import write_config

ITERATIONS = 400
# narrower networks than the study's keep the subprocesses quick; resume does not care about widths
TRAIN = {"image_size": 16, "batch_size": 8, "iterations": ITERATIONS, "checkpoint_every": 100, "sample_count": 4,
         "generator": {"hidden": [32, 64, 128, 128]}, "discriminator": {"hidden": [64, 32]}}
EXPERIMENTS = {
    "wgangp_aug": {"family": "wgangp", "lr": 1e-4, "betas": [0.5, 0.9],
                   "augment": ["translation", "cutout", "brightness", "contrast"]},
    "vanilla": {"family": "vanilla", "lr": 2e-4, "betas": [0.5, 0.999]},
}


def start(config: Path, experiment: str, data: Path, out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "deeppc.cli", "train", "--config", str(config), "--experiment", experiment,
               "--data", str(data), "--out", str(out), "--device", "cpu", "--threads", "1"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> int:
    _, err = process.communicate(timeout=120)
    assert process.returncode in (0, 143), err
    return process.returncode


def same_weights(a: Path, b: Path) -> bool:
    sa = torch.load(a, weights_only=True)["state_dict"]
    sb = torch.load(b, weights_only=True)["state_dict"]
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("experiment, sig, kill_at", [("wgangp_aug", signal.SIGKILL, 130),
                                                      ("vanilla", signal.SIGTERM, 60)])
def test_killed_run_resumes_bit_identical(tmp_path, image_dir, experiment, sig, kill_at):
    config = write_config(tmp_path / "config.yaml", TRAIN, EXPERIMENTS)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    finish(start(config, experiment, image_dir, whole))

    process = start(config, experiment, image_dir, cut)
    wait_for_row(process, cut / "losses.csv", kill_at)
    process.send_signal(sig)
    process.wait(timeout=60)
    state = resume_state.load(cut / "state" / "resume.pt")
    if sig == signal.SIGTERM:
        # saved where it stood, between checkpoints, and exited with 128 + 15 for the scheduler to retry
        assert process.returncode == 143
        assert state["trainer"]["iteration"] >= kill_at
    else:
        assert process.returncode == -signal.SIGKILL
        # the last periodic state; rows logged after it are cut from losses.csv on resume
        assert state["trainer"]["iteration"] % 100 == 0 and state["trainer"]["iteration"] < kill_at

    assert finish(start(config, experiment, image_dir, cut)) == 0
    assert same_weights(whole / "ckpt" / f"{ITERATIONS}.pt", cut / "ckpt" / f"{ITERATIONS}.pt")
    assert run_outputs(cut) == run_outputs(whole)  # checkpoints, sample grids and losses.csv (no duplicate rows)
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["resumed_from"] == [state["trainer"]["iteration"]]


def settings(**overrides) -> TrainSettings:
    base = dict(experiment="v", family="hooked", lr=2e-4, betas=(0.5, 0.999), image_size=16, batch_size=8,
                iterations=30, checkpoint_every=10, seed=2)
    return TrainSettings(**{**base, **overrides})


def test_sigterm_in_process_saves_state_and_resumes(tmp_path, images16):
    run(settings(), images16, tmp_path / "whole", "cpu")
    with pytest.raises(Interrupted) as info:
        run(settings(loss={"sigterm_at": 17}), images16, tmp_path / "cut", "cpu")
    assert (info.value.iteration, info.value.exit_code) == (17, 143)
    assert resume_state.load(tmp_path / "cut" / "state" / "resume.pt")["trainer"]["iteration"] == 17
    # Snakemake deletes a failed job's declared outputs (and again before its retry)
    for declared in ["losses.csv", "ckpt", "samples"]:
        target = tmp_path / "cut" / declared
        target.unlink() if target.is_file() else shutil.rmtree(target)
    summary = run(settings(loss={"sigterm_at": 17}), images16, tmp_path / "cut", "cpu")
    assert summary["resumed_from"] == [17]
    cut, whole = run_outputs(tmp_path / "cut"), run_outputs(tmp_path / "whole")
    assert cut.keys() == whole.keys()
    for name in cut:  # checkpoints differ in config_sha256 only (the hook is a setting)
        if name.endswith(".pt"):
            assert same_weights(tmp_path / "cut" / name, tmp_path / "whole" / name)
        else:
            assert cut[name] == whole[name], name


def test_state_for_other_settings_is_not_used(tmp_path, images16, caplog):
    with pytest.raises(Interrupted):
        run(settings(loss={"sigterm_at": 12}), images16, tmp_path / "run", "cpu")
    with caplog.at_level(logging.WARNING):
        summary = run(settings(lr=1e-4), images16, tmp_path / "run", "cpu")
    assert summary["resumed_from"] == [] and "different training settings" in caplog.text
    # output-only settings (how many checkpoints to keep) do not invalidate a state
    with pytest.raises(Interrupted):
        run(settings(loss={"sigterm_at": 12}), images16, tmp_path / "run2", "cpu")
    summary = run(settings(loss={"sigterm_at": 12}, keep_checkpoints=(30,)), images16, tmp_path / "run2", "cpu")
    assert summary["resumed_from"] == [12] and summary["checkpoints"] == [30]


def test_global_rng_states_roundtrip():
    import random

    import numpy as np

    saved = resume_state.global_rng_states()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    resume_state.set_global_rng_states(saved)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
