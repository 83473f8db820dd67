"""The data stage: DICOM/PNG ingest, view split, privacy guard, audit, splits, demo data."""
