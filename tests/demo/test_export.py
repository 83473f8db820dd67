"""The synthetic demo export (deeppc.demo.export) and the radiograph phantom behind it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from deeppc.demo import export as demo, phantom
from deeppc.seeding import rng as seeded_rng

# small images keep the whole module to a few seconds; the structure does not depend on size
EXPORT = {"patients": 24, "seed": 11, "min_size": 96, "max_size": 160}
PATH_PATTERN = re.compile(r"^[0-9A-F]{8}/[0-9A-F]{8}/IM\d{6}(\.dcm)?$")
VIEW_WORDS = {"LAT": re.compile(r"\b(LAT|LATERAL|LL|RL)\b", re.I), "AP": re.compile(r"\b(AP|PA|FRONTAL)\b", re.I)}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("demo") / "export"
    return out, demo.write_demo_dataset(out, **EXPORT)


@pytest.fixture(scope="module")
def datasets(export: tuple[Path, pd.DataFrame]) -> dict[str, pydicom.Dataset]:
    """Every readable DICOM file (the truncated one without its pixels), keyed by truth path."""
    out, truth = export
    files = truth[~truth.case.isin(["non_dicom", "truth_table"])]
    return {f: pydicom.dcmread(out / f, stop_before_pixels=(c == "truncated")) for f, c in zip(files.file, files.case)}


def rows(truth: pd.DataFrame, case: str) -> pd.DataFrame:
    found = truth[truth.case == case]
    assert len(found) >= 1, f"no {case} file in the export"
    return found


def display(ds: pydicom.Dataset) -> np.ndarray:
    """What a viewer shows, in [0, 1] with 1 = white: modality LUT, VOI, photometric."""
    stored = ds.pixel_array
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        stored = stored[0]
    values = apply_modality_lut(stored, ds).astype(np.float64)
    if "WindowCenter" in ds or "VOILUTSequence" in ds:
        values = apply_voi_lut(values if "VOILUTSequence" not in ds else stored, ds).astype(np.float64)
    low, high = np.percentile(values, [0.5, 99.5]) if "WindowCenter" not in ds else (values.min(), values.max())
    if "VOILUTSequence" in ds:
        low, high = 0.0, 4095.0
    shown = np.clip((values - low) / max(high - low, 1e-9), 0.0, 1.0)
    return 1.0 - shown if ds.PhotometricInterpretation == "MONOCHROME1" else shown


def carried_views(ds: pydicom.Dataset) -> dict[str, set[str]]:
    """Which attributes name which view: {attribute: {views}}."""
    found: dict[str, set[str]] = {}
    texts = {k: str(ds.get(k, "") or "") for k in ("ViewPosition", "SeriesDescription", "ProtocolName")}
    if "ViewCodeSequence" in ds:
        meaning = str(ds.ViewCodeSequence[0].CodeMeaning)
        texts["ViewCodeSequence"] = {"lateral": "LAT", "antero-posterior": "AP"}.get(meaning, meaning)
    for key, text in texts.items():
        views = {v for v, pattern in VIEW_WORDS.items() if pattern.search(text)}
        if views:
            found[key] = views
    return found


# --- the export as a whole ------------------------------------------------------------

def test_same_seed_gives_identical_bytes(export: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    out, truth = export
    again = tmp_path / "again"
    truth2 = demo.write_demo_dataset(again, **EXPORT)
    pd.testing.assert_frame_equal(truth, truth2)
    for f in truth.file:
        assert (out / f).read_bytes() == (again / f).read_bytes(), f
    other = demo.write_demo_dataset(tmp_path / "other", **{**EXPORT, "seed": 12})
    assert set(other.pixels_sha256) - {""} != set(truth.pixels_sha256) - {""}


def test_refuses_to_write_into_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        demo.write_demo_dataset(tmp_path, patients=1, min_size=32, max_size=48)
    with pytest.raises(FileExistsError):
        demo.write_demo_dataset(tmp_path, patients=1, min_size=32, max_size=48, overwrite=True)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_truth_table_accounts_for_every_file(export: tuple[Path, pd.DataFrame]) -> None:
    out, truth = export
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert on_disk == sorted(truth.file)
    assert list(truth.columns[:8]) == ["file", "patient_id", "view", "case", "expected_status", "modality",
                                       "photometric", "transfer_syntax"]
    stored = pd.read_csv(out / demo.TRUTH_NAME, keep_default_na=False, dtype=str)
    assert list(stored.file) == list(truth.file) and list(stored.case) == list(truth.case)
    for case, status in [("normal", "ok"), ("truncated", "failed"), ("phi", "refused"), ("burned_in", "refused"),
                         ("duplicate", "skipped"), ("structured_report", "skipped"), ("colour_sc", "skipped"),
                         ("non_dicom", "skipped"), ("near_duplicate", "ok"), ("multiframe", "ok"), ("no_view", "skipped")]:
        assert set(rows(truth, case).expected_status) == {status}, case
    assert (truth.case == "normal").mean() > 0.6  # normal images dominate
    assert 50 <= len(truth) <= 75


def test_paths_look_like_a_pacs_export(export: tuple[Path, pd.DataFrame]) -> None:
    _, truth = export
    images = truth[~truth.case.isin(["non_dicom", "truth_table"])].file
    assert all(PATH_PATTERN.match(f) for f in images)
    assert any(f.endswith(".dcm") for f in images) and any(not f.endswith(".dcm") for f in images)
    assert not any(pid in f for pid in truth.patient_id if pid for f in truth.file)
    assert not any("DOE" in f.upper() for f in truth.file)


def test_patients_have_both_views_in_one_study(export: tuple[Path, pd.DataFrame]) -> None:
    _, truth = export
    images = truth[truth.drawn_view != ""]
    assert images.patient_id.nunique() == EXPORT["patients"]
    for pid, group in images.groupby("patient_id"):
        assert {"LAT", "AP"} <= set(group.drawn_view), pid
        assert group.study_instance_uid.nunique() == 1 and re.fullmatch(r"ANON-\d{4}", pid)


def test_attribute_variety(export: tuple[Path, pd.DataFrame], datasets: dict[str, pydicom.Dataset]) -> None:
    _, truth = export
    assert {ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless, JPEG2000Lossless} <= set(truth.transfer_syntax)
    assert {"MONOCHROME1", "MONOCHROME2", "RGB"} <= set(truth.photometric)
    assert {"CR", "DX", "SR", "OT"} <= set(truth.modality)
    assert {"10", "12", "15"} <= set(truth.bits_stored.astype(str))
    images = [ds for ds in datasets.values() if ds.Modality in ("CR", "DX")]
    shapes = {(int(ds.Rows), int(ds.Columns)) for ds in images}
    low, high = EXPORT["min_size"], EXPORT["max_size"]
    assert all(low <= r <= high and low <= c <= high for r, c in shapes)
    assert any(r > c for r, c in shapes) and any(r < c for r, c in shapes)
    assert any("RescaleSlope" in ds and float(ds.RescaleSlope) != 1 for ds in images)
    assert any("WindowCenter" not in ds and "VOILUTSequence" not in ds for ds in images)
    assert any("VOILUTFunction" in ds for ds in images) and any("VOILUTSequence" in ds for ds in images)
    assert any("BodyPartExamined" not in ds or not ds.BodyPartExamined for ds in images)
    assert any(ds.get("BodyPartExamined") == "ELBOW" for ds in images)


def test_dicom_structure(export: tuple[Path, pd.DataFrame], datasets: dict[str, pydicom.Dataset]) -> None:
    _, truth = export
    sop_classes = {"CR": demo.CR_STORAGE, "DX": demo.DX_STORAGE}
    uids = [ds.SOPInstanceUID for ds in datasets.values()]
    assert len(set(uids)) == len(uids)
    for f, ds in datasets.items():
        row = truth.set_index("file").loc[f]
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.file_meta.TransferSyntaxUID == row.transfer_syntax
        assert ds.Modality == row.modality and ds.PatientID == row.patient_id
        if row.case == "phi":
            continue
        assert ds.PatientName in ("", "ANONYMOUS") and not ds.get("PatientBirthDate")
        assert ds.PatientIdentityRemoved == "YES"
        if ds.Modality in sop_classes and row.case != "multiframe":
            assert ds.SOPClassUID == sop_classes[ds.Modality]
        if ds.Modality == "DX" and row.case not in ("multiframe",):
            assert ds.PresentationIntentType == "FOR PRESENTATION" and "WindowCenter" in ds
            assert ds.PresentationLUTShape == {"MONOCHROME2": "IDENTITY", "MONOCHROME1": "INVERSE"}[ds.PhotometricInterpretation]
            assert "ImagerPixelSpacing" in ds and "RescaleSlope" in ds


def test_pixels_decode_to_what_was_written(export: tuple[Path, pd.DataFrame]) -> None:
    out, truth = export
    hashed = truth[truth.pixels_sha256 != ""]
    assert {RLELossless, JPEG2000Lossless} <= set(hashed.transfer_syntax)
    for f, expected in zip(hashed.file, hashed.pixels_sha256):
        pixels = pydicom.dcmread(out / f).pixel_array
        assert demo._sha(pixels.astype(pixels.dtype.newbyteorder("<"))) == expected, f


def test_exact_duplicate_decodes_like_its_uncompressed_source(export: tuple[Path, pd.DataFrame]) -> None:
    out, truth = export
    copy = rows(truth, "duplicate").iloc[0]
    source = truth.set_index("file").loc[copy.duplicate_of]
    assert copy.file > copy.duplicate_of  # sorts after its source
    assert source.transfer_syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
    assert copy.transfer_syntax == RLELossless
    a, b = pydicom.dcmread(out / copy.file), pydicom.dcmread(out / copy.duplicate_of)
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert np.array_equal(a.pixel_array, b.pixel_array)


def test_near_duplicate_differs_slightly(export: tuple[Path, pd.DataFrame]) -> None:
    out, truth = export
    near = rows(truth, "near_duplicate").iloc[0]
    a, b = pydicom.dcmread(out / near.file), pydicom.dcmread(out / near.duplicate_of)
    diff = np.abs(a.pixel_array.astype(int) - b.pixel_array.astype(int))
    assert 0 < diff.max() <= 2 and a.SOPInstanceUID != b.SOPInstanceUID


def test_every_normal_image_shows_bone_bright_on_dark_air(export: tuple[Path, pd.DataFrame]) -> None:
    """Photometric, rescale and window agree with the stored values in every combination."""
    out, truth = export
    normal = rows(truth, "normal")
    for f in normal.file:
        shown = display(pydicom.dcmread(out / f))
        values, counts = np.unique(np.round(shown, 2), return_counts=True)
        assert values[np.argmax(counts)] < 0.1, f  # the most common value is air, and it is dark
        assert np.percentile(shown, 99.5) > 0.7, f  # and the bone is bright
    inverted = rows(truth, "defect:inverted").iloc[0]
    shown = display(pydicom.dcmread(out / inverted.file))
    values, counts = np.unique(np.round(shown, 2), return_counts=True)
    assert values[np.argmax(counts)] > 0.9


def test_monochrome1_stores_bone_low(export: tuple[Path, pd.DataFrame]) -> None:
    out, truth = export
    normal = rows(truth, "normal")
    for f, photometric in zip(normal.file, normal.photometric):
        ds = pydicom.dcmread(out / f)
        stored = ds.pixel_array.astype(np.int64)
        air = np.bincount(stored.ravel()).argmax()  # the flat direct-exposure background
        middle = (stored.min() + stored.max()) / 2
        assert (air > middle) == (photometric == "MONOCHROME1"), f
        densest = np.percentile(stored, 0.5) if photometric == "MONOCHROME1" else np.percentile(stored, 99.5)
        assert abs(densest - air) > 0.3 * (stored.max() - stored.min()), f  # bone at the far end from air


def test_view_is_carried_as_the_truth_says(export: tuple[Path, pd.DataFrame], datasets: dict[str, pydicom.Dataset]) -> None:
    _, truth = export
    carriers = {"view_position": "ViewPosition", "series_description": "SeriesDescription",
                "protocol": "ProtocolName", "view_code": "ViewCodeSequence"}
    images = truth[truth.case.isin(["normal", "no_view"])]
    assert set(images.view_source) == {*carriers, "none"}
    for f, view, source in zip(images.file, images.view, images.view_source):
        found = carried_views(datasets[f])
        if source == "none":
            assert found == {} and view == "", f
            continue
        assert carriers[source] in found, f
        assert set().union(*found.values()) == {view}, f
        if source == "view_code":
            assert set(found) == {"ViewCodeSequence"}, f
    lat_codes = [datasets[f].ViewCodeSequence[0].CodeMeaning for f, s in zip(images.file, images.view_source)
                 if s == "view_code"]
    assert {"lateral", "antero-posterior"} <= set(lat_codes)


def test_bad_cases(export: tuple[Path, pd.DataFrame], datasets: dict[str, pydicom.Dataset]) -> None:
    out, truth = export
    truncated = pydicom.dcmread(out / rows(truth, "truncated").file.iloc[0])
    with pytest.raises(ValueError):
        truncated.pixel_array
    report = datasets[rows(truth, "structured_report").file.iloc[0]]
    assert report.SOPClassUID == demo.BASIC_TEXT_SR_STORAGE and "PixelData" not in report
    capture = pydicom.dcmread(out / rows(truth, "colour_sc").file.iloc[0])
    assert capture.SOPClassUID == demo.SC_STORAGE and capture.pixel_array.shape[-1] == 3
    phi = datasets[rows(truth, "phi").file.iloc[0]]
    assert phi.PatientName == "DOE^JANE" and phi.PatientBirthDate and phi.InstitutionName
    assert datasets[rows(truth, "burned_in").file.iloc[0]].BurnedInAnnotation == "YES"
    multi = pydicom.dcmread(out / rows(truth, "multiframe").file.iloc[0])
    assert int(multi.NumberOfFrames) == 2 and multi.pixel_array.shape[0] == 2
    with pytest.raises(InvalidDicomError):
        pydicom.dcmread(out / rows(truth, "non_dicom").file.iloc[0])


def test_acquisition_defects(export: tuple[Path, pd.DataFrame]) -> None:
    out, truth = export
    assert {f"defect:{d}" for d in demo.DEFECTS} <= set(truth.case)
    assert all(c.removeprefix("defect:") == d for c, d in zip(truth.case, truth.defects) if c.startswith("defect:"))

    def shown(case: str) -> np.ndarray:
        return display(pydicom.dcmread(out / rows(truth, case).file.iloc[0]))

    def ring(image: np.ndarray) -> np.ndarray:
        return np.concatenate([image[:2].ravel(), image[-2:].ravel(), image[:, :2].ravel(), image[:, -2:].ravel()])

    assert ring(shown("defect:white_border")).mean() > 0.95
    assert ring(shown("defect:black_border")).max() == 0.0
    rotated = shown("defect:rotated")
    assert max(rotated[0, 0], rotated[0, -1], rotated[-1, 0], rotated[-1, -1]) == 0.0
    normal = [anatomy_share(out / f) for f in rows(truth, "normal").file]
    assert anatomy_share(out / rows(truth, "defect:shrunk").file.iloc[0]) < min(0.5 * np.median(normal), min(normal))
    assert anatomy_share(out / rows(truth, "defect:mostly_empty").file.iloc[0]) < 0.15


def anatomy_share(path: Path) -> float:
    """Share of pixels clearly away from the flat air background, in stored values."""
    stored = pydicom.dcmread(path).pixel_array.astype(np.int64)
    air = np.bincount(stored.ravel()).argmax()
    return float((np.abs(stored - air) > 0.1 * (stored.max() - stored.min())).mean())


# --- the phantom ----------------------------------------------------------------------

def _bone_anisotropy(labels: np.ndarray) -> float:
    ys, xs = np.nonzero(labels == phantom.LABEL_BONE)
    low, high = np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(float)))
    return high / low


def test_lateral_elbow_is_flexed_and_frontal_is_straight() -> None:
    for seed in range(6):
        lat = phantom.acquire("elbow", "LAT", seeded_rng(seed, "lat"), (128, 112))
        ap = phantom.acquire("elbow", "AP", seeded_rng(seed, "ap"), (128, 112))
        assert 75 <= lat.pose["limb_angle"] <= 105 and 165 <= ap.pose["limb_angle"] <= 175
        # an L-shaped skeleton spreads in two directions, a straight one along one axis
        assert _bone_anisotropy(lat.labels) < 6 < 10 < _bone_anisotropy(ap.labels)


def test_bone_brighter_than_soft_tissue_brighter_than_air() -> None:
    for view in phantom.VIEWS:
        image = phantom.acquire("elbow", view, seeded_rng(3, view), (256, 200), collimation=0.1)
        shown = phantom.to_display(image.raw, image.window)
        mean = {k: shown[image.labels == k].mean() for k in range(5)}
        assert mean[phantom.LABEL_BONE] > mean[phantom.LABEL_SOFT] + 0.15
        assert mean[phantom.LABEL_SOFT] > mean[phantom.LABEL_AIR] + 0.15 and mean[phantom.LABEL_AIR] < 0.05
        assert mean[phantom.LABEL_COLLIMATED] > 0.95  # unexposed border: bright
        assert shown[image.labels == phantom.LABEL_MARKER].max() > 0.95  # lead letter
        assert image.raw.dtype == np.uint16 and image.raw.max() < 2**12


@pytest.mark.parametrize("bits", [10, 12, 15])
def test_raw_values_fit_the_bit_depth(bits: int) -> None:
    image = phantom.acquire("elbow", "AP", seeded_rng(1), (64, 80), bits=bits)
    centre, width = image.window
    assert image.raw.max() < 2**bits and 0 < centre - width / 2 < centre + width / 2 < 2**bits
    assert image.raw.shape == (64, 80)


def test_same_generator_state_same_image() -> None:
    a = phantom.draw("knee", "LAT", seeded_rng(5), (96, 96))
    b = phantom.draw("knee", "LAT", seeded_rng(5), (96, 96))
    c = phantom.draw("knee", "LAT", seeded_rng(6), (96, 96))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_every_body_part_draws_small_and_they_are_distinct() -> None:
    parts = phantom.BODY_PARTS
    assert len(parts) >= 5
    train = {p: [phantom.draw(p, v, seeded_rng(s, "train", p, v), (64, 64)) for s in range(8) for v in phantom.VIEWS]
             for p in parts}
    for images in train.values():
        assert all(i.dtype == np.float32 and 0 <= i.min() and i.max() <= 1 and i.std() > 0.05 for i in images)
    correct = total = 0
    for p in parts:
        for v in phantom.VIEWS:
            for s in range(3):
                x = phantom.draw(p, v, seeded_rng(s, "test", p, v), (64, 64))
                nearest = min((np.abs(t - x).mean(), q) for q in parts for t in train[q])[1]
                correct, total = correct + (nearest == p), total + 1
    assert correct / total >= 0.7  # chance is 1/6


def test_rejects_unknown_parts_and_views() -> None:
    with pytest.raises(ValueError, match="body part"):
        phantom.draw("skull", "AP", seeded_rng(0), (64, 64))
    with pytest.raises(ValueError, match="view"):
        phantom.draw("elbow", "OBLIQUE", seeded_rng(0), (64, 64))


def test_full_size_elbow_is_cheap() -> None:
    phantom.acquire("elbow", "LAT", seeded_rng(0), (768, 768))
    start = time.process_time()
    for seed in range(3):
        phantom.acquire("elbow", "LAT", seeded_rng(seed), (768, 768))
    # budget is well under 0.1 s per image on one core; the bound leaves room for a busy machine
    assert (time.process_time() - start) / 3 < 0.3
