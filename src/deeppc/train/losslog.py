"""losses.csv, appended as training goes, and the divergence check on its values.

Loss tensors are kept on the device and converted in one transfer per
``sync`` (one host-device synchronisation per batch of rows, not per
iteration). Every value is checked before its row is written: the first NaN
or infinity stops the run with ``Diverged`` naming the loss and iteration.

On resume the file is cut back to its recorded byte length at the resumed
iteration (``os.truncate``, nothing is rewritten), so rows of iterations
after it appear exactly once.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import torch

from deeppc import files


class Diverged(RuntimeError):
    """A logged loss became NaN or infinite."""

    def __init__(self, experiment: str, loss: str, iteration: int, value: float) -> None:
        super().__init__(
            f"experiment '{experiment}' diverged: {loss} is {value} at iteration {iteration}. "
            "The run stopped there; lower the learning rate or change the betas and run it again."
        )
        self.experiment = experiment
        self.loss = loss
        self.iteration = iteration
        self.value = value


def _format(value: float | None) -> str:
    return "" if value is None else repr(float(value))


class LossLog:
    def __init__(self, path: Path, columns: Sequence[str], experiment: str, resume_bytes: int | None = None) -> None:
        self.path = path
        self.columns = tuple(columns)
        self.experiment = experiment
        if resume_bytes is None:
            files.write_text(path, ",".join(("iteration", *self.columns)) + "\n")
        else:
            os.truncate(path, resume_bytes)
        self._fh = open(path, "a", newline="")
        self._pending: list[tuple[int, Mapping[str, torch.Tensor]]] = []

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, iteration: int, values: Mapping[str, torch.Tensor]) -> None:
        self._pending.append((iteration, values))

    def sync(self) -> dict[str, float]:
        """Write pending rows; returns the last row's values. Raises Diverged on NaN/inf."""
        if not self._pending:
            return {}
        flat = [v for _, row in self._pending for v in row.values()]
        numbers = iter(torch.stack([v.float() for v in flat]).tolist()) if flat else iter(())
        rows = [(it, {name: next(numbers) for name in row}) for it, row in self._pending]
        self._pending.clear()
        last: dict[str, float] = {}
        for iteration, row in rows:
            self._fh.write(",".join([str(iteration), *(_format(row.get(c)) for c in self.columns)]) + "\n")
            bad = next((c for c in self.columns if c in row and not math.isfinite(row[c])), None)
            if bad is not None:
                self._fh.flush()
                raise Diverged(self.experiment, bad, iteration, row[bad])
            last = row
        self._fh.flush()
        return last

    def durable_size(self) -> int:
        """Flush to disk and return the file's length (recorded in the resume state)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return self._fh.tell()

    def close(self) -> None:
        self._fh.close()
