"""StyleGAN2-ADA kill-and-resume: a run killed mid-way finishes bit-identical to an uninterrupted one (CPU)."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from deeppc.models import generate, load_generator
from deeppc.train import state as resume_state

from toy_runs import run_outputs, wait_for_row

from .conftest import DISCRIMINATOR, GENERATOR, SIZE, blob_images

ITERATIONS = 30
TRAIN = {"image_size": SIZE, "latent_dim": 32, "batch_size": 4, "drop_last": True, "iterations": ITERATIONS,
         "checkpoint_every": 15, "resume_every": 10, "sample_count": 4, "generator": GENERATOR,
         "discriminator": DISCRIMINATOR}
EXPERIMENT = {"family": "stylegan2", "arch": "stylegan2", "lr": 0.0025, "betas": [0, 0.99],
              "ema_kimg": 0.02, "ema_rampup": 0.05,
              # short intervals so that regularisers, p updates and the EMA ramp all straddle the kill
              "loss": {"r1_gamma": 0.5, "r1_interval": 4, "pl_interval": 3, "ada": "adaptive", "ada_interval": 2,
                       "ada_kimg": 0.05, "ada_target": 0.6}}


# what workflow/scripts/train.py runs for a rule, as its own process (the config is not schema-checked here)
JOB = """
import sys, yaml
from pathlib import Path
from deeppc.train import train_experiment
from deeppc.train import from_config
config, data, out = sys.argv[1:]
sys.exit(train_experiment(from_config(yaml.safe_load(Path(config).read_text()), "sg2ada"), Path(data), Path(out),
                          device="cpu", threads=1))
"""


def start(config: Path, data: Path, out: Path) -> subprocess.Popen:
    command = [sys.executable, "-c", JOB, str(config), str(data), str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=180)
    assert process.returncode == 0, err


def test_killed_stylegan2_ada_run_resumes_bit_identical(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i, image in enumerate(blob_images(24)):
        Image.fromarray(image).save(data / f"img-{i:016x}.png")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"seed": 3, "train": TRAIN, "experiments": {"sg2ada": EXPERIMENT}}))
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    finish(start(config, data, whole))

    process = start(config, data, cut)
    wait_for_row(process, cut / "losses.csv", 15)  # rows reach the file at checkpoints and state saves
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    state = resume_state.load(cut / "state" / "resume.pt")
    trainer_state = state["trainer"]
    resumed = trainer_state["iteration"]
    assert resumed in (10, 20)  # the last periodic state; rows logged after it are cut on resume
    # everything a continuation needs: both networks, the average, both optimizers, ADA and the RNG streams
    assert {"G", "D", "G_ema", "opt_G", "opt_D", "loss", "noise", "sampler"} <= set(trainer_state)
    assert set(trainer_state["loss"]["ada"]) == {"p", "sign_sum", "count", "images"}
    assert trainer_state["opt_G"]["state"] and trainer_state["opt_D"]["state"]

    finish(start(config, data, cut))
    assert run_outputs(cut) == run_outputs(whole)  # checkpoints (G_ema), sample grids, losses.csv: byte for byte
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["resumed_from"] == [resumed] and summary["exported_generator"] == "G_ema"
    assert summary["images_seen"] == ITERATIONS * 4

    with open(cut / "losses.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["iteration"]) for r in rows] == list(range(1, ITERATIONS + 1))
    assert list(rows[0]) == ["iteration", "d_loss", "g_loss", "r1", "pl", "ada_p", "ada_rt", "d_real", "d_fake"]
    assert [int(r["iteration"]) for r in rows if r["r1"]] == list(range(1, ITERATIONS + 1, 4))
    p = [float(r["ada_p"]) for r in rows]
    assert max(p) > 0 and all(0 <= v <= 1 for v in p)  # the tiny real set is overfit: p moved up

    G, meta = load_generator(cut / "ckpt" / f"{ITERATIONS}.pt")
    assert meta["family"] == "stylegan2" and meta["iteration"] == ITERATIONS
    grid = np.asarray(Image.open(cut / "samples" / f"{ITERATIONS}.png"))
    assert grid.shape == (2 * (SIZE + 2) + 2,) * 2
    assert generate(G, 4, seed=0, truncation_psi=0.7).shape == (4, SIZE, SIZE)
    assert torch.isfinite(G(torch.randn(2, 32))).all()
