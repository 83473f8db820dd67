# Paths and input functions shared by all rules.

from pathlib import Path

RESULTS = config["results"]
ENV = "../workflow/envs/deeppc.yaml"  # relative to the rules/ files that use it
VIEWS = config["data"]["views"]
DEMO = "demo" in config["data"]


def results(*parts):
    """A path under the results folder."""
    return "/".join([RESULTS, *parts])


def data_input():
    """The input folder: the generated demo set, or the user's folder (data.input)."""
    return results("demo", "dicom") if DEMO else config["data"]["input"]


def labels_input():
    """The optional labels CSV, as an input so that editing it reruns the stage."""
    labels = config["data"].get("labels_csv")
    return [labels] if labels else []


def data_outputs():
    return [results("data", "manifest.csv"), results("data", "summary.json")]


# ----------------------------------------------------------------- training

from deeppc.medfid.distortions import NAMES as DISTORTION_NAMES
from deeppc.run_names import split_run
from deeppc.stats.analysis import output_files as stats_output_files
from deeppc.study import check_study, compared_iteration, train_settings

EXPERIMENTS = config.get("experiments") or {}
SETTINGS = train_settings(config)  # training runs: each experiment, then its replicates NAME@r1, ...
FIRST_RUNS = {n: s for n, s in SETTINGS.items() if split_run(n)[1] == 0}  # what the loss/sample figures show
check_study(config, SETTINGS)
RES = config["resources"]


# Training keys added after studies were run: left out of a run's params while unset, so that
# upgrading deeppc does not make Snakemake retrain every finished run of an existing study.
LATER_TRAIN_KEYS = ("label", "classes", "gpus", "train_fraction")


def experiment_config(run):
    """The config keys that drive one training run (its params: editing another experiment changes nothing here)."""
    merged = {"seed": config["seed"], **config["train"], **EXPERIMENTS[split_run(run)[0]]}
    return {k: v for k, v in merged.items() if not (k in LATER_TRAIN_KEYS and v is None)}


def medfid_config():
    """Every config key the medfid stage reads, as its rules' params: editing any of them reruns it."""
    section = config["medfid"]
    weights = {k: config["weights"][k] for k in (section["weights"], "inception") if k in config["weights"]}
    image_size = section.get("image_size") or config["data"]["image_size"]
    return {"seed": config["seed"], "medfid": section, "data": {"image_size": image_size}, "weights": weights}


def job_resources(stage, gpus=None):
    """Scheduler-facing resources of a stage (profiles map gpus/mem/runtime); `gpus`: a run's own count."""
    spec = RES[stage]
    return {"mem_mb": spec["mem_mb"], "runtime": spec["runtime"], "gpu": gpus or spec["gpus"]}


def data_key(run):
    """The image set a run is scored against: its view, or one class of it (`label`).

    A class-conditional run (`classes`) is scored against its view, plus each class's images (per_class).
    """
    s = SETTINGS[run]
    return f"classes/{s.view}/{s.label}" if s.label else s.view


def train_images(run):
    """What a run trains on: its image set, or one folder per class for a conditional run."""
    s = SETTINGS[run]
    if s.classes:
        return [results("data", "classes", s.view, c) for c in s.classes]
    return results("data", data_key(run))


CLASS_SETS = sorted({(s.view, c) for s in SETTINGS.values() for c in ([s.label] if s.label else s.classes or [])})


def run_files(name):
    s = SETTINGS[name]
    return {
        "ckpts": [results("runs", name, "ckpt", f"{k}.pt") for k in s.kept_checkpoints()],
        "samples": [results("runs", name, "samples", f"{k}.png") for k in s.checkpoint_iterations()],
        "losses": results("runs", name, "losses.csv"),
        "summary": results("runs", name, "summary.json"),
    }


# ------------------------------------------------------------------ scoring

EXTRACTORS = config["metrics"]["extractors"]
PRIMARY = EXTRACTORS[0]
WEIGHT_KEYS = {"inception-2015-12-05": "inception"}  # extractor name -> weights.<key>


def extractor_weights(name):
    """The weights file an extractor needs: a config file, a random one (demo), or the medfid stage's."""
    if name == "medfid":
        return results("medfid", "extractor.pt")
    key = WEIGHT_KEYS.get(name, name)
    entry = config["weights"].get(key)
    if entry is None:
        raise ValueError(f"config key 'weights.{key}' is missing (needed by extractor {name})")
    return results("weights", f"random-{key}.pth") if entry.get("random_init") else entry["path"]


def random_extractors():
    return [n for n in EXTRACTORS if n != "medfid" and config["weights"][WEIGHT_KEYS.get(n, n)].get("random_init")]


def score_iterations(name):
    """Scored checkpoints of an experiment: every kept one."""
    return SETTINGS[name].kept_checkpoints()


MEMORIZATION = config["score"]["memorization"]


def compare_iteration(name):
    """The run's compared checkpoint when the config decides it (stats.compare_at), else its last."""
    chosen = compared_iteration(config, SETTINGS[name])
    return score_iterations(name)[-1] if chosen is None else chosen


def repeats_at(name, iteration):
    """Sample sets drawn at a checkpoint: all of them at the compared iteration, one elsewhere."""
    chosen = compared_iteration(config, SETTINGS[name])
    if config["score"]["repeat_iterations"] == "all" or int(iteration) == chosen:
        return config["score"]["repeats"]
    return 1


def progress_settings(name):
    """What the score file needs to state a checkpoint's training progress (kimg, epochs)."""
    s = SETTINGS[name]
    return {"batch_size": s.batch_size, "drop_last": s.drop_last}


def score_input(wc):
    view = data_key(wc.experiment)
    inputs = {
        "ckpt": results("runs", wc.experiment, "ckpt", f"{wc.iteration}.pt"),
        "real": [real_stats(view, name, "train") for name in EXTRACTORS],
        "images": results("data", view),
        "weights": [extractor_weights(name) for name in EXTRACTORS],
    }
    classes = SETTINGS[wc.experiment].classes
    if classes:
        inputs["class_real"] = [real_stats(f"classes/{SETTINGS[wc.experiment].view}/{c}", PRIMARY, "train")
                                for c in classes]
    if MEMORIZATION:
        inputs["holdout"] = real_stats(view, PRIMARY, "holdout")
        inputs["manifest"] = results("data", "manifest.csv")  # the held-out images' patients
    return inputs


def score_outputs():
    outputs = {"json": results("scores", "{experiment}", "{iteration}.json")}
    if MEMORIZATION:
        outputs["pairs"] = results("scores", "{experiment}", "{iteration}.pairs.png")
    return outputs


FETCHABLE = {k: e for k, e in config["weights"].items() if not e.get("random_init")}


def score_files():
    return [results("scores", name, f"{k}.json") for name in SETTINGS for k in score_iterations(name)]


def real_stats(view, extractor, split):
    """Cached statistics of a real image set (train or holdout of a view) for one extractor."""
    return results("real", view, extractor, f"{split}.npz")


# ------------------------------------------------------------ stats, report

STATS_METRICS = config["stats"]["metrics"]
FAMILIES = list(dict.fromkeys(s.family for s in SETTINGS.values()))


def stats_files():
    """What the stats stage writes, named by the stage itself."""
    return [results("stats", name) for name in stats_output_files(STATS_METRICS)]


def loss_groups():
    """Loss figures: the configured groups, else one per family."""
    groups = config["report"]["loss_figures"]
    if groups:
        return {g["name"]: g for g in groups}
    return {f: {"name": f, "experiments": [n for n, s in FIRST_RUNS.items() if s.family == f]} for f in FAMILIES}


def sample_grid_inputs(family):
    """samples/{it}.png of the family's experiments at the report's iterations (those that were written)."""
    wanted = config["report"]["sample_iterations"]
    return {
        name: [results("runs", name, "samples", f"{k}.png") for k in s.checkpoint_iterations() if k in wanted]
        for name, s in FIRST_RUNS.items()
        if s.family == family
    }


def figure_files():
    figures = [results("figures", f"{kind}_{m}.png") for m in STATS_METRICS for kind in ("curves", "comparison")]
    figures += [results("figures", f"losses_{g}.png") for g in loss_groups()]
    figures += [results("figures", f"samples_{f}.png") for f in FAMILIES]
    figures += [results("figures", f"memorization_{n}.png") for n in EXPERIMENTS if MEMORIZATION]
    if config["vtt"]["enabled"]:
        figures.append(results("vtt"))
    if config["vtt"]["enabled"] and config["vtt"]["answers"]:
        figures += [results("vtt_scored"), results("figures", "vtt_fid_fpr.png")]
    return figures


def vtt_answer_files():
    """The raters' filled-in answer sheets (vtt.answers: a folder of CSVs)."""
    folder = Path(config["vtt"]["answers"])
    found = sorted(str(p) for p in folder.glob("*.csv"))
    if not found:
        raise ValueError(f"config key 'vtt.answers': no answer CSVs in {folder} (fill in kit/sheet/answers_template.csv)")
    return found


# ------------------------------------------------------------------- medfid

MEDFID = "medfid" in EXTRACTORS
DISTORTIONS = list(DISTORTION_NAMES)  # one figure each: the names the medfid stage sweeps


def medfid_data_root():
    """Where medfid.sources' relative roots are read: the demo tree, else the working directory."""
    return results("medfid", "demo") if config["medfid"]["demo"] else "."


def medfid_sources():
    if config["medfid"]["demo"]:
        return [results("medfid", "demo")]
    if not config["medfid"]["sources"]:
        raise ValueError("config key 'medfid.sources' is empty: name the labelled radiograph datasets (MURA, LERA, ...)")
    return [s["root"] for s in config["medfid"]["sources"]]


def medfid_imagenet_weights():
    entry = config["weights"].get(config["medfid"]["weights"])
    if entry is None:
        raise ValueError(f"config key 'weights.{config['medfid']['weights']}' is missing (medfid.weights names it)")
    return [] if entry.get("random_init") else [entry["path"]]


def medfid_outputs():
    if not MEDFID:
        return []
    return [results("medfid", "metrics.json"), results("medfid", "validation", "summary.json")]


# ------------------------------------------------------------- front page

FRONT_PAGE = results("report", "front.rst")


def front_page_links():
    """Topic -> the report item the front page links to (Snakemake names link targets by path)."""
    links = {"pairwise": results("stats", "pairwise.csv")}
    for m in STATS_METRICS:
        links[f"curves_{m}"] = results("figures", f"curves_{m}.png")
        links[f"comparison_{m}"] = results("figures", f"comparison_{m}.png")
    if MEMORIZATION:
        links.update({f"memorization_{n}": results("figures", f"memorization_{n}.png") for n in EXPERIMENTS})
    if config["utility"]["enabled"]:
        links.update({f: results("figures", f"{f}.png") for f in ("utility_arms", "utility_ratios", "utility_quality")})
    return links


def front_page_title():
    source = config["data"].get("input") or "the synthetic demo export"
    return f"deeppc: {len(EXPERIMENTS)} GAN experiments on {source}"


# ------------------------------------------------------------------ utility

import re

from deeppc.utility.plan import make_plan

UTILITY = config["utility"]
UTILITY_PLAN = make_plan(config, SETTINGS, compare_iteration) if UTILITY["enabled"] else None
# what an (arm, seed) job reads: editing ratios, seeds or the tests' settings reruns none of them
UTILITY_ARM_KEYS = ("labels", "classes", "balance", "validation_fraction", "bootstrap", "network", "weights",
                    "steps", "batch_size", "lr", "weight_decay", "eval_every", "patience")
UTILITY_FILES = ["runs.csv", "arms.csv", "paired.csv", "quality.csv", "correlation.csv", "task.json"]
UTILITY_FIGURES = ["utility_arms", "utility_ratios", "utility_quality"]


def utility_arm_params():
    return {k: UTILITY[k] for k in UTILITY_ARM_KEYS}


def utility_pool(run):
    return results("utility", "pools", f"{run}.npz")


def utility_arm_files():
    return [results("utility", "arms", arm, f"{i}.json") for i in range(UTILITY_PLAN.seeds) for arm in UTILITY_PLAN.arms]


def utility_outputs():
    if UTILITY_PLAN is None:
        return []
    return [results("utility", f) for f in UTILITY_FILES] + [results("figures", f"{f}.png") for f in UTILITY_FIGURES]
