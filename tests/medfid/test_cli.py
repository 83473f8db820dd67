"""`deeppc medfid` command-line behaviour: the demo tree, and bad input as one-line errors."""

from __future__ import annotations

import json

import pytest
import yaml

import deeppc.cli as cli
from deeppc.config import load as load_config
from deeppc.config import schema


@pytest.fixture
def main():
    return cli.main


def test_demo_data_writes_mura_and_lera_layouts(main, tmp_path, capsys):
    assert main(["medfid", "demo-data", str(tmp_path / "demo"), "--per-class", "5", "--size", "48"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["images"] == {p: 5 for p in ("elbow", "forearm", "hand", "humerus", "shoulder", "knee")}
    lines = (tmp_path / "demo" / "MURA-v1.1" / "train_image_paths.csv").read_text().splitlines()
    assert lines[0].startswith("MURA-v1.1/train/XR_ELBOW/patient") and "/study1_" in lines[0]
    assert (tmp_path / "demo" / "MURA-v1.1" / "valid_image_paths.csv").is_file()
    assert (tmp_path / "demo" / "LERA" / "labels.csv").read_text().split(",")[1] == "XR KNEE"


def test_train_without_sources_is_a_config_error(main, tiny, tmp_path, capsys):
    tiny["medfid"]["demo"] = None
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny))
    assert main(["medfid", "train", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "config key 'medfid.sources' is empty" in capsys.readouterr().err


def test_unknown_medfid_key_and_missing_weights_are_named(main, tiny, tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**tiny, "medfid": {**tiny["medfid"], "phase3": {}}}))
    assert main(["medfid", "train", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "config key 'medfid.phase3': unknown key" in capsys.readouterr().err
    del tiny["weights"]["imagenet_inception_v3"]
    path.write_text(yaml.safe_dump(tiny))
    assert main(["medfid", "train", "--config", str(path), "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "weights.imagenet_inception_v3.path" in capsys.readouterr().err


def test_schema_fragment_defaults_are_the_papers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"data": {"input": "x"}}))
    section = load_config(path)["medfid"]
    assert section["sampling"] == {"train_per_class": 400, "val_per_class": 50, "test_per_class": 100}
    assert section["phase1"] == {"epochs": 50, "optimizer": "rmsprop", "lr": 1e-4, "momentum": 0.9}
    assert section["phase2"]["epochs"] == 20 and section["phase2"]["unfreeze"] == ["Mixed_7b", "Mixed_7c"]
    assert section["input_size"] == 299 and len(section["classes"]) == 7
    assert schema()["properties"]["medfid"]["properties"]["validation"]["properties"]["noise_sd"]["default"] == 0.1
