"""The resume state: everything needed to continue a run bit-identically.

Saved atomically to runs/{experiment}/state/resume.pt every ``state_every``
iterations and on SIGTERM; removed when the run finishes. It holds the
weights of G and D (BatchNorm running statistics included) and of G_ema
when the generator is averaged, both optimizers' moments and step counts,
the loss object's own state (StyleGAN2: path-length mean, ADA p and its
sign statistics), the run's noise stream, the global RNGs (Python, numpy,
torch CPU and CUDA) though the built-in losses draw from none of them, the
data sampler's position, the byte length of losses.csv at that iteration,
and fingerprints of the settings, the data and the ``init_from`` file so a
state is never applied to a different experiment. Images seen are a
function of the iteration, not saved apart.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deeppc import files

log = logging.getLogger(__name__)

FORMAT = "deeppc.resume/1"


def global_rng_states() -> dict[str, Any]:
    np_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_global_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np_state = states["numpy"]
    np.random.set_state(
        {
            "bit_generator": np_state["bit_generator"],
            "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


def save(path: Path, payload: dict[str, Any]) -> None:
    with files.atomic_open(path, "wb") as fh:
        torch.save({"format": FORMAT, **payload}, fh)


def load(path: Path) -> dict[str, Any] | None:
    """The state at `path`, or None (with a warning) if it is missing or unreadable."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a foreign or damaged file must not stop a fresh start
        log.warning("ignoring unreadable resume state %s: %s", path, exc)
        return None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        log.warning("ignoring %s: not a %s file", path, FORMAT)
        return None
    return state


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp") if path.parent.exists() else ():
        stale.unlink(missing_ok=True)
    if path.parent.exists() and not any(path.parent.iterdir()):
        path.parent.rmdir()
