# Report stage: figures and tables for `snakemake --report results/report.html`.


rule figure_curves:
    input:
        curves=results("stats", "curves.csv"),
        best=results("stats", "best_checkpoints.csv"),
        observations=results("stats", "observations.csv"),
    output:
        curves=report(results("figures", "curves_{metric}.png"), category="Scores over training",
                      caption="../workflow/report/curves.rst"),
        comparison=report(results("figures", "comparison_{metric}.png"), category="Compared iteration",
                          caption="../workflow/report/comparison.rst"),
    params:
        compare=config["stats"]["compare_at"],
        max_iteration=config["report"]["curve_max_iteration"],
    log:
        results("logs", "figures", "curves_{metric}.log"),
    conda:
        ENV
    script:
        "../workflow/scripts/figure_curves.py"


rule figure_losses:
    input:
        lambda wc: [results("runs", n, "losses.csv") for n in loss_groups()[wc.group]["experiments"]],
    output:
        report(results("figures", "losses_{group}.png"), category="Losses", caption="../workflow/report/losses.rst"),
    params:
        group=lambda wc: loss_groups()[wc.group],
    log:
        results("logs", "figures", "losses_{group}.log"),
    conda:
        ENV
    script:
        "../workflow/scripts/figure_losses.py"


rule figure_samples:
    input:
        lambda wc: [p for paths in sample_grid_inputs(wc.family).values() for p in paths],
    output:
        report(results("figures", "samples_{family}.png"), category="Samples", caption="../workflow/report/samples.rst"),
    params:
        grids=lambda wc: sample_grid_inputs(wc.family),
    log:
        results("logs", "figures", "samples_{family}.log"),
    conda:
        ENV
    script:
        "../workflow/scripts/figure_samples.py"


rule figure_memorization:
    input:
        pairs=lambda wc: results("scores", wc.experiment, f"{compare_iteration(wc.experiment)}.pairs.png"),
        score=lambda wc: results("scores", wc.experiment, f"{compare_iteration(wc.experiment)}.json"),
    output:
        report(results("figures", "memorization_{experiment}.png"), category="Memorisation",
               caption="../workflow/report/memorization.rst"),
    log:
        results("logs", "figures", "memorization_{experiment}.log"),
    conda:
        ENV
    script:
        "../workflow/scripts/figure_memorization.py"


if config["vtt"]["enabled"]:

    rule vtt_kit:
        # A blinded visual Turing test kit: K real and K generated images per model.
        input:
            images=results("data", config["train"]["view"]),
            best=results("stats", "best_checkpoints.csv"),
            ckpts=[results("runs", m, "ckpt", f"{k}.pt") for m in config["vtt"]["models"] for k in score_iterations(m)],
        output:
            directory(results("vtt")),
        params:
            # model -> iteration -> checkpoint: the inputs above, named (nothing parses paths)
            checkpoints={m: {k: results("runs", m, "ckpt", f"{k}.pt") for k in score_iterations(m)}
                         for m in config["vtt"]["models"]},
            vtt=config["vtt"],
            metric=STATS_METRICS[0],
            seed=config["seed"],
            batch_size=config["score"]["batch_size"],
        log:
            results("logs", "vtt_kit.log"),
        conda:
            ENV
        script:
            "../workflow/scripts/vtt_kit.py"


    if config["vtt"]["answers"]:

        rule vtt_score:
            # The raters' answers scored, and FID against their false-positive rate (the seed study's Table 2).
            input:
                kit=results("vtt"),
                best=results("stats", "best_checkpoints.csv"),
                answers=vtt_answer_files(),
                scores=[results("scores", m, f"{k}.json") for m in config["vtt"]["models"] for k in score_iterations(m)],
            output:
                table=directory(results("vtt_scored")),
                figure=report(results("figures", "vtt_fid_fpr.png"), category="Visual Turing test",
                              caption="../workflow/report/vtt.rst"),
            params:
                scores={m: {k: results("scores", m, f"{k}.json") for k in score_iterations(m)}
                        for m in config["vtt"]["models"]},
                vtt=config["vtt"],
                metric=STATS_METRICS[0],
            log:
                results("logs", "vtt_score.log"),
            conda:
                ENV
            script:
                "../workflow/scripts/vtt_score.py"

rule front_page:
    # The report's front page (Snakefile: `report:`): the study's answer, from the stages' files.
    input:
        summary=results("data", "summary.json"),
        pairwise=results("stats", "pairwise.csv"),
        best=results("stats", "best_checkpoints.csv"),
        settings=results("stats", "settings.json"),
        scores=[results("scores", n, f"{compare_iteration(n)}.json") for n in FIRST_RUNS],
        **({"utility": results("utility", "paired.csv")} if UTILITY_PLAN is not None else {}),
    output:
        FRONT_PAGE,
    params:
        links=front_page_links(),
        title=front_page_title(),
    log:
        results("logs", "front_page.log"),
    conda:
        ENV
    script:
        "../workflow/scripts/front_page.py"
