"""Bad input, caught before any work: the checks the command line, the workflow scripts and the readers share.

Every check raises `InputError` (a ValueError) with one line that names the
file, folder, option or config key and says what was expected:

* numbers and devices: `at_least`, `in_range`, `device` (cuda only where
  PyTorch sees a CUDA device);
* paths: `input_file`, `input_folder`, and `output_file` / `output_folder`,
  which refuse an output that could not be written (its parent is a file,
  the folder is not writable, a file name names a folder) before any work;
* readers: `reading` turns the decoding errors of third-party readers (a
  truncated zip, random bytes, an empty CSV, bytes that are not UTF-8) into an
  InputError naming the file; `load_torch` does that for PyTorch files;
* hashes: `expected_sha256` accepts the full 64-hex sha256 and nothing
  shorter, except the prefix a file's own name carries (torchvision's
  `name-<8 hex>.pth`).

How bad input is told from a bug (`is_input_error`; the CLI boundary,
`deeppc.cli.main`, and the workflow scripts' `deeppc.logs.log_to_file` apply
it): an InputError (ConfigError, VTTError, StatsInputError, WeightsError,
the CLI's UserError... are subclasses), a FileNotFoundError, or a ValueError
that deeppc's own code raised (the library's convention for "this value
cannot be used") is bad input, reported as one line (exit status 2 from the
CLI). Anything else (TypeError, KeyError, RuntimeError, OSError, a ValueError
raised inside numpy or torch) is a bug, in deeppc or in its checks, and keeps
its traceback. Only these types are ever caught, never a bare Exception.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import re
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterator

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class InputError(ValueError):
    """Bad input: the message (one line) names the file, folder, option or config key and what was expected."""


class MissingInputError(InputError, FileNotFoundError):
    """An input file or folder that does not exist (still a FileNotFoundError for callers that expect one)."""


def is_input_error(exc: BaseException) -> bool:
    """Bad input, to be reported as one line without a traceback (the rule in this module's docstring)."""
    if isinstance(exc, (InputError, FileNotFoundError)):
        return True
    if not isinstance(exc, ValueError):
        return False
    # the library's convention: a ValueError raised by deeppc's own code is about its input;
    # one raised inside numpy, torch or another library means a check is missing (a bug)
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(tb.tb_frame.f_globals.get("__name__", "")).startswith("deeppc")


def one_line(exc: BaseException) -> str:
    """An error message on one line (config validation lists several keys, one per line)."""
    text = ""
    for line in filter(None, (line.strip() for line in str(exc).splitlines())):
        text += (" " if not text or text.endswith(":") else "; ") + line
    return text.strip() or type(exc).__name__


def _say(what: str, text: str) -> str:
    return f"{what} {text}" if what else text


def first_line(exc: BaseException, limit: int = 160) -> str:
    """An exception's message shortened to its first line (third-party messages can run to paragraphs)."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- numbers


def at_least(value: Any, minimum: int, what: str) -> int:
    """`value` as an int >= minimum."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InputError(_say(what, f"must be an integer, got {value!r}")) from None
    if number < minimum:
        raise InputError(_say(what, f"must be at least {minimum}, got {number}"))
    return number


def in_range(value: Any, low: float, high: float, what: str, *, open_low: bool = False,
             open_high: bool = False) -> float:  # fmt: skip
    """`value` as a finite float within [low, high] (ends excluded where `open_*`)."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise InputError(_say(what, f"must be a number, got {value!r}")) from None
    too_low = number <= low if open_low else number < low
    too_high = number >= high if open_high else number > high
    if not math.isfinite(number) or too_low or too_high:
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
        raise InputError(_say(what, f"must be in {interval}, got {value!r}"))
    return number


_DEVICE = re.compile(r"(auto|cpu|cuda)(?::(\d+))?")


def device(name: str, what: str = "device") -> str:
    """A device name PyTorch can use here: auto, cpu, cuda or cuda:N (cuda only with a CUDA device)."""
    text = str(name).strip().lower()
    match = _DEVICE.fullmatch(text)
    if not match or (match[1] != "cuda" and match[2] is not None):
        raise InputError(_say(what, f"{name!r} is not a device: use auto, cpu, cuda or cuda:N"))
    if match[1] == "cuda":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(_say(what, f"{name!r}: PyTorch sees no CUDA device here (use cpu or auto)"))
        if int(match[2] or 0) >= count:
            raise InputError(_say(what, f"{name!r}: only {count} CUDA device(s) here (cuda:0 to cuda:{count - 1})"))
    return text


def torch_device(name: str, what: str = "device"):
    """The checked `device(name)` as a torch.device, ``auto`` resolved (CUDA if present, else CPU)."""
    import torch

    text = device(name, what)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(text)


# --------------------------------------------------------------------------- paths


def input_file(path: str | os.PathLike, what: str = "input file") -> Path:
    """An existing, readable file."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder, expected a file")
    if not path.is_file():
        raise MissingInputError(f"{what} {path} not found")
    if not os.access(path, os.R_OK):
        raise InputError(f"{what} {path} is not readable (permission denied)")
    return path


def input_folder(path: str | os.PathLike, what: str = "input folder") -> Path:
    """An existing, readable folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path} is a file, expected a folder")
    if not path.is_dir():
        raise MissingInputError(f"{what} {path} not found")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InputError(f"{what} {path} is not readable (permission denied)")
    return path


def _writable_base(path: Path, what: str, target: Path) -> None:
    """The nearest existing folder at or above `path` must be a writable folder."""
    base = path.absolute()
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise InputError(f"{what} {target}: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(f"{what} {target}: cannot write in {base} (permission denied)")


def output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """A file that can be written (atomically: a temporary file in its folder, renamed)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder, expected a file name")
    _writable_base(path.parent, what, path)
    return path


def output_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """A folder that can be created or written into."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path} is a file, expected a folder")
    _writable_base(path, what, path)
    return path


# --------------------------------------------------------------------------- readers

# what third-party readers raise on a corrupt, truncated, empty or wrong-kind file
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, ValueError, KeyError, IndexError, zipfile.BadZipFile, pickle.UnpicklingError, zlib.error,
)  # fmt: skip


@contextlib.contextmanager
def reading(path: str | os.PathLike, expected: str, errors: tuple[type[BaseException], ...] = DECODE_ERRORS
            ) -> Iterator[None]:  # fmt: skip
    """Turn a decoding failure inside the block into InputError("{path}: not a readable {expected} (why)").

    Wrap only the third-party read call: everything it raises is then about the
    file's content. An InputError raised inside passes through unchanged.
    """
    try:
        yield
    except InputError:
        raise
    except FileNotFoundError as exc:
        raise MissingInputError(f"{path} not found ({expected})") from exc
    except errors as exc:
        raise InputError(f"{path}: not a readable {expected} ({first_line(exc)})") from exc


def not_empty(path: str | os.PathLike, expected: str) -> Path:
    """`path` as an existing file with at least one byte (empty files get their own clear message)."""
    path = input_file(path, expected)
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty, expected {expected}")
    return path


def load_torch(path: str | os.PathLike, expected: str) -> Any:
    """torch.load(weights_only=True) of a file that must be `expected` (e.g. "a generator checkpoint").

    Truncated files, random bytes and files holding pickled objects other than
    tensors become one InputError naming the file (not PyTorch's page of advice).
    """
    import torch

    path = not_empty(path, expected)
    with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": noise on top of the real error
        warnings.simplefilter("ignore")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:  # random bytes, or pickled objects other than tensors
            raise InputError(f"{path}: not {expected} (not a PyTorch tensor file, or corrupt)") from exc
        except (RuntimeError, *DECODE_ERRORS) as exc:  # torch's own words ("PytorchStreamReader ...") help no one
            raise InputError(f"{path}: not {expected} (truncated or corrupt PyTorch file)") from exc


# --------------------------------------------------------------------------- hashes


def expected_sha256(value: str | None, file_name: str, what: str = "sha256") -> str:
    """The expected sha256 (lower case) of a file to be named `file_name`.

    The full 64 hex digits are required. The one exception is the convention of
    torchvision's weights files (`inception_v3_google-0cc3c7bd.pth`): a prefix of
    at least 8 hex digits is accepted when the file name itself carries it, so
    the name and the check cannot disagree.
    """
    text = (value or "").strip().lower()
    if SHA256_HEX.fullmatch(text):
        return text
    if re.fullmatch(r"[0-9a-f]{8,63}", text) and f"-{text}." in Path(file_name).name.lower():
        return text
    if not text:
        raise InputError(f"{what} is missing: give the file's full sha256 (64 hex digits)")
    raise InputError(
        f"{what} {value!r} is not a full sha256 (64 hex digits); a shorter prefix is accepted only where "
        f"the file name carries it (name-<prefix>.ext), and {Path(file_name).name!r} does not"
    )
