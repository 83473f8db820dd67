# Stats stage: every score file in, pairwise tests with correction, best
# checkpoints, curves and the Table-3-style matrices out.


rule stats:
    input:
        score_files(),
    output:
        [report(f, category="Statistical tests", caption="../workflow/report/stats.rst") if f.endswith(".csv") else f
         for f in stats_files()],
    params:
        stats=config["stats"],
        experiments=list(EXPERIMENTS),
    log:
        results("logs", "stats.log"),
    conda:
        ENV
    script:
        "../workflow/scripts/stats.py"
