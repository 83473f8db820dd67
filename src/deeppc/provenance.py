"""Provenance records: how each workflow job's outputs were produced.

Every workflow script ends with ``record(snakemake)``. It writes one JSON
record per job, ``{results}/provenance/{rule}[/{wildcard values}].json``:

- code: git commit of the checkout that ran the job, whether its tree was
  dirty (and which files), and a sha256 of the workflow and library sources;
- config: the job's params (the config section that drove it: each rule's
  params hold only its own settings), their sha256, the sha256 of the whole
  config, and the job's threads and resources;
- seeds: the root seed and every seed found in the params;
- software: Python and package versions, and CUDA and cuDNN as torch sees them;
- device: host, CPU, the device the job asked for and the GPUs it could see,
  the batch scheduler's job id;
- inputs and outputs: sha256 and size of every file (a directory as a tree
  digest over its files' relative paths and contents).

Records sit in their own folder, not beside the outputs, so nothing that
scans an output folder (stats over scores/, a PNG folder) ever reads one.
They are written on success only: a failed job leaves the previous record,
and ``deeppc audit`` then reports that its outputs are gone or differ.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Mapping

import deeppc
from deeppc import files

FORMAT = "deeppc.provenance/1"
FOLDER = "provenance"

# distributions whose versions decide a result (missing ones are recorded as null)
PACKAGES = (
    "deeppc", "torch", "torchvision", "torch-fidelity", "numpy", "scipy", "pandas", "statsmodels",
    "pillow", "pydicom", "pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle",
    "imagehash", "matplotlib", "snakemake", "snakemake-executor-plugin-slurm",
)
# files whose content is "the code" of a job, relative to the checkout
SOURCE_GLOBS = ("Snakefile", "rules/*.smk", "workflow/scripts/*.py", "src/deeppc/**/*.py", "src/deeppc/**/*.yaml")
SCHEDULER_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_PARTITION", "SLURM_JOB_ACCOUNT",
                  "SLURM_RESTART_COUNT", "PBS_JOBID", "PBS_QUEUE", "PBS_O_HOST")
_SKIPPED_NAMES = (".snakemake_timestamp",)  # Snakemake's own marker inside directory outputs


# ------------------------------------------------------------------ digests

def file_digest(path: str | os.PathLike) -> dict[str, Any]:
    """sha256 and size of a file, or a tree digest of a directory; {"missing": true} if absent."""
    path = Path(path)
    if path.is_dir():
        return tree_digest(path)
    if not path.is_file():
        return {"missing": True}
    return {"kind": "file", "sha256": files.sha256_file(path), "size": path.stat().st_size}


def tree_digest(root: Path, workers: int = 4) -> dict[str, Any]:
    """Digest of a directory: sha256 over its files' sorted relative paths and sha256s.

    Hidden temporary files of atomic writes (``.name.XXXX.tmp``) are skipped:
    they belong to a writer still at work, not to the result.
    """
    members = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.name not in _SKIPPED_NAMES and not (p.name.startswith(".") and p.name.endswith(".tmp"))
    )
    # hashlib releases the GIL on large buffers, so threads overlap reading and hashing
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(members)))) as pool:
        hashes = list(pool.map(files.sha256_file, members))
    h = hashlib.sha256()
    size = 0
    for member, digest in zip(members, hashes):
        h.update(f"{member.relative_to(root).as_posix()}\0{digest}\n".encode())
        size += member.stat().st_size
    return {"kind": "tree", "sha256": h.hexdigest(), "files": len(members), "size": size}


def canonical_json(obj: Any) -> str:
    """The JSON text hashed for a record's params (sorted keys, no spaces)."""
    return json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"))


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def jsonable(obj: Any) -> Any:
    """Plain JSON types for params and config values (anything else as its repr)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return [jsonable(v) for v in items]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return repr(obj)


# --------------------------------------------------------------------- code

def find_checkout(start: Path) -> Path | None:
    """The checkout (folder holding Snakefile and src/deeppc) at or above `start`."""
    for folder in (start, *start.parents):
        if (folder / "Snakefile").is_file() and (folder / "src" / "deeppc").is_dir():
            return folder
    return None


def code_info(checkout: Path | None) -> dict[str, Any]:
    """Git commit, dirty flag and changed files, and a digest of the sources that ran."""
    if checkout is None:
        return {"checkout": None, "git_commit": None, "git_dirty": None, "source_sha256": None}
    commit, dirty = _git(checkout, "rev-parse", "HEAD"), _git(checkout, "status", "--porcelain")
    changed = [line[3:] for line in dirty.splitlines()] if dirty is not None else None
    return {
        "checkout": str(checkout),
        "git_commit": commit.strip() if commit else _commit_from_files(checkout),
        "git_dirty": bool(changed) if changed is not None else None,
        "git_changed_files": changed[:200] if changed else [],
        "source_sha256": source_digest(checkout),
        "deeppc_version": deeppc.__version__,
    }


def source_digest(checkout: Path) -> str:
    """sha256 over the workflow and library source files (paths and contents)."""
    sources = sorted({p for pattern in SOURCE_GLOBS for p in checkout.glob(pattern) if p.is_file()})
    h = hashlib.sha256()
    for path in sources:
        h.update(f"{path.relative_to(checkout).as_posix()}\0{files.sha256_file(path)}\n".encode())
    return h.hexdigest()


def _git(checkout: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _commit_from_files(checkout: Path) -> str | None:
    """HEAD's commit read from .git directly, for compute nodes without a git binary."""
    git = checkout / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


# ------------------------------------------------------- software, device

def software_info() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    info: dict[str, Any] = {"python": sys.version.split()[0], "executable": sys.executable,
                            "platform": platform.platform(), "packages": versions}
    torch = sys.modules.get("torch")  # only jobs that used torch pay for asking it
    if torch is not None:
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return info


def device_info(requested: Any = None, threads: int | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "host": socket.gethostname(),
        "cpu": _cpu_model(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "threads": threads,
        "requested": requested,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "scheduler": {k: os.environ[k] for k in SCHEDULER_VARS if k in os.environ},
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        info["deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()
        info["cuda_available"] = torch.cuda.is_available()
        if info["cuda_available"]:
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# -------------------------------------------------------------------- seeds

def find_seeds(obj: Any, prefix: str = "") -> dict[str, int]:
    """Every int under a key named ``seed`` or ``*_seed``, by dotted path."""
    found: dict[str, int] = {}
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if (key == "seed" or str(key).endswith("_seed")) and isinstance(value, int) and not isinstance(value, bool):
                found[path] = value
            else:
                found.update(find_seeds(value, path))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            found.update(find_seeds(value, f"{prefix}[{i}]"))
    return found


# ------------------------------------------------------------------ records

def record_path(results: str | os.PathLike, rule: str, wildcards: Mapping[str, Any]) -> Path:
    """Where the record of one job goes: provenance/{rule}.json or provenance/{rule}/{values...}.json."""
    base = Path(results) / FOLDER
    values = [str(v).replace("/", "_") or "_" for v in wildcards.values()]
    if not values:
        return base / f"{rule}.json"
    return base.joinpath(rule, *values[:-1], f"{values[-1]}.json")


def snakemake_params_repr(params: Iterable[Any]) -> list[str]:
    """Params as Snakemake's metadata stores them (sorted reprs), for the audit's cross-check."""
    return sorted(repr(v) for v in params if v is None or isinstance(v, (int, float, bool, str, list, tuple, dict)))


def build(
    *,
    rule: str,
    wildcards: Mapping[str, Any],
    params: Mapping[str, Any],
    params_values: Iterable[Any],
    inputs: Iterable[str],
    outputs: Iterable[str],
    logs: Iterable[str],
    config: Mapping[str, Any],
    threads: int | None,
    resources: Mapping[str, Any],
    checkout: Path | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A provenance record from plain values (``record`` feeds it from the snakemake object)."""
    clean_params = jsonable(dict(params))
    return {
        "format": FORMAT,
        "rule": rule,
        "wildcards": {k: str(v) for k, v in wildcards.items()},
        "finished_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "workdir": os.getcwd(),
        "results": str(config.get("results", "results")),
        "code": code_info(checkout),
        "config": {
            "params": clean_params,
            "params_sha256": sha256_json(clean_params),
            "config_sha256": sha256_json(config),
            "threads": threads,
            "resources": {k: jsonable(v) for k, v in resources.items() if not k.startswith("_")},
        },
        "snakemake_params": snakemake_params_repr(params_values),
        "seeds": {"root": config.get("seed"), **{f"params.{k}": v for k, v in find_seeds(clean_params).items()}},
        "software": software_info(),
        "device": device_info(params.get("device"), threads),
        "inputs": {str(p): file_digest(p) for p in dict.fromkeys(map(str, inputs))},
        "outputs": {str(p): file_digest(p) for p in dict.fromkeys(map(str, outputs))},
        "logs": sorted(map(str, logs)),
        **({"extra": jsonable(extra)} if extra else {}),
    }


def record(snakemake: Any, extra: Mapping[str, Any] | None = None) -> Path:
    """Write the provenance record of the running Snakemake job; call it last in a workflow script.

    `extra` adds job-specific facts (e.g. derived seeds) under "extra".
    """
    smk = snakemake
    params = dict(smk.params.items()) if hasattr(smk.params, "items") else {}
    scriptdir = Path(smk.scriptdir) if getattr(smk, "scriptdir", None) else Path(deeppc.__file__).parent
    checkout = find_checkout(scriptdir.resolve()) or find_checkout(Path(deeppc.__file__).resolve().parent)
    resources = dict(smk.resources.items()) if hasattr(smk.resources, "items") else {}
    wildcards = dict(smk.wildcards.items())
    rec = build(
        rule=smk.rule,
        wildcards=wildcards,
        params=params,
        params_values=list(smk.params),
        inputs=list(smk.input),
        outputs=list(smk.output),
        logs=list(smk.log),
        config=smk.config,
        threads=smk.threads,
        resources=resources,
        checkout=checkout,
        extra=extra,
    )
    path = record_path(rec["results"], smk.rule, wildcards)
    files.write_json(path, rec)
    return path


def load(path: str | os.PathLike) -> dict[str, Any]:
    """A record from disk; ValueError if it is not one."""
    rec = json.loads(Path(path).read_text())
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} record")
    return rec
