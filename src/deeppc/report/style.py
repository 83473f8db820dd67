"""One figure style for every deeppc figure.

Figures are built on `matplotlib.figure.Figure` objects with the Agg canvas,
never through pyplot's global state, so figure code runs in headless jobs and
never changes the backend of a notebook that imports it. Sizes are fixed
(no tight bounding box), so a figure's pixel size is known in advance:
`pixels(inches) = round(inches * DPI)`.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, Sequence

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from deeppc.files import atomic_open

DPI = 150
PANEL = (5.0, 3.6)  # inches per plot panel: two side by side fit a page
IMAGE_CELL = 2.4  # inches per image in sample grids
RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.4,
    "lines.markersize": 3.5,
    "image.cmap": "gray",
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
}
# a colour-blind-safe qualitative palette (Okabe & Ito)
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
METRIC_LABELS = {"medfid": "MedFID", "fid": "FID", "kid": "KID", "precision": "precision", "recall": "recall",
                 "mem_fraction": "fraction flagged as copies", "mem_excess": "estimated share of copies",
                 "mem_p": "copy test p-value (low: copying)",
                 "mem_fraction_feature": "fraction flagged as copies (features)",
                 "mem_fraction_pixel": "fraction flagged as copies (pixels)",
                 "mem_ratio_median_feature": "median copy ratio (features)",
                 "mem_ratio_median_pixel": "median copy ratio (pixels)"}  # fmt: skip
LOWER_IS_BETTER = {"medfid", "fid", "kid", "mem_fraction", "mem_excess", "mem_fraction_feature", "mem_fraction_pixel"}
ITERATION_LABEL = "training iteration (discriminator updates)"


def metric_label(metric: str) -> str:
    """Axis label for a metric, saying which direction is better where that is known."""
    name = METRIC_LABELS.get(metric, metric)
    if metric in LOWER_IS_BETTER:
        return f"{name} (lower is better)"
    if metric in ("precision", "recall"):
        return f"{name} (higher is better)"
    return name


def colours(names: Sequence[str]) -> dict[str, str]:
    """A stable colour per name, in the given order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


@contextlib.contextmanager
def context() -> Iterator[None]:
    """Apply the deeppc style only while a figure is built."""
    with matplotlib.rc_context(RC):
        yield


def inches(ncols: int, nrows: int = 1, panel: tuple[float, float] = PANEL) -> tuple[float, float]:
    return (panel[0] * ncols, panel[1] * nrows)


def pixels(size_inches: tuple[float, float]) -> tuple[int, int]:
    """(width, height) in pixels of a saved figure of that size."""
    return (round(size_inches[0] * DPI), round(size_inches[1] * DPI))


def new_figure(ncols: int, nrows: int = 1, panel: tuple[float, float] = PANEL, **subplot_kw) -> tuple[Figure, list]:
    """A figure with a grid of panels (flat list of axes), constrained layout."""
    fig = Figure(figsize=inches(ncols, nrows, panel), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, [ax for row in axes for ax in row]


def save(fig: Figure, path: str | os.PathLike) -> str:
    """Write the figure as PNG atomically; returns the path as a string."""
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=DPI)
    return os.fspath(path)
