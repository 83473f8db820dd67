"""The training loop: one experiment from its settings and images to the run folder.

``Trainer`` holds the networks, optimizers, loss object, data order and the
run's random stream, and ``step()`` performs one iteration (one D update,
plus whatever G phases the loss schedules). ``run`` adds everything around
it: resume, losses.csv, checkpoints and sample grids, resume state, SIGTERM,
the divergence stop and summary.json.

Every random number of a run comes from three places, all derived from the
config's seed and the experiment name: the initial weights (``init``), one
CPU torch.Generator for latents, penalty mixing weights and augmentation
(``noise``; a loss may seed device generators from it), and the per-epoch
data permutation (``data``).

The exported generator (checkpoints, sample grids) is G, or its moving
average G_ema when ``ema_kimg`` > 0; ``init_from`` starts G, D and G_ema
from another run's weights before any resume state is applied.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import deeppc
from deeppc import files
from deeppc.models import build_discriminator, build_generator
from deeppc.models.stylegan2 import one_hot
from deeppc.train import device as devices
from deeppc.train import rundir
from deeppc.train import state as resume_state
from deeppc.train.augment import DiffAugment
from deeppc.train.checkpoint import save_generator, save_samples
from deeppc.train.ema import ema_beta, update_ema
from deeppc.train.losses import PhaseContext, build_loss
from deeppc.train.losslog import Diverged, LossLog
from deeppc.train.rundir import RunPaths
from deeppc.train.sampler import EpochSampler, images_seen
from deeppc.train.distributed import SINGLE, Shard, drop_folder, run_folder
from deeppc.train.settings import TrainSettings, network_kwargs
from deeppc.train.signals import Interrupted, StopRequests
from deeppc.train.transfer import initialize

log = logging.getLogger(__name__)

SYNC_EVERY = 25  # iterations between transfers of logged losses to the host


class Trainer:
    """Networks, optimizers, loss, data order and random stream of one run."""

    def __init__(self, settings: TrainSettings, images: np.ndarray, device: torch.device,
                 labels: np.ndarray | None = None, shard: Shard = SINGLE) -> None:
        if images.ndim != 3 or images.dtype != np.uint8 or images.shape[1:] != (settings.image_size,) * 2:
            raise ValueError(
                f"training images must be uint8 (N, {settings.image_size}, {settings.image_size}), "
                f"got {images.dtype} {images.shape}"
            )
        _check_labels(settings, images, labels)
        _check_shard(settings, shard)
        self.settings = settings
        self.shard = shard
        self.device = device
        seeds = settings.seeds()
        self.memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
        with torch.random.fork_rng(devices=[]):  # initial weights from the init seed, on the CPU
            torch.manual_seed(seeds["init"])
            G = build_generator(settings.arch, settings.image_size, settings.latent_dim, **network_kwargs(settings, "G"))
            D = build_discriminator(settings.family, settings.arch, settings.image_size,
                                    **network_kwargs(settings, "D"))
        _check_batch_norm(settings, shard, G, D)
        self.G = G.to(device, memory_format=self.memory_format).train()
        self.D = D.to(device, memory_format=self.memory_format).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if settings.ema_kimg > 0 else None
        self.init_sha256 = None
        if settings.init_from:
            nets = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
            self.init_sha256 = initialize(nets, settings.init_from, settings.arch)
        self.loss = build_loss(settings.family, self.G, self.D, **settings.loss)
        self.opt_G = self._adam(self.G, "G")
        self.opt_D = self._adam(self.D, "D")
        if settings.compile:
            self.loss.compile()
        self.augment = DiffAugment(settings.augment) if settings.augment else None
        self.autocast = devices.autocast(device, settings.amp)
        self.noise = torch.Generator().manual_seed(seeds["noise"])
        self.sampler = EpochSampler(len(images), settings.batch_size, seeds["data"], settings.drop_last)
        self.images = torch.from_numpy(np.ascontiguousarray(images)).to(device)
        # every training image's one-hot class (conditional runs): the real batches' and the pool fakes draw from
        self.c_all = None if labels is None else one_hot(torch.from_numpy(labels), len(settings.classes)).to(device)
        self.iteration = 0

    def _adam(self, net: torch.nn.Module, name: str) -> torch.optim.Adam:
        # fused Adam: same update rule as the default loop implementation, one
        # pass over memory instead of several (about 10x faster for the 67M-weight
        # output layer on a CPU); results differ from it only in the last bit
        s = self.settings
        lr, betas = self.loss.optimizer_settings(name, s.lr, (float(s.betas[0]), float(s.betas[1])))
        return torch.optim.Adam(net.parameters(), lr=lr, betas=betas, fused=s.fused_adam or None)

    def exported_generator(self) -> torch.nn.Module:
        """The generator that checkpoints and sample grids show: G_ema if averaging, else G."""
        return self.G_ema if self.G_ema is not None else self.G

    def images_seen(self, iteration: int) -> int:
        """Training images shown to D in iterations 1..`iteration` (only an epoch's last batch is short)."""
        sampler = self.sampler
        return images_seen(iteration, sampler.n_items, sampler.batch_size, sampler.drop_last)

    def real_batch(self, iteration: int) -> torch.Tensor:
        """Batch of 1-based `iteration` as float (N, 1, H, W) in [-1, 1] (x / 127.5 - 1)."""
        index = devices.to_device(torch.from_numpy(self._indices(iteration)), self.device)
        batch = self.images.index_select(0, index).unsqueeze(1).float().div_(127.5).sub_(1.0)
        return batch.contiguous(memory_format=self.memory_format)

    def class_counts(self) -> list[int] | None:
        """Training images per class of a conditional run (None: unconditional)."""
        return None if self.c_all is None else [int(x) for x in self.c_all.sum(0).round().tolist()]

    def real_classes(self, iteration: int) -> torch.Tensor | None:
        """One-hot classes of the batch of `iteration` (None for an unconditional run)."""
        if self.c_all is None:
            return None
        index = devices.to_device(torch.from_numpy(self._indices(iteration)), self.device)
        return self.c_all.index_select(0, index)

    def _indices(self, iteration: int) -> np.ndarray:
        """This rank's images of the batch of `iteration` (all of it with one process)."""
        indices = self.sampler.indices(iteration)
        return indices[self.shard.rank :: self.shard.world] if self.shard.active else indices

    def step(self) -> dict[str, torch.Tensor]:
        """One iteration: the D update and any G updates scheduled with it."""
        iteration = self.iteration + 1
        _, position = self.sampler.locate(iteration)
        ctx = PhaseContext(self.real_batch(iteration), self.noise, self.augment, self.autocast,
                           self.real_classes(iteration), self.c_all, self.shard)
        logged: dict[str, torch.Tensor] = {}
        for phase in self.loss.phases(iteration, position):
            trained, frozen, opt = (self.G, self.D, self.opt_G) if phase[0] == "G" else (self.D, self.G, self.opt_D)
            frozen.requires_grad_(False)  # skips weight gradients the step would discard
            opt.zero_grad(set_to_none=True)
            logged.update(self.loss.run(phase, ctx))
            self.shard.average_gradients(trained.parameters())
            opt.step()
            frozen.requires_grad_(True)
        if self.G_ema is not None:
            s = self.settings
            batch = ctx.batch_size * self.shard.world
            update_ema(self.G_ema, self.G, ema_beta(batch, self.images_seen(iteration - 1), s.ema_kimg, s.ema_rampup))
        logged.update(self.loss.end_iteration(iteration, ctx))
        self.iteration = iteration
        return self._global(logged)

    def _global(self, logged: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Logged values as means over the ranks' equal shares (one all-reduce); as they are with one process."""
        if not self.shard.active or not logged:
            return logged
        means = self.shard.all_mean(torch.stack([v.detach().float().reshape(()) for v in logged.values()]))
        return dict(zip(logged, means))

    def state_dict(self) -> dict[str, Any]:
        state = {
            "iteration": self.iteration,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "loss": self.loss.state_dict(),
            "noise": self.noise.get_state(),
            "sampler": self.sampler.state(self.iteration),
        }
        if self.G_ema is not None:
            state["G_ema"] = self.G_ema.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (self.G_ema is not None) != ("G_ema" in state):
            raise ValueError("resume state and settings disagree on the generator average (ema_kimg)")
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.loss.load_state_dict(state["loss"])
        self.noise.set_state(state["noise"])
        if state["sampler"] != self.sampler.state(state["iteration"]):
            raise ValueError("resume state's data order does not match this dataset and settings")
        self.iteration = int(state["iteration"])


def data_fingerprint(images: np.ndarray, labels: np.ndarray | None = None) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    if labels is not None:  # a conditional run's classes are part of its data
        digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _check_shard(settings: TrainSettings, shard: Shard) -> None:
    if not shard.active:
        return
    if settings.batch_size % shard.world or not settings.drop_last:
        raise ValueError(f"experiment '{settings.experiment}': {shard.world} processes need a batch_size divisible "
                         f"by {shard.world} (it is {settings.batch_size}) and drop_last: true, so every rank "
                         "gets an equal share of every batch")  # fmt: skip


def _check_batch_norm(settings: TrainSettings, shard: Shard, *nets: torch.nn.Module) -> None:
    # BatchNorm would normalise with each rank's share of the batch, not the batch: another model than one
    # process trains (SyncBatchNorm would fix it, but runs on GPUs only, where it could not be tested here)
    if shard.active and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for n in nets for m in n.modules()):
        raise ValueError(f"experiment '{settings.experiment}': arch {settings.arch} uses batch normalisation, whose "
                         "statistics would be per process: train it with one process (arch stylegan2 trains on "
                         "several)")  # fmt: skip


def _check_labels(settings: TrainSettings, images: np.ndarray, labels: np.ndarray | None) -> None:
    if settings.classes is None:
        if labels is not None:
            raise ValueError(f"experiment '{settings.experiment}' is unconditional (no classes) but got class labels")
        return
    if labels is None or labels.shape != (len(images),):
        raise ValueError(f"experiment '{settings.experiment}' is conditional on classes {list(settings.classes)}: "
                         f"it needs one class index per training image")
    if labels.min() < 0 or labels.max() >= len(settings.classes):
        raise ValueError(f"class indices must lie in 0..{len(settings.classes) - 1}")


def run(
    settings: TrainSettings,
    images: np.ndarray,
    out_dir: str | Path,
    device: str | torch.device = "auto",
    labels: np.ndarray | None = None,
    shard: Shard = SINGLE,
) -> dict[str, Any]:
    """Train (or resume) one experiment into `out_dir`; returns the summary.

    Raises Diverged (after writing summary.json with status "diverged") and
    Interrupted (after saving the resume state) for the caller to map to exit codes.
    With several processes (`shard`, see deeppc.train.distributed) every rank
    calls this; rank 0 writes `out_dir`.
    """
    device = devices.select(device) if isinstance(device, str) else device
    devices.configure(device, settings.deterministic, settings.tf32)
    trainer = Trainer(settings, images, device, labels, shard)
    folder = run_folder(Path(out_dir), shard)
    try:
        return _run(trainer, RunPaths(folder), images, labels)
    finally:
        drop_folder(folder, Path(out_dir))


def _run(trainer: Trainer, paths: RunPaths, images: np.ndarray, labels: np.ndarray | None) -> dict[str, Any]:
    settings, device = trainer.settings, trainer.device
    run_info = {"data_sha256": data_fingerprint(images, labels), "config_sha256": settings.sha256(),
                "math_sha256": settings.sha256(math_only=True), "device": devices.describe(device),
                "init_sha256": trainer.init_sha256}
    history, losses_bytes = _resume_or_start(paths, trainer, run_info)
    losses = LossLog(paths.work_of(paths.losses), trainer.loss.columns, settings.experiment, losses_bytes)
    rundir.publish(paths.work_of(paths.losses), paths.losses)
    try:
        _train(paths, trainer, losses, run_info, history)
    except Diverged as exc:
        _write_summary(paths, _summary(paths, trainer, run_info, history, "diverged", exc))
        # keep what was written (under state/ too, in case a workflow manager deletes the
        # failed job's outputs); only the resume state goes: a rerun would diverge again
        resume_state.remove(paths.state)
        rundir.republish(paths)
        log.error("%s", exc)
        raise
    finally:
        losses.close()
    return _finish(paths, trainer, run_info, history)


def _finish(paths: RunPaths, trainer: Trainer, run_info: dict, history: dict) -> dict[str, Any]:
    """Publish everything, prune checkpoints outside the keep list, write the summary, drop state/."""
    rundir.republish(paths)
    kept = set(trainer.settings.kept_checkpoints())
    for stale in paths.ckpt_dir.glob("*.pt"):  # written by an earlier attempt with another keep list
        if stale.stem.isdigit() and int(stale.stem) not in kept:
            stale.unlink()
    rundir.retire_work(paths)
    summary = _summary(paths, trainer, run_info, history, "finished", None)
    files.write_json(paths.summary, summary)
    log.info("finished %s: %d iterations in %.0f s", summary["experiment"], trainer.iteration, summary["wall_time_s"])
    return summary


def _write_summary(paths: RunPaths, summary: dict[str, Any]) -> None:
    files.write_json(paths.work_of(paths.summary), summary)
    rundir.publish(paths.work_of(paths.summary), paths.summary)


def _resume_or_start(paths: RunPaths, trainer: Trainer, run_info: dict) -> tuple[dict, int | None]:
    """Load a matching resume state (returns its history and losses.csv length) or start afresh."""
    rundir.sweep_temporaries(paths)
    state = resume_state.load(paths.state)
    reason = _unusable(state, paths, trainer, run_info) if state is not None else None
    if state is not None and reason is None:
        trainer.load_state_dict(state["trainer"])
        resume_state.set_global_rng_states(state["rng"])
        history = state["history"]
        history["resumed_from"].append(trainer.iteration)
        if state["device"] != run_info["device"] or state["threads"] != torch.get_num_threads():
            log.warning("resuming on %s with %d threads, saved on %s with %d: results may differ in the last bits",
                        run_info["device"], torch.get_num_threads(), state["device"], state["threads"])
        log.info("resuming %s after iteration %d", trainer.settings.experiment, trainer.iteration)
        rundir.republish(paths)  # outputs a workflow manager deleted after the last attempt
        return history, int(state["losses_bytes"])
    if reason:
        log.warning("not resuming from %s: %s; starting afresh", paths.state, reason)
    rundir.clear(paths)
    return {"wall_time_s": 0.0, "resumed_from": []}, None


def _unusable(state: dict, paths: RunPaths, trainer: Trainer, run_info: dict) -> str | None:
    if state["math_sha256"] != run_info["math_sha256"]:
        return "it was written for different training settings"
    if state["data_sha256"] != run_info["data_sha256"]:
        return "it was written for different training images"
    if state.get("init_sha256") != run_info["init_sha256"]:
        return "it was written for a different init_from file"
    if state["trainer"]["iteration"] > trainer.settings.iterations:
        return "it is past the planned number of iterations"
    work_losses = paths.work_of(paths.losses)
    if not work_losses.exists() or work_losses.stat().st_size < state["losses_bytes"]:
        return "its losses.csv is missing or shorter than when the state was saved"
    return None


def _train(paths: RunPaths, trainer: Trainer, losses: LossLog, run_info: dict, history: dict) -> None:
    s = trainer.settings
    checkpoints = set(s.checkpoint_iterations())
    started = time.monotonic()
    with StopRequests() as stop, tqdm(total=s.iterations, initial=trainer.iteration, disable=None,
                                      desc=s.experiment, unit="it") as bar:
        for iteration in range(trainer.iteration + 1, s.iterations + 1):
            losses.add(iteration, trainer.step())
            bar.update()
            at_checkpoint = iteration in checkpoints
            at_state = iteration % s.state_every == 0 and iteration < s.iterations
            at_log = iteration % s.log_every == 0
            # a signal reaches the ranks at different iterations: every rank stops where the first saw one
            requested = stop.requested or (signal.SIGTERM if trainer.shard.any(stop.requested is not None) else None)
            if at_checkpoint or at_state or at_log or requested or losses.pending >= SYNC_EVERY:
                last = losses.sync()
                if at_log:
                    rate = (iteration - (history["resumed_from"] or [0])[-1]) / max(time.monotonic() - started, 1e-9)
                    log.info("%s %d/%d %s (%.2f it/s)", s.experiment, iteration, s.iterations,
                             " ".join(f"{k}={v:.4g}" for k, v in last.items()), rate)
            if at_checkpoint:
                _write_checkpoint(paths, trainer, iteration, run_info["config_sha256"])
            if at_state or requested:
                _save_state(paths, trainer, losses, run_info, history, time.monotonic() - started)
            if requested:
                raise Interrupted(requested, iteration)
    history["wall_time_s"] += time.monotonic() - started


def _write_checkpoint(paths: RunPaths, trainer: Trainer, iteration: int, config_sha256: str) -> None:
    """Sample grid always, generator checkpoint if kept: written to state/, published as links."""
    s = trainer.settings
    written = [paths.sample(iteration)]
    G = trainer.exported_generator()
    save_samples(paths.work_of(written[0]), G, s)
    if iteration in s.kept_checkpoints():
        written.append(paths.checkpoint(iteration))
        save_generator(paths.work_of(written[1]), G, s, iteration, config_sha256, trainer.class_counts(),
                       trainer.sampler.n_items)
    for path in written:
        rundir.publish(paths.work_of(path), path)


def _save_state(paths: RunPaths, trainer: Trainer, losses: LossLog, run_info: dict, history: dict,
                elapsed: float) -> None:
    resume_state.save(paths.state, {
        "trainer": trainer.state_dict(),
        "rng": resume_state.global_rng_states(),
        "losses_bytes": losses.durable_size(),
        "history": {**history, "wall_time_s": history["wall_time_s"] + elapsed},
        "threads": torch.get_num_threads(),
        **run_info,
    })
    rundir.publish(paths.work_of(paths.losses), paths.losses)  # refreshes a copied (unlinked) losses.csv


def _summary(paths: RunPaths, trainer: Trainer, run_info: dict, history: dict, status: str,
             diverged: Diverged | None) -> dict[str, Any]:
    s = trainer.settings
    published = [p for p in paths.published_files() if p != paths.summary]
    return {
        "status": status,
        "experiment": s.experiment,
        "family": s.family,
        "arch": s.arch,
        "image_size": s.image_size,
        "iterations": trainer.iteration if diverged is None else diverged.iteration,
        "iterations_planned": s.iterations,
        "definition_of_iteration": "one discriminator/critic minibatch update",
        "images_seen": trainer.images_seen(trainer.iteration if diverged is None else diverged.iteration),
        "exported_generator": "G_ema" if trainer.G_ema is not None else "G",
        "init_sha256": run_info["init_sha256"],
        "wall_time_s": round(history["wall_time_s"], 3),
        "resumed_from": history["resumed_from"],
        "device": run_info["device"],
        "threads": torch.get_num_threads(),
        "processes": trainer.shard.world,
        "deterministic": s.deterministic,
        "amp": s.amp,
        "tf32": s.tf32,
        "seeds": {"root": s.seed, **s.seeds()},
        "n_images": trainer.sampler.n_items,
        "data_sha256": run_info["data_sha256"],
        "config_sha256": run_info["config_sha256"],
        "checkpoints": sorted(int(p.stem) for p in paths.ckpt_dir.glob("*.pt")),
        "samples": sorted(int(p.stem) for p in paths.samples_dir.glob("*.png")),
        "disk_bytes": sum(p.stat().st_size for p in published),
        "divergence": None if diverged is None else
        {"loss": diverged.loss, "iteration": diverged.iteration, "value": repr(diverged.value),
         "message": str(diverged)},
        "versions": {"deeppc": deeppc.__version__, "torch": torch.__version__, "numpy": np.__version__},
        "settings": s.to_dict(),
    }
