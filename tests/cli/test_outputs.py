"""The success side of the bad-input rules: outputs appear whole, and an unverified download says so."""

from __future__ import annotations

import json

import numpy as np

from deeppc.cli import main
from deeppc.files import save_png


def test_fetch_weights_without_verification_records_it(tmp_path, capsys):
    source = tmp_path / "w.bin"
    source.write_bytes(b"weights" * 10)
    out = tmp_path / "weights" / "w.bin"
    assert main(["fetch-weights", "--url", source.as_uri(), "--out", str(out), "--no-verify"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert out.read_bytes() == source.read_bytes() and record["verified"] is False
    assert len(record["sha256"]) == 64  # the hash the file turned out to have


def test_a_rerun_replaces_a_vtt_score_folder_and_keeps_other_files(tmp_path, capsys):
    key = tmp_path / "key.csv"
    key.write_text("position,image_id,truth,model,source\n1,aaaaaa,real,,r\n2,bbbbbb,fake,m,f\n")
    answers = tmp_path / "r1.csv"
    answers.write_text("image_id,answer,rating\naaaaaa,real,4\nbbbbbb,real,3\n")
    out = tmp_path / "scored"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    for _ in range(2):
        assert main(["vtt", "score", "--key", str(key), "--answers", str(answers), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "per_rater.csv", "summary.csv", "summary.md"]


def test_real_stats_writes_its_file_and_reports_the_path(tmp_path, capsys):
    images = np.random.default_rng(0).integers(0, 256, (3, 16, 16), dtype=np.uint8)
    for i, image in enumerate(images):
        save_png(tmp_path / "png" / f"{i}.png", image)
    stats = tmp_path / "stats" / "real.npz"
    assert main(["real-stats", "--images", str(tmp_path / "png"), "--out", str(stats), "--extractor", "pixels",
                 "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(stats) and stats.is_file()


def test_generate_writes_all_images_into_the_folder(tmp_path, capsys, tiny_checkpoint):
    out = tmp_path / "samples"
    assert main(["generate", str(tiny_checkpoint), "--n", "3", "--seed", "1", "--out", str(out),
                 "--batch-size", "2"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["gen-00000.png", "gen-00001.png", "gen-00002.png"]
