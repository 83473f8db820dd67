"""Per-file ingest: bytes -> manifest row + staged 8-bit thumbnail + audit.

This is the unit of parallel work in the data stage. It never raises for bad
input: every outcome becomes a status (ok / refused / failed / skipped) and a
reason, so one corrupt file cannot stop the stage or hide another file.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from deeppc import files
from deeppc.data import audit, dicom, geometry, privacy, raster
from deeppc.data.dicom import DecodeError
from deeppc.data.duplicates import perceptual_hash, pixel_hash
from deeppc.data.views import ViewRules, attribute_values

# pydicom both warns and logs (decoder failures with tracebacks); the manifest
# keeps the warning and the reason, so its log lines are only noise here
logging.getLogger("pydicom").setLevel(logging.CRITICAL)

AUDIT_SIDE = 256  # audit statistics are computed on thumbnails of at most this side


@dataclass(frozen=True)
class IngestOptions:
    """What a worker needs from the `data` config section."""

    image_size: int
    views: tuple[str, ...]
    rules: ViewRules
    labels: dict[str, str | None]
    modalities: tuple[str, ...] | None
    body_parts: tuple[str, ...] | None
    keep_unknown_body_part: bool
    privacy: privacy.PrivacyRules
    privacy_policy: str
    percentiles: tuple[float, float]
    use_dicom_window: bool

    @classmethod
    def from_config(cls, data: dict, labels: dict[str, str | None]) -> "IngestOptions":
        rules = data["view_rules"]
        return cls(
            image_size=data["image_size"],
            views=tuple(data["views"]),
            rules=ViewRules(rules["attributes"], {v: rules["keywords"].get(v, []) for v in data["views"]}),
            labels=labels,
            modalities=_upper(data["modalities"]),
            body_parts=_upper(data["body_parts"]),
            keep_unknown_body_part=data["keep_unknown_body_part"],
            privacy=privacy.PrivacyRules.from_config(data["privacy"]),
            privacy_policy=data["privacy"]["policy"],
            percentiles=tuple(data["window"]["percentiles"]),
            use_dicom_window=data["window"]["use_dicom_window"],
        )


def _upper(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(v.upper() for v in values)


@dataclass
class FileResult:
    row: dict[str, Any]
    staged: str | None = None  # staged thumbnail PNG, moved into place by the stage
    pixel_hash: str = ""
    phash: str = ""
    flags: list[str] = field(default_factory=list)
    measures: dict[str, float] = field(default_factory=dict)


class _Stop(Exception):
    """Ends processing of one file with a status and reason."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def ingest_file(path: Path, root: Path, staged: Path, opts: IngestOptions) -> FileResult:
    """Process one input file, writing its thumbnail (if any) to `staged`."""
    rel = path.relative_to(root).as_posix()
    result = FileResult(row={"source": rel, "status": "ok", "reason": ""})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _guarded(path, rel, staged, opts, result)
    # library warnings are inconsistencies in the file: keep them beside its row
    result.row["warnings"] = "; ".join(dict.fromkeys(_one_line(w.message) for w in caught))
    result.row["flags"] = ";".join(result.flags)
    return result


def _guarded(path: Path, rel: str, staged: Path, opts: IngestOptions, result: FileResult) -> None:
    try:
        data = path.read_bytes()
        result.row.update(sha256=files.sha256_bytes(data), size_bytes=len(data))
        _ingest(data, rel, staged, opts, result)
    except _Stop as stop:
        result.row.update(status=stop.status, reason=stop.reason)
    except DecodeError as err:
        result.row.update(status=err.status, reason=err.reason)
    except OSError as exc:
        result.row.update(status="failed", reason=f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # a library bug must not stop the stage; the manifest says what happened
        result.row.update(status="failed", reason=f"unexpected error ({type(exc).__name__}): {_one_line(exc)}")


def _one_line(message: object, limit: int = 200) -> str:
    text = re.sub(r"\s+", " ", str(message)).strip()
    text = re.sub(r" Please see <[^>]*> for allowed values for each VR\.?", "", text)
    return text[:limit]


def _ingest(data: bytes, rel: str, staged: Path, opts: IngestOptions, result: FileResult) -> None:
    kind = raster.sniff(data) or ("dicom" if dicom.looks_like_dicom(data) else None)
    result.row["kind"] = kind or "other"
    if kind is None:
        raise _Stop("skipped", "not a DICOM, PNG or JPEG file (detected by content)")
    if kind == "dicom":
        decoded, ds = _dicom(data, opts, result)
    else:
        decoded, ds = raster.decode(data, kind, opts.percentiles), None
        result.row.update(decoded.meta)
    _assign_view(ds, rel, opts, result)
    _finish(decoded, staged, opts, result)


def _dicom(data: bytes, opts: IngestOptions, result: FileResult) -> tuple[dicom.Decoded, Any]:
    ds = dicom.read_dataset(data)
    meta = dicom.header_meta(ds)
    result.row.update(meta)
    result.row["patient_key"] = _key(ds.get("PatientID"))
    result.row["study_key"] = _key(ds.get("StudyInstanceUID"))
    dicom.check_grayscale_image(ds, meta)  # what the file is comes before whether we want it
    modality = meta["modality"].upper()
    if opts.modalities is not None and modality not in opts.modalities:
        raise _Stop("skipped", f"modality '{modality}' not in data.modalities {list(opts.modalities)}")
    _check_body_part(meta["body_part"].upper(), opts)
    found = privacy.findings(ds, opts.privacy)
    if found and opts.privacy_policy == "refuse":
        raise _Stop("refused", "identifying data present: " + ", ".join(found))
    if found:
        result.flags.append("phi_warning:" + ",".join(found))
    decoded = dicom.decode(ds, opts.percentiles, opts.use_dicom_window)
    result.row["window_source"] = decoded.meta["window_source"]
    if meta["frames"] > 1:
        result.flags.append(f"multiframe:first_of_{meta['frames']}")
    return decoded, ds


def _check_body_part(part: str, opts: IngestOptions) -> None:
    if opts.body_parts is None:
        return
    if not part and opts.keep_unknown_body_part:
        return
    if part not in opts.body_parts:
        raise _Stop("skipped", f"body part '{part or 'absent'}' not in data.body_parts {list(opts.body_parts)}")


def _assign_view(ds: Any, rel: str, opts: IngestOptions, result: FileResult) -> None:
    sha = result.row["sha256"]
    for key in (sha, rel):
        if key in opts.labels:
            result.row.update(view=opts.labels[key] or "", view_source="labels_csv")
            return
    decision = opts.rules.decide(attribute_values(ds, rel, opts.rules.attributes))
    result.row.update(view=decision.view or "", view_source=decision.source)
    if decision.conflicts:
        result.flags.append("view_conflict:" + ",".join(decision.conflicts))


def _finish(decoded: dicom.Decoded, staged: Path, opts: IngestOptions, result: FileResult) -> None:
    image = decoded.image
    # one antialiased reduction from full resolution, shared by the output and the audit
    small = geometry.resize(image, geometry.fit_within(image.shape, max(opts.image_size, AUDIT_SIDE)))
    thumb = geometry.to_uint8(geometry.square_thumbnail(small, opts.image_size))
    if max(small.shape) > AUDIT_SIDE:
        small = geometry.resize(small, geometry.fit_within(small.shape, AUDIT_SIDE))
    stride = max(1, max(decoded.raw.shape) // AUDIT_SIDE)
    checked = audit.audit(small, decoded.raw[::stride, ::stride])
    result.flags.extend(checked.flags)
    result.measures = checked.measures
    result.pixel_hash = pixel_hash(decoded.raw)
    result.phash = perceptual_hash(thumb)
    files.save_png(staged, thumb, durable=False)  # the stage publishes the folder, then syncs its tables
    result.staged = os.fspath(staged)


def _key(value: Any) -> str:
    text = re.sub(r"\s+", " ", str(value or "")).strip()
    return files.sha256_bytes(text.encode())[:12] if text else ""
