"""Config validation: defaults, unknown keys and types named, shipped configs valid."""

from __future__ import annotations

import pytest
import yaml

from deeppc import config


def test_defaults_are_filled():
    cfg = config.validate({"data": {"demo": {}}})
    assert cfg["seed"] == 2023 and cfg["data"]["image_size"] == 256
    assert cfg["data"]["demo"]["patients"] == 24
    assert "LAT" in cfg["data"]["view_rules"]["keywords"]
    assert cfg["data"]["privacy"]["policy"] == "refuse"


def test_unknown_key_is_named():
    with pytest.raises(config.ConfigError, match=r"config key 'data\.imagesize': unknown key"):
        config.validate({"data": {"demo": {}, "imagesize": 128}})


def test_wrong_type_is_named():
    with pytest.raises(config.ConfigError, match=r"config key 'data\.split\.holdout_fraction'"):
        config.validate({"data": {"demo": {}, "split": {"holdout_fraction": "a lot"}}})


def test_input_or_demo_exactly_one():
    with pytest.raises(config.ConfigError, match="exactly one of data.input"):
        config.validate({"data": {"demo": {}, "input": "x"}})
    with pytest.raises(config.ConfigError, match="exactly one of data.input"):
        config.validate({"data": {}})


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(config.ConfigError, match="not found"):
        config.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load(bad)


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml"])
def test_shipped_configs_are_valid(repo, name):
    raw = yaml.safe_load((repo / "config" / name).read_text())
    config.validate(raw)
