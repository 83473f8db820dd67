"""Logging set-up shared by the command-line tools and workflow scripts."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from deeppc.validate import is_input_error, one_line

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(log_file: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    """Log to stderr and, when given, to `log_file` (the rule's log)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="a"))
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    logging.captureWarnings(True)
    return logging.getLogger("deeppc")


class log_to_file:
    """Context manager for workflow scripts: logging and stderr (progress bars) go to the rule's log."""

    def __init__(self, log_file: str | Path):
        self.path = Path(log_file)

    def __enter__(self) -> logging.Logger:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = open(self.path, "a", buffering=1)
        self._saved = sys.stderr
        sys.stderr = self._stream
        return setup(None)

    def __exit__(self, *exc_info: object) -> None:
        exc = exc_info[1]
        bad_input = isinstance(exc, BaseException) and is_input_error(exc)
        if bad_input:  # one line, as the command line reports it (see deeppc.validate)
            logging.getLogger("deeppc").error("job failed: bad input: %s", one_line(exc))
        elif exc_info[0] is not None:  # a bug or a crash: the traceback belongs in the rule's log too
            logging.getLogger("deeppc").error("job failed", exc_info=exc_info)  # type: ignore[arg-type]
        sys.stderr = self._saved
        logging.shutdown()
        self._stream.close()
        if bad_input:
            print(f"error: {one_line(exc)}", file=sys.stderr)
            raise SystemExit(2) from None
