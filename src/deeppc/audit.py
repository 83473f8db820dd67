"""Audit a results folder: do the files still match how they were produced?

Two independent accounts of every output are compared with the files on disk:

- the provenance records (``results/provenance/**.json``, deeppc.provenance),
  written by each job on the machine that ran it, with the sha256 of every
  input and output;
- Snakemake's metadata (``.snakemake/metadata/``: one JSON record per output
  file, named by the urlsafe base64 of its path; see ``read_metadata``),
  written by the Snakemake process that scheduled the job: rule, input paths,
  params, and the output's modification time when the job finished.

Inconsistent (exit status 1): an output missing or whose sha256 differs from
its record; an input that changed since the job that read it; a results file
with Snakemake metadata but no provenance record; a record and the metadata
disagreeing on the rule, the inputs or the params; an output still marked
incomplete. Warnings: an output touched but unchanged in content, an input
outside the results folder that is not there to check (e.g. the original
DICOM export, removed after processing).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from deeppc import provenance

OK, WARNING, INCONSISTENT = "ok", "warning", "inconsistent"
MTIME_TOLERANCE_S = 1e-3  # Snakemake stores st_mtime as a float


@dataclass(frozen=True)
class Finding:
    status: str  # ok | warning | inconsistent
    path: str  # the file the finding is about
    job: str  # the job (rule and wildcards) whose record or metadata says so
    message: str


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    records: int = 0
    metadata_records: int = 0

    def add(self, status: str, path: str, job: str, message: str) -> None:
        self.findings.append(Finding(status, path, job, message))

    def count(self, status: str) -> int:
        return sum(f.status == status for f in self.findings)

    @property
    def consistent(self) -> bool:
        return self.count(INCONSISTENT) == 0


# ------------------------------------------------------ Snakemake metadata

def read_metadata(workdir: Path) -> dict[str, dict[str, Any]]:
    """Snakemake's per-output metadata records, by output path (as the rule wrote it).

    Snakemake 8/9's default (file) persistence: ``.snakemake/metadata/<name>``
    where <name> is the urlsafe base64 of the path; names longer than the file
    system allows are split into folders whose names start with "@".
    """
    return dict(_records(workdir / ".snakemake" / "metadata"))


def read_incomplete(workdir: Path) -> set[str]:
    """Outputs Snakemake marks incomplete (``.snakemake/incomplete/``, same naming): their job never finished."""
    return {path for path, _ in _records(workdir / ".snakemake" / "incomplete")}


def _records(root: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if not root.is_dir():
        return
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        encoded = "".join(p[1:] if p.startswith("@") else p for p in path.relative_to(root).parts)
        try:
            yield base64.urlsafe_b64decode(encoded).decode(), json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue  # Snakemake's own bookkeeping (e.g. "migration_underway"), not a record


# ------------------------------------------------------------------- audit

class _Digests:
    """sha256 of each path, computed once however many records name it."""

    def __init__(self, resolve: Callable[[str], Path]) -> None:
        self._resolve = resolve
        self._cache: dict[str, dict[str, Any]] = {}

    def __call__(self, path: str) -> dict[str, Any]:
        if path not in self._cache:
            self._cache[path] = provenance.file_digest(self._resolve(path))
        return self._cache[path]


def job_name(rec: dict[str, Any]) -> str:
    wildcards = " ".join(f"{k}={v}" for k, v in rec.get("wildcards", {}).items())
    return f"{rec['rule']} {wildcards}".strip()


def find_workdir(results: Path, records: list[dict[str, Any]]) -> Path:
    """The Snakemake working directory: where the records' relative paths start.

    The results folder's configured name (e.g. "results") is stripped from
    its path on this machine, so a results tree moved together with its
    .snakemake folder still audits; else the working directory at job time.
    """
    for rec in records:
        configured = Path(rec.get("results", "results"))
        if configured.is_absolute():
            return Path(rec["workdir"])
        here = results.resolve()
        if here.parts[-len(configured.parts):] == configured.parts:
            return Path(*here.parts[: -len(configured.parts)]) if len(here.parts) > len(configured.parts) else Path("/")
        return Path(rec["workdir"])
    return results.resolve().parent


def load_records(results: Path, report: Report) -> list[tuple[Path, dict[str, Any]]]:
    loaded = []
    for path in sorted((results / provenance.FOLDER).rglob("*.json")):
        try:
            loaded.append((path, provenance.load(path)))
        except (ValueError, OSError) as exc:
            report.add(INCONSISTENT, str(path), "-", f"unreadable provenance record: {exc}")
    return loaded


def audit(results: str | os.PathLike, workdir: str | os.PathLike | None = None,
          use_metadata: bool = True) -> Report:
    """Check every provenance record under `results` against the files and Snakemake's metadata."""
    results = Path(results)
    report = Report()
    loaded = load_records(results, report)
    report.records = len(loaded)
    if not loaded:
        report.add(INCONSISTENT, str(results / provenance.FOLDER), "-", "no provenance records found")
        return report
    base = Path(workdir) if workdir else find_workdir(results, [rec for _, rec in loaded])

    def resolve(path: str) -> Path:
        return Path(path) if os.path.isabs(path) else base / path

    digests = _Digests(resolve)
    metadata = read_metadata(base) if use_metadata else {}
    incomplete = read_incomplete(base) if use_metadata else set()
    report.metadata_records = len(metadata)
    if use_metadata and not metadata:
        report.add(INCONSISTENT, str(base / ".snakemake" / "metadata"), "-",
                   "no Snakemake metadata here (pass --workdir, or --no-metadata to check hashes only)")

    claimed: dict[str, str] = {}
    results_prefix = _results_prefix(loaded[0][1])
    for _, rec in loaded:
        name = job_name(rec)
        for out, recorded in rec["outputs"].items():
            if out in claimed:
                report.add(INCONSISTENT, out, name, f"also claimed by the record of {claimed[out]}")
            claimed[out] = name
            _check_output(report, name, out, recorded, digests(out), metadata.get(out) if use_metadata else None,
                          use_metadata, resolve)
            if use_metadata and out in metadata:
                _check_metadata(report, name, out, rec, metadata[out])
            if out in incomplete:
                report.add(INCONSISTENT, out, name, "Snakemake marks it incomplete: a later run of its job "
                                                    "was interrupted")
        for inp, recorded in rec["inputs"].items():
            _check_input(report, name, inp, recorded, digests(inp), inside=_under(inp, results_prefix))
    for out, meta in sorted(metadata.items()):
        if out not in claimed and _under(out, results_prefix) and resolve(out).exists():
            report.add(INCONSISTENT, out, meta.get("rule") or "-",
                       "Snakemake produced it but there is no provenance record for it")
    return report


def _results_prefix(rec: dict[str, Any]) -> str:
    return rec.get("results", "results").rstrip("/") + "/"


def _under(path: str, prefix: str) -> bool:
    return path.startswith(prefix)


def _same(recorded: dict[str, Any], now: dict[str, Any]) -> bool:
    return not now.get("missing") and recorded.get("sha256") == now.get("sha256")


def _check_output(report: Report, job: str, out: str, recorded: dict[str, Any], now: dict[str, Any],
                  meta: dict[str, Any] | None, use_metadata: bool, resolve: Callable[[str], Path]) -> None:
    if now.get("missing"):
        report.add(INCONSISTENT, out, job, "output missing")
        return
    if not _same(recorded, now):
        what = "content" if now.get("kind") == "file" else "files"
        report.add(INCONSISTENT, out, job, f"{what} changed since the job wrote it (sha256 differs from its record)")
        return
    if use_metadata and meta is None:
        report.add(INCONSISTENT, out, job, "no Snakemake metadata for this output")
        return
    if meta is not None and now.get("kind") == "file" and meta.get("endtime") is not None:
        mtime = resolve(out).stat().st_mtime
        if abs(mtime - float(meta["endtime"])) > MTIME_TOLERANCE_S:
            report.add(WARNING, out, job, "modification time differs from when its job finished (content unchanged)")
            return
    report.add(OK, out, job, "matches its record" + (" and Snakemake's metadata" if meta is not None else ""))


def _check_metadata(report: Report, job: str, out: str, rec: dict[str, Any], meta: dict[str, Any]) -> None:
    problems = []
    if meta.get("incomplete"):
        problems.append("Snakemake marks it incomplete")
    if meta.get("rule") != rec["rule"]:
        problems.append(f"Snakemake says rule {meta.get('rule')!r} wrote it, the record says {rec['rule']!r}")
    if meta.get("input") is not None and sorted(meta["input"]) != sorted(rec["inputs"]):
        problems.append("Snakemake's input list differs from the record's")
    params = set(rec.get("snakemake_params", []))
    if meta.get("params") is not None and not set(meta["params"]) <= params:
        problems.append("Snakemake's params differ from the record's (the job was rerun without a new record?)")
    for problem in problems:
        report.add(INCONSISTENT, out, job, problem)


def _check_input(report: Report, job: str, inp: str, recorded: dict[str, Any], now: dict[str, Any],
                 inside: bool) -> None:
    if recorded.get("missing"):
        return  # optional input absent at job time, still absent or not: nothing was read
    if now.get("missing"):
        status = INCONSISTENT if inside else WARNING
        note = "" if inside else " (outside results: not checked)"
        report.add(status, inp, job, "input of this job is gone" + note)
        return
    if not _same(recorded, now):
        report.add(INCONSISTENT, inp, job, "input changed since this job read it: its outputs are stale")


# ----------------------------------------------------------------- printing

def lines(report: Report, verbose: bool = True) -> Iterator[str]:
    """Human-readable report: problems first (each naming the file), then what is consistent."""
    order = {INCONSISTENT: 0, WARNING: 1, OK: 2}
    label = {INCONSISTENT: "INCONSISTENT", WARNING: "warning", OK: "ok"}
    for f in sorted(report.findings, key=lambda f: (order[f.status], f.path)):
        if f.status == OK and not verbose:
            continue
        yield f"{label[f.status]:<12} {f.path}: {f.message} [{f.job}]"
    ok_files = len({f.path for f in report.findings if f.status == OK})
    yield (f"{'consistent' if report.consistent else 'NOT consistent'}: {ok_files} outputs consistent, "
           f"{report.count(INCONSISTENT)} inconsistencies, {report.count(WARNING)} warnings "
           f"({report.records} provenance records, {report.metadata_records} Snakemake metadata records)")
