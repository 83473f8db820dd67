"""The data stage end to end on the demo export, checked against its truth table."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from PIL import Image

from deeppc.data import stage
from deeppc.data.audit import FLAGS
from deeppc.demo.export import write_demo_dataset
from helpers import with_data


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "dicom"
    truth = write_demo_dataset(root, patients=12, seed=3, min_size=160, max_size=320)
    return root, truth


@pytest.fixture(scope="module")
def run(demo, tmp_path_factory):
    from deeppc import config

    root, truth = demo
    cfg = config.validate({"data": {"input": str(root), "image_size": 64}})["data"]
    out = tmp_path_factory.mktemp("out")
    summary = stage.run(root, out, cfg, seed=11, threads=2)
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    joined = truth.merge(manifest, left_on="file", right_on="source", suffixes=("_truth", ""))
    return out, summary, manifest, joined, cfg


def test_status_of_every_file_matches_the_truth(run, demo):
    _, summary, manifest, joined, _ = run
    assert len(manifest) == len(demo[1]) == len(joined)
    mismatched = joined[joined.status != joined.expected_status]
    assert mismatched.empty, mismatched[["file", "case", "status", "reason"]]
    assert summary["status"] == manifest.status.value_counts().to_dict()


def test_bad_cases_have_clear_reasons(run):
    joined = run[3].set_index("case")
    assert joined.loc["truncated", "reason"].startswith(("truncated file", "pixel data could not be decoded"))
    assert joined.loc["structured_report", "reason"].startswith("no pixel data")
    assert joined.loc["colour_sc", "reason"].startswith("colour image")
    assert "PatientName" in joined.loc["phi", "reason"]
    assert "BurnedInAnnotation=YES" in joined.loc["burned_in", "reason"]
    assert joined.loc["duplicate", "reason"].startswith("duplicate: identical pixels")
    assert joined.loc["non_dicom", "reason"].startswith("not a DICOM")
    assert "multiframe:first_of_2" in joined.loc["multiframe", "flags"]
    assert (joined.loc[["phi", "burned_in"], "output"] == "").all()  # nothing of a refused file is written


def test_views_match_and_unassigned_are_reported(run):
    out, _, _, joined, _ = run
    ok = joined[joined.status == "ok"]
    assert (ok.view == ok.view_truth).all()
    unassigned = joined[joined.case == "no_view"]
    assert (unassigned.reason.str.startswith("view unassigned")).all()
    for rel in unassigned.output:  # kept for a human to label, outside the dataset
        assert rel.startswith("unassigned/") and (out / rel).is_file()


def test_each_defect_is_flagged_and_normal_images_are_not(run):
    joined = run[3]
    for _, row in joined[joined.case.str.startswith("defect:")].iterrows():
        assert row.defects in row["flags"].split(";"), (row.case, row["flags"])
    normal = joined[joined.case == "normal"]
    audit_flags = normal["flags"].apply(lambda f: set(f.split(";")) & set(FLAGS))
    assert (audit_flags.apply(len) == 0).all(), normal[audit_flags.apply(len) > 0][["file", "flags"]]


def test_near_duplicates_are_flagged_and_share_a_split(run):
    joined = run[3]
    pair = joined[joined.case == "near_duplicate"].iloc[0]
    original = joined.set_index("file").loc[pair.duplicate_of_truth]
    assert "near_duplicate" in pair["flags"] and "near_duplicate" in original["flags"]
    assert pair.near_duplicate_of == original.source
    assert pair.split == original.split


def test_patients_stay_on_one_side(run):
    ok = run[3][run[3].status == "ok"]
    sides = ok.groupby("patient_key").split.nunique()
    assert (sides == 1).all()
    assert set(ok.split) == {"train", "holdout"}


def test_outputs_are_square_8bit_pngs_without_metadata_or_names(run):
    out, _, manifest, _, cfg = run
    written = manifest[manifest.status == "ok"]
    assert len(written) > 0
    for rel, src in zip(written.output, written.source):
        assert rel.startswith(tuple(f"{v}/" for v in cfg["views"]))
        name = rel.rsplit("/", 1)[1]
        assert name.startswith("img-") and src.rsplit("/", 1)[-1].split(".")[0] not in name
        with Image.open(out / rel) as im:
            assert im.mode == "L" and im.size == (64, 64) and im.format == "PNG"
            assert not im.info.get("dpi") and not getattr(im, "text", {})
    files_on_disk = sorted(p.relative_to(out).as_posix() for v in cfg["views"] for p in (out / v).rglob("*.png"))
    assert files_on_disk == sorted(written.output)


def test_audit_outputs(run):
    out, summary, _, joined, _ = run
    flags = pd.read_csv(out / "audit" / "flags.csv")
    assert set(FLAGS) <= set(flags.columns)
    with Image.open(out / "audit" / "contact_sheet.png") as sheet:
        assert sheet.size[0] >= 128
    n_defects = (joined.case.str.startswith("defect:")).sum()
    assert sum(summary["flags"].get(f, 0) for f in FLAGS) >= n_defects


def test_rerun_is_identical(run, demo, tmp_path):
    out, _, manifest, _, cfg = run
    stage.run(demo[0], tmp_path, cfg, seed=11, threads=1)
    again = pd.read_csv(tmp_path / "manifest.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(again, manifest)
    for rel in manifest.output[manifest.output != ""]:
        assert (tmp_path / rel).read_bytes() == (out / rel).read_bytes()


def test_exclude_flagged_moves_images_out_of_training(demo, run, tmp_path):
    cfg = with_data(run[4], audit={"exclude_flagged": True})
    stage.run(demo[0], tmp_path, cfg, seed=11, threads=2)
    m = pd.read_csv(tmp_path / "manifest.csv", keep_default_na=False)
    excluded = m[m.split == "excluded"]
    assert len(excluded) >= 5
    assert excluded.reason.str.startswith("excluded from training by audit").all()
    for rel in excluded.output:
        assert "/excluded/" in rel and (tmp_path / rel).is_file()


def test_labels_csv_overrides_and_body_part_filter(demo, run, tmp_path):
    root, truth = demo
    unlabelled = truth[truth.case == "no_view"].file.tolist()
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"path": unlabelled, "view": ["LAT"] * len(unlabelled)}).to_csv(labels, index=False)
    cfg = with_data(run[4], labels_csv=str(labels), body_parts=["KNEE"], keep_unknown_body_part=False)
    stage.run(root, tmp_path / "out", cfg, seed=11, threads=1)
    m = pd.read_csv(tmp_path / "out" / "manifest.csv", keep_default_na=False).set_index("source")
    # the body-part filter keeps no elbow; labels still decide the view of what gets that far
    assert not (m.status == "ok").any()
    assert m.loc[unlabelled[0], "reason"].startswith("body part")
    cfg = with_data(run[4], labels_csv=str(labels))
    stage.run(root, tmp_path / "out2", cfg, seed=11, threads=1)
    m = pd.read_csv(tmp_path / "out2" / "manifest.csv", keep_default_na=False).set_index("source")
    assert (m.loc[unlabelled, "view"] == "LAT").all() and (m.loc[unlabelled, "view_source"] == "labels_csv").all()


def test_privacy_warn_policy_keeps_and_flags(demo, run, tmp_path):
    cfg = with_data(run[4], privacy={"policy": "warn"})
    stage.run(demo[0], tmp_path, cfg, seed=11, threads=1)
    m = pd.read_csv(tmp_path / "manifest.csv", keep_default_na=False)
    phi = m[m["flags"].str.contains("phi_warning")]
    assert len(phi) >= 2 and (phi.status != "refused").all()


def test_png_tree_input(run, tmp_path):
    """A tree of already-exported PNGs (as MURA ships) goes through the same stage; views from folder names."""
    out = run[0]
    for view in ("LAT", "AP"):
        shutil.copytree(out / view / "train", tmp_path / "export" / f"elbow_{view}")
    cfg = with_data(run[4], image_size=32)
    summary = stage.run(tmp_path / "export", tmp_path / "out", cfg, seed=1, threads=1)
    m = pd.read_csv(tmp_path / "out" / "manifest.csv", keep_default_na=False)
    assert (m.status == "ok").all() and (m.kind == "png").all()
    assert (m.view == m.source.str.extract(r"elbow_(\w+)/")[0]).all()
    assert sum(summary["views"][v]["train"] + summary["views"][v]["holdout"] for v in ("LAT", "AP")) == len(m)


def test_a_failed_run_leaves_earlier_outputs_intact(demo, run, tmp_path, monkeypatch):
    cfg = run[4]
    stage.run(demo[0], tmp_path, cfg, seed=11, threads=1)
    before = (tmp_path / "manifest.csv").read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(stage, "_write_tables", boom)
    with pytest.raises(RuntimeError):
        stage.run(demo[0], tmp_path, cfg, seed=12, threads=1)
    assert (tmp_path / "manifest.csv").read_bytes() == before
    assert len(list((tmp_path / "LAT" / "train").glob("*.png"))) > 0


def test_missing_input_folder_is_named(tmp_path, run):
    with pytest.raises(FileNotFoundError, match="data.input"):
        stage.run(tmp_path / "nope", tmp_path / "out", run[4], seed=1)
