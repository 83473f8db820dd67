# MedFID stage: fine-tune the X-ray feature extractor on labelled public
# radiographs (MURA, LERA, or folder-per-class; phantoms in the demo) and
# validate it against distortions (paper, appendix A.7).


rule medfid_demo_data:
    output:
        directory(results("medfid", "demo")),
    params:
        demo=config["medfid"]["demo"],
    log:
        results("logs", "medfid_demo_data.log"),
    conda:
        ENV
    script:
        "../workflow/scripts/medfid_demo_data.py"


rule medfid_train:
    input:
        sources=lambda wc: medfid_sources(),
        weights=lambda wc: medfid_imagenet_weights(),
    output:
        extractor=results("medfid", "extractor.pt"),
        metrics=results("medfid", "metrics.json"),
        per_class=report(results("medfid", "per_class_accuracy.csv"), category="MedFID",
                         caption="../workflow/report/medfid_training.rst"),
        curves=report(results("medfid", "training_curves.png"), category="MedFID",
                      caption="../workflow/report/medfid_training.rst"),
        confusion=report(results("medfid", "confusion_matrix.png"), category="MedFID",
                         caption="../workflow/report/medfid_training.rst"),
    params:
        stage=medfid_config(),
        data_root=medfid_data_root(),
        device=RES["medfid"]["device"],
    threads: RES["medfid"]["threads"]
    log:
        results("logs", "medfid_train.log"),
    benchmark:
        results("benchmarks", "medfid_train.tsv")
    resources:
        **job_resources("medfid"),
    conda:
        ENV
    script:
        "../workflow/scripts/medfid_train.py"


rule medfid_validate:
    input:
        extractor=results("medfid", "extractor.pt"),
        images=results("data", config["train"]["view"]),
        weights=[] if config["weights"]["inception"].get("random_init") else config["weights"]["inception"]["path"],
    output:
        table=report(results("medfid", "validation", "correlations.csv"), category="MedFID",
                     caption="../workflow/report/medfid_validation.rst"),
        summary=results("medfid", "validation", "summary.json"),
        figures=[report(results("medfid", "validation", f"{d}.png"), category="MedFID",
                        caption="../workflow/report/medfid_validation.rst") for d in DISTORTIONS],
    params:
        stage=medfid_config(),
        device=RES["medfid"]["device"],
    threads: RES["medfid"]["threads"]
    log:
        results("logs", "medfid_validate.log"),
    benchmark:
        results("benchmarks", "medfid_validate.tsv")
    resources:
        **job_resources("medfid"),
    conda:
        ENV
    script:
        "../workflow/scripts/medfid_validate.py"
