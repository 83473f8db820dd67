"""Which utility jobs a study runs: arms, their synthetic sources, and which GAN run feeds which seed.

A source is one experiment, or several trained on different classes
(`utility.sources: {stylegan2: [sg2_lat, sg2_ap]}`: one unconditional GAN per
class), or one class-conditional StyleGAN2 (`classes`). Each training run
(replicate) of an experiment gives one pool of images at the chosen
checkpoint, labelled with the class the run was trained on (its view, for
the view task), or with each class a conditional run generates. Classifier seed i takes the pools of
replicate i mod R, so with as many GAN replicates as classifier seeds the
paired tests vary the GAN's training seed too, not only the classifier's.
Synthetic-only arms need a source that covers every class; for the others
they are skipped, with the reason in `skipped`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from deeppc.config import ConfigError
from deeppc.run_names import split_run
from deeppc.utility.arms import Arm
from deeppc.utility.stage import UtilitySettings, runnable_arms


@dataclass(frozen=True)
class UtilityPlan:
    arms: dict[str, Arm]
    sources: dict[str, list[str]]  # source -> its experiments (one per class it covers)
    runs: dict[str, list[str]]  # experiment -> its training runs
    iterations: dict[str, int]  # run -> the checkpoint its pool is drawn from
    labels: dict[str, list[str]]  # run -> the classes it generates (one, or a conditional run's several)
    seeds: int
    classes: list[str]
    image_size: int
    skipped: dict[str, str]  # arm -> why it does not run

    def pool_runs(self, arm: str, index: int) -> list[str]:
        """The GAN runs whose pools classifier seed `index` of `arm` draws from (one per experiment)."""
        source = self.arms[arm].source
        if source is None:
            return []
        return [self.runs[e][index % len(self.runs[e])] for e in self.sources[source]]

    def all_runs(self) -> list[str]:
        return [r for e in dict.fromkeys(e for es in self.sources.values() for e in es) for r in self.runs[e]]


def make_plan(
    config: Mapping[str, Any], train: Mapping[str, Any], iteration_of: Callable[[str], int]
) -> UtilityPlan:
    """The plan of `config['utility']`; `train` maps run names to TrainSettings; ConfigError names the key."""
    section = config["utility"]
    sources = _sources(section, list(config.get("experiments") or {}))
    runs = {e: [r for r in train if split_run(r)[0] == e] for es in sources.values() for e in es}
    if section["labels"]:
        unlabelled = sorted(e for e, rs in runs.items() if not (train[rs[0]].label or train[rs[0]].classes))
        if unlabelled:
            raise ConfigError(f"config key 'utility.labels': source experiment(s) {', '.join(unlabelled)} are not "
                              "trained on the classes: give each a label (one GAN per class) or classes (one "
                              "class-conditional StyleGAN2), or set utility.sources: {} for the real and augment "
                              "arms only")  # fmt: skip
        if not section["classes"]:
            raise ConfigError("config key 'utility.classes': with utility.labels, list the classes (their order)")
    classes = list(section["classes"] or config["data"]["views"])
    # a generated image's class: the label its GAN was trained on, a conditional GAN's classes, else its view
    labels = {r: _generates(train[r]) for rs in runs.values() for r in rs}
    stray = sorted({v for vs in labels.values() for v in vs if v not in classes})
    if stray:
        raise ConfigError(f"config key 'utility.classes': runs generate class(es) {stray}, not classes {classes}")
    sizes = {train[r].image_size for r in labels}
    if len(sizes) > 1:
        raise ConfigError(f"config key 'utility.sources': sources generate different sizes {sorted(sizes)}")
    size = sizes.pop() if sizes else config["data"]["image_size"]
    iterations = {r: _iteration(section, train[r], r, iteration_of) for r in labels}
    settings = UtilitySettings.from_config(section, config["seed"])
    _check_pool(section, settings)
    covered = {source: {v for e in experiments for v in labels[runs[e][0]]} for source, experiments in sources.items()}
    arms, skipped = runnable_arms(settings, covered, classes)
    return UtilityPlan({arm.name: arm for arm in arms}, sources, runs, iterations, labels, settings.seeds, classes,
                       size, skipped)  # fmt: skip


def _generates(settings: Any) -> list[str]:
    return list(settings.classes) if settings.classes else [settings.label or settings.view]


def _sources(section: Mapping[str, Any], experiments: list[str]) -> dict[str, list[str]]:
    """utility.sources, or every experiment as its own source when it is null."""
    if section["sources"] is None:
        return {e: [e] for e in experiments}
    sources = {name: [members] if isinstance(members, str) else list(members)
               for name, members in section["sources"].items()}  # fmt: skip
    unknown = sorted({e for es in sources.values() for e in es} - set(experiments))
    if unknown:
        raise ConfigError(f"config key 'utility.sources': no experiment named {', '.join(unknown)}")
    return sources


def _iteration(section: Mapping[str, Any], settings: Any, run: str, iteration_of: Callable[[str], int]) -> int:
    if section["iteration"] is None:
        return iteration_of(run)
    if section["iteration"] not in settings.kept_checkpoints():
        raise ConfigError(f"config key 'utility.iteration': run {run} keeps no checkpoint {section['iteration']} "
                          f"(kept: {settings.kept_checkpoints()})")  # fmt: skip
    return int(section["iteration"])


def _check_pool(section: Mapping[str, Any], settings: UtilitySettings) -> None:
    need = max([*settings.ratios, 1.0 if settings.synthetic_only else 0.0])
    if section["pool"] < need:
        raise ConfigError(f"config key 'utility.pool': {section['pool']:g} generated images per real one, but an arm "
                          f"takes {need:g} (the largest ratio{', or 1 for synthetic-only arms' if need == 1 else ''})")
