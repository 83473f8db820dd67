"""A synthetic hospital export of elbow radiographs, with the truth about every file.

`write_demo_dataset` writes a DICOM tree shaped like a PACS export (nested folders of
random hex names, files `IM000123` with or without `.dcm`): per pseudonymised patient
one study with a lateral and a frontal elbow (sometimes two of one view), drawn by
`deeppc.demo.phantom`, plus the bad cases a real export contains. The attributes vary
the way real CR/DX files do (modality, MONOCHROME1/2, bit depth, rescale, window or VOI
LUT, transfer syntax, where the view is written), so the data stage meets every branch
of its decoding, view rules, privacy guard, duplicate check and audit.

`demo_truth.csv` (returned as a DataFrame) has one row per file under `out`, itself
included, saying what the data stage should conclude about it. Everything derives from
the seed: UIDs are hashes of it, dates are drawn from it, nothing reads the clock, so a
seed always gives byte-identical files (with the same library versions).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)
from scipy import ndimage

from deeppc import seeding
from deeppc.demo import phantom
from deeppc.files import atomic_folder, atomic_open, write_bytes, write_text
from deeppc.validate import InputError

TRUTH_NAME = "demo_truth.csv"

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
MULTIFRAME_WORD_SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7.3"
BASIC_TEXT_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.11"

DEFECTS = ("white_border", "black_border", "cropped", "inverted", "rotated", "shrunk", "mostly_empty")

EXPECTED_STATUS = {
    # a file whose view cannot be told is reported and left out of the view folders
    "normal": "ok", "no_view": "skipped", "near_duplicate": "ok", "multiframe": "ok",
    "truncated": "failed", "structured_report": "skipped", "colour_sc": "skipped",
    "phi": "refused", "burned_in": "refused", "duplicate": "skipped",
    "non_dicom": "skipped", "truth_table": "skipped",
}

TRUTH_COLUMNS = [
    "file", "patient_id", "view", "case", "expected_status", "modality", "photometric",
    "transfer_syntax", "defects", "drawn_view", "view_source", "bits_stored", "rows", "columns",
    "frames", "voi", "rescale", "duplicate_of", "pixels_sha256", "sop_instance_uid", "study_instance_uid",
]

_SYNTAXES = {"explicit": ExplicitVRLittleEndian, "implicit": ImplicitVRLittleEndian,
             "rle": RLELossless, "j2k": JPEG2000Lossless}

# Variations every export of a reasonable size must show, whatever the seed: the first
# normal images (in a seeded order) take one each; the rest are drawn freely.
_COVERAGE = [
    {"syntax": "implicit"}, {"syntax": "rle"}, {"syntax": "j2k"},
    {"syntax": "j2k", "photometric": "MONOCHROME1", "modality": "CR"},
    {"syntax": "rle", "bits": 15, "modality": "DX"}, {"bits": 10}, {"bits": 15},
    {"voi": "lut", "modality": "CR", "photometric": "MONOCHROME2", "rescale": "none", "bits": 12},
    {"voi": "window_fn"}, {"voi": "none", "modality": "CR"},
    {"carrier": "view_code", "view": "LAT"}, {"carrier": "view_code", "view": "AP"},
    {"carrier": "series_description"}, {"carrier": "protocol"},
    {"modality": "DX", "photometric": "MONOCHROME1"}, {"modality": "DX", "photometric": "MONOCHROME2"},
    {"modality": "CR", "photometric": "MONOCHROME1"}, {"rescale": "shifted", "modality": "CR"},
    {"body_part": False},
]

_VIEW_POSITIONS = {"LAT": ("LAT", "LL", "RL"), "AP": ("AP", "PA")}
_SERIES_DESCRIPTIONS = {"LAT": ("ELBOW LAT", "Elbow lateral", "ELBOW LATERAL"), "AP": ("ELBOW AP", "Elbow AP", "Elbow frontal")}
_PROTOCOLS = {"LAT": ("XR ELBOW LAT", "Elbow lat"), "AP": ("XR ELBOW AP", "Elbow AP")}
_VIEW_CODES = {"LAT": ("R-102CD", "lateral"), "AP": ("R-10206", "antero-posterior")}


@dataclass
class _Study:
    patient: int
    patient_id: str
    sex: str
    date: str
    time: str
    folder: str
    suffix: str
    uid: str
    series: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # view -> (folder, uid, number)


@dataclass
class _Slot:
    """One planned elbow image file."""

    index: int
    study: _Study
    view: str
    case: str = "normal"
    forced: dict = field(default_factory=dict)
    path: str = ""
    instance: int = 1


@dataclass(frozen=True)
class _Options:
    modality: str
    photometric: str
    bits: int
    syntax: str
    rescale: str
    voi: str
    carrier: str
    body_part: bool
    shape: tuple[int, int]


@dataclass
class _Written:
    """What a writer reports back for the truth table."""

    row: dict
    stored: np.ndarray | None = None
    dataset: Dataset | None = None


def write_demo_dataset(out: Path, patients: int = 24, seed: int = 7, min_size: int = 384,
                       max_size: int = 768, overwrite: bool = False) -> pd.DataFrame:
    """Write a synthetic elbow DICOM export under `out`; return (and write) its truth table.

    `out` must be empty or absent; with overwrite=True an earlier demo export there (one
    holding demo_truth.csv) is replaced. Images are between min_size and max_size pixels
    on each side. Deterministic in (patients, seed, min_size, max_size).
    """
    out = Path(out)
    if patients < 1:
        raise ValueError(f"patients must be at least 1, got {patients}")
    if not 16 <= min_size <= max_size:
        raise ValueError(f"need 16 <= min_size <= max_size, got {min_size}, {max_size}")
    _check_target(out, overwrite)
    studies, slots = _plan(patients, seed)
    with atomic_folder(out, replace=True) as build:  # the whole export or nothing; replaces an old export
        rows: list[dict] = []
        sources: dict[int, _Written] = {}
        for slot in slots:
            written = _write_slot(build, slot, seed, min_size, max_size)
            rows.append(written.row)
            sources[slot.index] = written
        rows.extend(_write_copies(build, slots, sources, seed))
        rows.extend(_write_other_objects(build, studies, seed, min_size, max_size))
        rows.append(_row(TRUTH_NAME, "", "truth_table"))
        truth = pd.DataFrame(rows, columns=TRUTH_COLUMNS).sort_values("file", ignore_index=True)
        write_text(build / TRUTH_NAME, truth.to_csv(index=False, lineterminator="\n"))
    return truth


class OutputExistsError(InputError, FileExistsError):
    """The output folder holds files this command must not replace."""


def _check_target(out: Path, overwrite: bool) -> None:
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise OutputExistsError(f"{out} is not empty; choose an empty folder or pass overwrite=True")
        if not (out / TRUTH_NAME).is_file():
            raise OutputExistsError(f"{out} holds files that are not a demo export ({TRUTH_NAME} missing); "
                                    "not removing them")  # fmt: skip


# --- planning -------------------------------------------------------------------------

def _uid(seed: int, *names: object) -> str:
    return generate_uid(entropy_srcs=["deeppc-demo", str(seed), *map(str, names)])


def _hex(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(0, 2**32)):08X}"


def _plan(patients: int, seed: int) -> tuple[list[_Study], list[_Slot]]:
    rng = seeding.rng(seed, "demo", "plan")
    numbers = rng.choice(np.arange(1, 10000), size=patients, replace=False)
    studies = [_study(p, int(numbers[p]), seed, rng) for p in range(patients)]
    slots: list[_Slot] = []
    for study in studies:
        views = ["LAT", "AP"] + ([str(rng.choice(["LAT", "AP"]))] if rng.random() < 0.35 else [])
        slots.extend(_Slot(0, study, v) for v in views)
    cases = _special_cases(patients)
    while len(slots) < len(cases) + len(_COVERAGE) + 2:  # tiny exports: add images until all cases fit
        study = studies[len(slots) % patients]
        slots.append(_Slot(0, study, ("LAT", "AP")[len(slots) % 2]))
    for i, slot in enumerate(slots):
        slot.index = i
    order = rng.permutation(len(slots))
    for case, i in zip(cases, order):
        slots[i].case = case
    free = [slots[i] for i in order[len(cases):]]
    for forced in _COVERAGE:
        fits = [s for s in free if s.view == forced.get("view", s.view)] or free
        fits[0].forced = {k: v for k, v in forced.items() if k != "view"}
        free.remove(fits[0])
    _assign_paths(slots, seed, rng)
    return studies, slots


def _special_cases(patients: int) -> list[str]:
    each = max(1, round(patients / 24))
    return (["truncated", "phi", "burned_in", "multiframe"] + ["no_view"] * (2 * each)
            + [f"defect:{d}" for d in DEFECTS for _ in range(each)])


def _study(p: int, number: int, seed: int, rng: np.random.Generator) -> _Study:
    date = dt.date(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1400)))
    return _Study(patient=p, patient_id=f"ANON-{number:04d}", sex=str(rng.choice(["M", "F"])),
                  date=date.strftime("%Y%m%d"), time=f"{int(rng.integers(7, 19)):02d}{int(rng.integers(0, 60)):02d}00",
                  folder=_hex(rng), suffix=".dcm" if rng.random() < 0.5 else "", uid=_uid(seed, "study", p))


def _assign_paths(slots: list[_Slot], seed: int, rng: np.random.Generator) -> None:
    """Nested hex folders per study and series, a running image number across the export."""
    counter = 0
    instances: dict[tuple[int, str], int] = {}
    for slot in sorted(slots, key=lambda s: (s.study.patient, s.index)):
        study = slot.study
        if slot.view not in study.series:
            number = len(study.series) + 1
            study.series[slot.view] = (_hex(rng), _uid(seed, "series", study.patient, slot.view), number)
        counter += 7 if rng.random() < 0.2 else 1  # gaps, as exports of pruned archives have
        slot.path = f"{study.folder}/{study.series[slot.view][0]}/IM{counter:06d}{study.suffix}"
        key = (study.patient, slot.view)
        instances[key] = slot.instance = instances.get(key, 0) + 1


# --- per-image choices ----------------------------------------------------------------

def _options(rng: np.random.Generator, forced: dict, min_size: int, max_size: int) -> _Options:
    modality = str(forced.get("modality", rng.choice(["CR", "DX"])))
    voi = str(forced.get("voi", rng.choice(["window", "window", "window", "window_fn", "none"])))
    if modality == "DX" and voi == "none":
        voi = "window"  # DX for presentation must say how to display it
    rescale = str(forced.get("rescale", rng.choice(["none", "identity", "shifted"], p=[0.45, 0.35, 0.2])))
    if modality == "DX" and rescale == "none":
        rescale = "identity"  # Rescale Slope/Intercept are Type 1 in the DX Image module
    return _Options(
        modality=modality,
        photometric=str(forced.get("photometric", "MONOCHROME1" if rng.random() < 0.35 else "MONOCHROME2")),
        bits=int(forced.get("bits", rng.choice([12] * 8 + [10, 15]))),
        syntax=str(forced.get("syntax", rng.choice(list(_SYNTAXES), p=[0.62, 0.08, 0.15, 0.15]))),
        rescale="none" if voi == "lut" else rescale,
        voi=voi,
        carrier=str(forced.get("carrier", rng.choice(["view_position", "series_description", "protocol", "view_code"],
                                                     p=[0.5, 0.22, 0.18, 0.1]))),
        body_part=bool(forced.get("body_part", rng.random() < 0.9)),
        shape=_shape(rng, min_size, max_size),
    )


def _shape(rng: np.random.Generator, min_size: int, max_size: int) -> tuple[int, int]:
    """Cassette-like aspect ratios, portrait or landscape, both sides within the limits."""
    aspect = float(rng.choice([1.0, 1.2, 1.25, 4 / 3]))
    low = min(max(min_size, int(np.ceil(min_size * aspect))), max_size)
    long_side = int(rng.integers(low, max_size + 1))
    short_side = int(np.clip(round(long_side / aspect), min_size, max_size))
    return (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)


# --- pixels ---------------------------------------------------------------------------

def _radiograph(slot: _Slot, rng: np.random.Generator, opts: _Options) -> phantom.Radiograph:
    defect = slot.case.removeprefix("defect:") if slot.case.startswith("defect:") else ""
    kwargs: dict = {"bits": opts.bits}
    if defect in ("white_border", "black_border"):
        kwargs["collimation"] = float(rng.uniform(0.08, 0.13))
    elif defect == "shrunk":
        kwargs["zoom"] = float(rng.uniform(0.3, 0.4))
    elif defect == "cropped":
        # the elbow cut by the field edge, framed tight so the anatomy fills that edge
        kwargs["zoom"] = float(rng.uniform(1.5, 1.8))
        edge = float(rng.choice([-0.02, 1.02]))
        kwargs["joint_at"] = (edge, float(rng.uniform(0.35, 0.65))) if rng.random() < 0.5 else (float(rng.uniform(0.35, 0.65)), edge)
    elif defect == "mostly_empty":
        return _mostly_empty(slot.view, rng, opts)
    image = phantom.acquire("elbow", slot.view, rng, opts.shape, **kwargs)
    if defect == "black_border":
        image = replace(image, raw=_black_shutter(image))
    elif defect == "rotated":
        image = replace(image, raw=_rotate(image.raw, rng))
    return image


def _mostly_empty(view: str, rng: np.random.Generator, opts: _Options) -> phantom.Radiograph:
    """Anatomy pushed out past a corner until it covers only a sliver of the field."""
    seed = int(rng.integers(0, 2**63))
    for step in range(30):
        out = 0.95 + 0.04 * step
        image = phantom.acquire("elbow", view, np.random.default_rng(seed), opts.shape, bits=opts.bits,
                                joint_at=(out, out), zoom=0.8)
        if _anatomy_share(image.labels) <= 0.05:
            break
    return image


def _anatomy_share(labels: np.ndarray) -> float:
    return float(np.count_nonzero((labels == phantom.LABEL_SOFT) | (labels == phantom.LABEL_BONE))) / labels.size


def _black_shutter(image: phantom.Radiograph) -> np.ndarray:
    """CR 'black surround' masking: the collimated border set to the darkest value."""
    masked = image.raw.copy()
    masked[image.labels == phantom.LABEL_COLLIMATED] = 0
    return masked


def _rotate(raw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Content turned 20-40 degrees inside the same matrix; the uncovered corners padded black."""
    angle = float(rng.uniform(20.0, 40.0)) * float(rng.choice([-1.0, 1.0]))
    turned = ndimage.rotate(raw.astype(np.float32), angle, reshape=False, order=1, mode="constant", cval=0.0)
    return np.clip(np.rint(turned), 0, raw.max()).astype(np.uint16)


def _burn_in_text(raw: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """White blocks where a modality printed name and date into the pixels."""
    h, w = raw.shape
    stamped = raw.copy()
    height, x, y = max(h // 60, 3), w // 30, h // 30
    for line in range(2):
        cursor = x
        for _ in range(int(rng.integers(3, 6))):
            length = int(rng.integers(3, 9)) * height // 2 + height
            stamped[y:y + height, cursor:cursor + length] = 2**bits - 1
            cursor += length + height
        y += 2 * height
    return stamped


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


# --- DICOM construction ---------------------------------------------------------------

def _stored(image: phantom.Radiograph, photometric: str) -> np.ndarray:
    """Stored values: MONOCHROME1 keeps bone low (the display inverts it back)."""
    return (2**image.bits - 1 - image.raw).astype(np.uint16) if photometric == "MONOCHROME1" else image.raw


def _common(ds: Dataset, study: _Study, sop_class: str, sop_uid: str, modality: str) -> None:
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study.date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = study.time
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.Manufacturer = "DEEPPC DEMO"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "XR ELBOW 2 VIEWS"
    ds.PatientName = "ANONYMOUS" if study.patient % 3 else ""
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = study.sex
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "Pseudonymised export (deeppc demo)"
    ds.StudyInstanceUID = study.uid
    ds.StudyID = "1"


def _file_meta(syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = _SYNTAXES[syntax]
    return meta


def _image_dataset(slot: _Slot, opts: _Options, image: phantom.Radiograph, sop_uid: str) -> tuple[Dataset, np.ndarray]:
    """A CR or DX image dataset (pixels stored, not yet encoded) and its stored array."""
    ds = Dataset()
    ds.file_meta = _file_meta("explicit")
    _common(ds, slot.study, CR_STORAGE if opts.modality == "CR" else DX_STORAGE, sop_uid, opts.modality)
    folder, series_uid, series_number = slot.study.series[slot.view]
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = series_uid, series_number, slot.instance
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ManufacturerModelName = "PHANTOM-CR" if opts.modality == "CR" else "PHANTOM-DR"
    ds.PatientOrientation = ""
    ds.ImageLaterality = ds.Laterality = image.pose["side"]
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    if opts.body_part:
        ds.BodyPartExamined = "ELBOW"
    elif opts.modality == "CR":
        ds.BodyPartExamined = ""  # Type 2 in the CR series: present but empty
    _set_view(ds, slot, opts)
    spacing = [f"{image.pose['pixel_mm']:.4f}"] * 2
    ds.ImagerPixelSpacing = spacing
    if opts.modality == "CR" or slot.index % 2:
        ds.PixelSpacing = spacing
    stored = _stored(image, opts.photometric)
    ds.set_pixel_data(stored, opts.photometric, opts.bits, generate_instance_uid=False)
    _set_display(ds, opts, image)
    return ds, stored


def _set_view(ds: Dataset, slot: _Slot, opts: _Options) -> None:
    """Write the view where this export's modality writes it (or nowhere, for no_view)."""
    view, pick = slot.view, slot.index
    if opts.modality == "CR" or opts.carrier == "view_position":
        ds.ViewPosition = ""  # Type 2 in the CR series, often left empty
    if slot.case == "no_view":
        ds.SeriesDescription = "ELBOW" if pick % 2 else ""
        ds.ProtocolName = "XR EXTREMITY"
        return
    ds.SeriesDescription = "ELBOW"
    if opts.carrier == "view_position":
        ds.ViewPosition = _VIEW_POSITIONS[view][pick % len(_VIEW_POSITIONS[view])]
        ds.SeriesDescription = _SERIES_DESCRIPTIONS[view][pick % 3] if pick % 2 else "ELBOW"
    elif opts.carrier == "series_description":
        ds.SeriesDescription = _SERIES_DESCRIPTIONS[view][pick % 3]
    elif opts.carrier == "protocol":
        ds.ProtocolName = _PROTOCOLS[view][pick % 2]
    else:
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = _VIEW_CODES[view][0], "SRT", _VIEW_CODES[view][1]
        ds.ViewCodeSequence = Sequence([code])


def _set_display(ds: Dataset, opts: _Options, image: phantom.Radiograph) -> None:
    """Modality LUT, VOI and presentation attributes consistent with the stored values."""
    top = 2**opts.bits - 1
    centre, width = image.window
    if opts.photometric == "MONOCHROME1":
        centre = top - centre
    slope, intercept = {"none": (1.0, 0.0), "identity": (1.0, 0.0),
                        "shifted": (0.5, -100.0) if opts.bits > 12 else (2.0, -1024.0)}[opts.rescale]
    if opts.rescale != "none":
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = f"{intercept:g}", f"{slope:g}", "US"
    if opts.voi in ("window", "window_fn"):
        ds.WindowCenter = f"{centre * slope + intercept:.1f}"
        ds.WindowWidth = f"{width * slope:.1f}"
        ds.WindowCenterWidthExplanation = "DEFAULT"
        if opts.voi == "window_fn":
            ds.VOILUTFunction = "SIGMOID" if opts.bits != 12 else "LINEAR_EXACT"
    elif opts.voi == "lut":
        ds.VOILUTSequence = Sequence([_voi_lut(centre, width, opts.bits)])
    if opts.modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PixelIntensityRelationship = "LOG"
        ds.PixelIntensityRelationshipSign = -1 if opts.photometric == "MONOCHROME2" else 1
    if opts.modality == "DX" or opts.photometric == "MONOCHROME1":
        ds.PresentationLUTShape = "IDENTITY" if opts.photometric == "MONOCHROME2" else "INVERSE"


def _voi_lut(centre: float, width: float, bits: int) -> Dataset:
    """A VOI LUT table over every stored value: the window with a gentle S-curve."""
    values = np.arange(2**bits, dtype=np.float64)
    x = np.clip((values - (centre - width / 2)) / width, 0.0, 1.0)
    curve = np.rint((3 * x**2 - 2 * x**3) * 4095).astype(np.uint16)
    item = Dataset()
    item.add_new(0x00283002, "US", [len(values) if len(values) < 65536 else 0, 0, 12])  # LUT Descriptor
    item.LUTExplanation = "DEMO S-CURVE"
    item.add_new(0x00283006, "OW", curve.astype("<u2").tobytes())  # LUT Data
    return item


def _encode_and_save(path: Path, ds: Dataset, syntax: str, truncate: bool = False) -> str:
    """Encode per `syntax` and write atomically; returns the transfer syntax UID written."""
    if syntax in ("rle", "j2k"):
        plugin = "pylibjpeg" if syntax == "j2k" else ""
        ds.compress(_SYNTAXES[syntax], encoding_plugin=plugin, generate_instance_uid=False)
    else:
        ds.file_meta.TransferSyntaxUID = _SYNTAXES[syntax]
    if truncate:
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        data = buffer.getvalue()
        write_bytes(path, data[: len(data) - len(ds.PixelData) * 2 // 5])  # pixel data cut short
    else:
        with atomic_open(path) as fh:
            ds.save_as(fh, enforce_file_format=True)
    return str(ds.file_meta.TransferSyntaxUID)


# --- writers --------------------------------------------------------------------------

def _row(file: str, patient_id: str, case: str, **values: object) -> dict:
    row = {c: "" for c in TRUTH_COLUMNS}
    row.update(file=file, patient_id=patient_id, case=case,
               expected_status="ok" if case.startswith("defect:") else EXPECTED_STATUS[case])
    row.update(values)
    return row


def _image_row(slot: _Slot, ds: Dataset, syntax_uid: str, stored: np.ndarray | None, *, voi: str,
               rescale: str, carrier: str, **extra: object) -> dict:
    view = "" if slot.case == "no_view" else slot.view
    source = "none" if slot.case == "no_view" else carrier
    defects = slot.case.removeprefix("defect:") if slot.case.startswith("defect:") else ""
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return _row(slot.path, slot.study.patient_id, slot.case, view=view, modality=ds.Modality,
                photometric=ds.PhotometricInterpretation, transfer_syntax=syntax_uid, defects=defects,
                drawn_view=slot.view, view_source=source, bits_stored=int(ds.BitsStored), rows=int(ds.Rows),
                columns=int(ds.Columns), frames=frames, voi=voi, rescale=rescale,
                pixels_sha256=_sha(stored) if stored is not None else "", sop_instance_uid=ds.SOPInstanceUID,
                study_instance_uid=slot.study.uid, **extra)


def _write_slot(out: Path, slot: _Slot, seed: int, min_size: int, max_size: int) -> _Written:
    rng = seeding.rng(seed, "demo", "image", slot.index)
    opts = _options(rng, slot.forced, min_size, max_size)
    if slot.case == "multiframe":
        opts = replace(opts, photometric="MONOCHROME2", voi="window", rescale="identity")
    image = _radiograph(slot, rng, opts)
    if slot.case == "burned_in":
        image = replace(image, raw=_burn_in_text(image.raw, image.bits, rng))
    ds, stored = _image_dataset(slot, opts, image, _uid(seed, "image", slot.index))
    if slot.case == "multiframe":
        stored = _as_multiframe(ds, stored, rng)
    elif slot.case == "phi":
        _add_identity(ds)
    elif slot.case == "burned_in":
        ds.BurnedInAnnotation = "YES"
    elif slot.case == "defect:inverted":
        _swap_photometric(ds)
    syntax = "explicit" if slot.case == "truncated" else opts.syntax
    uid = _encode_and_save(out / slot.path, ds, syntax, truncate=slot.case == "truncated")
    row = _image_row(slot, ds, uid, None if slot.case == "truncated" else stored,
                     voi=opts.voi, rescale=opts.rescale, carrier=opts.carrier)
    return _Written(row, stored, ds)


def _as_multiframe(ds: Dataset, stored: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Re-badge as a two-frame grayscale word secondary capture (a digitised film pair)."""
    second = np.clip(stored.astype(np.int32) + rng.integers(-3, 4, size=stored.shape), 0, 2**int(ds.BitsStored) - 1)
    frames = np.stack([stored, second.astype(np.uint16)])
    ds.SOPClassUID = MULTIFRAME_WORD_SC_STORAGE
    ds.set_pixel_data(frames, "MONOCHROME2", int(ds.BitsStored), generate_instance_uid=False)
    ds.FrameIncrementPointer = 0x00182001  # Page Number Vector
    ds.PageNumberVector = [1, 2]
    ds.ConversionType = "DF"
    ds.PresentationLUTShape = "IDENTITY"
    for keyword in ("PresentationIntentType", "PixelIntensityRelationship", "PixelIntensityRelationshipSign"):
        if keyword in ds:
            delattr(ds, keyword)
    return frames


def _add_identity(ds: Dataset) -> None:
    """An instance the export tool failed to de-identify."""
    ds.PatientName = "DOE^JANE"
    ds.PatientBirthDate = "19710312"
    ds.PatientAddress = "12 Main Road, Observatory"
    ds.InstitutionName = "St. Elsewhere General Hospital"
    ds.ReferringPhysicianName = "HOUSE^GREGORY"
    ds.AccessionNumber = "A20231187"
    ds.PatientIdentityRemoved = "NO"
    del ds.DeidentificationMethod


def _swap_photometric(ds: Dataset) -> None:
    """Label the stored values with the other photometric interpretation: it displays inverted."""
    ds.PhotometricInterpretation = "MONOCHROME2" if ds.PhotometricInterpretation == "MONOCHROME1" else "MONOCHROME1"
    if "PresentationLUTShape" in ds:
        ds.PresentationLUTShape = "IDENTITY" if ds.PhotometricInterpretation == "MONOCHROME2" else "INVERSE"
    if "PixelIntensityRelationshipSign" in ds:
        ds.PixelIntensityRelationshipSign = -int(ds.PixelIntensityRelationshipSign)


def _write_copies(out: Path, slots: list[_Slot], written: dict[int, _Written], seed: int) -> list[dict]:
    """An exact pixel duplicate and a near-duplicate re-export of two normal images."""
    normal = [s for s in slots if s.case == "normal" and not s.forced]
    native = [s for s in normal if written[s.index].row["transfer_syntax"] in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)]
    rows = []
    for case, slot in zip(("duplicate", "near_duplicate"), ((native or normal)[0], normal[-1])):
        source = written[slot.index]
        ds, stored = _copy_dataset(slot, seed, case, source)
        copied = replace(slot, case=case, path=_later_path(slot.path))
        was_native = source.row["transfer_syntax"] in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
        # the exact copy changes encoding too, so only decoded pixels can tell it is the same image
        syntax = ("rle" if was_native else "explicit") if case == "duplicate" else "explicit"
        uid = _encode_and_save(out / copied.path, ds, syntax)
        rows.append(_image_row(copied, ds, uid, stored, voi=source.row["voi"], rescale=source.row["rescale"],
                               carrier=source.row["view_source"], duplicate_of=slot.path))
    return rows


def _copy_dataset(slot: _Slot, seed: int, case: str, source: _Written) -> tuple[Dataset, np.ndarray]:
    """The source instance under a new SOP Instance UID; a near-duplicate also gets re-noised
    pixels and a slightly different window, as a second export from a workstation would."""
    assert source.dataset is not None and source.stored is not None
    ds = copy.deepcopy(source.dataset)
    ds.file_meta = _file_meta("explicit")
    ds.SOPInstanceUID = _uid(seed, case, slot.index)
    ds.InstanceNumber = int(ds.InstanceNumber) + 100
    stored = source.stored
    if case == "near_duplicate":
        noise = seeding.rng(seed, "demo", case).integers(-2, 3, size=stored.shape)
        stored = np.clip(stored.astype(np.int32) + noise, 0, 2**int(ds.BitsStored) - 1).astype(np.uint16)
        if "WindowCenter" in ds:
            ds.WindowCenter = f"{float(ds.WindowCenter) * 1.04:.1f}"
        ds.SeriesDescription = f"{ds.get('SeriesDescription', '')} re-export".strip()
    ds.set_pixel_data(stored, ds.PhotometricInterpretation, int(ds.BitsStored), generate_instance_uid=False)
    return ds, stored


def _later_path(path: str) -> str:
    """Same series folder, a higher image number: the copy sorts after its source."""
    folder, name = path.rsplit("/", 1)
    stem, dot, suffix = name.partition(".")
    return f"{folder}/IM{int(stem[2:]) + 500000:06d}{dot}{suffix}"


def _write_other_objects(out: Path, studies: list[_Study], seed: int, min_size: int, max_size: int) -> list[dict]:
    """Objects that are not elbow images: a text report, a colour screenshot, a notes file."""
    rng = seeding.rng(seed, "demo", "others")
    report_study, capture_study = studies[int(rng.integers(0, len(studies)))], studies[int(rng.integers(0, len(studies)))]
    rows = [_write_report(out, report_study, seed, rng), _write_capture(out, capture_study, seed, rng, min_size, max_size)]
    notes = f"{studies[0].folder}/notes.txt"
    write_text(out / notes, "Export for research audit. Images pseudonymised by the PACS export tool.\n"
                            "Contact the radiology department for the key file.\n")
    rows.append(_row(notes, studies[0].patient_id, "non_dicom"))
    return rows


def _own_series(study: _Study, seed: int, rng: np.random.Generator, tag: str) -> tuple[str, str, str]:
    """(path, series UID, SOP instance UID) of a one-object series in the study's folder."""
    path = f"{study.folder}/{_hex(rng)}/IM{900000 + study.patient:06d}{study.suffix}"
    return path, _uid(seed, tag, "series", study.patient), _uid(seed, tag, study.patient)


def _write_report(out: Path, study: _Study, seed: int, rng: np.random.Generator) -> dict:
    """A Basic Text SR: a DICOM object with no pixel data."""
    path, series_uid, sop_uid = _own_series(study, seed, rng, "sr")
    ds = Dataset()
    ds.file_meta = _file_meta("explicit")
    _common(ds, study, BASIC_TEXT_SR_STORAGE, sop_uid, "SR")
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = series_uid, 90, 1
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = Sequence([_code("18748-4", "LN", "Diagnostic imaging report")])
    ds.ReferencedPerformedProcedureStepSequence = Sequence([])
    ds.PerformedProcedureCodeSequence = Sequence([])
    finding = Dataset()
    finding.RelationshipType, finding.ValueType = "CONTAINS", "TEXT"
    finding.ConceptNameCodeSequence = Sequence([_code("121071", "DCM", "Finding")])
    finding.TextValue = "Elbow, two views: no fracture, no joint effusion."
    ds.ContentSequence = Sequence([finding])
    with atomic_open(out / path) as fh:
        ds.save_as(fh, enforce_file_format=True)
    return _row(path, study.patient_id, "structured_report", modality="SR", transfer_syntax=ExplicitVRLittleEndian,
                sop_instance_uid=sop_uid, study_instance_uid=study.uid, view_source="none")


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = value, scheme, meaning
    return code


def _write_capture(out: Path, study: _Study, seed: int, rng: np.random.Generator, min_size: int, max_size: int) -> dict:
    """A colour secondary capture: a screenshot of an elbow with a red measurement line."""
    path, series_uid, sop_uid = _own_series(study, seed, rng, "sc")
    shape = _shape(rng, min_size, max_size)
    grey = (phantom.draw("elbow", str(rng.choice(["LAT", "AP"])), rng, shape) * 255).astype(np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    h, w = shape
    rows_ = np.arange(h // 4, 3 * h // 4)
    cols_ = np.linspace(w // 4, 3 * w // 4, rows_.size).astype(int)
    for offset in range(-1, 2):
        rgb[rows_, np.clip(cols_ + offset, 0, w - 1)] = (230, 30, 30)
    rgb[h // 20:h // 20 + max(h // 40, 2), w // 20:w // 3] = (250, 220, 40)
    ds = Dataset()
    ds.file_meta = _file_meta("explicit")
    _common(ds, study, SC_STORAGE, sop_uid, "OT")
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = series_uid, 91, 1
    ds.ConversionType = "WSD"
    ds.PatientOrientation = ""
    ds.SeriesDescription = "Screenshot"
    ds.set_pixel_data(rgb, "RGB", 8, generate_instance_uid=False)
    with atomic_open(out / path) as fh:
        ds.save_as(fh, enforce_file_format=True)
    return _row(path, study.patient_id, "colour_sc", modality="OT", photometric="RGB",
                transfer_syntax=ExplicitVRLittleEndian, bits_stored=8, rows=h, columns=w, frames=1,
                pixels_sha256=_sha(rgb), sop_instance_uid=sop_uid, study_instance_uid=study.uid, view_source="none")
