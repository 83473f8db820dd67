"""Shared fixtures: real DICOM corpora shipped by pydicom and pydicom-data, small datasets."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pydicom
import pytest

from deeppc import config as deeppc_config

REPO = Path(__file__).resolve().parents[1]
OFFICIAL = REPO.parent / "shared" / "peers" / "stylegan2-ada-pytorch"  # where the workplace keeps it


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--official", type=Path, default=OFFICIAL,
                     help="NVlabs/stylegan2-ada-pytorch checkout for the peer tests (pytest -m peer)")


@pytest.fixture(scope="session")
def official_checkout(request) -> Path:
    """The official StyleGAN2-ADA code; a peer test without it fails, naming the option, rather than skip."""
    path = request.config.getoption("--official").expanduser().resolve()
    if not (path / "training" / "networks.py").is_file():
        pytest.fail(f"peer test: no stylegan2-ada-pytorch checkout at {path}; pass --official PATH", pytrace=False)
    return path


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def pydicom_data_dir() -> Path:
    """Real CR radiographs from the pydicom-data package (RG1 chest, RG3 extremity)."""
    return Path(str(resources.files("data_store") / "data"))


@pytest.fixture(scope="session")
def pydicom_corpus(tmp_path_factory) -> Path:
    """Every data file pydicom itself ships (~200: CT, MR, RGB, RT, SR, multi-frame, compressed, broken)."""
    src = Path(pydicom.__file__).parent / "data"
    dst = tmp_path_factory.mktemp("pydicom-corpus") / "pydicom"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return dst


@pytest.fixture()
def data_config() -> dict:
    """The validated default `data` section (input is a placeholder, tests pass folders directly)."""
    return deeppc_config.validate({"data": {"input": "unused"}})["data"]
