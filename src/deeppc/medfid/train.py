"""Two-phase training of the MedFID classifier (paper, appendix A.5), with checkpoint choice on validation.

Phase 1 trains the dense head on a frozen InceptionV3 base (RMSprop, lr 1e-4,
50 epochs); phase 2 also unfreezes the top two inception blocks (20 epochs;
RMSprop as the paper's text says, or SGD with momentum 0.9 as its code did).
Phase 2 starts from phase 1's best epoch, and the extractor kept is the epoch
with the highest validation accuracy over both phases (a phase-2 epoch must
beat phase 1's best strictly). The paper's scripts chose by training accuracy;
the test split is never looked at until the end.

Augmentation (training batches only): horizontal flips and shifts of up to
`shift` of the side, filled by repeating the edge (Keras' `fill_mode="nearest"`),
applied to the network input after the shared `preprocess`, so evaluation and
scoring see exactly `preprocess(images)`.

After every epoch the loop state is saved under `state_dir`
(`resume`); a killed run started again with the same data and
settings resumes after its last finished epoch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deeppc.metrics.extractors import identity_hash
from deeppc.medfid.model import (
    TOP_BLOCKS,
    MedFIDNet,
    Preprocessing,
    build,
    calibrate_batch_norms,
    preprocess,
    set_trainable,
    train_mode,
)
from deeppc.medfid.resume import Best, LoopState
from deeppc.seeding import derive_seed

log = logging.getLogger(__name__)

OPTIMIZERS = ("rmsprop", "sgd")
CALIBRATION_IMAGES = 512


@dataclass(frozen=True)
class PhaseSettings:
    epochs: int
    optimizer: str = "rmsprop"
    lr: float = 1e-4
    momentum: float = 0.9  # SGD only
    unfreeze: tuple[str, ...] = ()


@dataclass(frozen=True)
class FinetuneSettings:
    """Field names follow the config's `medfid:` section."""

    phase1: PhaseSettings = PhaseSettings(50)
    phase2: PhaseSettings = PhaseSettings(20, unfreeze=TOP_BLOCKS)
    input_size: int = 299
    batch_size: int = 32
    hidden: int = 2048
    depth: int = 4
    dropout: float = 0.2
    hflip: bool = True
    shift: float = 0.1
    seed: int = 2023

    @classmethod
    def from_config(cls, section: Mapping[str, Any], seed: int) -> "FinetuneSettings":
        def phase(key: str, default: PhaseSettings) -> PhaseSettings:
            given = dict(section.get(key) or {})
            if "unfreeze" in given:
                given["unfreeze"] = tuple(given["unfreeze"])
            return PhaseSettings(**{**asdict(default), **given})

        augment = section.get("augment") or {}
        return cls(
            phase1=phase("phase1", cls.phase1), phase2=phase("phase2", cls.phase2),
            input_size=section.get("input_size", cls.input_size), batch_size=section.get("batch_size", cls.batch_size),
            hflip=augment.get("hflip", cls.hflip), shift=augment.get("shift", cls.shift), seed=seed,
        )  # fmt: skip

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 (N, H, W)
    labels: np.ndarray  # int64 (N,) class indices


@dataclass
class Result:
    net: MedFIDNet
    backbone_init: str
    history: list[dict]
    selected: Best
    phase_best: dict[int, Best]
    device: str


def augment(x: torch.Tensor, gen: torch.Generator, hflip: bool, shift: float) -> torch.Tensor:
    """Random horizontal flips and edge-filled shifts of a batch of network inputs."""
    n, _, h, w = x.shape
    if hflip:
        flip = (torch.rand(n, generator=gen) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    mh, mw = round(shift * h), round(shift * w)
    if mh == 0 and mw == 0:
        return x
    padded = F.pad(x, (mw, mw, mh, mh), mode="replicate")
    dy = torch.randint(0, 2 * mh + 1, (n,), generator=gen).tolist()
    dx = torch.randint(0, 2 * mw + 1, (n,), generator=gen).tolist()
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def make_optimizer(params: list[nn.Parameter], phase: PhaseSettings) -> torch.optim.Optimizer:
    if phase.optimizer == "rmsprop":
        # Keras' RMSprop defaults (rho 0.9, epsilon 1e-7) rather than torch's (0.99, 1e-8)
        return torch.optim.RMSprop(params, lr=phase.lr, alpha=0.9, eps=1e-7)
    if phase.optimizer == "sgd":
        return torch.optim.SGD(params, lr=phase.lr, momentum=phase.momentum)
    raise ValueError(f"unknown medfid optimizer {phase.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")


def evaluate(net: MedFIDNet, split: Split, spec: Preprocessing, batch_size: int, device: torch.device) -> dict:
    """Loss, accuracy and predictions on a split, in inference mode with no augmentation."""
    net.eval()
    losses, preds = [], []
    with torch.inference_mode():
        for start in range(0, len(split.labels), batch_size):
            x = preprocess(split.images[start : start + batch_size], spec, device)
            y = torch.from_numpy(split.labels[start : start + batch_size]).to(device)
            logits = net(x)
            losses.append(F.cross_entropy(logits, y, reduction="sum").item())
            preds.append(logits.argmax(1).cpu().numpy())
    predictions = np.concatenate(preds)
    return {
        "loss": float(sum(losses) / len(split.labels)),
        "accuracy": float(np.mean(predictions == split.labels)),
        "predictions": predictions,
    }


def train_epoch(
    net: MedFIDNet, split: Split, opt: torch.optim.Optimizer, settings: FinetuneSettings, spec: Preprocessing,
    gen: torch.Generator, device: torch.device,
) -> dict:  # fmt: skip
    """One pass over the shuffled training split; returns mean loss and accuracy."""
    train_mode(net)
    order = torch.randperm(len(split.labels), generator=gen).numpy()
    total_loss, correct, seen = 0.0, 0, 0
    for start in range(0, len(order), settings.batch_size):
        idx = np.sort(order[start : start + settings.batch_size])
        if len(idx) < 2:
            continue  # batch norm in an unfrozen block cannot normalise a batch of one
        x = augment(preprocess(split.images[idx], spec, device), gen, settings.hflip, settings.shift)
        y = torch.from_numpy(split.labels[idx]).to(device)
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total_loss += loss.item() * len(idx)
        correct += int((logits.argmax(1) == y).sum())
        seen += len(idx)
    return {"loss": total_loss / max(seen, 1), "accuracy": correct / max(seen, 1)}


def train(
    data: Mapping[str, Split],
    num_classes: int,
    settings: FinetuneSettings,
    *,
    weights: str | Path | None,
    device: torch.device,
    state_dir: Path | None = None,
    fingerprint: str = "",
    on_epoch: Callable[[dict], None] | None = None,
) -> Result:
    """Train both phases; resumable from `state_dir` when the fingerprint (data + settings) matches."""
    spec = Preprocessing(settings.input_size)
    net, init = build(
        num_classes, weights=weights, seed=settings.seed,
        hidden=settings.hidden, depth=settings.depth, dropout=settings.dropout,
    )  # fmt: skip
    net.to(device)
    loop = LoopState.start(state_dir, fingerprint, settings.seed)
    if loop.model_state is not None:
        net.load_state_dict(loop.model_state)
        init = loop.backbone_init
    elif weights is None:
        init += f", BN statistics from {_calibrate(net, data['train'], settings, spec, device)} training images"
    for phase_no, phase in ((1, settings.phase1), (2, settings.phase2)):
        if phase_no < loop.phase:
            continue
        set_trainable(net, phase.unfreeze)
        opt = make_optimizer([p for p in net.parameters() if p.requires_grad], phase)
        if loop.optimizer_state is not None and phase_no == loop.phase:
            opt.load_state_dict(loop.optimizer_state)
        for epoch in range(loop.epoch + 1 if phase_no == loop.phase else 1, phase.epochs + 1):
            started = time.perf_counter()
            fit = train_epoch(net, data["train"], opt, settings, spec, loop.gen, device)
            val = evaluate(net, data["val"], spec, settings.batch_size, device)
            row = {
                "phase": phase_no, "epoch": epoch, "train_loss": fit["loss"], "train_accuracy": fit["accuracy"],
                "val_loss": val["loss"], "val_accuracy": val["accuracy"], "seconds": time.perf_counter() - started,
            }  # fmt: skip
            new_best = loop.record(row, net)
            log.info("medfid phase %d epoch %d: %s", phase_no, epoch, _short(row))
            loop.save(state_dir, net, opt, new_best, init)
            if on_epoch:
                on_epoch(row)
        # phase 2 fine-tunes the best phase-1 network, not its last epoch
        if loop.phase_best[phase_no].state is not None:
            net.load_state_dict(loop.phase_best[phase_no].state)
        loop.phase, loop.epoch, loop.optimizer_state = phase_no + 1, 0, None
    net.load_state_dict(loop.best.state)
    return Result(net.eval(), init, loop.history, loop.best, loop.phase_best, str(device))


def _calibrate(net: MedFIDNet, split: Split, settings: FinetuneSettings, spec: Preprocessing, device: torch.device) -> int:
    """BN statistics of a random base from (up to 512, seeded) un-augmented training images."""
    gen = torch.Generator().manual_seed(derive_seed(settings.seed, "medfid-bn-calibration"))
    chosen = np.sort(torch.randperm(len(split.labels), generator=gen).numpy()[:CALIBRATION_IMAGES])
    if len(chosen) % settings.batch_size == 1:
        chosen = chosen[:-1]  # batch norm cannot take statistics of a batch of one
    batches = (
        preprocess(split.images[chosen[i : i + settings.batch_size]], spec, device)
        for i in range(0, len(chosen), settings.batch_size)
    )
    return calibrate_batch_norms(net, batches)


def _short(row: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k not in ("phase", "epoch"))


def fingerprint(settings: FinetuneSettings, manifest_sha256: str, weights_desc: str) -> str:
    """Identity of a training run: resume only into a run with the same data, settings and base weights."""
    return identity_hash({"settings": settings.to_dict(), "manifest": manifest_sha256, "weights": weights_desc})
