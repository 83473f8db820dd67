"""DICOM detection and decoding to a display-ready grayscale image.

The display pipeline follows DICOM PS3.3 C.11 in order: stored values ->
Modality LUT (rescale or LUT) -> VOI (LUT, window, or a robust percentile
window when the file carries none) -> polarity (MONOCHROME1 and Presentation
LUT Shape INVERSE) so that bone is always bright. The result is float32 in
[0, 1]. Pixel padding (PixelPaddingValue) is mapped to black.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")
# First element groups seen at the start of DICOM files written without the
# 128-byte preamble: the file meta group or the identifying group.
_HEADLESS_GROUPS = {0x0002, 0x0008}
_PERCENTILE_STRIDE_TARGET = 512  # subsample long sides to ~this for the percentile window


class DecodeError(Exception):
    """A file that cannot become an image: carries the manifest status and reason."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Decoded:
    """A decoded radiograph in display domain plus what the manifest records about it."""

    image: np.ndarray  # float32 (H, W) in [0, 1], bone bright
    raw: np.ndarray  # (H, W) stored values of the first frame, for audit and duplicate checks
    meta: dict[str, Any] = field(default_factory=dict)


def looks_like_dicom(data: bytes) -> bool:
    """DICOM by content: the 'DICM' magic after the preamble, or a headless data set."""
    if data[128:132] == b"DICM":
        return True
    if len(data) < 8:
        return False
    little = int.from_bytes(data[0:2], "little")
    big = int.from_bytes(data[0:2], "big")
    return little in _HEADLESS_GROUPS or big in _HEADLESS_GROUPS


def read_dataset(data: bytes) -> Dataset:
    """Parse a DICOM data set from bytes (pixel data left encoded)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = pydicom.dcmread(io.BytesIO(data), force=data[128:132] != b"DICM")
        except (InvalidDicomError, EOFError, ValueError, KeyError, OSError, NotImplementedError) as exc:
            raise DecodeError("failed", f"unreadable DICOM: {_short(exc)}") from None
    for warning in caught:  # hand them on to the caller's record of this file
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    truncated = [str(w.message) for w in caught if "end of file" in str(w.message).lower()]
    if truncated:
        raise DecodeError("failed", f"truncated file: {_short(truncated[0])}")
    return ds


def header_meta(ds: Dataset) -> dict[str, Any]:
    """The manifest's per-file DICOM fields (no identifying values)."""
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return {
        "modality": str(ds.get("Modality", "") or ""),
        "body_part": str(ds.get("BodyPartExamined", "") or ""),
        "photometric": str(ds.get("PhotometricInterpretation", "") or ""),
        "transfer_syntax": tsyntax.name if tsyntax is not None else "",
        "bits_stored": _int(ds.get("BitsStored")),
        "rows": _int(ds.get("Rows")),
        "cols": _int(ds.get("Columns")),
        "frames": _int(ds.get("NumberOfFrames")) or (1 if "PixelData" in ds else 0),
        "sop_class": _sop_class_name(ds),
    }


def decode(ds: Dataset, percentiles: tuple[float, float], use_dicom_window: bool = True) -> Decoded:
    """Decode the first frame of `ds` into a display-domain image (see module doc)."""
    meta = header_meta(ds)
    check_grayscale_image(ds, meta)
    raw = _first_frame(ds, meta)
    inverted = _inverted_polarity(ds)
    linear = _linear_display(raw, ds, percentiles, use_dicom_window)
    if linear is not None:  # rescale, linear window and polarity as one affine map of the stored values
        scale, offset, meta["window_source"] = linear
        image = _affine(raw, -scale if inverted else scale, 1.0 - offset if inverted else offset)
    else:
        image, meta["window_source"] = _voi(_modality_lut(raw, ds), raw, ds, percentiles, use_dicom_window)
        if inverted:
            np.subtract(1.0, image, out=image)
    padding = _padding_mask(raw, ds)
    if padding is not None:
        image[padding] = 0.0
    return Decoded(image=np.ascontiguousarray(image, dtype=np.float32), raw=raw, meta=meta)


def _linear_display(raw: np.ndarray, ds: Dataset, percentiles: tuple[float, float],
                    use_dicom: bool) -> tuple[float, float, str] | None:  # fmt: skip
    """(scale, offset, source) with display = clip(raw * scale + offset), when the chain is linear."""
    if "ModalityLUTSequence" in ds or (use_dicom and "VOILUTSequence" in ds):
        return None
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    window = _window(ds) if use_dicom else None
    if window is not None:
        if window[2] == "SIGMOID":
            return None
        low, span = window_range(*window)
        source = "window"
    else:
        low, high = _percentile_range(raw, percentiles, slope, intercept)
        low, span, source = low, high - low, "percentile"
    return slope / span, (intercept - low) / span, source


def _affine(raw: np.ndarray, scale: float, offset: float) -> np.ndarray:
    out = raw.astype(np.float32)
    out *= np.float32(scale)
    out += np.float32(offset)
    return np.clip(out, 0.0, 1.0, out=out)


def check_grayscale_image(ds: Dataset, meta: dict[str, Any]) -> None:
    """Raise DecodeError unless `ds` holds grayscale pixel data (checked before any decoding)."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise DecodeError("skipped", f"no pixel data: not an image object ({meta['sop_class'] or 'unknown SOP class'})")
    photometric = meta["photometric"]
    if not photometric:
        raise DecodeError("failed", "pixel data without PhotometricInterpretation: cannot interpret it")
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1 or photometric not in GRAYSCALE:
        raise DecodeError("skipped", f"colour image ({photometric}): radiographs are grayscale")


def _first_frame(ds: Dataset, meta: dict[str, Any]) -> np.ndarray:
    from pydicom.pixels import pixel_array

    try:
        arr = pixel_array(ds, index=0) if meta["frames"] > 1 else ds.pixel_array
    except Exception as exc:  # decoders raise many types; all mean "cannot decode this file"
        raise DecodeError("failed", f"pixel data could not be decoded ({meta['transfer_syntax']}): {_short(exc)}") from None
    if arr.ndim != 2:
        raise DecodeError("skipped", f"unexpected pixel array shape {arr.shape} for a single grayscale frame")
    if arr.size == 0 or not np.isfinite(arr).all():
        raise DecodeError("failed", "pixel data is empty or not finite")
    return arr


def _is_identity_rescale(ds: Dataset) -> bool:
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    return "ModalityLUTSequence" not in ds and slope == 1.0 and intercept == 0.0


def _modality_lut(raw: np.ndarray, ds: Dataset) -> np.ndarray:
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels import apply_modality_lut

        return apply_modality_lut(raw, ds).astype(np.float32)
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    values = raw.astype(np.float32)
    if slope != 1.0 or intercept != 0.0:
        values = values * np.float32(slope) + np.float32(intercept)
    return values


def _voi(values: np.ndarray, raw: np.ndarray, ds: Dataset, percentiles: tuple[float, float],
         use_dicom: bool) -> tuple[np.ndarray, str]:  # fmt: skip
    if use_dicom and "VOILUTSequence" in ds:
        from pydicom.pixels import apply_voi

        # a LUT is indexed by integers: the stored values, or the rescaled ones rounded
        index = raw if _is_identity_rescale(ds) else np.rint(values).astype(np.int64)
        lut_bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        out = apply_voi(index, ds).astype(np.float32) / np.float32(2**lut_bits - 1)
        return np.clip(out, 0.0, 1.0), "voi_lut"
    window = _window(ds) if use_dicom else None
    if window is not None:
        return apply_window(values, *window), "window"
    return percentile_window(values, percentiles), "percentile"


def _window(ds: Dataset) -> tuple[float, float, str] | None:
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
    if center is None or width is None or width <= 0:
        return None
    return float(center), float(width), str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()


def window_range(center: float, width: float, function: str = "LINEAR") -> tuple[float, float]:
    """(low, span) of a linear DICOM window (PS3.3 C.11.2.1.2/3): display = (value - low) / span."""
    if function == "LINEAR_EXACT":
        return center - width / 2.0, width
    # LINEAR; unknown functions fall back to it as the standard says
    return (center - 0.5) - (width - 1.0) / 2.0, max(width - 1.0, 1.0)


def apply_window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM window (PS3.3 C.11.2.1.2/3) mapped to [0, 1]."""
    if function == "SIGMOID":
        out = 1.0 / (1.0 + np.exp(-4.0 * (values - np.float32(center)) / np.float32(width)))
        return out.astype(np.float32)
    low, span = window_range(center, width, function)
    out = (values - np.float32(low)) / np.float32(span)
    return np.clip(out, 0.0, 1.0, out=out)


def _percentile_range(values: np.ndarray, percentiles: tuple[float, float], slope: float = 1.0,
                      intercept: float = 0.0) -> tuple[float, float]:  # fmt: skip
    """Robust (low, high) from percentiles of a strided subsample, after rescale."""
    stride = max(1, max(values.shape) // _PERCENTILE_STRIDE_TARGET)
    sample = values[::stride, ::stride].astype(np.float64) * slope + intercept
    low, high = np.percentile(sample, percentiles)
    return float(low), float(high) if high > low else float(low) + 1.0


def percentile_window(values: np.ndarray, percentiles: tuple[float, float]) -> np.ndarray:
    """Robust window from low/high percentiles, on a strided subsample for speed."""
    low, high = _percentile_range(values, percentiles)
    out = (values - np.float32(low)) / np.float32(high - low)
    return np.clip(out, 0.0, 1.0, out=out)


def _inverted_polarity(ds: Dataset) -> bool:
    # MONOCHROME1 displays low values bright. Its Presentation LUT Shape is
    # INVERSE by definition, so MONO1 + INVERSE is one inversion, not two.
    photometric = str(ds.get("PhotometricInterpretation", ""))
    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    return photometric == "MONOCHROME1" or (photometric == "MONOCHROME2" and shape == "INVERSE")


def _padding_mask(raw: np.ndarray, ds: Dataset) -> np.ndarray | None:
    value = ds.get("PixelPaddingValue")
    if value is None:
        return None
    limit = ds.get("PixelPaddingRangeLimit")
    low, high = (value, value) if limit is None else sorted((value, limit))
    mask = (raw >= low) & (raw <= high)
    return mask if mask.any() else None


def _first(value: Any) -> float | None:
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        value = value[0] if len(value) else None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _sop_class_name(ds: Dataset) -> str:
    uid = ds.get("SOPClassUID") or getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", None)
    return getattr(uid, "name", str(uid or ""))


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
