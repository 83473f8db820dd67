"""Loop state of MedFID training, saved after every epoch so a killed run resumes where it stopped.

`state/resume.pt` holds the progress (phase, epoch, history, which epochs are
best so far), the current network and optimizer, and both random generators
(batches/augmentation, and torch's global one that dropout draws from). The
best network of each phase is a separate file, `state/best-phase<P>-epoch<E>.pt`,
written only when it changes; resume.pt names the ones it belongs to, and
files it no longer names are removed after it is written, so a kill at any
moment leaves a consistent set. A state whose fingerprint (data, settings,
base weights) differs from the run's is ignored.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from deeppc.files import atomic_open
from deeppc.seeding import derive_seed

log = logging.getLogger(__name__)


@dataclass
class Best:
    """The best epoch so far (of a phase, or overall) and its network weights."""

    accuracy: float = -1.0
    phase: int = 0
    epoch: int = 0
    state: dict | None = field(default=None, repr=False)

    def summary(self) -> dict:
        return {"phase": self.phase, "epoch": self.epoch, "val_accuracy": self.accuracy}

    @property
    def file_name(self) -> str:
        return f"best-phase{self.phase}-epoch{self.epoch}.pt"


def cpu_state(net: nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}


@dataclass
class LoopState:
    fingerprint: str
    gen: torch.Generator
    phase: int = 1
    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    phase_best: dict[int, Best] = field(default_factory=lambda: {1: Best(), 2: Best()})
    best_phase: int = 0  # which phase holds the overall best
    model_state: dict | None = None
    optimizer_state: dict | None = None
    backbone_init: str = ""

    @property
    def best(self) -> Best:
        return self.phase_best[self.best_phase] if self.best_phase else Best()

    @classmethod
    def start(cls, state_dir: Path | None, fingerprint: str, seed: int) -> "LoopState":
        """A fresh state, or the saved one when it belongs to this run."""
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(derive_seed(seed, "medfid-dropout"))
        path = state_dir / "resume.pt" if state_dir else None
        if path is None or not path.is_file():
            return cls(fingerprint, gen)
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("fingerprint") != fingerprint:
            log.info("ignoring %s: it belongs to other data or settings", path)
            return cls(fingerprint, gen)
        gen.set_state(saved["rng"])
        torch.set_rng_state(saved["torch_rng"])
        phase_best = {int(k): _load_best(state_dir, v) for k, v in saved["phase_best"].items()}
        log.info("resuming medfid training after phase %d epoch %d", saved["phase"], saved["epoch"])
        return cls(
            fingerprint, gen, saved["phase"], saved["epoch"], saved["history"], phase_best,
            saved["best_phase"], saved["model"], saved["optimizer"], saved["backbone_init"],
        )  # fmt: skip

    def record(self, row: dict, net: nn.Module) -> bool:
        """Add an epoch; returns whether it is its phase's new best (a strict improvement)."""
        self.history.append(row)
        phase, accuracy = row["phase"], row["val_accuracy"]
        if accuracy <= self.phase_best[phase].accuracy:
            return False
        self.phase_best[phase] = Best(accuracy, phase, row["epoch"], cpu_state(net))
        if accuracy > self.best.accuracy:
            self.best_phase = phase
        return True

    def save(self, state_dir: Path | None, net: nn.Module, opt: torch.optim.Optimizer, new_best: bool,
             init: str) -> None:  # fmt: skip
        if state_dir is None:
            return
        last = self.history[-1]
        if new_best:
            best = self.phase_best[last["phase"]]
            _write(state_dir / best.file_name, best.state)
        payload = {
            "fingerprint": self.fingerprint, "phase": last["phase"], "epoch": last["epoch"],
            "history": self.history, "best_phase": self.best_phase,
            "phase_best": {str(k): {"accuracy": b.accuracy, "phase": b.phase, "epoch": b.epoch}
                           for k, b in self.phase_best.items()},
            "model": cpu_state(net), "optimizer": copy.deepcopy(opt.state_dict()),
            "rng": self.gen.get_state(), "torch_rng": torch.get_rng_state(), "backbone_init": init,
        }  # fmt: skip
        _write(state_dir / "resume.pt", payload)
        kept = {b.file_name for b in self.phase_best.values() if b.state is not None}
        for stale in state_dir.glob("best-phase*.pt"):
            if stale.name not in kept:
                stale.unlink()


def _write(path: Path, obj: object) -> None:
    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)


def _load_best(state_dir: Path, meta: dict) -> Best:
    best = Best(meta["accuracy"], meta["phase"], meta["epoch"])
    if best.epoch:
        best.state = torch.load(state_dir / best.file_name, map_location="cpu", weights_only=True)
    return best
