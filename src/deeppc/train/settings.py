"""One experiment's training settings, resolved from the study config.

The config has a ``train:`` mapping of settings shared by all experiments and
an ``experiments:`` mapping of named experiments; an experiment's own keys
override the shared ones. ``TrainSettings`` is that merge, checked, with the
defaults below (kept equal to the schema's defaults for the same keys).

Definitions used everywhere (README, losses.csv, checkpoints):
an **iteration** is one discriminator/critic minibatch update. Iterations are
numbered from 1; checkpoint ``ckpt/{k}.pt`` holds the generator after k of them
(its exponential moving average when ``ema_kimg`` > 0). Images seen (kimg)
are a function of the iteration (``Trainer.images_seen``), never a second
counter.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from deeppc.config import ConfigError
from deeppc.run_names import run_names, split_run
from deeppc.models import registry
from deeppc.seeding import derive_seed
from deeppc.train.augment import AUGMENTS
from deeppc.train.losses import GANLoss, loss_class, loss_kwargs

# settings that change what is written but not a single weight: edits to them
# keep a resume state valid
# (iterations too: iteration k's update never depends on how many follow)
# (gpus too: N processes train what one does, up to float rounding; a run resumes onto any number)
_OUTPUT_ONLY = ("iterations", "keep_checkpoints", "checkpoint_every", "resume_every", "sample_count", "log_every",
                "view", "gpus")


@dataclass(frozen=True)
class TrainSettings:
    experiment: str
    family: str
    lr: float
    betas: tuple[float, float]
    arch: str = "mlp"
    image_size: int = 256
    latent_dim: int = 100
    batch_size: int = 64
    iterations: int = 10800
    checkpoint_every: int = 200
    resume_every: int | None = None  # None: with every checkpoint
    keep_checkpoints: str | tuple[int, ...] = "all"
    sample_count: int = 25
    seed: int = 2023
    generator: Mapping[str, Any] = field(default_factory=dict)
    discriminator: Mapping[str, Any] = field(default_factory=dict)
    loss: Mapping[str, Any] = field(default_factory=dict)
    augment: tuple[str, ...] = ()
    drop_last: bool = False
    amp: bool = False
    tf32: bool = False
    channels_last: bool = False
    deterministic: bool = True
    fused_adam: bool = True
    log_every: int = 100
    view: str = "LAT"
    ema_kimg: float = 0.0  # half-life of the generator's weight average in kimg; 0 = no average
    ema_rampup: float | None = None  # early on, half-life <= this fraction of the images seen
    init_from: str | None = None  # start from our generator checkpoint or an official StyleGAN2-ADA pickle
    label: str | None = None  # train on one class's images only (utility.labels): a GAN per class
    classes: tuple[str, ...] | None = None  # one class-conditional GAN over these classes (utility.labels)
    compile: bool = False  # torch.compile the networks of the phases that allow it
    gpus: int | None = None  # processes (one per GPU) of a torchrun data-parallel run; None = 1
    train_fraction: float | None = None  # train on this share of the training images, whole patients, nested

    def __post_init__(self) -> None:
        _check(self)

    @property
    def state_every(self) -> int:
        return self.resume_every or self.checkpoint_every

    def checkpoint_iterations(self) -> list[int]:
        """Iterations at which a sample grid (and, if kept, a checkpoint) is written."""
        steps = list(range(self.checkpoint_every, self.iterations + 1, self.checkpoint_every))
        return steps if steps and steps[-1] == self.iterations else [*steps, self.iterations]

    def kept_checkpoints(self) -> list[int]:
        """Iterations whose ckpt/{k}.pt exists when the run has finished."""
        if self.keep_checkpoints == "all":
            return self.checkpoint_iterations()
        return sorted(self.keep_checkpoints)

    def seeds(self) -> dict[str, int]:
        """Per-purpose seeds derived from the root seed and the experiment name."""
        return {p: derive_seed(self.seed, "train", self.experiment, p) for p in ("init", "noise", "data", "samples")}

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def sha256(self, math_only: bool = False) -> str:
        """Hash of the settings (canonical JSON); `math_only` leaves out output-only keys."""
        data = self.to_dict()
        if math_only:
            for key in _OUTPUT_ONLY:
                data.pop(key)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _fail(settings: TrainSettings, key: str, message: str) -> None:
    raise ConfigError(f"experiment '{settings.experiment}': {key}: {message}")


def _check(s: TrainSettings) -> None:
    positive = ("image_size", "latent_dim", "batch_size", "iterations", "checkpoint_every", "sample_count", "log_every")
    for key in positive:
        if not isinstance(getattr(s, key), int) or getattr(s, key) < 1:
            _fail(s, key, "must be a positive integer")
    if s.resume_every is not None and (not isinstance(s.resume_every, int) or s.resume_every < 1):
        _fail(s, "resume_every", "must be a positive integer or null")
    if not s.lr > 0:
        _fail(s, "lr", "must be > 0")
    if len(s.betas) != 2 or not all(0 <= b < 1 for b in s.betas):
        _fail(s, "betas", "must be two numbers in [0, 1)")
    for key, names in (("family", registry.family_names()), ("arch", registry.arch_names())):
        if getattr(s, key) not in names:
            _fail(s, key, f"unknown {getattr(s, key)!r}; choose one of {', '.join(names)}")
    _check_additions(s)
    try:
        registry.generator_kwargs(s.arch, **s.generator)
        registry.discriminator_kwargs(s.family, s.arch, **s.discriminator)
        loss_kwargs(s.family, s.loss)
    except ValueError as exc:
        _fail(s, "generator/discriminator/loss", str(exc))
    bad = sorted(set(s.augment) - set(AUGMENTS))
    if bad:
        _fail(s, "augment", f"unknown {', '.join(bad)}; choose from {', '.join(AUGMENTS)}")
    if s.keep_checkpoints != "all":
        written = set(s.checkpoint_iterations())
        missing = [k for k in s.keep_checkpoints if k not in written]
        if missing:
            _fail(
                s,
                "keep_checkpoints",
                f"{missing} are not checkpoint iterations (multiples of checkpoint_every={s.checkpoint_every} "
                f"up to iterations={s.iterations}, or the last iteration)",
            )


def _check_additions(s: TrainSettings) -> None:
    """Family/architecture pairing, the weight average, the initial weights and compile."""
    archs = registry.get_family(s.family).archs
    if archs and s.arch not in archs:
        _fail(s, "arch", f"family {s.family!r} trains arch {' or '.join(archs)}, not {s.arch!r}")
    if not isinstance(s.ema_kimg, (int, float)) or s.ema_kimg < 0:
        _fail(s, "ema_kimg", "must be a number >= 0 (0: no weight average)")
    if s.ema_rampup is not None and not (isinstance(s.ema_rampup, (int, float)) and s.ema_rampup > 0):
        _fail(s, "ema_rampup", "must be a number > 0 or null")
    if s.init_from is not None and (not isinstance(s.init_from, str) or not s.init_from):
        _fail(s, "init_from", "must be a file path or null")
    if s.compile and loss_class(s.family).compile is GANLoss.compile:
        _fail(s, "compile", f"the {s.family} family does not support it")
    _check_classes(s)
    if s.train_fraction is not None and not (isinstance(s.train_fraction, (int, float)) and 0 < s.train_fraction <= 1):
        _fail(s, "train_fraction", "must be a number in (0, 1] or null")
    if s.gpus is not None and (not isinstance(s.gpus, int) or isinstance(s.gpus, bool) or s.gpus < 1):
        _fail(s, "gpus", "must be a positive integer or null")
    if s.gpus and s.gpus > 1 and s.arch != "stylegan2":
        _fail(s, "gpus", f"arch {s.arch} uses batch normalisation, whose statistics would be per process: "
                         "train it on one GPU")
    if s.gpus and s.gpus > 1 and (s.batch_size % s.gpus or not s.drop_last):
        _fail(s, "gpus", f"{s.gpus} processes need batch_size divisible by {s.gpus} and drop_last: true")


def _check_classes(s: TrainSettings) -> None:
    if "c_dim" in s.generator or "c_dim" in s.discriminator:
        _fail(s, "generator/discriminator", "c_dim is set by classes (class-conditional training), not by hand")
    if s.classes is None:
        return
    if len(s.classes) < 2 or len(set(s.classes)) != len(s.classes) or not all(
            isinstance(c, str) and c for c in s.classes):
        _fail(s, "classes", "must list two or more distinct class names (from utility.labels)")
    if s.arch != "stylegan2":
        _fail(s, "classes", f"class-conditional training needs arch stylegan2, not {s.arch!r}; "
                            "for the other families train one GAN per class (label)")
    if s.label is not None:
        _fail(s, "classes", "a run trains on one class (label) or on several with class labels (classes), not both")


def network_kwargs(s: TrainSettings, net: str) -> dict[str, Any]:
    """The generator's or discriminator's config kwargs, plus c_dim when the run is class-conditional."""
    kwargs = dict(s.generator if net == "G" else s.discriminator)
    return {**kwargs, "c_dim": len(s.classes)} if s.classes else kwargs


_FIELDS = {f.name for f in dataclasses.fields(TrainSettings)}


def from_config(config: Mapping[str, Any], experiment: str) -> TrainSettings:
    """Merge ``train:`` and ``experiments.<name>`` of a study config into settings.

    `experiment` is a run name: an experiment's name, or ``NAME@rK`` for its training replicate K
    (1 <= K < replicates). Seeds derive from the run name, so replicates differ only in their seeds.
    """
    experiments = config.get("experiments") or {}
    name, replicate = split_run(experiment)
    if name not in experiments:
        known = ", ".join(sorted(experiments)) or "none"
        raise ConfigError(f"config key 'experiments.{name}' is missing (experiments: {known})")
    merged: dict[str, Any] = {**(config.get("train") or {}), **experiments[name]}
    replicates = merged.pop("replicates", 1)
    if not isinstance(replicates, int) or replicates < 1:
        raise ConfigError(f"config key 'experiments.{name}.replicates' must be an integer >= 1, not {replicates!r}")
    if replicate >= replicates:
        raise ConfigError(f"run {experiment!r}: experiment '{name}' has replicates: {replicates} "
                          f"(runs {', '.join(run_names(name, replicates))})")  # fmt: skip
    merged.setdefault("seed", config.get("seed", 2023))
    unknown = sorted((set(merged) - _FIELDS) | ({"experiment"} & set(merged)))
    if unknown:
        raise ConfigError(
            f"config keys {', '.join(unknown)} under train/experiments.{name} are not training settings"
        )
    for key in ("family", "lr", "betas"):
        if key not in merged:
            raise ConfigError(f"config key 'experiments.{name}.{key}' is missing")
    merged["betas"] = tuple(merged["betas"])
    merged["augment"] = tuple(merged.get("augment") or ())
    if merged.get("classes") is not None:
        merged["classes"] = tuple(merged["classes"])
    if merged.get("keep_checkpoints", "all") != "all":
        merged["keep_checkpoints"] = tuple(merged["keep_checkpoints"])
    return TrainSettings(experiment=experiment, **merged)


def from_params(params: Mapping[str, Any], run: str) -> TrainSettings:
    """Settings of training run `run` from its rule's params alone (seed, train and experiment keys merged).

    The workflow passes exactly these keys (`experiment_config` in rules/common.smk), so a job reads
    nothing Snakemake does not compare when it decides what to rerun.
    """
    return from_config({"experiments": {split_run(run)[0]: dict(params)}}, run)


def study_runs(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Experiment name -> its training runs, in config order."""
    train = config.get("train") or {}
    return {name: run_names(name, int({**train, **spec}.get("replicates", 1)))
            for name, spec in (config.get("experiments") or {}).items()}  # fmt: skip
