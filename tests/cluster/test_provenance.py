"""Provenance records: digests, record location, content, and that every workflow script writes one."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from snakemake.iocontainers import Namedlist

from deeppc import provenance


def test_file_digest_is_the_sha256_of_the_bytes(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"deeppc")
    assert provenance.file_digest(f) == {"kind": "file", "sha256": hashlib.sha256(b"deeppc").hexdigest(), "size": 6}
    assert provenance.file_digest(tmp_path / "nothing") == {"missing": True}


def test_tree_digest_sees_names_and_contents_but_not_writers_temporaries(tmp_path):
    (tmp_path / "t" / "sub").mkdir(parents=True)
    (tmp_path / "t" / "sub" / "x.png").write_bytes(b"1")
    (tmp_path / "t" / "y.png").write_bytes(b"2")
    first = provenance.file_digest(tmp_path / "t")
    assert first["kind"] == "tree" and first["files"] == 2 and first["size"] == 2
    (tmp_path / "t" / ".y.png.abc.tmp").write_bytes(b"half-written")
    (tmp_path / "t" / ".snakemake_timestamp").write_bytes(b"")
    assert provenance.file_digest(tmp_path / "t") == first
    (tmp_path / "t" / "y.png").rename(tmp_path / "t" / "z.png")  # same bytes, another name
    assert provenance.file_digest(tmp_path / "t")["sha256"] != first["sha256"]


def test_records_are_filed_by_rule_and_wildcard_values():
    assert provenance.record_path("results", "stats", {}) == Path("results/provenance/stats.json")
    assert provenance.record_path("results", "score", {"experiment": "wgangp1", "iteration": "800"}) == Path(
        "results/provenance/score/wgangp1/800.json")
    assert provenance.record_path("/r", "x", {"a": "b/c"}) == Path("/r/provenance/x/b_c.json")


def test_seeds_are_found_at_any_depth():
    params = {"seed": 1, "settings": {"seed": 2, "data_seed": 3, "seeds": [4]}, "vtt": [{"noise_seed": 5}]}
    assert provenance.find_seeds(params) == {"seed": 1, "settings.seed": 2, "settings.data_seed": 3,
                                             "vtt[0].noise_seed": 5}


def test_params_hash_ignores_key_order_but_not_values():
    assert provenance.sha256_json({"a": 1, "b": [1, 2]}) == provenance.sha256_json({"b": [1, 2], "a": 1})
    assert provenance.sha256_json({"a": 1}) != provenance.sha256_json({"a": 2})
    assert provenance.jsonable({"s": {2, 1}, "t": (1, Path("p"))}) == {"s": [1, 2], "t": [1, "p"]}


def test_code_info_names_the_commit_and_whether_the_tree_is_dirty(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "src" / "deeppc").mkdir(parents=True)
    (checkout / "Snakefile").write_text("rule all:\n")
    (checkout / "src" / "deeppc" / "m.py").write_text("x = 1\n")
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    clean = provenance.code_info(checkout)
    assert clean["git_commit"] == commit and clean["git_dirty"] is False
    assert provenance.find_checkout(checkout / "src" / "deeppc") == checkout
    (checkout / "src" / "deeppc" / "m.py").write_text("x = 2\n")
    dirty = provenance.code_info(checkout)
    assert dirty["git_dirty"] is True and dirty["git_changed_files"] == ["src/deeppc/m.py"]
    assert dirty["source_sha256"] != clean["source_sha256"]
    assert provenance._commit_from_files(checkout) == commit  # compute nodes without git


def _fake_job(tmp_path: Path, scriptdir: Path) -> object:
    """The parts of Snakemake's script object that `record` reads, built from Snakemake's own Namedlist."""
    (tmp_path / "results" / "runs").mkdir(parents=True)
    (tmp_path / "in.txt").write_text("input")
    (tmp_path / "results" / "runs" / "out.txt").write_text("output")

    class Job:
        input = Namedlist(fromdict={"images": "in.txt"})
        output = Namedlist(fromdict={"summary": "results/runs/out.txt"})
        params = Namedlist(fromdict={"experiment": "vanilla2", "settings": {"seed": 7, "lr": 0.1}, "device": "cpu"})
        wildcards = Namedlist(fromdict={"experiment": "vanilla2"})
        resources = Namedlist(fromdict={"_cores": 1, "mem_mb": 100, "runtime": 5, "gpu": 0})
        log = Namedlist(["results/logs/x.log"])
        config = {"seed": 2023, "results": "results", "train": {"iterations": 10}}
        rule = "train_vanilla2"
        threads = 1

    Job.scriptdir = str(scriptdir)
    return Job


def test_record_writes_what_the_job_did(tmp_path, monkeypatch, repo):
    monkeypatch.chdir(tmp_path)
    path = provenance.record(_fake_job(tmp_path, repo / "workflow" / "scripts"), extra={"note": "x"})
    assert path == Path("results/provenance/train_vanilla2/vanilla2.json")
    rec = provenance.load(path)
    assert rec["rule"] == "train_vanilla2" and rec["wildcards"] == {"experiment": "vanilla2"}
    assert rec["config"]["params"]["settings"] == {"seed": 7, "lr": 0.1}
    assert rec["config"]["params_sha256"] == provenance.sha256_json(rec["config"]["params"])
    assert rec["config"]["resources"] == {"mem_mb": 100, "runtime": 5, "gpu": 0}
    assert rec["seeds"] == {"root": 2023, "params.settings.seed": 7}
    assert rec["inputs"]["in.txt"]["sha256"] == hashlib.sha256(b"input").hexdigest()
    assert rec["outputs"]["results/runs/out.txt"]["sha256"] == hashlib.sha256(b"output").hexdigest()
    assert rec["code"]["checkout"] == str(repo) and re.fullmatch(r"[0-9a-f]{40}", rec["code"]["git_commit"])
    assert isinstance(rec["code"]["git_dirty"], bool)
    packages = rec["software"]["packages"]
    assert packages["torch"] and packages["numpy"] and packages["snakemake"] and packages["pydicom"]
    assert rec["device"]["requested"] == "cpu" and rec["device"]["threads"] == 1
    assert "'vanilla2'" in rec["snakemake_params"] and rec["extra"] == {"note": "x"}


def test_cuda_and_cudnn_are_recorded_when_the_job_used_torch(tmp_path):
    code = ("import json, torch; from deeppc import provenance; "
            "print(json.dumps([provenance.software_info(), provenance.device_info('cpu', 1)]))")
    software, device = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                 check=True).stdout)
    import torch

    assert software["cuda"] == torch.version.cuda and "cudnn" in software
    assert device["cuda_available"] == torch.cuda.is_available() and "torch_threads" in device


SCRIPTS = sorted((Path(__file__).resolve().parents[2] / "workflow" / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_workflow_script_records_its_provenance(script):
    text = script.read_text()
    assert "from deeppc.provenance import record" in text
    assert re.search(r"^\s*record\(snakemake\)", text, re.M), "record(snakemake) must be called at the end"


def test_a_finished_run_has_a_record_for_every_job(reduced_run):
    records = sorted(p.relative_to(reduced_run / "results" / "provenance").as_posix()
                     for p in (reduced_run / "results" / "provenance").rglob("*.json"))
    assert records == [
        "demo_data.json", "figure_curves/fid.json", "figure_losses/vanilla.json", "figure_memorization/vanilla2.json",
        "figure_samples/vanilla.json", "front_page.json", "preprocess.json", "random_weights/inception.json",
        "real_stats/LAT/inception-2015-12-05/holdout.json", "real_stats/LAT/inception-2015-12-05/train.json",
        "score/vanilla2/100.json", "score/vanilla2/200.json", "stats.json", "train_vanilla2.json",
    ]
    train = provenance.load(reduced_run / "results" / "provenance" / "train_vanilla2.json")
    assert set(train["outputs"]) >= {"results/runs/vanilla2/ckpt/200.pt", "results/runs/vanilla2/losses.csv"}
    assert train["inputs"]["results/data/LAT"]["kind"] == "tree"
    assert train["config"]["params"]["settings"]["iterations"] == 200 and train["seeds"]["root"] == 2023
    assert train["device"]["torch_threads"] == 1 and "cuda" in train["software"]
