"""`deeppc audit`: consistent on a finished run; names the file when something was changed."""

from __future__ import annotations

import base64
import json
import os
import shutil

from deeppc import audit
from deeppc.cli import main


def _audit(work, *args, capsys):
    code = main(["audit", str(work / "results"), *args])
    return code, capsys.readouterr().out


def test_a_finished_run_is_consistent(reduced_run, capsys):
    code, out = _audit(reduced_run, capsys=capsys)
    assert code == 0, out
    assert out.splitlines()[-1].startswith("consistent: 34 outputs consistent, 0 inconsistencies, 0 warnings")
    assert "ok           results/runs/vanilla2/ckpt/200.pt: matches its record and Snakemake's metadata" in out


def test_an_altered_output_is_named(reduced_copy, capsys):
    table = reduced_copy / "results" / "stats" / "pairwise.csv"
    table.write_text(table.read_text() + "fid,extra,cross,a,b\n")
    code, out = _audit(reduced_copy, "--quiet", capsys=capsys)
    assert code == 1
    assert ("INCONSISTENT results/stats/pairwise.csv: content changed since the job wrote it "
            "(sha256 differs from its record) [stats]") in out
    others = [line for line in out.splitlines() if line.startswith("INCONSISTENT") and "[stats]" not in line]
    assert all(line.endswith("[front_page]") and "input changed" in line for line in others), others  # reads it


def test_an_altered_input_makes_its_readers_stale(reduced_copy, capsys):
    score = reduced_copy / "results" / "scores" / "vanilla2" / "200.json"
    data = json.loads(score.read_text())
    data["repeats"][0]["fid"] += 1.0
    score.write_text(json.dumps(data))
    code, out = _audit(reduced_copy, "--quiet", capsys=capsys)
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith("INCONSISTENT")]
    assert any(line.startswith("INCONSISTENT results/scores/vanilla2/200.json: content changed") for line in problems)
    stale = {line.rsplit("[", 1)[1].rstrip("]") for line in problems if "input changed" in line}
    assert stale == {"stats", "figure_memorization experiment=vanilla2", "front_page"}


def test_a_deleted_output_and_a_touched_one(reduced_copy, capsys):
    (reduced_copy / "results" / "figures" / "losses_vanilla.png").unlink()
    sample = reduced_copy / "results" / "runs" / "vanilla2" / "samples" / "100.png"
    os.utime(sample, (1e9, 1e9))
    code, out = _audit(reduced_copy, "--quiet", capsys=capsys)
    assert code == 1
    assert "INCONSISTENT results/figures/losses_vanilla.png: output missing [figure_losses group=vanilla]" in out
    assert "warning      results/runs/vanilla2/samples/100.png: modification time differs" in out


def test_outputs_without_a_record_or_without_metadata(reduced_copy, capsys):
    (reduced_copy / "results" / "provenance" / "stats.json").unlink()
    metadata = reduced_copy / ".snakemake" / "metadata"
    key = base64.urlsafe_b64encode(b"results/scores/vanilla2/100.json").decode()
    (metadata / key).unlink()
    code, out = _audit(reduced_copy, "--quiet", capsys=capsys)
    assert code == 1
    assert ("INCONSISTENT results/stats/pairwise.csv: Snakemake produced it but there is no provenance record "
            "for it [stats]") in out
    assert "INCONSISTENT results/scores/vanilla2/100.json: no Snakemake metadata for this output" in out


def test_metadata_of_another_run_is_detected(reduced_copy, capsys):
    metadata = reduced_copy / ".snakemake" / "metadata"
    key = base64.urlsafe_b64encode(b"results/runs/vanilla2/ckpt/200.pt").decode()
    record = json.loads((metadata / key).read_text())
    record["params"] = [p.replace("'iterations': 200", "'iterations': 300") for p in record["params"]]
    (metadata / key).write_text(json.dumps(record))
    code, out = _audit(reduced_copy, "--quiet", capsys=capsys)
    assert code == 1
    assert "INCONSISTENT results/runs/vanilla2/ckpt/200.pt: Snakemake's params differ from the record's" in out


def test_an_interrupted_rerun_is_detected(reduced_copy, capsys):
    # Snakemake marks a job's outputs incomplete when it starts and unmarks them when it finishes
    key = base64.urlsafe_b64encode(b"results/runs/vanilla2/losses.csv").decode()
    (reduced_copy / ".snakemake" / "incomplete" / key).write_text(json.dumps({"external_jobid": "42"}))
    code, out = _audit(reduced_copy, "--quiet", capsys=capsys)
    assert code == 1
    assert "INCONSISTENT results/runs/vanilla2/losses.csv: Snakemake marks it incomplete" in out


def test_a_moved_results_tree_still_audits_and_hashes_alone_without_metadata(reduced_copy, tmp_path, capsys):
    moved = tmp_path / "elsewhere"
    shutil.copytree(reduced_copy / "results", moved / "results")
    shutil.copytree(reduced_copy / ".snakemake" / "metadata", moved / ".snakemake" / "metadata")
    code, out = _audit(moved, "--quiet", capsys=capsys)
    assert code == 0, out
    bare = tmp_path / "bare"
    shutil.copytree(reduced_copy / "results", bare / "results")
    code, out = _audit(bare, "--quiet", capsys=capsys)
    assert code == 1 and "no Snakemake metadata here" in out
    code, out = _audit(bare, "--quiet", "--no-metadata", capsys=capsys)
    assert code == 0, out


def test_metadata_names_split_into_folders_are_read(tmp_path):
    path = "results/" + "x" * 300 + ".json"
    encoded = base64.urlsafe_b64encode(path.encode()).decode()
    folder = tmp_path / ".snakemake" / "metadata" / ("@" + encoded[:254])
    folder.mkdir(parents=True)
    (folder / encoded[254:]).write_text(json.dumps({"rule": "r"}))
    assert audit.read_metadata(tmp_path) == {path: {"rule": "r"}}


def test_nothing_to_audit_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    code, out = _audit(tmp_path, capsys=capsys)
    assert code == 2 and "no provenance records found" in out
