# Train stage: one job per experiment. Each rule's params hold only its own
# experiment's settings, so editing one experiment reruns only its jobs and
# what reads them. Resume state lives in runs/{experiment}/state/, outside the
# declared outputs, so a retried job (walltime, SIGTERM, SIGKILL) resumes.

for _name, _settings in SETTINGS.items():

    rule:
        name:
            f"train_{_name}"
        input:
            images=train_images(_name),
            init=[_settings.init_from] if _settings.init_from else [],
            manifest=[results("data", "manifest.csv")] if _settings.train_fraction else [],  # whose images
        output:
            **run_files(_name),
        params:
            experiment=_name,
            settings=experiment_config(_name),
            device=RES["train"]["device"],
        threads: RES["train"]["threads"]
        log:
            results("logs", "train", f"{_name}.log"),
        benchmark:
            results("benchmarks", "train", f"{_name}.tsv")
        resources:
            **job_resources("train", _settings.gpus),
        conda:
            ENV
        script:
            "../workflow/scripts/train.py"
