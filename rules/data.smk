# Data stage: DICOM/PNG tree -> 8-bit PNGs split by view, manifest, audit.


rule demo_data:
    output:
        directory(results("demo", "dicom")),
    params:
        demo=config["data"].get("demo"),
    log:
        results("logs", "demo_data.log"),
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow/scripts/demo_data.py"


rule preprocess:
    input:
        folder=data_input(),
        labels=labels_input(),
    output:
        manifest=results("data", "manifest.csv"),
        summary=results("data", "summary.json"),
        views=[directory(results("data", view)) for view in VIEWS],
        unassigned=directory(results("data", "unassigned")),
        audit=directory(results("data", "audit")),
    params:
        data={k: v for k, v in config["data"].items() if k not in ("threads", "demo", "input")},
        seed=config["seed"],
    threads: config["data"]["threads"]
    log:
        results("logs", "preprocess.log"),
    conda:
        ENV
    benchmark:
        results("benchmarks", "preprocess.tsv")
    resources:
        mem_mb=8000,
        runtime=240,
    script:
        "../workflow/scripts/preprocess.py"


if CLASS_SETS:

    rule class_images:
        # One class of one view (utility.labels), for experiments that train a GAN per class (`label`).
        input:
            manifest=results("data", "manifest.csv"),
            views=[results("data", view) for view in VIEWS],
            labels=config["utility"]["labels"],
        output:
            directory(results("data", "classes", "{view}", "{label}")),
        wildcard_constraints:
            view="|".join(VIEWS),
            label="[A-Za-z0-9_-]+",
        log:
            results("logs", "class_images", "{view}_{label}.log"),
        conda:
            ENV
        script:
            "../workflow/scripts/class_images.py"
