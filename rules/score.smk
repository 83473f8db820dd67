# Score stage: real statistics once per (view, extractor, split); one job per
# experiment and checkpoint. Weights are files: fetch_weights downloads them on
# a machine with internet (a login node), random_weights makes the demo's.


rule fetch_weights:
    # Target rule: `snakemake fetch_weights` on a machine with internet (a login node).
    input:
        [e["path"] for e in FETCHABLE.values()],
    localrule: True
    default_target: False


for _key, _entry in FETCHABLE.items():

    rule:
        name:
            f"fetch_weights_{_key}"
        output:
            _entry["path"],
        params:
            entry=_entry,
        localrule: True
        log:
            results("logs", f"fetch_weights_{_key}.log"),
        conda:
            ENV
        script:
            "../workflow/scripts/fetch_weights.py"


rule random_weights:
    output:
        results("weights", "random-{key}.pth"),
    log:
        results("logs", "random_weights_{key}.log"),
    conda:
        ENV
    script:
        "../workflow/scripts/random_weights.py"


rule real_stats:
    input:
        images=results("data", "{view}"),
        weights=lambda wc: extractor_weights(wc.extractor),
    output:
        results("real", "{view}", "{extractor}", "{split}.npz"),
    wildcard_constraints:
        split="train|holdout",
    params:
        batch_size=config["metrics"]["batch_size"],
        device=RES["score"]["device"],
    threads: RES["score"]["threads"]
    log:
        results("logs", "real_stats", "{view}_{extractor}_{split}.log"),
    benchmark:
        results("benchmarks", "real_stats", "{view}_{extractor}_{split}.tsv")
    resources:
        **job_resources("score"),
    conda:
        ENV
    script:
        "../workflow/scripts/real_stats.py"


rule score:
    input:
        unpack(score_input),
    output:
        **score_outputs(),
    wildcard_constraints:
        experiment="|".join(SETTINGS) or "^$",
        iteration=r"\d+",
    params:
        repeats=lambda wc: repeats_at(wc.experiment, wc.iteration),
        progress=lambda wc: progress_settings(wc.experiment),
        score=config["score"],
        metrics=config["metrics"],
        seed=config["seed"],
        random_init=random_extractors(),
        device=RES["score"]["device"],
    threads: RES["score"]["threads"]
    log:
        results("logs", "score", "{experiment}_{iteration}.log"),
    benchmark:
        results("benchmarks", "score", "{experiment}_{iteration}.tsv")
    resources:
        **job_resources("score"),
    conda:
        ENV
    script:
        "../workflow/scripts/score.py"
