"""Data-stage throughput: deeppc's stage vs a plain single-process pydicom + Pillow loop.

Both read the same DICOM files (the demo generator at realistic sizes) and
write 256 px 8-bit PNGs. The baseline is what a researcher would write first:
dcmread, pixel_array, window (or min/max), invert MONOCHROME1, Pillow resize,
save. deeppc does more per file (hashing, privacy and view checks, aspect-
preserving padding, audit, perceptual hash, manifest) and runs one process per
core. Prints images/s for each and the ratio.

    python benchmarks/preprocess.py            # 120 patients, 768-2048 px, 2 workers
    python benchmarks/preprocess.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from deeppc import config
from deeppc.data import stage
from deeppc.demo.export import write_demo_dataset


def baseline(files: list[Path], out: Path, size: int) -> int:
    """The straightforward loop: one process, no checks beyond 'does it decode'."""
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for i, path in enumerate(files):
        try:
            ds = pydicom.dcmread(path)
            arr = ds.pixel_array.astype(np.float64)
        except Exception:
            continue
        if arr.ndim != 2:
            continue
        if "WindowCenter" in ds and "WindowWidth" in ds:
            c, w = float(np.ravel(ds.WindowCenter)[0]), float(np.ravel(ds.WindowWidth)[0])
            arr = np.clip((arr - (c - w / 2)) / w, 0, 1)
        else:
            arr = (arr - arr.min()) / max(arr.max() - arr.min(), 1)
        if ds.get("PhotometricInterpretation") == "MONOCHROME1":
            arr = 1 - arr
        im = Image.fromarray((arr * 255).astype(np.uint8)).resize((size, size), Image.Resampling.LANCZOS)
        im.save(out / f"{i}.png")
        written += 1
    return written


def _best(repeat: int, run):
    """(shortest wall time, result) over `repeat` runs: the machine's noise only ever adds time."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=120)
    parser.add_argument("--min-size", type=int, default=768)
    parser.add_argument("--max-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each side; the best is reported")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.patients, args.min_size, args.max_size, args.repeat = 8, 256, 512, 1
    work = Path(tempfile.mkdtemp(prefix="deeppc-bench-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    data = work / "dicom"
    write_demo_dataset(data, patients=args.patients, seed=11, min_size=args.min_size, max_size=args.max_size)
    files = stage.list_inputs(data)
    cfg = config.validate({"data": {"input": os.fspath(data), "image_size": 256}})["data"]
    stage.run(data, work / "warmup", cfg, seed=1, threads=1)  # warm caches and imports once for both

    t_base, n_base = _best(args.repeat, lambda: baseline(files, work / "baseline", 256))
    t_ours, summary = _best(args.repeat, lambda: stage.run(data, work / "deeppc", cfg, seed=1, threads=args.threads))
    t_one, _ = _best(args.repeat, lambda: stage.run(data, work / "deeppc1", cfg, seed=1, threads=1))
    n_ours = sum(summary["status"].values())
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}; "
          f"best of {args.repeat} runs per side")  # fmt: skip
    print(f"files: {len(files)} ({args.min_size}-{args.max_size} px), baseline wrote {n_base} PNGs, "
          f"deeppc accounted for {n_ours} files")  # fmt: skip
    print(f"baseline (1 process): {len(files) / t_base:8.1f} files/s  ({t_base:.2f} s)")
    print(f"deeppc ({args.threads} workers):   {len(files) / t_ours:8.1f} files/s  ({t_ours:.2f} s)")
    print(f"deeppc (1 worker):    {len(files) / t_one:8.1f} files/s  ({t_one:.2f} s)")
    print(f"ratio deeppc/baseline: {t_base / t_ours:.2f}x  (1 worker: {t_base / t_one:.2f}x)")


if __name__ == "__main__":
    main()
