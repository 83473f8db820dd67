"""Decoding real and constructed DICOM files into display-domain images."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from helpers import make_dataset
from deeppc.data import dicom, geometry
from deeppc.data.dicom import DecodeError

PCT = (0.5, 99.5)


def _decode_file(path) -> np.ndarray:
    return dicom.decode(pydicom.dcmread(path), PCT).image


@pytest.mark.parametrize("name", ["RG1", "RG3"])
def test_every_lossless_syntax_gives_the_same_image(pydicom_data_dir, name):
    """pydicom-data ships each radiograph as *_UNCR (original, uncompressed) and *_J2KR (JPEG 2000
    lossless), and the lossy JPEG 2000 *_J2KI with *_UNCI (its decompressed copy, uncompressed)."""
    original = _decode_file(pydicom_data_dir / f"{name}_UNCR.dcm")
    np.testing.assert_array_equal(_decode_file(pydicom_data_dir / f"{name}_J2KR.dcm"), original)
    lossy = _decode_file(pydicom_data_dir / f"{name}_J2KI.dcm")
    np.testing.assert_array_equal(_decode_file(pydicom_data_dir / f"{name}_UNCI.dcm"), lossy)
    assert lossy.shape == original.shape
    assert 0 < np.mean(np.abs(lossy - original)) < 0.01  # lossy: close, not equal


def test_monochrome1_extremity_shows_bright_bone(pydicom_data_dir):
    """RG3 is a MONOCHROME1 leg radiograph: after decoding, bone is bright and air dark.

    Its collimated (unexposed) margins are white, as on film; the air is the dark
    band between them and the leg."""
    ds = pydicom.dcmread(pydicom_data_dir / "RG3_UNCR.dcm")
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    thumb = geometry.square_thumbnail(dicom.decode(ds, PCT).image, 256)
    profile = thumb[20:200].mean(axis=0)  # column means across the shin
    air = profile[60:200].min()
    bone = profile[120:140].mean()
    assert air < 0.15
    assert bone > air + 0.4


def test_monochrome1_equals_inverted_monochrome2():
    """MONO1 with window (c, w) shows exactly what MONO2 shows for the mirrored data and window."""
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 4096, size=(40, 30)).astype(np.uint16)
    mono1 = make_dataset(raw, PhotometricInterpretation="MONOCHROME1", WindowCenter=1500, WindowWidth=2000)
    mono2 = make_dataset(4095 - raw, WindowCenter=4095 - 1500 + 1, WindowWidth=2000)
    np.testing.assert_allclose(dicom.decode(mono1, PCT).image, dicom.decode(mono2, PCT).image, atol=1e-5)


def test_presentation_lut_shape():
    raw = np.arange(64, dtype=np.uint16).reshape(8, 8) * 60
    plain = dicom.decode(make_dataset(raw, WindowCenter=2000, WindowWidth=4000), PCT).image
    inverse = dicom.decode(make_dataset(raw, WindowCenter=2000, WindowWidth=4000, PresentationLUTShape="INVERSE"), PCT).image
    np.testing.assert_allclose(inverse, 1 - plain, atol=1e-6)
    # MONOCHROME1 carries INVERSE by definition: one inversion, not two
    mono1 = make_dataset(raw, PhotometricInterpretation="MONOCHROME1", WindowCenter=2000, WindowWidth=4000)
    mono1_inverse = make_dataset(raw, PhotometricInterpretation="MONOCHROME1", WindowCenter=2000, WindowWidth=4000,
                                 PresentationLUTShape="INVERSE")  # fmt: skip
    np.testing.assert_array_equal(dicom.decode(mono1, PCT).image, dicom.decode(mono1_inverse, PCT).image)
    np.testing.assert_allclose(dicom.decode(mono1, PCT).image, 1 - plain, atol=1e-6)


def test_rescale_is_applied_before_the_window():
    raw = np.arange(100, dtype=np.uint16).reshape(10, 10) * 40
    base = dicom.decode(make_dataset(raw, WindowCenter=2000, WindowWidth=3000), PCT).image
    scaled = make_dataset(raw, RescaleSlope=2.0, RescaleIntercept=-100.0, WindowCenter=2 * 2000 - 100, WindowWidth=2 * 3000)
    # LINEAR windows use (c - 0.5, w - 1): equal up to that half-unit
    np.testing.assert_allclose(dicom.decode(scaled, PCT).image, base, atol=2e-3)


def test_window_functions_follow_the_standard():
    x = np.array([0.0, 999.5, 1000.0, 1500.0, 2000.0], dtype=np.float32)
    linear = dicom.apply_window(x, 1000, 1001, "LINEAR")  # c-0.5 = 999.5 maps to 0.5
    assert linear[1] == pytest.approx(0.5)
    exact = dicom.apply_window(x, 1000, 1000, "LINEAR_EXACT")
    np.testing.assert_allclose(exact, [0.0, 0.4995, 0.5, 1.0, 1.0], atol=1e-6)
    sigmoid = dicom.apply_window(x, 1000, 1000, "SIGMOID")
    assert sigmoid[2] == pytest.approx(0.5) and 0 < sigmoid[0] < sigmoid[-1] < 1


def test_percentile_window_without_dicom_window():
    rng = np.random.default_rng(1)
    raw = rng.normal(2000, 300, size=(64, 64)).clip(0, 4095).astype(np.uint16)
    out = dicom.decode(make_dataset(raw), PCT)
    assert out.meta["window_source"] == "percentile"
    assert out.image.min() == 0.0 and out.image.max() == 1.0
    assert 0.4 < np.median(out.image) < 0.6


def test_pixel_padding_is_black():
    raw = np.full((20, 20), 3000, dtype=np.uint16)
    raw[:, :5] = 4095
    out = dicom.decode(make_dataset(raw, PixelPaddingValue=4095, WindowCenter=2048, WindowWidth=4096), PCT)
    assert (out.image[:, :5] == 0).all() and (out.image[:, 5:] > 0.5).all()


def test_multiframe_takes_the_first_frame():
    frames = np.stack([np.full((6, 6), 100 * (i + 1), dtype=np.uint16) for i in range(3)])
    ds = make_dataset(frames[0], NumberOfFrames=3, WindowCenter=200, WindowWidth=400)
    ds.PixelData = frames.tobytes()
    out = dicom.decode(ds, PCT)
    assert out.meta["frames"] == 3
    np.testing.assert_array_equal(out.raw, frames[0])


def test_bad_objects_are_explained():
    ds = make_dataset(np.zeros((4, 4)))
    del ds.PixelData
    with pytest.raises(DecodeError, match="no pixel data") as err:
        dicom.decode(ds, PCT)
    assert err.value.status == "skipped"
    colour = make_dataset(np.zeros((4, 4)), PhotometricInterpretation="RGB", SamplesPerPixel=3)
    with pytest.raises(DecodeError, match="colour image"):
        dicom.decode(colour, PCT)
    short = make_dataset(np.zeros((8, 8)))
    short.PixelData = short.PixelData[:-20]
    with pytest.raises(DecodeError, match="could not be decoded") as err:
        dicom.decode(short, PCT)
    assert err.value.status == "failed"


def test_truncated_file_is_failed_not_skipped(pydicom_data_dir):
    data = (pydicom_data_dir / "RG3_UNCR.dcm").read_bytes()
    with pytest.raises(DecodeError) as err:
        ds = dicom.read_dataset(data[: len(data) // 2])
        dicom.decode(ds, PCT)
    assert err.value.status == "failed"


def test_detection_by_content():
    ds = make_dataset(np.zeros((4, 4)))
    import io

    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    assert dicom.looks_like_dicom(buf.getvalue())
    assert not dicom.looks_like_dicom(b"just some notes about the export\n" * 10)
    assert not dicom.looks_like_dicom(b"\x89PNG\r\n\x1a\n" + b"\0" * 200)
