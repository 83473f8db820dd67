"""The data stage: a folder of DICOM/PNG/JPEG files -> PNG dataset split by view.

Files are ingested in parallel (one process per thread given to the rule);
then, with every file's result in hand, exact duplicates are skipped,
near-duplicates grouped, patients split into train/holdout, flagged images
optionally excluded, and every output is built in a private folder and moved
into place at the end (`files.atomic_folder`), so a killed or failed run leaves
the previous outputs intact. An input folder without files is an error.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
from tqdm import tqdm

from deeppc import __version__, files
from deeppc.data import contact_sheet, duplicates, split
from deeppc.data.audit import FLAGS
from deeppc.data.ingest import FileResult, IngestOptions, ingest_file
from deeppc.data.views import load_labels
from deeppc.validate import InputError, input_folder

log = logging.getLogger("deeppc.data")

MANIFEST_COLUMNS = [
    "source", "sha256", "size_bytes", "status", "reason", "kind", "view", "view_source", "split",
    "output", "rows", "cols", "frames", "modality", "body_part", "photometric", "transfer_syntax",
    "bits_stored", "window_source", "sop_class", "patient_key", "study_key", "flags", "duplicate_of",
    "near_duplicate_of", "phash", "warnings",
]  # fmt: skip
UNASSIGNED = "unassigned"
SPLITS = ("train", "holdout", "excluded")


def run(input_dir: str | Path, out_dir: str | Path, data_cfg: dict, seed: int, threads: int = 1) -> dict[str, Any]:
    """Run the data stage; returns the summary also written to summary.json."""
    root, out = Path(input_dir).resolve(), Path(out_dir)
    input_folder(root, "input folder (config key data.input, or --input)")
    labels = load_labels(data_cfg["labels_csv"], data_cfg["views"]) if data_cfg.get("labels_csv") else {}
    opts = IngestOptions.from_config(data_cfg, labels)
    paths = list_inputs(root)
    if not paths:  # an empty dataset is never what was meant: usually the wrong folder
        raise InputError(f"input folder {root} holds no files (config key data.input, or --input)")
    log.info("data stage: %d files under %s, %d worker(s)", len(paths), root, threads)
    with files.atomic_folder(out) as build:
        (build / "staging").mkdir()
        results = _ingest_all(paths, root, build / "staging", opts, threads)
        _mark_duplicates(results, data_cfg["duplicates"]["phash_max_distance"])
        _split(results, data_cfg["split"]["holdout_fraction"], seed)
        _exclude(results, data_cfg["audit"])
        _place_outputs(results, build, data_cfg["views"])
        summary = _write_tables(results, build, data_cfg, seed, root)
        shutil.rmtree(build / "staging", ignore_errors=True)
    log.info("data stage done: %s", summary["status"])
    return summary


def list_inputs(root: Path) -> list[Path]:
    """Every regular file under `root`, in a stable order (hidden files included: they get a row too)."""
    found = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()
        found.extend(Path(folder) / n for n in sorted(names) if (Path(folder) / n).is_file())
    return found


# --------------------------------------------------------------------- ingest

_OPTS: IngestOptions | None = None


def _init_worker(opts: IngestOptions) -> None:
    global _OPTS
    _OPTS = opts


def _work(index: int, path: Path, root: Path, staging: Path) -> FileResult:
    assert _OPTS is not None
    return ingest_file(path, root, staging / f"{index:07d}.png", _OPTS)


def _ingest_all(paths: list[Path], root: Path, staging: Path, opts: IngestOptions, threads: int) -> list[FileResult]:
    if threads <= 1:
        _init_worker(opts)
        return [_work(i, p, root, staging) for i, p in enumerate(tqdm(paths, desc="decode", unit="file"))]
    results: dict[int, FileResult] = {}
    crashed = _pool_map(range(len(paths)), paths, root, staging, opts, threads, results)
    for i in crashed:  # retry alone, so one crashing decoder cannot take other files with it
        if _pool_map([i], paths, root, staging, opts, 1, results):
            results[i] = FileResult(
                row={"source": paths[i].relative_to(root).as_posix(), "status": "failed",
                     "reason": "the decoder crashed the worker process on this file", "flags": ""})  # fmt: skip
    return [results[i] for i in range(len(paths))]


def _pool_map(indices: Iterable[int], paths: list[Path], root: Path, staging: Path, opts: IngestOptions,
              threads: int, results: dict[int, FileResult]) -> list[int]:  # fmt: skip
    """Run indices through a process pool; returns the indices lost to a broken pool."""
    crashed = []
    with ProcessPoolExecutor(max_workers=threads, initializer=_init_worker, initargs=(opts,)) as pool:
        futures: dict[int, Future] = {i: pool.submit(_work, i, paths[i], root, staging) for i in indices}
        for i, future in tqdm(futures.items(), desc="decode", unit="file"):
            try:
                results[i] = future.result()
            except BrokenProcessPool:
                crashed.append(i)
    return crashed


# ----------------------------------------------------------------- decisions


def _decoded(results: list[FileResult]) -> list[FileResult]:
    return [r for r in results if r.staged is not None and r.row["status"] == "ok"]


def _mark_duplicates(results: list[FileResult], max_distance: int) -> None:
    first: dict[str, FileResult] = {}
    for r in _decoded(results):
        if r.pixel_hash in first:
            r.row.update(status="skipped", reason=f"duplicate: identical pixels to {first[r.pixel_hash].row['source']}",
                         duplicate_of=first[r.pixel_hash].row["source"])  # fmt: skip
            os.unlink(r.staged)
            r.staged = None
        else:
            first[r.pixel_hash] = r
    kept = _decoded(results)
    groups = duplicates.near_duplicate_groups([r.phash for r in kept], max_distance)
    members: dict[int, list[str]] = {}
    for r, g in zip(kept, groups):
        members.setdefault(g, []).append(r.row["source"])
    for r, g in zip(kept, groups):
        r.row["phash"] = r.phash
        if len(members[g]) > 1:
            r.row["near_duplicate_of"] = ";".join(s for s in members[g] if s != r.row["source"])
            r.flags.append("near_duplicate")
            r.row["_group"] = g


def _split(results: list[FileResult], fraction: float, seed: int) -> None:
    usable = [r for r in _decoded(results) if r.row.get("view")]
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            k = parent[k]
        return k

    keys = [r.row.get("patient_key") or r.row.get("study_key") or r.row["sha256"] for r in usable]
    by_group: dict[int, str] = {}
    for r, key in zip(usable, keys):  # near-duplicates must share a side: merge their groups
        g = r.row.get("_group")
        if g is not None:
            parent[find(key)] = find(by_group.setdefault(g, key))
    sides = split.assign([find(k) for k in keys], fraction, seed)
    for r, side in zip(usable, sides):
        r.row["split"] = side


def _exclude(results: list[FileResult], audit_cfg: dict) -> None:
    if not audit_cfg["exclude_flagged"]:
        return
    chosen = set(audit_cfg["exclude_flags"])
    for r in _decoded(results):
        hit = sorted(chosen.intersection(r.flags))
        if hit and r.row.get("split"):
            r.row["split"] = "excluded"
            r.row["reason"] = "excluded from training by audit: " + ", ".join(hit)


def _place_outputs(results: list[FileResult], build: Path, views: list[str]) -> None:
    for view in views:
        for side in SPLITS:
            (build / view / side).mkdir(parents=True, exist_ok=True)
    (build / UNASSIGNED).mkdir(exist_ok=True)
    for r in results:
        if r.staged is None:
            continue
        name = f"img-{r.row['sha256'][:16]}.png"
        if r.row["status"] == "ok" and not r.row.get("view"):
            # kept as a PNG so the user can look at it and label it
            r.row.update(status="skipped", reason="view unassigned: no view keyword found "
                         "(add the file to data.labels_csv to assign it)")  # fmt: skip
            rel = f"{UNASSIGNED}/{name}"
        elif r.row["status"] == "ok":
            rel = f"{r.row['view']}/{r.row['split']}/{name}"
        else:
            os.unlink(r.staged)
            r.staged = None
            continue
        os.replace(r.staged, build / rel)
        r.row["output"] = rel
        r.staged = os.fspath(build / rel)


# -------------------------------------------------------------------- tables


def _write_tables(results: list[FileResult], build: Path, data_cfg: dict, seed: int, root: Path) -> dict[str, Any]:
    for r in results:
        r.row["flags"] = ";".join(r.flags)
    manifest = pd.DataFrame([r.row for r in results], columns=MANIFEST_COLUMNS)
    with files.atomic_open(build / "manifest.csv", "w") as fh:
        manifest.to_csv(fh, index=False)
    flagged = _audit_table(results)
    (build / "audit").mkdir(exist_ok=True)
    with files.atomic_open(build / "audit" / "flags.csv", "w") as fh:
        flagged.to_csv(fh, index=False)
    sheet = [(build / r.row["output"], r.flags) for r in results if r.row.get("output") and set(r.flags) & set(FLAGS)]
    contact_sheet.write(build / "audit" / "contact_sheet.png", sheet, data_cfg["audit"]["contact_sheet_max"])
    summary = _summary(manifest, data_cfg, seed, root)
    files.write_json(build / "summary.json", summary)
    return summary


def _audit_table(results: list[FileResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        if not r.measures:
            continue
        row = {"sha256": r.row["sha256"], "output": r.row.get("output", ""), "status": r.row["status"],
               "view": r.row.get("view", ""), "split": r.row.get("split", "")}  # fmt: skip
        row.update({flag: int(flag in r.flags) for flag in FLAGS})
        row.update({k: round(v, 4) for k, v in r.measures.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def _summary(manifest: pd.DataFrame, data_cfg: dict, seed: int, root: Path) -> dict[str, Any]:
    ok = manifest[manifest["status"] == "ok"]
    flags = Counter(f.split(":")[0] for cell in manifest["flags"].fillna("") for f in cell.split(";") if f)
    reasons = Counter(_reason_kind(r) for r in manifest["reason"].fillna("") if r)
    return {
        "deeppc_version": __version__,
        "input": os.fspath(root),
        "seed": seed,
        "files": int(len(manifest)),
        "status": {k: int(v) for k, v in manifest["status"].value_counts().sort_index().items()},
        "views": {v: {s: int(((ok["view"] == v) & (ok["split"] == s)).sum()) for s in SPLITS}
                  for v in data_cfg["views"]},  # fmt: skip
        "unassigned": int(manifest["reason"].fillna("").str.startswith("view unassigned").sum()),
        "flags": dict(sorted(flags.items())),
        "reasons": dict(sorted(reasons.items())),
        "image_size": data_cfg["image_size"],
    }


def _reason_kind(reason: str) -> str:
    """The reason up to its first ':' (e.g. 'duplicate', 'identifying data present')."""
    return reason.split(":")[0].strip()
