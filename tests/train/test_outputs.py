"""Run folder contract: checkpoints, losses.csv, sample grids, summary, settings and the CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from deeppc.cli import main
from deeppc.config import ConfigError
from deeppc.data.imageset import unit_to_uint8
from deeppc.models import load_generator
from deeppc.train import TrainSettings, from_config, run
from deeppc.train.settings import study_runs
from deeppc.train.checkpoint import grid

from .conftest import write_config


def small(**overrides) -> TrainSettings:
    base = dict(experiment="w1", family="wgangp", lr=1e-4, betas=(0.5, 0.9), image_size=16, batch_size=8,
                iterations=30, checkpoint_every=10, sample_count=9, seed=1)
    return TrainSettings(**{**base, **overrides})


def test_run_writes_the_contracted_outputs(tmp_path, images16):
    settings = small(keep_checkpoints=(20, 30))
    summary = run(settings, images16, tmp_path / "run", "cpu")
    root = tmp_path / "run"
    assert sorted(p.name for p in (root / "ckpt").iterdir()) == ["20.pt", "30.pt"]
    assert sorted(p.name for p in (root / "samples").iterdir()) == ["10.png", "20.png", "30.png"]
    assert not (root / "state").exists()  # resume state is removed once finished

    with open(root / "losses.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["iteration", "d_loss", "g_loss", "wasserstein", "gp"]
    assert [int(r["iteration"]) for r in rows] == list(range(1, 31))
    # G is updated at batch positions 0 and 5 of each 5-batch epoch (40 images / 8) -> every 5 iterations
    assert [int(r["iteration"]) for r in rows if r["g_loss"]] == list(range(1, 31, 5))

    written = json.loads((root / "summary.json").read_text())
    assert written == json.loads(json.dumps(summary))
    assert written["status"] == "finished" and written["iterations"] == 30
    assert written["checkpoints"] == [20, 30] and written["samples"] == [10, 20, 30]
    on_disk = [p for p in root.rglob("*") if p.is_file() and p.name != "summary.json"]
    assert written["disk_bytes"] == sum(p.stat().st_size for p in on_disk)
    assert set(written["seeds"]) == {"root", "init", "noise", "data", "samples"}

    G, meta = load_generator(root / "ckpt" / "30.pt")
    assert meta["iteration"] == 30 and meta["experiment"] == "w1" and meta["config_sha256"] == settings.sha256()
    # the sample grid is the fixed-noise generation through the pixel contract
    gen = torch.Generator().manual_seed(settings.seeds()["samples"])
    with torch.no_grad():  # 9 samples = two full batches of 8 latents, surplus dropped
        x = torch.cat([G(torch.randn(8, 100, generator=gen)) for _ in range(2)])[:9, 0].numpy()
    expected = unit_to_uint8(x)
    assert np.array_equal(expected, np.clip(np.rint((x + 1) * 127.5), 0, 255).astype(np.uint8))
    assert np.array_equal(np.asarray(Image.open(root / "samples" / "30.png")), grid(expected))


def test_grid_layout():
    images = np.arange(5 * 2 * 2, dtype=np.uint8).reshape(5, 2, 2) + 1
    out = grid(images, pad=1)
    assert out.shape == (2 * 3 + 1, 3 * 3 + 1)
    assert np.array_equal(out[1:3, 1:3], images[0]) and np.array_equal(out[4:6, 1:3], images[3])
    assert out[4:6, 7:9].sum() == 0  # unused cell stays black


def test_replicates_are_runs_that_differ_only_in_their_seeds():
    config = {"seed": 9, "train": {"replicates": 2},
              "experiments": {"a": {"family": "vanilla", "lr": 2e-4, "betas": [0.5, 0.999], "replicates": 3},
                              "b": {"family": "wgangp", "lr": 1e-4, "betas": [0.5, 0.9]}}}
    assert study_runs(config) == {"a": ["a", "a@r1", "a@r2"], "b": ["b", "b@r1"]}
    a0, a2 = from_config(config, "a"), from_config(config, "a@r2")
    assert a2.experiment == "a@r2" and a0.lr == a2.lr and a0.seed == a2.seed
    assert all(a0.seeds()[p] != a2.seeds()[p] for p in a0.seeds())  # init, noise, data order, sample noise
    assert a0.sha256(math_only=True) != a2.sha256(math_only=True)
    with pytest.raises(ConfigError, match="'a' has replicates: 3"):
        from_config(config, "a@r3")
    with pytest.raises(ConfigError, match="experiments.c"):
        from_config(config, "c@r1")


def test_settings_merge_and_validation():
    config = {"seed": 9, "train": {"image_size": 64, "iterations": 400, "checkpoint_every": 100},
              "experiments": {"a": {"family": "vanilla", "lr": 2e-4, "betas": [0.5, 0.999]},
                              "b": {"family": "wgangp", "lr": 1e-4, "betas": [0.5, 0.9], "iterations": 200,
                                    "loss": {"n_critic": 3}}}}
    a, b = from_config(config, "a"), from_config(config, "b")
    assert (a.image_size, a.iterations, a.seed, a.betas) == (64, 400, 9, (0.5, 0.999))
    assert (b.iterations, b.loss["n_critic"]) == (200, 3)
    assert a.seeds() != b.seeds()  # seeds are per experiment
    assert a.checkpoint_iterations() == [100, 200, 300, 400]
    assert small(iterations=25).checkpoint_iterations() == [10, 20, 25]
    assert a.sha256(math_only=True) == from_config(
        {**config, "train": {**config["train"], "checkpoint_every": 50}}, "a").sha256(math_only=True)
    with pytest.raises(ConfigError, match="experiments.c"):
        from_config(config, "c")
    with pytest.raises(ConfigError, match="learning_rate"):
        from_config({"experiments": {"a": {**config["experiments"]["a"], "learning_rate": 1}}}, "a")
    with pytest.raises(ConfigError, match="keep_checkpoints"):
        small(keep_checkpoints=(15,))
    with pytest.raises(ConfigError, match="n_critics"):
        small(loss={"n_critics": 5})
    with pytest.raises(ConfigError, match="family"):
        small(family="wgan")


def test_cli_trains_an_experiment(tmp_path, image_dir):
    config = write_config(tmp_path / "config.yaml",
                          {"image_size": 16, "batch_size": 8, "iterations": 12, "checkpoint_every": 6},
                          {"vanilla1": {"family": "vanilla", "lr": 2e-3, "betas": [0.5, 0.999]}})
    out = tmp_path / "runs" / "vanilla1"
    rc = main(["train", "--config", str(config), "--experiment", "vanilla1", "--data", str(image_dir),
               "--out", str(out), "--device", "cpu", "--threads", "1"])
    assert rc == 0
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == ["12.pt", "6.pt"]
    assert json.loads((out / "summary.json").read_text())["n_images"] == 40
    assert main(["train", "--config", str(config), "--experiment", "nope", "--data", str(image_dir),
                 "--out", str(out)]) == 2


def test_publish_links_and_falls_back_to_copy(tmp_path, monkeypatch):
    from deeppc.train import rundir

    src = tmp_path / "state" / "a.csv"
    src.parent.mkdir()
    src.write_text("x\n")
    rundir.publish(src, tmp_path / "a.csv")
    with open(src, "a") as fh:  # appends to the working copy show in the published file
        fh.write("y\n")
    assert (tmp_path / "a.csv").read_text() == "x\ny\n"

    def no_links(*args):
        raise OSError("hard links not supported")

    monkeypatch.setattr(rundir.os, "link", no_links)
    rundir.publish(src, tmp_path / "b.csv")
    assert (tmp_path / "b.csv").read_text() == "x\ny\n" and not (tmp_path / "b.csv").samefile(src)
