"""The Snakemake workflow: lint, config validation before any job, the demo end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run snakemake on this repository's Snakefile with `cwd` as its working directory."""
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [str(exe), "-s", str(REPO / "Snakefile"), "--directory", str(cwd), *args]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=1800)


def test_lint_is_clean(tmp_path):
    result = snakemake("--lint", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_a_bad_config_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  demo: {}\n  image_sise: 64\n")
    result = snakemake("--cores", "1", "--configfile", str(bad), cwd=tmp_path)
    assert result.returncode != 0
    assert "config key 'data.image_sise': unknown key" in result.stderr
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo-run")
    result = snakemake("--cores", "2", "--configfile", str(REPO / "config" / "demo.yaml"), cwd=work)
    assert result.returncode == 0, result.stderr[-4000:]
    return work


@pytest.mark.workflow
def test_demo_runs_end_to_end(demo_run):
    results = demo_run / "results"
    summary = json.loads((results / "data" / "summary.json").read_text())
    assert summary["status"]["ok"] >= 40
    assert summary["views"]["LAT"]["train"] > 0 and summary["views"]["AP"]["holdout"] > 0
    assert (results / "logs" / "preprocess.log").read_text().count("data stage done") == 1
    assert (results / "benchmarks" / "preprocess.tsv").is_file()
    for name in ("vanilla2", "wgangp1", "wgangp1@r1"):
        run = json.loads((results / "runs" / name / "summary.json").read_text())
        assert run["status"] == "finished"
        # compared at 3.2 kimg: iteration 400 at batch 8 gets the repeated sample sets
        score = json.loads((results / "scores" / name / "400.json").read_text())
        assert len(score["repeats"]) == 3 and score["comparable_to_published"] is False
        assert all(r["fid"] > 0 for r in score["repeats"])
        assert score["progress"]["kimg"] == 3.2 and score["progress"]["batch_size"] == 8
    pairwise = pd.read_csv(results / "stats" / "pairwise.csv")
    assert (pairwise["unit"] == "training_seeds").all() and pairwise["warning"].isna().all()
    assert set(pairwise["n_a"]) == {2}  # two training seeds per experiment
    cross = pairwise[pairwise.kind == "cross"]
    # two configured cross-family comparisons, one pair each, for both metrics (medfid, fid)
    assert len(cross) == 4 and cross.p.notna().all()
    assert set(cross.comparison) == {"WGAN-GP vs Vanilla", "StyleGAN2-ADA vs WGAN-GP"}
    assert set(cross.metric) == {"medfid", "fid"}
    assert "WGAN-GP vs Vanilla" in (results / "stats" / "table3_fid.md").read_text()
    for figure in ("curves_fid", "comparison_fid", "losses_vanilla", "samples_wgangp", "memorization_wgangp1"):
        assert (results / "figures" / f"{figure}.png").stat().st_size > 10_000


@pytest.mark.workflow
def test_demo_runs_the_utility_stage(demo_run):
    results = demo_run / "results" / "utility"
    runs = pd.read_csv(results / "runs.csv")
    # real, augment and real + 1x LAT images of each experiment, 3 classifier seeds each
    arms = {"real", "augment", "real+vanilla2_1x", "real+wgangp1_1x", "real+stylegan2_ada_1x"}
    assert set(runs.arm) == arms and len(runs) == 15 and set(runs.seed) == {0, 1, 2}
    mixed, real = runs[runs.kind == "mixed"], runs[runs.arm == "real"].iloc[0]
    assert (mixed.n_synthetic == mixed.n_real).all() and (mixed.n_real == real.n_real).all()
    assert (mixed.n_AP == real.n_AP).all() and (mixed.n_LAT == real.n_LAT + mixed.n_synthetic).all()  # all LAT
    assert runs.balanced_accuracy.between(0, 1).all() and (runs.steps_run <= 150).all()
    paired = pd.read_csv(results / "paired.csv")
    assert set(paired.arm) == arms - {"real"} and (paired.n == 3).all()
    assert paired.unit.str.startswith("classifier seeds").all() and (paired.correction == "holm").all()
    task = json.loads((results / "task.json").read_text())
    assert task["classes"] == ["LAT", "AP"] and task["holdout"]["patients"] > 0
    assert len(task["seeds"]) == 3 and task["settings"]["ratios"] == [1.0] and task["settings"]["fit"]["steps"] == 150
    # synthetic-only arms need a source of every class: each demo GAN makes LAT only
    assert set(task["skipped"]) == {"vanilla2_only", "wgangp1_only", "stylegan2_ada_only"}
    quality = pd.read_csv(results / "quality.csv")
    assert set(quality.source) == {"vanilla2", "wgangp1", "stylegan2_ada"} and quality.fid.notna().all()
    correlation = pd.read_csv(results / "correlation.csv")
    assert set(correlation.quality) >= {"fid", "medfid"} and (correlation.n == 3).all()
    for figure in ("utility_arms", "utility_ratios", "utility_quality"):
        assert (demo_run / "results" / "figures" / f"{figure}.png").stat().st_size > 10_000


@pytest.mark.workflow
def test_report_has_every_section(demo_run):
    result = snakemake("--configfile", str(REPO / "config" / "demo.yaml"), "--report", "results/report.html",
                       cwd=demo_run)
    assert result.returncode == 0, result.stderr[-3000:]
    html = (demo_run / "results" / "report.html").read_text()
    for section in ("Statistical tests", "Scores over training", "Compared iteration", "Losses", "Samples",
                    "Memorisation", "Utility"):
        assert section in html
    assert "not comparable to published" in html
    assert "System Message" not in html  # no docutils warning anywhere (captions, front page)
    # the front page opens on the answer: data, best checkpoints, real differences, memorisation, warnings
    for headline in ("Read this first", "randomly initialised weights", "files read from",
                     "Best checkpoint of each experiment", "Which differences are real", "tested pairs differ",
                     "unit: training seeds", "compared at 3.2 kimg", "Memorisation (does a generator copy",
                     "Do the synthetic images help a classifier?", "unit: classifier seeds, n = 3"):
        assert headline in html, headline


@pytest.mark.workflow
def test_nothing_reruns_after_a_complete_run(demo_run):
    result = snakemake("-n", "--configfile", str(REPO / "config" / "demo.yaml"), cwd=demo_run)
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.workflow
def test_a_config_resaved_with_other_key_order_reruns_nothing(demo_run, tmp_path):
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    resaved = tmp_path / "resaved.yaml"
    resaved.write_text(yaml.safe_dump(_reverse_keys(config), sort_keys=False))
    result = snakemake("-n", "--configfile", str(resaved), cwd=demo_run)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]


@pytest.mark.workflow
def test_edits_rerun_the_jobs_that_read_them(demo_run, tmp_path):
    """Every config value a job reads is in its params: the medfid stage reads seed and the image size."""
    base = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())

    dry_runs = {}

    def rerun(edit) -> set[str]:
        config = yaml.safe_load(yaml.safe_dump(base, sort_keys=False))  # experiments keep their order
        edit(config)
        path = tmp_path / "edited.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        result = snakemake("-n", "--configfile", str(path), cwd=demo_run)
        assert result.returncode == 0, result.stderr[-3000:]
        dry_runs["last"] = result.stdout
        return {rule for rule, _ in _jobs(result.stdout)}

    assert "medfid_train" in rerun(lambda c: c.update(seed=c["seed"] + 1))
    assert "medfid_train" in rerun(lambda c: c["data"].update(image_size=c["data"]["image_size"] * 2))
    # a new synthetic ratio: only its arms' jobs and what reads them (pools are sized by utility.pool)
    config_jobs = rerun(lambda c: c["utility"].update(ratios=[1, 0.5]))
    assert config_jobs == {"utility_arm", "utility_summary", "figure_utility", "front_page"}, _reasons(dry_runs["last"])
    # one experiment edited: its own training runs and what reads them, not the other experiments'
    jobs = rerun(lambda c: c["experiments"]["wgangp1"].update(lr=0.0002))
    assert {"train_wgangp1", "train_wgangp1@r1"} <= jobs, jobs
    assert not {"train_vanilla2", "train_vanilla2@r1", "train_stylegan2_ada", "medfid_train"} & jobs, jobs


def _reasons(dry_run_output: str) -> str:
    """Each planned job's rule and why it runs, to say why an unexpected job is there."""
    return "\n".join(re.findall(r"^(?:local)?rule \S+:$|^    reason: .{0,300}", dry_run_output, re.M))


def _reverse_keys(node):
    """Every mapping's keys in reverse order, except the experiments' (their order is meaningful)."""
    if isinstance(node, dict):
        first = next(iter(node.values()), None)
        experiments = isinstance(first, dict) and "family" in first
        keys = list(node) if experiments else list(reversed(node))
        return {k: _reverse_keys(node[k]) for k in keys}
    return [_reverse_keys(v) for v in node] if isinstance(node, list) else node


def _jobs(dry_run_output: str) -> list[tuple[str, str]]:
    """(rule, first output) of every job a dry run lists."""
    return re.findall(r"^(?:local)?rule (\S+):\n(?:    .*\n)*?    output: (\S+?)[,\n]", dry_run_output, re.M)


def _paper_dry_run(tmp_path: Path, config: dict) -> list[tuple[str, str]]:
    for folder in ("elbow-dicom", "MURA-v1.1", "LERA"):  # the paper config's data.input and medfid.sources
        (tmp_path / "data" / folder).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--configfile", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return _jobs(result.stdout)


def _config(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())


def test_recommended_study_trains_seeds_and_compares_at_equal_images_seen(tmp_path):
    study = _config("config")
    jobs = _paper_dry_run(tmp_path, study)
    rules = [rule for rule, _ in jobs]
    trains = sorted(r for r in rules if r.startswith("train_"))
    seeds = {name: 3 if name.startswith("stylegan2") else 5 for name in study["experiments"]}
    assert trains == sorted(f"train_{name}" + ("" if k == 0 else f"@r{k}")
                            for name, n in seeds.items() for k in range(n))
    assert "fetch_weights_inception" in rules  # the FID weights are not there yet: fetched first
    scored = {(out.split("/")[2], out.split("/")[3]) for rule, out in jobs if rule == "score"}
    # 448 kimg: iteration 7000 at batch 64, 28000 at batch 16 (both kept, so both scored)
    assert ("wgangp1@r4", "7000.json") in scored and ("stylegan2@r2", "28000.json") in scored
    # the utility stage: every experiment a source, 5 classifier seeds, real + 0.5/1/2x and the baselines
    arms = {out.split("/")[3] for rule, out in jobs if rule == "utility_arm"}
    assert arms == {"real", "augment"} | {f"real+{e}_{r}x" for e in study["experiments"] for r in ("0.5", "1", "2")}
    assert sum(rule == "utility_arm" for rule in rules) == 5 * len(arms)
    pools = {out.split("/")[3] for rule, out in jobs if rule == "utility_pool"}
    assert "stylegan2@r2.npz" in pools and len(pools) == len(trains)


def _class_dry_run(tmp_path: Path, config: dict, name: str) -> list[tuple[str, str]]:
    """Dry-run a config whose experiments train on the classes normal/abnormal of LAT; its jobs."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--configfile", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = _jobs(result.stdout)
    assert {out for rule, out in jobs if rule == "class_images"} == {
        "results/data/classes/LAT/normal", "results/data/classes/LAT/abnormal"}
    return jobs


def test_one_gan_per_class_trains_and_scores_on_that_class(tmp_path):
    config = _config("demo")
    (tmp_path / "labels.csv").write_text("sha256,label\n")  # the classes come from here when the jobs run
    for label in ("normal", "abnormal"):
        config["experiments"][f"wgan_{label}"] = dict(config["experiments"]["wgangp1"], label=label)
    config["utility"].update(labels="labels.csv", classes=["normal", "abnormal"],
                             sources={"wgan": ["wgan_normal", "wgan_abnormal"]})  # fmt: skip
    jobs = _class_dry_run(tmp_path, config, "classes.yaml")
    # per-class FID: each class's GAN is scored against the real images of its class
    assert "results/real/classes/LAT/abnormal/inception-2015-12-05/train.npz" in {o for r, o in jobs if r == "real_stats"}
    arms = {out.split("/")[3] for rule, out in jobs if rule == "utility_arm"}
    assert arms == {"real", "augment", "real+wgan_1x", "wgan_only"}  # a source per class: synthetic-only runs
    assert {out for rule, out in jobs if rule == "utility_pool"} >= {"results/utility/pools/wgan_abnormal@r1.npz"}


def test_a_class_conditional_stylegan2_trains_on_every_class_and_is_scored_per_class(tmp_path):
    config = _config("demo")
    (tmp_path / "labels.csv").write_text("sha256,label\n")
    config["experiments"] = {"sg2_cond": dict(config["experiments"]["stylegan2_ada"], classes=["normal", "abnormal"])}
    config["utility"].update(labels="labels.csv", classes=["normal", "abnormal"], sources={"sg2": "sg2_cond"})
    config["report"]["loss_figures"] = []
    config["vtt"]["models"] = ["sg2_cond"]
    jobs = _class_dry_run(tmp_path, config, "conditional.yaml")
    path = tmp_path / "conditional.yaml"
    real = {o for r, o in jobs if r == "real_stats"}
    # scored against the view, and per class against each class's images
    assert {"results/real/LAT/inception-2015-12-05/train.npz",
            "results/real/classes/LAT/normal/inception-2015-12-05/train.npz"} <= real
    # one conditional source covers both classes: synthetic-only arms run, from one pool per training run
    arms = {out.split("/")[3] for rule, out in jobs if rule == "utility_arm"}
    assert arms == {"real", "augment", "real+sg2_1x", "sg2_only"}
    assert {out for rule, out in jobs if rule == "utility_pool"} == {
        "results/utility/pools/sg2_cond.npz", "results/utility/pools/sg2_cond@r1.npz"}
    config["experiments"]["sg2_cond"]["classes"] = ["normal", "fracture"]
    path.write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--configfile", str(path), cwd=tmp_path)
    assert result.returncode != 0 and "class(es) ['fracture'] are not in utility.classes" in result.stdout + result.stderr


def test_replicates_add_training_runs_with_their_own_scores(tmp_path):
    study = _config("config")
    study["experiments"]["wgangp1"]["replicates"] = 3
    jobs = _paper_dry_run(tmp_path, study)
    trains = {rule for rule, _ in jobs if rule.startswith("train_wgangp1")}
    assert trains == {"train_wgangp1", "train_wgangp1@r1", "train_wgangp1@r2"}
    scored = {out.split("/")[2] for rule, out in jobs if rule == "score"}
    assert {"wgangp1", "wgangp1@r2", "wgangp2@r4"} <= scored and "wgangp1@r3" not in scored


def test_paper_preset_plans_the_papers_analysis(tmp_path):
    paper = _config("paper")
    jobs = _paper_dry_run(tmp_path, paper)
    rules = [rule for rule, _ in jobs]
    assert sorted(r for r in rules if r.startswith("train_")) == sorted(f"train_{n}" for n in paper["experiments"])
    # all lateral images train: no holdout statistics, no memorisation check or figure
    outputs = [out for _, out in jobs]
    assert not [o for o in outputs if "holdout" in o or "memorization" in o or o.endswith(".pairs.png")]
    # '200 epochs' is resolved after the data stage: every kept checkpoint is scored
    scores = [out for rule, out in jobs if rule == "score"]
    kept = {name: len(paper["experiments"][name].get("keep_checkpoints") or paper["train"]["keep_checkpoints"])
            for name in paper["experiments"]}
    assert len(scores) == sum(kept.values())


@pytest.mark.workflow
def test_editing_one_experiment_reruns_only_what_depends_on_it(demo_run, tmp_path):
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["experiments"]["wgangp1"]["lr"] = 0.0003
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--configfile", str(edited), cwd=demo_run)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = _jobs(result.stdout)
    rules = {rule for rule, _ in jobs}
    assert "train_wgangp1" in rules and "train_vanilla2" not in rules
    scored = {out.split("/")[2] for rule, out in jobs if rule == "score"}
    assert scored == {"wgangp1", "wgangp1@r1"}  # both training seeds of the edited experiment
    assert {"stats", "figure_curves"} <= rules  # the stage that reads every score reruns
    assert not rules & {"preprocess", "demo_data", "real_stats", "figure_samples_vanilla"}


def test_transfer_preset_plans_the_second_studys_design(tmp_path):
    """config/transfer.yaml: four models on a nested 25 % of the patients, the baseline on more, best checkpoints."""
    transfer = _config("transfer")
    pickle = tmp_path / transfer["experiments"]["pretrained"]["init_from"]
    pickle.parent.mkdir(parents=True)
    pickle.write_bytes(b"a stand-in: a dry run only checks that the file is there")
    jobs = _paper_dry_run(tmp_path, transfer)
    trains = sorted(rule for rule, _ in jobs if rule.startswith("train_"))
    assert trains == sorted(f"train_{e}" + ("" if k == 0 else f"@r{k}") for e in transfer["experiments"]
                            for k in range(3))  # fmt: skip
    assert "vtt_kit" in {rule for rule, _ in jobs}
    from deeppc.config import load
    from deeppc.study import train_settings

    config = load(tmp_path / "study.yaml")
    settings = train_settings(config)
    assert settings["pretrained_ada@r2"].init_from.endswith(".pkl") and settings["ada"].init_from is None
    assert [settings[e].train_fraction for e in ("baseline", "baseline_50", "baseline_100")] == [0.25, 0.5, 1.0]
    assert config["stats"]["compare_at"] == "best"


def test_raters_answers_are_scored_into_the_report(tmp_path):
    demo = _config("demo")
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "alice.csv").write_text("image_id,answer,rating\n")
    demo["vtt"]["answers"] = str(answers)
    path = tmp_path / "vtt.yaml"
    path.write_text(yaml.safe_dump(demo))
    result = snakemake("-n", "--configfile", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("vtt_score", "results/vtt_scored") in _jobs(result.stdout)
    (answers / "alice.csv").unlink()
    result = snakemake("-n", "--configfile", str(path), cwd=tmp_path)
    assert result.returncode != 0 and "no answer CSVs in" in result.stdout + result.stderr


def test_a_run_on_several_gpus_asks_the_scheduler_for_them(tmp_path):
    study = _config("config")
    study["experiments"]["stylegan2"]["gpus"] = 4
    for folder in ("elbow-dicom", "MURA-v1.1", "LERA"):
        (tmp_path / "data" / folder).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    result = snakemake("-n", "--configfile", str(path), "--printshellcmds", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    blocks = {m[0]: m[1] for m in re.findall(r"^rule (train_\S+):\n((?:    .*\n)+)", result.stdout, re.M)}
    assert "gpu=4" in blocks["train_stylegan2@r2"] and "gpu=1" in blocks["train_stylegan2_ada"]
    study["experiments"]["wgangp1"]["gpus"] = 2
    path.write_text(yaml.safe_dump(study))
    result = snakemake("-n", "--configfile", str(path), cwd=tmp_path)
    assert result.returncode != 0 and "batch normalisation" in result.stdout + result.stderr
