# Utility stage: do the GANs' images help a classifier on real patients?
# One pool of generated images per GAN run, one job per (arm, seed), one
# summary with the paired tests, and the figures. Only with utility.enabled.

if UTILITY_PLAN is not None:

    rule utility_pool:
        input:
            ckpt=lambda wc: results("runs", wc.run, "ckpt", f"{UTILITY_PLAN.iterations[wc.run]}.pt"),
            manifest=results("data", "manifest.csv"),
        output:
            utility_pool("{run}"),
        wildcard_constraints:
            run="|".join(map(re.escape, UTILITY_PLAN.labels)) or "^$",
        params:
            generates=lambda wc: UTILITY_PLAN.labels[wc.run],
            pool=UTILITY["pool"],
            labels=UTILITY["labels"],
            classes=UTILITY_PLAN.classes,
            seed=config["seed"],
            device=RES["utility"]["device"],
        threads: RES["utility"]["threads"]
        log:
            results("logs", "utility", "pool_{run}.log"),
        resources:
            **job_resources("utility"),
        conda:
            ENV
        script:
            "../workflow/scripts/utility_pool.py"

    rule utility_arm:
        input:
            manifest=results("data", "manifest.csv"),
            views=[results("data", view) for view in VIEWS],
            labels=[UTILITY["labels"]] if UTILITY["labels"] else [],
            pools=lambda wc: [utility_pool(r) for r in UTILITY_PLAN.pool_runs(wc.arm, int(wc.seed))],
        output:
            results("utility", "arms", "{arm}", "{seed}.json"),
        wildcard_constraints:
            arm="|".join(map(re.escape, UTILITY_PLAN.arms)),
            seed=r"\d+",
        params:
            arm=lambda wc: vars(UTILITY_PLAN.arms[wc.arm]),
            utility=utility_arm_params(),
            classes=UTILITY_PLAN.classes,
            size=UTILITY_PLAN.image_size,
            seed=config["seed"],
            device=RES["utility"]["device"],
        threads: RES["utility"]["threads"]
        log:
            results("logs", "utility", "{arm}_{seed}.log"),
        benchmark:
            results("benchmarks", "utility", "{arm}_{seed}.tsv")
        resources:
            **job_resources("utility"),
        conda:
            ENV
        script:
            "../workflow/scripts/utility_arm.py"

    rule utility_summary:
        input:
            arms=utility_arm_files(),
            scores=[results("scores", r, f"{UTILITY_PLAN.iterations[r]}.json") for r in UTILITY_PLAN.all_runs()],
        output:
            [report(results("utility", f), category="Utility", caption="../workflow/report/utility_tables.rst")
             if f.endswith(".csv") else results("utility", f) for f in UTILITY_FILES],
        params:
            utility=UTILITY,
            sources=UTILITY_PLAN.sources,
            iterations=UTILITY_PLAN.iterations,
            skipped=UTILITY_PLAN.skipped,
            seed=config["seed"],
        log:
            results("logs", "utility", "summary.log"),
        conda:
            ENV
        script:
            "../workflow/scripts/utility_summary.py"

    rule figure_utility:
        input:
            runs=results("utility", "runs.csv"),
            paired=results("utility", "paired.csv"),
            quality=results("utility", "quality.csv"),
            correlation=results("utility", "correlation.csv"),
        output:
            **{f: report(results("figures", f"{f}.png"), category="Utility", caption=f"../workflow/report/{f}.rst")
               for f in UTILITY_FIGURES},
        log:
            results("logs", "figures", "utility.log"),
        conda:
            ENV
        script:
            "../workflow/scripts/figure_utility.py"
