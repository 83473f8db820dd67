"""Privacy guard: refuse (or warn about) files that still identify a patient.

A value counts as removed when it is empty or matches the configured
placeholder pattern (after dropping PN separators). PatientID may also be a
pseudonym matching its own pattern, because the patient-level split needs a
patient key. BurnedInAnnotation YES means identity may be in the pixels
themselves, which no header clean-up fixes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.dataset import Dataset


@dataclass(frozen=True)
class PrivacyRules:
    attributes: tuple[str, ...]
    placeholder: re.Pattern
    patient_id: re.Pattern

    @classmethod
    def from_config(cls, cfg: dict) -> "PrivacyRules":
        return cls(
            attributes=tuple(cfg["attributes"]),
            placeholder=re.compile(cfg["placeholder_pattern"]),
            patient_id=re.compile(cfg["patient_id_pattern"]),
        )


def findings(ds: Dataset, rules: PrivacyRules) -> list[str]:
    """Names of identifying attributes still present (values are never echoed)."""
    found = [name for name in rules.attributes if _identifying(ds, name, rules.placeholder)]
    patient_id = _clean(ds.get("PatientID", ""))
    if patient_id and not rules.patient_id.fullmatch(patient_id):
        found.append("PatientID")
    if str(ds.get("BurnedInAnnotation", "") or "").strip().upper() == "YES":
        found.append("BurnedInAnnotation=YES")
    return found


def _identifying(ds: Dataset, name: str, placeholder: re.Pattern) -> bool:
    if name not in ds:
        return False
    value = ds[name].value
    if value.__class__.__name__ == "Sequence":
        return len(value) > 0
    items = value if isinstance(value, (list, tuple)) or value.__class__.__name__ == "MultiValue" else [value]
    return any(not placeholder.fullmatch(_clean(item)) for item in items)


def _clean(value: object) -> str:
    return re.sub(r"[\^\s]+", " ", str(value or "")).strip()
