"""Rule score: one checkpoint, its sample sets, every metric."""

from pathlib import Path

from deeppc.logs import log_to_file
from deeppc.metrics.api import MetricOptions
from deeppc.provenance import record
from deeppc.score import ScoreJob, score_checkpoint
from deeppc.train.device import select

with log_to_file(snakemake.log[0]):  # noqa: F821 (snakemake injects it)
    sm = snakemake  # noqa: F821
    names = sm.params.metrics["extractors"]
    images = Path(sm.input.images)
    job = ScoreJob(
        experiment=sm.wildcards.experiment,
        iteration=int(sm.wildcards.iteration),
        checkpoint=Path(sm.input.ckpt),
        real=dict(zip(names, map(Path, sm.input.real))),
        holdout=Path(sm.input.holdout) if "holdout" in sm.input.keys() else None,
        manifest=Path(sm.input.manifest) if "manifest" in sm.input.keys() else None,
        train_images=images / "train",
        holdout_images=images / "holdout",
        weights=dict(zip(names, map(Path, sm.input.weights))),
        repeats=sm.params.repeats,
        n_images=sm.params.score["n_images"],
        seed=sm.params.seed,
        options=MetricOptions.from_config(sm.params.metrics),
        random_init=frozenset(sm.params.random_init),
        batch_size=sm.params.score["batch_size"],
        feature_batch=sm.params.metrics["batch_size"],
        truncation_psi=sm.params.score["truncation_psi"],
        device=str(select(sm.params.device)),  # checked: auto, cpu, cuda[:N] with a GPU
        batch_size_train=sm.params.progress["batch_size"],
        drop_last=sm.params.progress["drop_last"],
        class_real=tuple(map(Path, sm.input.get("class_real", []))),  # in the run's class order
    )
    score_checkpoint(job, sm.output.json, sm.output.get("pairs"))
    record(snakemake)  # noqa: F821
