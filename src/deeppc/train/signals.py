"""SIGTERM/SIGINT as a request to stop at the next iteration boundary.

A scheduler at walltime (SLURM, PBS) sends SIGTERM and kills a little later.
The handler only records the signal; the training loop sees the request
after the current iteration, writes its resume state and exits with
128 + signal number, a failure, so the scheduler or `snakemake --retries`
starts the job again and it resumes.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType

log = logging.getLogger(__name__)

HANDLED = (signal.SIGTERM, signal.SIGINT)


class Interrupted(Exception):
    """Training stopped on a signal after saving its resume state."""

    def __init__(self, signum: int, iteration: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name} after iteration {iteration}; resume state saved")
        self.signum = signum
        self.iteration = iteration

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopRequests:
    """Context manager: while active, SIGTERM/SIGINT set ``requested`` instead of killing."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is None:
            log.warning("%s received: saving resume state after this iteration", signal.Signals(signum).name)
        self.requested = signum

    def __enter__(self) -> "StopRequests":
        # signal handlers can only be installed from the main thread
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
