"""Process set-up for workflow jobs."""

from __future__ import annotations

import os


def export_source_path(src: str) -> None:
    """Put `src` first on PYTHONPATH so jobs (and their subprocesses) import this checkout's deeppc."""
    current = os.environ.get("PYTHONPATH", "")
    parts = [src, *[p for p in current.split(os.pathsep) if p and p != src]]
    os.environ["PYTHONPATH"] = os.pathsep.join(parts)
