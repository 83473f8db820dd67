"""Data-parallel training with torchrun (gloo on the CPU): N processes train the run one process would.

Each run here is launched as the workflow launches one (torchrun, then the
train stage's entry point), on tiny randomly initialised networks.

Tolerance: the ranks compute the same per-sample numbers as one process,
but sum gradients and means in a different order (two partial sums, then an
all-reduce), so results agree to float32 rounding carried through a few
Adam steps. Adam divides by sqrt(v) and so amplifies a relative difference
of ~1e-7 in a gradient to at most ~1e-7 of the learning rate per step in
a weight; after 12 steps at lr 0.0025 that is far below 1e-5. We allow
1e-4 absolute on weights that are O(1): a real divergence (a wrong slice of
the batch, an unsynchronised statistic) moves them by ~lr = 2.5e-3 per
step, 25 times more.
"""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from conditional_task import CLASSES, SIZE_DISCRIMINATOR, SIZE_GENERATOR, planted
from toy_runs import wait_for_row

ATOL = 1e-4
STYLEGAN2 = {"family": "stylegan2", "arch": "stylegan2", "lr": 0.0025, "betas": [0, 0.99], "image_size": 16,
             "latent_dim": 32, "batch_size": 8, "drop_last": True, "iterations": 12, "checkpoint_every": 6,
             "resume_every": 2, "sample_count": 4, "generator": SIZE_GENERATOR,
             "discriminator": {**SIZE_DISCRIMINATOR, "mbstd_group": 4}, "ema_kimg": 0.01, "ema_rampup": 0.05,
             "classes": list(CLASSES), "augment": ["translation", "cutout"],
             # every regulariser, the ADA p update and the w average inside the 12 iterations
             "loss": {"r1_gamma": 0.5, "r1_interval": 3, "pl_interval": 2, "ada": "adaptive", "ada_interval": 2,
                      "ada_kimg": 0.05}}  # fmt: skip

JOB = """
import sys, yaml
from pathlib import Path
from deeppc.train import from_config, train_experiment
config, data, out = sys.argv[1:]
settings = from_config(yaml.safe_load(Path(config).read_text()), "ddp")
sys.exit(train_experiment(settings, Path(data), Path(out), device="cpu", threads=1))
"""


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ddp")
    images, labels = planted(32, seed=0)
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / "data" / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"img-{i:03d}.png")
    (root / "job.py").write_text(JOB)
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump({"seed": 5, "experiments": {"ddp": STYLEGAN2}}))
    return {"root": root, "config": config, "data": root / "data", "script": root / "job.py"}


def start(job: dict[str, Path], out: Path, processes: int) -> subprocess.Popen:
    if processes == 1:
        command = [sys.executable, str(job["script"])]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                   str(job["script"])]  # fmt: skip
    command += [str(job["config"]), str(job["data"]), str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={"OMP_NUM_THREADS": "1", **_env()})  # fmt: skip


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}


def finish(process: subprocess.Popen, code: int = 0) -> None:
    _, err = process.communicate(timeout=300)
    assert process.returncode == code, err[-3000:]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "ckpt" / "12.pt", weights_only=False)["state_dict"]


def losses(run: Path) -> np.ndarray:
    with open(run / "losses.csv") as fh:
        rows = list(csv.reader(fh))[1:]
    return np.array([[float(v) if v else np.nan for v in row] for row in rows])


@pytest.fixture(scope="module")
def one_process(job) -> Path:
    out = job["root"] / "one"
    finish(start(job, out, 1))
    return out


def assert_same_run(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wb[key], wa[key], rtol=0, atol=ATOL, msg=key)
    la, lb = losses(a), losses(b)
    assert la.shape == lb.shape == (12, lb.shape[1])
    np.testing.assert_allclose(lb, la, rtol=1e-3, atol=1e-4)  # losses.csv: iteration, losses, ADA p, r_t, ...


def test_two_processes_train_what_one_process_trains(job, one_process):
    out = job["root"] / "two"
    finish(start(job, out, 2))
    assert_same_run(one_process, out)
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["images_seen"] == 12 * 8
    assert not list(job["root"].glob(".two.rank*"))  # the other rank's private folder is gone
    # the runs really trained, and differently from a wrong split: ADA p moved, weights left their start
    assert np.nanmax(losses(out)[:, 5]) > 0  # ada_p column


@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)])
def test_a_run_resumes_onto_another_number_of_processes(job, one_process, first, then):
    out = job["root"] / f"resume{first}{then}"
    process = start(job, out, first)
    wait_for_row(process, out / "losses.csv", 5)
    process.send_signal(signal.SIGTERM)  # torchrun forwards it to every rank; they stop at the same iteration
    _, err = process.communicate(timeout=300)
    # one process exits 128 + SIGTERM; torchrun itself reports the signal as a failure (1)
    assert process.returncode == (128 + signal.SIGTERM if first == 1 else 1), err[-3000:]
    assert (out / "state" / "resume.pt").exists()
    finish(start(job, out, then))
    assert_same_run(one_process, out)


def test_a_batch_that_does_not_split_evenly_is_refused(job):
    config = job["root"] / "odd.yaml"
    config.write_text(yaml.safe_dump({"seed": 5, "experiments": {"ddp": {**STYLEGAN2, "batch_size": 7}}}))
    process = start({**job, "config": config}, job["root"] / "odd", 2)
    _, err = process.communicate(timeout=300)
    assert process.returncode != 0 and "batch_size divisible by 2" in err


def test_networks_with_batch_normalisation_are_refused(job):
    wgan = {"family": "wgangp", "arch": "mlp", "lr": 0.0001, "betas": [0.5, 0.9], "image_size": 16, "latent_dim": 8,
            "batch_size": 8, "drop_last": True, "iterations": 2, "checkpoint_every": 2}
    config = job["root"] / "bn.yaml"
    config.write_text(yaml.safe_dump({"seed": 5, "experiments": {"ddp": wgan}}))
    data = job["root"] / "flat"
    data.mkdir(exist_ok=True)
    for i, image in enumerate(planted(8, seed=0)[0]):
        Image.fromarray(image).save(data / f"img-{i}.png")
    process = start({**job, "config": config, "data": data}, job["root"] / "bn", 2)
    _, err = process.communicate(timeout=300)
    assert process.returncode != 0 and "uses batch normalisation" in err


def test_a_run_with_gpus_launches_torchrun_itself(job, one_process):
    """What the workflow's train job does for `gpus: 2` (here on the CPU: two gloo processes)."""
    from deeppc.train import from_config, train_experiment

    settings = from_config({"seed": 5, "experiments": {"ddp": {**STYLEGAN2, "gpus": 2}}}, "ddp")
    data = {c: job["data"] / c for c in CLASSES}
    assert train_experiment(settings, data, job["root"] / "launched", device="cpu", threads=2) == 0
    assert_same_run(one_process, job["root"] / "launched")
    import json

    assert json.loads((job["root"] / "launched" / "summary.json").read_text())["processes"] == 2
    assert not list(job["root"].glob(".launched.launch.json"))
