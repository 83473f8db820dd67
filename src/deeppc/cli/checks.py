"""argparse `type=` functions over `deeppc.validate`: options are checked while the command line is parsed,
before any work, and a bad one fails as `deeppc COMMAND: error: argument --OPTION: what is wrong`.

Each function here only adapts a `deeppc.validate` check (which the workflow
scripts and readers use too) to argparse, which wants ArgumentTypeError.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable, TypeVar

from deeppc import validate

T = TypeVar("T")


def _adapt(check: Callable[[str], T], name: str) -> Callable[[str], T]:
    def parse(text: str) -> T:
        try:
            return check(text)
        except validate.InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def at_least(minimum: int) -> Callable[[str], int]:
    """An integer >= minimum."""
    return _adapt(lambda text: validate.at_least(text, minimum, ""), f"int>={minimum}")


positive = at_least(1)
non_negative = at_least(0)


def in_range(low: float, high: float, **kwargs: Any) -> Callable[[str], float]:
    """A finite number in [low, high] (`open_low` / `open_high` exclude an end)."""
    return _adapt(lambda text: validate.in_range(text, low, high, "", **kwargs), "number")


probability = in_range(0.0, 1.0, open_low=True, open_high=True)
device = _adapt(lambda text: validate.device(text, ""), "device")
input_file = _adapt(lambda text: validate.input_file(text, "file"), "file")
input_folder = _adapt(lambda text: validate.input_folder(text, "folder"), "folder")
output_file = _adapt(lambda text: validate.output_file(text, "output file"), "output file")
output_folder = _adapt(lambda text: validate.output_folder(text, "output folder"), "output folder")


def input_path(text: str) -> Path:
    """An existing file or folder (e.g. score files or folders of them)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{path} not found")
    return path
