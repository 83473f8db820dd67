"""PNG/JPEG inputs: many datasets (MURA, LERA, exports) are already rendered images."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from deeppc.data.dicom import DecodeError, Decoded, percentile_window

_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg"}


def sniff(data: bytes) -> str | None:
    """'png' or 'jpeg' by content, else None."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    return None


def decode(data: bytes, kind: str, percentiles: tuple[float, float]) -> Decoded:
    """Decode a rendered radiograph; 8-bit images are taken as displayed, deeper ones windowed."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            arr = _grayscale(im)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DecodeError("failed", f"unreadable {kind.upper()}: {exc}") from None
    if arr.dtype == np.uint8:
        image, source = arr.astype(np.float32) / np.float32(255.0), "as_stored"
    else:
        image, source = percentile_window(arr.astype(np.float32), percentiles), "percentile"
    meta = {
        "modality": "",
        "body_part": "",
        "photometric": "MONOCHROME2",
        "transfer_syntax": kind.upper(),
        "bits_stored": 8 if arr.dtype == np.uint8 else 16,
        "rows": arr.shape[0],
        "cols": arr.shape[1],
        "frames": 1,
        "sop_class": "",
        "window_source": source,
    }
    return Decoded(image=image, raw=arr, meta=meta)


def _grayscale(im: Image.Image) -> np.ndarray:
    if im.mode in ("L", "I;16", "I;16B", "I;16L", "I"):
        return np.asarray(im)
    if im.mode in ("LA", "P", "PA"):
        return np.asarray(im.convert("L"))
    rgb = np.asarray(im.convert("RGB"))
    # Exports often store grayscale as three equal channels; true colour is refused.
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
        return rgb[..., 0]
    raise DecodeError("skipped", f"colour image ({im.mode}): radiographs are grayscale")
