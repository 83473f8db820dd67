"""Tables and figures of a MedFID training run: curves, confusion matrix, per-class accuracy.

Figures are matplotlib `Figure` objects on the Agg canvas (never pyplot's
global state), written atomically like every other output.
"""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from deeppc.files import atomic_open, write_text

DPI = 150
CURVE_COLUMNS = ("phase", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def per_class_accuracy(counts: np.ndarray) -> np.ndarray:
    """Recall of each class (diagonal over row sums); NaN for a class with no images."""
    totals = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(counts) / totals, np.nan)


def write_curves(path: Path, history: Sequence[dict]) -> None:
    write_text(path, _csv(CURVE_COLUMNS, [[row[c] for c in CURVE_COLUMNS] for row in history]))


def write_confusion(path: Path, counts: np.ndarray, classes: Sequence[str]) -> None:
    rows = [[cls, *counts[i].tolist()] for i, cls in enumerate(classes)]
    write_text(path, _csv(["true \\ predicted", *classes], rows))


def write_per_class(path: Path, counts: np.ndarray, classes: Sequence[str], comparable: bool) -> None:
    accuracy = per_class_accuracy(counts)
    rows = [[cls, int(counts[i].sum()), int(counts[i, i]), float(accuracy[i]), comparable]
            for i, cls in enumerate(classes)]  # fmt: skip
    write_text(path, _csv(["class", "n", "correct", "accuracy", "comparable_to_published"], rows))


def _csv(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: Path) -> None:
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=DPI)


def plot_curves(path: Path, history: Sequence[dict], note: str = "") -> None:
    """Loss and accuracy per epoch, both phases on one axis, the phase boundary marked."""
    fig = new_figure(10, 3.8)
    axes = fig.subplots(1, 2)
    x = np.arange(1, len(history) + 1)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for split, style in (("train", "-"), ("val", "--")):
            ax.plot(x, [row[f"{split}_{metric}"] for row in history], style, marker="o", ms=3, label=split)
        phase1 = sum(1 for row in history if row["phase"] == 1)
        if 0 < phase1 < len(history):
            ax.axvline(phase1 + 0.5, color="grey", lw=0.8, ls=":")
            ax.text(phase1 + 0.6, ax.get_ylim()[1], "phase 2", va="top", fontsize=8, color="grey")
        ax.set_xlabel("epoch (phase 1, then phase 2)")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    if note:
        fig.suptitle(textwrap.fill(note, 120), fontsize=9)
    save_figure(fig, path)


def plot_confusion(path: Path, counts: np.ndarray, classes: Sequence[str], title: str) -> None:
    """Row-normalised colours with the counts written in each cell."""
    fig = new_figure(1.2 + 0.7 * len(classes), 1.0 + 0.6 * len(classes))
    ax = fig.subplots()
    totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax.imshow(counts / totals, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            colour = "white" if counts[i, j] / totals[i, 0] > 0.6 else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    save_figure(fig, path)
