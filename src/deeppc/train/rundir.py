"""The run folder: declared outputs published from a work area that outlives failed attempts.

Workflow managers delete a failed job's declared outputs (Snakemake does, and
again before a retry), which would leave a resumed run without the
checkpoints, samples and loss rows of its earlier attempts. So every file is
written under ``runs/{experiment}/state/`` (never a declared output) and
*published* at its declared path as a hard link, which costs no space (a copy
where the file system has no hard links). A resumed attempt republishes
whatever was deleted; a finished run removes ``state/`` and only the
published files remain.

    runs/{experiment}/ckpt/{iteration}.pt      generator only (deeppc.generator/1)
    runs/{experiment}/samples/{iteration}.png  fixed-noise grid
    runs/{experiment}/losses.csv               appended during training
    runs/{experiment}/summary.json             written when the run ends
    runs/{experiment}/state/resume.pt          resume state
    runs/{experiment}/state/{ckpt,samples,losses.csv}  the working copies
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from deeppc import files


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def work(self) -> Path:
        return self.root / "state"

    @property
    def state(self) -> Path:
        return self.work / "resume.pt"

    @property
    def ckpt_dir(self) -> Path:
        return self.root / "ckpt"

    @property
    def samples_dir(self) -> Path:
        return self.root / "samples"

    @property
    def losses(self) -> Path:
        return self.root / "losses.csv"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    def checkpoint(self, iteration: int) -> Path:
        return self.ckpt_dir / f"{iteration}.pt"

    def sample(self, iteration: int) -> Path:
        return self.samples_dir / f"{iteration}.png"

    def work_of(self, published: Path) -> Path:
        """The working copy behind a declared output."""
        return self.work / published.relative_to(self.root)

    def published_files(self) -> list[Path]:
        found = [*self.ckpt_dir.glob("*.pt"), *self.samples_dir.glob("*.png")]
        return found + [p for p in (self.losses, self.summary) if p.exists()]

    def work_files(self) -> list[Path]:
        found = [*self.work_of(self.ckpt_dir).glob("*.pt"), *self.work_of(self.samples_dir).glob("*.png")]
        return found + [p for p in (self.work_of(self.losses), self.work_of(self.summary)) if p.exists()]


def publish(src: Path, dst: Path) -> None:
    """Make `dst` the same file as `src`, atomically: a hard link, or a copy if links fail."""
    if dst.exists() and os.path.samefile(src, dst):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # no hard links here (some network file systems): copy instead
        with open(src, "rb") as source, files.atomic_open(dst, "wb") as target:
            shutil.copyfileobj(source, target)
        return
    os.replace(tmp, dst)


def republish(paths: RunPaths) -> None:
    """Publish every working copy whose declared output is missing or stale."""
    for work in paths.work_files():
        publish(work, paths.root / work.relative_to(paths.work))


def sweep_temporaries(paths: RunPaths) -> None:
    """Delete half-written temporaries a killed attempt left (a resume state's can be 1 GB)."""
    for folder in (paths.work, paths.work_of(paths.ckpt_dir), paths.work_of(paths.samples_dir)):
        for temp in folder.glob(".*.tmp") if folder.is_dir() else ():
            temp.unlink(missing_ok=True)
    for folder in (paths.root, paths.ckpt_dir, paths.samples_dir):
        for temp in folder.glob(".*.link") if folder.is_dir() else ():
            temp.unlink(missing_ok=True)


def clear(paths: RunPaths) -> None:
    """Remove this run's outputs and work area (a fresh start)."""
    for path in paths.published_files():
        path.unlink()
    shutil.rmtree(paths.work, ignore_errors=True)


def retire_work(paths: RunPaths) -> None:
    """After a finished run: drop the work area; published files keep their data."""
    shutil.rmtree(paths.work, ignore_errors=True)
