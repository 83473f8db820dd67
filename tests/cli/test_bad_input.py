"""Bad input never meets a traceback: every subcommand x every input it reads x every way it can be bad.

Each case runs `deeppc.cli.main` in-process and asserts what the README
promises: exit status 2, exactly one line on stderr (log lines and progress
bars included) naming the offending file, option or config key, no
"Traceback" anywhere, and nothing written: the case's output area and the
shared inputs are exactly as they were before the command ran.

Inputs are built once per session (`world`): a good file of every kind each
command reads, and its bad variants (missing, empty, truncated, random bytes,
wrong kind). Arguments are templates: `{name}` is a path of the world, `{out}`
the case's own output folder, `{ro}` a folder nobody may write in.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from deeppc.cli import main
from deeppc.files import save_png
from deeppc.metrics.stats_cache import FeatureStats

KINDS = ("missing", "empty", "truncated", "random", "wrong")  # the bad variants of every input file


@dataclass(frozen=True)
class Case:
    id: str
    argv: str  # template, split on spaces
    names: str  # template: what the one error line must contain
    prepare: tuple[str, ...] = ()  # folders to create under {out} first (an existing output)


# --------------------------------------------------------------------------- inputs


def _gray(n: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def _folder(root: Path, name: str, images: np.ndarray) -> Path:
    for i, image in enumerate(images):
        save_png(root / name / f"img-{i}.png", image)
    return root / name


def _variants(root: Path, name: str, good: Path, wrong: Path) -> dict[str, Path]:
    """{name}_{kind} for every bad kind of a file `good` (random bytes keep its suffix)."""
    data = good.read_bytes()
    out = {f"{name}_missing": root / f"missing-{good.name}", f"{name}_wrong": wrong}
    for kind, content in (("empty", b""), ("truncated", data[: len(data) // 2]), ("random", _noise(len(data)))):
        path = root / f"{name}-{kind}{good.suffix}"
        path.write_bytes(content)
        out[f"{name}_{kind}"] = path
    return out


def _noise(n: int) -> bytes:
    return np.random.default_rng(n).integers(0, 256, max(n, 64), dtype=np.uint8).tobytes()


def _score_file(root: Path, experiment: str, iteration: int, value: float) -> None:
    path = root / "scores" / experiment / f"{iteration}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    repeats = [{"repeat": r, "seed": r, "fid": value + r} for r in range(3)]
    path.write_text(json.dumps({"experiment": experiment, "family": "vanilla", "iteration": iteration,
                                "repeats": repeats}))


def _configs(root: Path, png: Path) -> dict[str, Path]:
    study = {"seed": 1, "data": {"input": str(png)}, "train": {"image_size": 16, "iterations": 2, "batch_size": 2},
             "experiments": {"tiny": {"family": "vanilla", "arch": "mlp", "lr": 0.001, "betas": [0.5, 0.9],
                                      "generator": {"hidden": [8, 8]}}}}
    medfid = {"seed": 1, "data": {"demo": {}, "image_size": 32},
              "weights": {"inception": {"path": "unused", "random_init": True},
                          "imagenet_inception_v3": {"path": "unused", "random_init": True}},
              "medfid": {"sources": [{"layout": "mura", "root": str(root / "no-such-mura")}], "input_size": 75,
                         "device": "cpu", "validation": {"fid": False}}}
    paths = {"config": root / "config.yaml", "medfid_config": root / "medfid.yaml"}
    paths["config"].write_text(yaml.safe_dump(study))
    paths["medfid_config"].write_text(yaml.safe_dump(medfid))
    paths["config_truncated"] = root / "config-truncated.yaml"  # cut inside a flow list: never valid YAML
    paths["config_truncated"].write_text(yaml.safe_dump(study, default_flow_style=True)[:-20])
    for name, change in {"labels_random": {"labels_csv": str(root / "labels-random.csv")},
                         "labels_empty": {"labels_csv": str(root / "labels-empty.csv")}}.items():
        paths[f"config_{name}"] = root / f"config-{name}.yaml"
        paths[f"config_{name}"].write_text(yaml.safe_dump({**study, "data": {**study["data"], **change}}))
    (root / "labels-random.csv").write_bytes(_noise(300))
    (root / "labels-empty.csv").write_bytes(b"")
    for name, entry in {"imagenet_random": "random.pth", "imagenet_wrong": "gen.pt"}.items():
        changed = {**medfid, "weights": {**medfid["weights"], "imagenet_inception_v3": {"path": str(root / entry)}}}
        paths[f"medfid_{name}"] = root / f"medfid-{name}.yaml"
        paths[f"medfid_{name}"].write_text(yaml.safe_dump(changed))
    return paths


def _vtt(root: Path) -> dict[str, Path]:
    key = root / "key.csv"
    key.write_text("position,image_id,truth,model,source\n1,aaaaaa,real,,r.png\n2,bbbbbb,fake,m1,f.png\n"
                   "3,cccccc,real,,r2.png\n4,dddddd,fake,m1,f2.png\n")
    answers = root / "rater1.csv"
    answers.write_text("image_id,answer,rating\naaaaaa,real,4\nbbbbbb,fake,2\ncccccc,fake,3\ndddddd,real,5\n")
    return {"key": key, "answers": answers}


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad-input-world")
    w: dict[str, Path] = {"root": root, **_image_folders(root)}
    w["a_file"] = root / "a-file.txt"
    w["a_file"].write_text("not a folder\n")
    w.update(_binaries(root, tiny_checkpoint))
    w.update(_texts(root, w["png"], w["stats"]))
    w["ro"] = _read_only(root)
    return w


def _image_folders(root: Path) -> dict[str, Path]:
    w = {"png": _folder(root, "png", _gray(4, 16, 1)), "png2": _folder(root, "png2", _gray(4, 16, 2)),
         "png_empty": root / "png-empty", "png_mixed": _folder(root, "png-mixed", _gray(3, 16, 3))}
    w["png_empty"].mkdir()
    save_png(w["png_mixed"] / "img-9.png", _gray(1, 24, 4)[0])
    for kind in ("random", "truncated"):  # one unreadable PNG among good ones
        w[f"png_{kind}"] = _folder(root, f"png-{kind}", _gray(3, 16, 5))
        bad = (w["png"] / "img-0.png").read_bytes()[:60] if kind == "truncated" else _noise(400)
        (w[f"png_{kind}"] / "img-bad.png").write_bytes(bad)
    return w


def _binaries(root: Path, checkpoint: Path) -> dict[str, Path]:
    """Checkpoints, weights and statistics files, good and bad ({ckpt,weights,npz,mx}_{kind})."""
    w = {"gen": root / "gen.pt", "weights": root / "weights.pth", "stats": root / "stats.npz", "npy": root / "a.npy"}
    w["gen"].write_bytes(checkpoint.read_bytes())
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.ones(2, 2)}, w["weights"])  # a state dict, not a checkpoint
    FeatureStats.from_features(_gray(4, 3, 6)[:, 0].astype(float), {"name": "pixels"}, "h").save(w["stats"])
    np.save(w["npy"], np.zeros(3))
    w.update(_variants(root, "ckpt", w["gen"], wrong=w["weights"]))
    w.update(_variants(root, "weights", w["weights"], wrong=w["gen"]))
    (root / "random.pth").write_bytes(w["weights_random"].read_bytes())  # named by a config as ImageNet weights
    w.update(_variants(root, "npz", w["stats"], wrong=w["gen"]))
    w.update(_variants(root, "mx", w["gen"], wrong=w["weights"]))  # MedFID extractor checkpoints
    return w


def _texts(root: Path, png: Path, stats: Path) -> dict[str, Path]:
    """Configs, score JSONs, VTT key and answers, good and bad."""
    w = _configs(root, png)
    w.update(_variants(root, "cfg", w["config"], wrong=png / "img-0.png"))
    w["cfg_truncated"] = w["config_truncated"]  # half a YAML file can still parse: cut where it cannot
    for name, iteration, value in (("a", 100, 1.0), ("a", 200, 2.0), ("b", 100, 3.0), ("b", 200, 4.0)):
        _score_file(root, name, iteration, value)
    w["scores"] = root / "scores"
    w.update(_variants(root, "score", w["scores"] / "a" / "100.json", wrong=stats))
    w["score_nokeys"] = root / "score-nokeys.json"
    w["score_nokeys"].write_text('{"fid": 1.0}')
    w.update(_vtt(root))
    w.update(_variants(root, "key", w["key"], wrong=w["answers"]))
    w.update(_variants(root, "answers", w["answers"], wrong=png / "img-0.png"))
    return w


def _read_only(root: Path) -> Path:
    """A folder this process cannot write in. Root ignores permission bits, so as root use /proc/self."""
    folder = root / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        return Path("/proc/self")
    return folder


# --------------------------------------------------------------------------- the matrix


def _file_cases(cmd: str, prefix: str, template: str, kinds=KINDS, label: str = "") -> list[Case]:
    """One case per bad kind of one input file: `template` has `{FILE}` where the file goes."""
    return [Case(f"{cmd}/{label or prefix}/{kind}", template.replace("{FILE}", f"{{{prefix}_{kind}}}"),
                 f"{{{prefix}_{kind}}}") for kind in kinds]  # fmt: skip


def _folder_cases(cmd: str, template: str, kinds=("missing", "file", "empty", "random", "truncated"),
                  label: str = "images") -> list[Case]:
    """Bad image folders: `template` has `{DIR}` where the folder goes."""
    where = {"missing": "{root}/no-such-folder", "file": "{a_file}", "empty": "{png_empty}",
             "random": "{png_random}", "truncated": "{png_truncated}", "mixed": "{png_mixed}"}
    names = {**where, "random": "{png_random}/img-bad.png", "truncated": "{png_truncated}/img-bad.png",
             "mixed": "{png_mixed}/img-9.png"}
    return [Case(f"{cmd}/{label}/{k}", template.replace("{DIR}", where[k]), names[k]) for k in kinds]


def _config_cases(cmd: str, template: str) -> list[Case]:
    return _file_cases(cmd, "cfg", template.replace("{CONFIG}", "{FILE}"))


def _output_cases(cmd: str, template: str, kind: str) -> list[Case]:
    """`template` has `{OUT}`: a file output (kind "file") or a folder output ("folder")."""
    cases = [
        Case(f"{cmd}/out/parent-is-a-file", template.replace("{OUT}", "{a_file}/result"), "{a_file}"),
        Case(f"{cmd}/out/unwritable", template.replace("{OUT}", "{ro}/result"), "{ro}"),
    ]
    if kind == "file":
        cases.append(Case(f"{cmd}/out/is-a-folder", template.replace("{OUT}", "{out}/existing"), "{out}/existing",
                          prepare=("existing",)))
    else:
        cases.append(Case(f"{cmd}/out/is-a-file", template.replace("{OUT}", "{a_file}"), "{a_file}"))
    return cases


# cuda:99 fails with and without a GPU; plain cuda is bad input only where PyTorch sees none
BAD_DEVICES = ("bogus", "cuda:99", *(() if torch.cuda.is_available() else ("cuda",)))


def _device_cases(cmd: str, template: str) -> list[Case]:
    return [Case(f"{cmd}/device/{d}", template.replace("{DEVICE}", d), "--device") for d in BAD_DEVICES]


def _number_cases(cmd: str, template: str, option: str, values: tuple[str, ...]) -> list[Case]:
    return [Case(f"{cmd}/{option}={v}", template.replace("{V}", v), option) for v in values]


GENERATE = "generate {ckpt} --n 2 --seed 1 --batch-size 2 --out {OUT} --device cpu"
SCORE = "score --real {png} --fake {png2} --metrics fid,kid,pr --extractor pixels --device cpu --kid-subsets 2"
REAL_STATS = "real-stats --images {png} --out {OUT} --extractor pixels --device cpu"
TRAIN = "train --config {config} --experiment tiny --data {png} --out {OUT} --device cpu"
MF_TRAIN = "medfid train --config {medfid_config} --out {OUT} --device cpu"
MF_VALIDATE = "medfid validate --config {medfid_config} --extractor {gen} --images {png} --out {OUT} --device cpu"
STATS = "stats --scores {scores} --out {OUT} --metric fid"
VTT_MAKE = "vtt make --real {png} --fake {png2} -k 4 --seed 1 --out {OUT}"  # -k 4: every image is drawn
VTT_SCORE = "vtt score --key {key} --answers {answers} --out {OUT}"
FETCH = "fetch-weights --url file://{gen} --sha256 {SHA} --out {OUT}"


OUT = "{out}/result"  # an output path inside the case's own folder


def _demo_data_cases() -> list[Case]:
    """Demo-data: numbers and its output folder."""
    return [
        *_number_cases("demo-data", "demo-data {out}/demo --patients {V}", "--patients", ("0", "-1", "abc")),
        *_number_cases("demo-data", "demo-data {out}/demo --min-size {V}", "--min-size", ("0", "8")),
        *_number_cases("demo-data", "demo-data {out}/demo --seed {V}", "--seed", ("-1",)),
        Case("demo-data/min-size>max-size", "demo-data {out}/demo --min-size 64 --max-size 32", "min_size"),
        Case("demo-data/out/not-empty", "demo-data {png}", "{png}"),
        *_output_cases("demo-data", "demo-data {OUT} --patients 1", "folder"),
    ]


def _preprocess_cases(out: str = OUT) -> list[Case]:
    """Preprocess: config, input folder, labels CSV, threads, output."""
    return [
        *_config_cases("preprocess", "preprocess --config {CONFIG} --input {png} --out " + out),
        *_folder_cases("preprocess", "preprocess --config {config} --input {DIR} --out " + out,
                       kinds=("missing", "file", "empty")),
        Case("preprocess/labels/random", "preprocess --config {config_labels_random} --out " + out,
             "{root}/labels-random.csv"),
        Case("preprocess/labels/empty", "preprocess --config {config_labels_empty} --out " + out,
             "{root}/labels-empty.csv"),
        *_number_cases("preprocess", "preprocess --config {config} --out " + out + " --threads {V}", "--threads",
                       ("0", "-1")),
        *_output_cases("preprocess", "preprocess --config {config} --input {png} --out {OUT}", "folder"),
    ]


def _train_cases(out: str = OUT) -> list[Case]:
    """Train: config, experiment, image folder, device, threads, output."""
    return [
        *_config_cases("train", TRAIN.replace("{config}", "{CONFIG}").replace("{OUT}", out)),
        Case("train/experiment/unknown", TRAIN.replace("tiny", "nope").replace("{OUT}", out), "nope"),
        *_folder_cases("train", TRAIN.replace("{png}", "{DIR}").replace("{OUT}", out)),
        *_device_cases("train", TRAIN.replace("cpu", "{DEVICE}").replace("{OUT}", out)),
        *_number_cases("train", TRAIN.replace("{OUT}", out) + " --threads {V}", "--threads", ("-1", "0")),
        *_output_cases("train", TRAIN, "folder"),
    ]


def _generate_cases(out: str = OUT) -> list[Case]:
    """Generate: checkpoint, numbers, device, output."""
    return [
        *_file_cases("generate", "ckpt", GENERATE.replace("{ckpt}", "{FILE}").replace("{OUT}", out)),
        Case("generate/ckpt/folder", GENERATE.replace("{ckpt}", "{png}").replace("{OUT}", out), "{png}"),
        Case("generate/ckpt/png", GENERATE.replace("{ckpt}", "{png}/img-0.png").replace("{OUT}", out),
             "{png}/img-0.png"),
        *_number_cases("generate", GENERATE.replace("{ckpt}", "{gen}").replace("{OUT}", out).replace(
            "--n 2", "--n {V}"), "--n", ("0", "-1", "x")),
        *_number_cases("generate", GENERATE.replace("{ckpt}", "{gen}").replace("{OUT}", out).replace(
            "--batch-size 2", "--batch-size {V}"), "--batch-size", ("0",)),
        *_number_cases("generate", GENERATE.replace("{ckpt}", "{gen}").replace("{OUT}", out).replace(
            "--seed 1", "--seed {V}"), "--seed", ("-1",)),
        *_device_cases("generate", GENERATE.replace("{ckpt}", "{gen}").replace("{OUT}", out).replace(
            "cpu", "{DEVICE}")),
        *_output_cases("generate", GENERATE.replace("{ckpt}", "{gen}"), "folder"),
    ]


def _score_cases(out: str = OUT) -> list[Case]:
    """Score: real (folder or statistics), fake folder, weights, numbers, device, output."""
    return [
        *_folder_cases("score", SCORE.replace("{png}", "{DIR}"), kinds=("file", "empty", "random", "truncated",
                                                                         "mixed"), label="real"),
        *_folder_cases("score", SCORE.replace("{png2}", "{DIR}"), kinds=("missing", "file", "empty", "random",
                                                                          "truncated", "mixed"), label="fake"),
        *_file_cases("score", "npz", SCORE.replace("{png}", "{FILE}"), kinds=("empty", "truncated", "random",
                                                                              "wrong")),
        Case("score/real/npy", SCORE.replace("{png}", "{npy}"), "{npy}"),
        *_file_cases("score", "weights", SCORE.replace("--extractor pixels", "--weights {FILE}")),
        *_number_cases("score", SCORE + " --kid-subsets {V}", "--kid-subsets", ("0", "-3")),
        *_number_cases("score", SCORE + " --kid-subset-size {V}", "--kid-subset-size", ("1",)),
        *_number_cases("score", SCORE + " --pr-k {V}", "--pr-k", ("0", "-1")),
        *_number_cases("score", SCORE + " --batch-size {V}", "--batch-size", ("0", "-4")),
        *_number_cases("score", SCORE + " --seed {V}", "--seed", ("-1",)),
        Case("score/holdout/empty",
             SCORE.replace("fid,kid,pr", "memorization") + " --train {png} --holdout {png_empty}", "{png_empty}"),
        Case("score/metrics/unknown", SCORE.replace("fid,kid,pr", "fid,nope"), "nope"),
        Case("score/extractor/unknown", SCORE.replace("pixels", "nope"), "nope"),
        *_device_cases("score", SCORE.replace("cpu", "{DEVICE}")),
        *_output_cases("score", SCORE + " --out {OUT}", "file"),
    ]


def _real_stats_cases(out: str = OUT) -> list[Case]:
    """Real-stats: image folder, weights, numbers, device, output."""
    return [
        *_folder_cases("real-stats", REAL_STATS.replace("{png}", "{DIR}").replace("{OUT}", out),
                       kinds=("missing", "file", "empty", "random", "truncated", "mixed")),
        *_file_cases("real-stats", "weights",
                     REAL_STATS.replace("{OUT}", out).replace("--extractor pixels", "--weights {FILE}")),
        *_number_cases("real-stats", REAL_STATS.replace("{OUT}", out) + " --batch-size {V}", "--batch-size",
                       ("0", "-4")),
        *_device_cases("real-stats", REAL_STATS.replace("{OUT}", out).replace("cpu", "{DEVICE}")),
        *_output_cases("real-stats", REAL_STATS, "file"),
    ]


def _frechet_cases() -> list[Case]:
    """Frechet: both statistics files."""
    return [
        *_file_cases("frechet", "npz", "frechet {FILE} {stats}", label="a"),
        *_file_cases("frechet", "npz", "frechet {stats} {FILE}", kinds=("truncated", "random"), label="b"),
        Case("frechet/npy", "frechet {stats} {npy}", "{npy}"),
    ]


def _fetch_weights_cases(out: str = OUT) -> list[Case]:
    """Fetch-weights: hash, URL, output."""
    return [
        Case("fetch-weights/sha256/absent", "fetch-weights --url file://{gen} --out " + out, "sha256"),
        *[Case(f"fetch-weights/sha256/{name}", FETCH.replace("{SHA}", sha).replace("{OUT}", out), "sha256")
          for name, sha in (("empty", ""), ("short", "0cc3c7bd"), ("not-hex", "z" * 64), ("wrong", "0" * 64))],
        Case("fetch-weights/url/missing", FETCH.replace("{gen}", "{root}/no-such.pt").replace(
            "{SHA}", "0" * 64).replace("{OUT}", out), "{root}/no-such.pt"),
        *_output_cases("fetch-weights", FETCH.replace("{SHA}", "0" * 64), "file"),
    ]


def _medfid_demo_data_cases() -> list[Case]:
    """Medfid demo-data: numbers, config, output."""
    return [
        *_number_cases("medfid-demo", "medfid demo-data {out}/demo --size {V}", "--size", ("0", "8")),
        *_number_cases("medfid-demo", "medfid demo-data {out}/demo --per-class {V}", "--per-class", ("0", "-2")),
        *_config_cases("medfid-demo", "medfid demo-data {out}/demo --config {CONFIG}"),
        *_output_cases("medfid-demo", "medfid demo-data {OUT} --per-class 1 --size 16", "folder"),
    ]


def _medfid_train_cases(out: str = OUT) -> list[Case]:
    """Medfid train: config, data root, ImageNet weights, sources, device, threads, output."""
    return [
        *_config_cases("medfid-train", MF_TRAIN.replace("{medfid_config}", "{CONFIG}").replace("{OUT}", out)),
        Case("medfid-train/imagenet/random", MF_TRAIN.replace("{medfid_config}", "{medfid_imagenet_random}")
             .replace("{OUT}", out), "{root}/random.pth"),
        Case("medfid-train/imagenet/wrong", MF_TRAIN.replace("{medfid_config}", "{medfid_imagenet_wrong}")
             .replace("{OUT}", out), "{root}/gen.pt"),
        Case("medfid-train/sources/missing", MF_TRAIN.replace("{OUT}", out), "{root}/no-such-mura"),
        Case("medfid-train/data/file", MF_TRAIN.replace("{OUT}", out) + " --data {a_file}", "{a_file}"),
        *_device_cases("medfid-train", MF_TRAIN.replace("{OUT}", out).replace("cpu", "{DEVICE}")),
        *_number_cases("medfid-train", MF_TRAIN.replace("{OUT}", out) + " --threads {V}", "--threads", ("-1",)),
        *_output_cases("medfid-train", MF_TRAIN, "folder"),
    ]


def _medfid_validate_cases(out: str = OUT) -> list[Case]:
    """Medfid validate: config, extractor checkpoint, image folder, device, output."""
    return [
        *_config_cases("medfid-validate",
                       MF_VALIDATE.replace("{medfid_config}", "{CONFIG}").replace("{OUT}", out)),
        *_file_cases("medfid-validate", "mx", MF_VALIDATE.replace("{gen}", "{FILE}").replace("{OUT}", out)),
        Case("medfid-validate/extractor/generator", MF_VALIDATE.replace("{OUT}", out), "{gen}"),
        *_folder_cases("medfid-validate", MF_VALIDATE.replace("{png}", "{DIR}").replace("{OUT}", out),
                       kinds=("missing", "file", "empty", "random", "truncated", "mixed")),
        *_device_cases("medfid-validate", MF_VALIDATE.replace("{OUT}", out).replace("cpu", "{DEVICE}")),
        *_output_cases("medfid-validate", MF_VALIDATE, "folder"),
    ]


def _stats_cases(out: str = OUT) -> list[Case]:
    """Stats: score files, config, comparison point, numbers, output."""
    return [
        *_file_cases("stats", "score", STATS.replace("{scores}", "{FILE}").replace("{OUT}", out)),
        Case("stats/scores/no-keys", STATS.replace("{scores}", "{score_nokeys}").replace("{OUT}", out),
             "{score_nokeys}"),
        Case("stats/scores/no-json", STATS.replace("{scores}", "{png}").replace("{OUT}", out), "{png}"),
        *_config_cases("stats", STATS.replace("{OUT}", out) + " --config {CONFIG}"),
        Case("stats/at/999", STATS.replace("{OUT}", out) + " --at 999", "iteration 999"),
        Case("stats/iteration/999", STATS.replace("{OUT}", out) + " --iteration 999", "iteration 999"),
        Case("stats/at/bogus", STATS.replace("{OUT}", out) + " --at bogus", "bogus"),
        Case("stats/metric/unknown", STATS.replace("{OUT}", out).replace("fid", "nope"), "nope"),
        *_number_cases("stats", STATS.replace("{OUT}", out) + " --alpha {V}", "--alpha", ("0", "2", "nan")),
        *_number_cases("stats", STATS.replace("{OUT}", out) + " --window {V}", "--window", ("0",)),
        Case("stats/window=2", STATS.replace("{OUT}", out) + " --window 2", "window"),
        *_number_cases("stats", STATS.replace("{OUT}", out) + " --patience {V}", "--patience", ("0",)),
        *_number_cases("stats", STATS.replace("{OUT}", out) + " --min-delta {V}", "--min-delta", ("-1",)),
        *_output_cases("stats", STATS, "folder"),
    ]


def _vtt_make_cases(out: str = OUT) -> list[Case]:
    """Vtt make: real and generated folders, numbers, output."""
    return [
        *_folder_cases("vtt-make", VTT_MAKE.replace("{png}", "{DIR}").replace("{OUT}", out),
                       kinds=("missing", "file", "empty", "random", "truncated", "mixed"), label="real"),
        *_folder_cases("vtt-make", VTT_MAKE.replace("{png2}", "{DIR}").replace("{OUT}", out),
                       kinds=("missing", "file", "empty"), label="fake"),
        *_number_cases("vtt-make", VTT_MAKE.replace("{OUT}", out).replace("-k 4", "-k {V}"), "-k", ("0", "-1")),
        Case("vtt-make/k-too-large", VTT_MAKE.replace("{OUT}", out).replace("-k 4", "-k 9"), "{png}"),
        *_number_cases("vtt-make", VTT_MAKE.replace("{OUT}", out) + " --size {V}", "--size", ("0",)),
        *_number_cases("vtt-make", VTT_MAKE.replace("{OUT}", out).replace("--seed 1", "--seed {V}"), "--seed",
                       ("-1",)),
        *_output_cases("vtt-make", VTT_MAKE, "folder"),
    ]


def _vtt_score_cases(out: str = OUT) -> list[Case]:
    """Vtt score: key, answers, FID values, output."""
    return [
        *_file_cases("vtt-score", "key", VTT_SCORE.replace("{key}", "{FILE}").replace("{OUT}", out)),
        *_file_cases("vtt-score", "answers", VTT_SCORE.replace("{answers}", "{FILE}").replace("{OUT}", out)),
        *[Case(f"vtt-score/fid/{v}", VTT_SCORE.replace("{OUT}", out) + f" --fid {v}", "--fid")
          for v in ("m1=-10", "m1=abc", "m1=inf", "m1", "other=3")],
        *_output_cases("vtt-score", VTT_SCORE, "folder"),
    ]


def _audit_cases() -> list[Case]:
    """Audit: results folder, workdir, JSON output."""
    return [
        Case("audit/results/missing", "audit {root}/no-such-results", "{root}/no-such-results"),
        Case("audit/results/file", "audit {a_file}", "{a_file}"),
        Case("audit/workdir/file", "audit {png} --workdir {a_file}", "{a_file}"),
        *_output_cases("audit", "audit {png} --json {OUT}", "file"),
    ]


def _usage_cases(out: str = OUT) -> list[Case]:
    """Usage errors are one line too."""
    return [
        Case("usage/unknown-option", "generate {gen} --n 2 --seed 1 --out " + out + " --bogus", "--bogus"),
        Case("usage/missing-argument", "score --fake {png}", "--real"),
        Case("usage/unknown-command", "nope", "nope"),
    ]


CASES = [case for group in (
    _demo_data_cases(),
    _preprocess_cases(),
    _train_cases(),
    _generate_cases(),
    _score_cases(),
    _real_stats_cases(),
    _frechet_cases(),
    _fetch_weights_cases(),
    _medfid_demo_data_cases(),
    _medfid_train_cases(),
    _medfid_validate_cases(),
    _stats_cases(),
    _vtt_make_cases(),
    _vtt_score_cases(),
    _audit_cases(),
    _usage_cases(),
) for case in group]


def _fill(template: str, paths: dict[str, str]) -> str:
    for key in sorted(paths, key=len, reverse=True):  # {png2} before {png}
        template = template.replace("{" + key + "}", paths[key])
    return template


def _listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever sys.stderr is at the time (capsys swaps it between test phases)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass  # the handler always writes to the current sys.stderr (capsys swaps it); rebinding is ignored


@pytest.fixture
def stderr_logging(capsys):
    """Log records to the captured stderr, as `deeppc` prints them outside pytest (pytest's own handlers
    would otherwise swallow them): a log line before the error counts against the one line."""
    handler = _Stderr()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield
    root.removeHandler(handler)
    root.setLevel(level)


def test_the_matrix_covers_every_subcommand_and_kind():
    commands = {case.id.split("/")[0] for case in CASES}
    assert commands >= {"demo-data", "preprocess", "train", "generate", "score", "real-stats", "frechet",
                        "fetch-weights", "medfid-demo", "medfid-train", "medfid-validate", "stats", "vtt-make",
                        "vtt-score", "audit"}
    assert len({case.id for case in CASES}) == len(CASES)  # ids are unique
    assert {kind for case in CASES for kind in KINDS if case.id.endswith("/" + kind)} == set(KINDS)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_with_exit_2_and_writes_nothing(case, world, tmp_path, capsys, stderr_logging):
    for folder in case.prepare:
        (tmp_path / folder).mkdir()
    paths = {key: str(value) for key, value in world.items()} | {"out": str(tmp_path)}
    argv = [_fill(token, paths) for token in case.argv.split(" ")]
    before_world, before_out = _listing(world["root"]), _listing(tmp_path)

    code = main(argv)

    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured.err
    assert "Traceback" not in captured.out + captured.err
    assert len(lines) == 1 and "error: " in lines[0], captured.err
    assert _fill(case.names, paths) in lines[0]
    assert _listing(tmp_path) == before_out  # nothing half-written, no empty folder
    assert _listing(world["root"]) == before_world


def test_a_real_process_prints_one_line(world, tmp_path):
    """The same outside pytest: a fresh process, its own logging set-up, a log line before the failure."""
    for argv, names in (
        (["frechet", str(world["npz_truncated"]), str(world["stats"])], str(world["npz_truncated"])),
        (["train", "--config", str(world["config"]), "--experiment", "tiny", "--data", str(world["png_random"]),
          "--out", str(tmp_path / "run"), "--device", "cpu"], str(world["png_random"] / "img-bad.png")),
    ):
        result = subprocess.run([sys.executable, "-m", "deeppc.cli", *argv], capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1 and names in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_bug_keeps_its_traceback(monkeypatch, world, tmp_path):
    """Only input errors are caught: a ValueError raised inside a library (a missing check) is not one."""
    import deeppc.models.checkpoint

    def broken(*args, **kwargs):
        return np.stack([np.zeros(2), np.zeros(3)])  # numpy's ValueError, raised in numpy

    monkeypatch.setattr(deeppc.models.checkpoint, "write_samples", broken)
    with pytest.raises(ValueError, match="same shape"):
        main(["generate", str(world["gen"]), "--n", "2", "--seed", "1", "--out", str(tmp_path / "g")])
