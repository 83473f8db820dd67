"""Every file pydicom ships, plus pydicom-data's radiographs, through the whole data stage.

No one here wrote these files: CT, MR, US, RGB and palette colour, RT plans and
doses, structured reports, waveforms, multi-frame, big endian, deflated,
JPEG/JPEG-LS/JPEG 2000/RLE, truncated and malformed objects, DICOMDIRs and
plain text. The stage must account for each with a sensible status.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from deeppc.data import stage
from helpers import with_data

STATUSES = {"ok", "refused", "failed", "skipped"}


@pytest.fixture(scope="module")
def corpus(pydicom_corpus, pydicom_data_dir):
    root = pydicom_corpus.parent
    shutil.copytree(pydicom_data_dir, root / "pydicom-data", dirs_exist_ok=True)
    return root


def _run(corpus, tmp_path, data_cfg):
    summary = stage.run(corpus, tmp_path / "out", data_cfg, seed=1, threads=2)
    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv", keep_default_na=False)
    return summary, manifest.set_index("source")


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_default_policy_accounts_for_every_file(corpus, tmp_path, data_config):
    summary, m = _run(corpus, tmp_path, data_config)
    assert sorted(m.index) == _files(corpus)  # one row per file, no more, no less
    assert set(m.status) <= STATUSES
    assert (m.reason[m.status != "ok"] != "").all()  # every non-ok row says why
    assert not m.reason.str.startswith("unexpected error").any()
    assert summary["files"] == len(m) and sum(summary["status"].values()) == len(m)
    row = m.loc
    assert row["pydicom/test_files/reportsi.dcm"].status == "skipped"
    assert "no pixel data" in row["pydicom/test_files/reportsi.dcm"].reason
    assert "Basic Text SR" in row["pydicom/test_files/reportsi.dcm"].reason
    assert row["pydicom/test_files/rtplan.dcm"].status == "skipped"
    assert row["pydicom/test_files/README.txt"].reason.startswith("not a DICOM")
    assert row["pydicom/test_files/CT_small.dcm"].reason.startswith("modality 'CT' not in data.modalities")
    # real CR radiographs that still carry a (test) patient name are refused, values not echoed
    rg3 = row["pydicom-data/RG3_UNCR.dcm"]
    assert rg3.status == "refused" and "PatientName" in rg3.reason and "RG3" not in rg3.reason
    assert rg3.output == ""  # nothing of a refused file is written


def test_permissive_policy_decodes_everything_decodable(corpus, tmp_path, data_config):
    cfg = with_data(data_config, modalities=None, privacy={"policy": "warn"})
    summary, m = _run(corpus, tmp_path, cfg)
    assert sorted(m.index) == _files(corpus)
    assert not m.reason.str.startswith("unexpected error").any()
    row = m.loc
    assert row["pydicom/test_files/MR_truncated.dcm"].status == "failed"
    assert "could not be decoded" in row["pydicom/test_files/MR_truncated.dcm"].reason
    assert row["pydicom/test_files/SC_rgb_rle.dcm"].reason.startswith("colour image (RGB)")
    assert row["pydicom/test_files/examples_palette.dcm"].reason.startswith("colour image (PALETTE COLOR)")
    assert row["pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm"].reason.startswith("truncated file")
    # decoded images are written: assigned ones to the dataset, unassigned ones for inspection
    written = m[m.output != ""]
    assert len(written) >= 40
    for out in written.output:
        assert (tmp_path / "out" / out).is_file()
    # the same pixels in another syntax or byte order are one image, not two
    assert row["pydicom/test_files/MR_small_bigendian.dcm"].duplicate_of == "pydicom/test_files/MR_small.dcm"
    assert row["pydicom/test_files/MR_small_RLE.dcm"].reason.startswith("duplicate: identical pixels")
    # a multi-frame object contributes its first frame and says so
    assert "multiframe:first_of_" in row["pydicom-data/emri_small.dcm"]["flags"]
    # warnings from the DICOM parser are kept beside the file they concern
    assert "VR IS" in row["pydicom/test_files/badVR.dcm"].warnings
    # the lossless/lossy pairs of pydicom-data's radiographs: J2KR duplicates UNCR, lossy J2KI is a near-duplicate
    assert row["pydicom-data/RG3_UNCR.dcm"].duplicate_of == "pydicom-data/RG3_J2KR.dcm"
    assert row["pydicom-data/RG3_J2KI.dcm"].near_duplicate_of != ""
    assert "phi_warning:PatientName" in row["pydicom-data/RG3_J2KI.dcm"]["flags"]
    # RG3's unexposed collimator margins are white bands: the audit reports them
    assert "white_border" in row["pydicom-data/RG3_J2KR.dcm"]["flags"].split(";")
