"""View assignment (LAT / AP / unassigned) from DICOM attributes and a labels CSV.

Keywords match whole words of the upper-cased attribute text ("ELBOW LAT"
matches LAT, "LATEX" does not). Attributes are searched in configured order;
the first naming exactly one view decides, and any later attribute naming a
different view is reported as a conflict rather than silently ignored.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from pydicom.dataset import Dataset

from deeppc.validate import InputError

PATH_ATTRIBUTE = "path"
UNASSIGNED_LABELS = {"", "NONE", "UNASSIGNED", "UNKNOWN"}


@dataclass
class ViewDecision:
    view: str | None
    source: str  # attribute that decided, "labels_csv", or "" when unassigned
    conflicts: list[str] = field(default_factory=list)  # "Attr=VIEW" disagreeing with the decision


class ViewRules:
    """Compiled keyword rules: {view: [keywords]} searched over `attributes` in order."""

    def __init__(self, attributes: list[str], keywords: Mapping[str, list[str]]):
        self.attributes = list(attributes)
        self.patterns = {
            view: re.compile(r"(?<![A-Z0-9])(" + "|".join(re.escape(k.upper()) for k in words) + r")(?![A-Z0-9])")
            for view, words in keywords.items()
            if words
        }

    def views_in(self, text: str) -> set[str]:
        text = text.upper()
        return {view for view, pattern in self.patterns.items() if pattern.search(text)}

    def decide(self, values: Mapping[str, str]) -> ViewDecision:
        decision = ViewDecision(view=None, source="")
        for attribute in self.attributes:
            found = self.views_in(values.get(attribute, "") or "")
            if len(found) != 1:
                continue  # absent, or ambiguous ("AP and LAT"): let the next attribute decide
            view = found.pop()
            if decision.view is None:
                decision.view, decision.source = view, attribute
            elif view != decision.view:
                decision.conflicts.append(f"{attribute}={view}")
        return decision


def attribute_values(ds: Dataset | None, relative_path: str, attributes: list[str]) -> dict[str, str]:
    """Text of each configured attribute (sequence code meanings joined)."""
    values: dict[str, str] = {}
    for attribute in attributes:
        if attribute == PATH_ATTRIBUTE:
            values[attribute] = relative_path.replace("/", " ").replace("\\", " ")
        elif ds is not None and attribute in ds:
            values[attribute] = _text(ds[attribute].value)
    return values


def _text(value: object) -> str:
    if isinstance(value, (list, tuple)) or value.__class__.__name__ in ("MultiValue", "Sequence"):
        return " ".join(_text(v) for v in value)  # type: ignore[union-attr]
    if isinstance(value, Dataset):  # a code sequence item: its meaning and value
        return " ".join(str(value.get(k, "")) for k in ("CodeMeaning", "CodeValue"))
    return str(value or "")


class LabelsError(InputError):
    pass


def load_labels(path: str | Path, views: list[str]) -> dict[str, str | None]:
    """Labels CSV -> {relative path or sha256: view or None}; columns `path` or `sha256`, and `view`."""
    path = Path(path)
    if not path.is_file():
        raise LabelsError(f"labels CSV not found: {path} (config key data.labels_csv)")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return _read_labels(path, csv.DictReader(fh), views)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LabelsError(f"labels CSV {path} (config key data.labels_csv) is not a readable CSV: {exc}") from None


def _read_labels(path: Path, reader: csv.DictReader, views: list[str]) -> dict[str, str | None]:
    labels: dict[str, str | None] = {}
    fields = set(reader.fieldnames or [])
    if "view" not in fields or not fields & {"path", "sha256"}:
        raise LabelsError(f"labels CSV {path} needs a 'view' column and a 'path' or 'sha256' column")
    for line, row in enumerate(reader, start=2):
        key = (row.get("sha256") or row.get("path") or "").strip()
        view = (row.get("view") or "").strip().upper()
        if not key:
            raise LabelsError(f"labels CSV {path} line {line}: empty path/sha256")
        if view not in UNASSIGNED_LABELS and view not in views:
            raise LabelsError(f"labels CSV {path} line {line}: view '{view}' is not one of data.views {views}")
        labels[key] = None if view in UNASSIGNED_LABELS else view
    return labels
