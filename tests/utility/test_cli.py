"""`deeppc utility`: the study in one process from a data folder and folders of generated images."""

import json

import numpy as np
import pandas as pd
import pytest

from deeppc import files
from deeppc.cli import main
from deeppc.utility.synthetic import write_pool
from deeppc.validate import InputError

from planted import data_stage


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = data_stage(tmp_path_factory.mktemp("data"), patients=16, size=16)
    generated = root.parent / "generated-lat"
    for i in range(40):  # LAT-like images: dark, as the LAT images of data_stage
        files.save_png(generated / f"gen-{i:05d}.png", np.full((16, 16), i % 16, dtype=np.uint8))
    return root, generated


def test_a_study_from_the_command_line(data, tmp_path, capsys):
    root, generated = data
    out = tmp_path / "utility"
    code = main(["utility", "--data", str(root), "--out", str(out), "--synthetic", f"gan=LAT:{generated}",
                 "--network", "small_cnn", "--steps", "12", "--batch-size", "8", "--seeds", "2", "--ratios", "1"])
    assert code == 0, capsys.readouterr().err
    runs = pd.read_csv(out / "runs.csv")
    assert set(runs.arm) == {"real", "augment", "real+gan_1x"} and len(runs) == 6
    task = json.loads((out / "task.json").read_text())
    assert task["classes"] == ["AP", "LAT"] and "gan_only" in task["skipped"]  # the source makes LAT only
    assert "real+gan_1x: balanced accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("args,names", [
    (["--synthetic", "gan=LAT"], "expected NAME=CLASS:PATH"),
    (["--synthetic", "gan=LAT:{root}/nowhere"], "{root}/nowhere not found"),
    (["--synthetic", "gan=PA:{generated}"], "class(es) ['PA'] are not classes of the task"),
    (["--synthetic", "gan=AP:{pool}"], "{pool} holds images of class(es) ['LAT'], not 'AP'"),
    (["--seeds", "1"], "--seeds"),
    (["--labels", "{root}/no.csv"], "{root}/no.csv"),
])  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(data, tmp_path, capsys, args, names):
    root, generated = data
    pool = tmp_path / "pool.npz"
    with files.atomic_open(pool, "wb") as fh:
        np.savez_compressed(fh, images=np.zeros((4, 16, 16), dtype=np.uint8), labels=np.array(["LAT"] * 4))
    fill = {"root": str(root), "generated": str(generated), "pool": str(pool)}
    out = tmp_path / "utility"
    argv = ["utility", "--data", str(root), "--out", str(out), "--network", "small_cnn", "--steps", "2",
            "--seeds", "2", *[a.format(**fill) for a in args]]  # fmt: skip
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert names.format(**fill) in err.strip().splitlines()[-1]
    assert not out.exists()


def test_pools_round_trip(tmp_path):
    import torch

    from deeppc.models import build_generator
    from deeppc.models.checkpoint import save_generator
    from deeppc.utility.synthetic import pool_size, read_pool

    torch.manual_seed(0)  # a random tiny generator: only the file round trip matters
    G = build_generator("mlp", 16, latent_dim=8, hidden=[8, 8])
    save_generator(tmp_path / "g.pt", G, family="vanilla", arch="mlp", generator={"hidden": [8, 8]}, iteration=7,
                   image_size=16, latent_dim=8, experiment="g", config_sha256="0" * 64)  # fmt: skip
    path = write_pool(tmp_path / "g.pt", 5, seed=3, classes=["LAT"], out=tmp_path / "p.npz")
    (label, images), = read_pool(path).items()
    assert label == "LAT" and images.shape[0] == 5 and images.dtype == np.uint8
    with pytest.raises(InputError, match="unconditional generator gives one class"):
        write_pool(tmp_path / "g.pt", 5, seed=3, classes=["LAT", "AP"], out=tmp_path / "q.npz")
    root = data_stage(tmp_path / "data", patients=8)
    assert pool_size(root, None, ["LAT", "AP"], 1.5) == 18  # 12 training images (6 patients x 2 views) x 1.5
