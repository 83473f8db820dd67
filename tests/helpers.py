"""Test helpers: small DICOM data sets and config tweaks (importable as `helpers`)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def with_data(base: dict, **changes) -> dict:
    """A deep copy of a data section with top-level or nested (dict) changes merged in."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def make_dataset(pixels: np.ndarray, **attributes) -> Dataset:
    """A minimal, valid CR image data set around `pixels` (uint16, one frame)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(pixels.sum())])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.PatientID = "ANON-0001"
    ds.PatientName = ""
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["study"])
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    for key, value in attributes.items():
        setattr(ds, key, value)
    return ds


def save_dataset(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
