"""Training one classifier: the same budget and the same early-stopping rule for every arm.

The budget is a number of optimiser steps, not epochs, so an arm with twice
the images does not get twice the updates: a gain must come from the data,
not from longer training. Every `eval_every` steps the model is scored on the
real validation patients (cross-entropy); the best state is kept and training
stops after `patience` evaluations without improvement. The seed fixes the
initialisation, the batch order and the augmentation draws, so two arms run
with the same seed start from the same network (the pairing of the tests).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deeppc.data.imageset import uint8_to_unit
from deeppc.utility.augment import ClassicalAugment
from deeppc.utility.networks import build
from deeppc.utility.task import LabelledImages


@dataclass(frozen=True)
class FitSettings:
    """How every classifier of a study is trained (config section `utility`)."""

    network: str = "small_cnn"
    weights: str | None = None
    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    eval_every: int = 25
    patience: int = 4
    device: str = "cpu"

    def to_dict(self) -> dict:
        return asdict(self)


def _tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(uint8_to_unit(images)).unsqueeze(1).to(device)


def _batches(n: int, batch_size: int, gen: torch.Generator):
    """Index batches forever: a fresh permutation per pass, the last short batch dropped when n allows."""
    while True:
        order = torch.randperm(n, generator=gen)
        stop = n - n % batch_size if n >= batch_size else n
        for start in range(0, stop, batch_size):
            yield order[start : start + batch_size]


def evaluate_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    """Mean cross-entropy of `model` (eval mode) on a whole set."""
    model.eval()
    with torch.no_grad():
        total = sum(F.cross_entropy(model(images[i : i + batch_size]), labels[i : i + batch_size], reduction="sum")
                    for i in range(0, len(labels), batch_size))  # fmt: skip
    model.train()
    return float(total) / len(labels)


def fit(
    train: LabelledImages, val: LabelledImages, settings: FitSettings, seed: int,
    augment: ClassicalAugment | None = None,
) -> tuple[nn.Module, dict]:
    """Train a classifier on `train`, early-stopped on `val`; returns the best model and its history."""
    device = torch.device(settings.device)
    torch.manual_seed(seed)  # the initialisation: the same for every arm of one seed
    model = build(settings.network, len(train.classes), settings.weights).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    x, y = _tensor(train.images, device), torch.from_numpy(train.labels).to(device)
    xv, yv = _tensor(val.images, device), torch.from_numpy(val.labels).to(device)
    # separate streams, so augmenting does not change which images form each batch
    gen, gen_augment = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    best = {"loss": float("inf"), "step": 0, "state": copy.deepcopy(model.state_dict())}
    history, waited = [], 0
    for step, idx in enumerate(_batches(len(y), settings.batch_size, gen), start=1):
        batch = x[idx] if augment is None else augment(x[idx], gen_augment)
        loss = F.cross_entropy(model(batch), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % settings.eval_every == 0 or step == settings.steps:
            val_loss = evaluate_loss(model, xv, yv)
            history.append({"step": step, "train_loss": loss.item(), "val_loss": val_loss})
            if val_loss < best["loss"]:
                best, waited = {"loss": val_loss, "step": step, "state": copy.deepcopy(model.state_dict())}, 0
            else:
                waited += 1
        if step >= settings.steps or waited >= settings.patience:
            break
    model.load_state_dict(best["state"])
    return model.eval(), {"best_step": best["step"], "best_val_loss": best["loss"], "steps_run": step,
                          "stopped_early": step < settings.steps, "history": history}  # fmt: skip


def predict(model: nn.Module, images: np.ndarray, device: str = "cpu", batch_size: int = 256) -> np.ndarray:
    """Class probabilities (N, n_classes) as float64."""
    x = _tensor(images, torch.device(device))
    model.eval()
    with torch.no_grad():
        out = [F.softmax(model(x[i : i + batch_size]), dim=1) for i in range(0, len(x), batch_size)]
    return torch.cat(out).double().cpu().numpy()
