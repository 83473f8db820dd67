"""Visual Turing test kit: blinded sheet and key, and scoring on hand-worked answers."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deeppc.cli import main
from deeppc.report.vtt import VTTError, make_kit
from deeppc.report.vtt_score import score_vtt


def _images(folder: Path, n: int, seed: int, size: int = 32) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(folder / f"src-{seed}-{i}.png")
    return folder


@pytest.fixture
def folders(tmp_path) -> dict[str, Path]:
    return {"real": _images(tmp_path / "real", 8, 1), "m1": _images(tmp_path / "m1", 5, 2),
            "m2": _images(tmp_path / "m2", 5, 3)}


def test_kit_is_blinded_and_the_key_kept_apart(folders, tmp_path):
    paths = make_kit(folders["real"], {"m1": folders["m1"], "m2": folders["m2"]}, 3, tmp_path / "kit", seed=5)
    key = pd.read_csv(paths["key"], keep_default_na=False)
    assert Path(paths["key"]).parent == tmp_path / "kit"  # not inside the sheet folder handed out
    assert len(key) == 9 and key.truth.value_counts().to_dict() == {"real": 3, "fake": 6}
    assert key.loc[key.truth == "fake", "model"].value_counts().to_dict() == {"m1": 3, "m2": 3}
    assert key.image_id.is_unique and key.position.tolist() == list(range(1, 10))
    assert all(len(i) == 6 and i.isalnum() for i in key.image_id)
    sheet = Path(paths["sheet"]).read_text()
    assert sheet.count("data:image/png;base64,") == 9
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", sheet)  # pixels may spell anything
    for leak in ("key.csv", "m1", "m2", "src-", "truth"):  # no key, model, source or truth
        assert leak not in text, leak
    positions = [sheet.index(f'data-id="{i}"') for i in key.image_id]
    assert positions == sorted(positions)  # sheet order is the key's position order
    handed_out = {p.relative_to(tmp_path / "kit" / "sheet").as_posix() for p in (tmp_path / "kit" / "sheet").rglob("*")
                  if p.is_file()}
    assert handed_out == {"sheet.html", "answers_template.csv", *(f"images/{i}.png" for i in key.image_id)}
    for image_id in key.image_id:
        with Image.open(tmp_path / "kit" / "sheet" / "images" / f"{image_id}.png") as im:
            assert im.mode == "L" and im.size == (32, 32) and not im.info.get("text")
    template = pd.read_csv(paths["template"], keep_default_na=False)
    assert template.columns.tolist() == ["image_id", "answer", "rating"]
    assert template.image_id.tolist() == key.image_id.tolist()


def test_kit_is_reproducible_from_its_seed(folders, tmp_path):
    a = make_kit(folders["real"], folders["m1"], 4, tmp_path / "a", seed=11)
    b = make_kit(folders["real"], folders["m1"], 4, tmp_path / "b", seed=11)
    c = make_kit(folders["real"], folders["m1"], 4, tmp_path / "c", seed=12)
    assert Path(a["key"]).read_text() == Path(b["key"]).read_text() != Path(c["key"]).read_text()
    assert Path(a["sheet"]).read_bytes() == Path(b["sheet"]).read_bytes()


def test_kit_without_embedding_links_the_images(folders, tmp_path):
    paths = make_kit(folders["real"], folders["m1"], 2, tmp_path / "kit", seed=1, embed=False)
    key = pd.read_csv(paths["key"])
    sheet = Path(paths["sheet"]).read_text()
    assert "data:image" not in sheet
    assert all(f'src="images/{i}.png"' in sheet for i in key.image_id)


def test_kit_errors(folders, tmp_path):
    with pytest.raises(VTTError, match="has 5 PNG image.*-k 6 needs at least 6"):
        make_kit(folders["real"], folders["m1"], 6, tmp_path / "kit", seed=1)
    big = _images(tmp_path / "big", 3, 4, size=48)
    with pytest.raises(VTTError, match="differ in size"):
        make_kit(folders["real"], big, 2, tmp_path / "kit", seed=1)
    paths = make_kit(folders["real"], big, 2, tmp_path / "kit", seed=1, size=40)
    assert pd.read_json(Path(paths["manifest"]), typ="series")["image_size"] == [40, 40]
    with pytest.raises(FileNotFoundError):
        make_kit(tmp_path / "nope", big, 2, tmp_path / "kit2", seed=1)
    with pytest.raises(VTTError, match="not allowed"):
        make_kit(folders["real"], {"real": big}, 2, tmp_path / "kit3", seed=1)


def _write(path: Path, rows: list[tuple], columns=("image_id", "answer", "rating")) -> Path:
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


@pytest.fixture
def hand_worked(tmp_path) -> tuple[Path, list[Path]]:
    key = tmp_path / "key.csv"
    _write(key, [(i + 1, f"r{i + 1}", "real", "", "x") for i in range(4)] +
           [(i + 5, f"f{i + 1}", "fake", "m", "x") for i in range(4)], KEY_COLUMNS)
    alice = _write(tmp_path / "a.csv", [
        ("r1", "real", 5, "alice"), ("r2", "Real", 4, "alice"), ("r3", "fake", 2, "alice"), ("r4", "real", 4, "alice"),
        ("f1", "real", 3, "alice"), ("f2", "fake", 1, "alice"), ("f3", "generated", 2, "alice"),
        ("f4", "fake", 1, "alice")], ("image_id", "answer", "rating", "rater"))
    bob = _write(tmp_path / "bob.csv", [  # f4 left blank: unanswered
        ("r1", "real", 4), ("r2", "real", 5), ("r3", "real", 3), ("r4", "real", 4),
        ("f1", "real", 4), ("f2", "real", 3), ("f3", "fake", 2), ("f4", "", "")])
    return key, [alice, bob]


KEY_COLUMNS = ("position", "image_id", "truth", "model", "source")


def test_scoring_by_hand(hand_worked, tmp_path):
    key, answers = hand_worked
    paths = score_vtt(key, answers, tmp_path / "out")
    per = pd.read_csv(paths["per_rater"], keep_default_na=False).set_index("rater")
    # alice: TP 3 (r1 r2 r4), FN 1 (r3), FP 1 (f1), TN 3 (f2 f3 f4)
    assert per.loc["alice", ["tp", "fn", "fp", "tn", "answered", "unanswered"]].tolist() == [3, 1, 1, 3, 8, 0]
    rates = ["precision", "recall", "accuracy", "fpr", "fnr"]
    assert per.loc["alice", rates].tolist() == [0.75, 0.75, 0.75, 0.25, 0.25]
    assert per.loc["alice", ["rating_real", "rating_fake"]].tolist() == [(5 + 4 + 2 + 4) / 4, (3 + 1 + 2 + 1) / 4]
    # bob: TP 4, FN 0, FP 2 (f1 f2), TN 1 (f3), f4 unanswered
    assert per.loc["bob", ["tp", "fn", "fp", "tn", "answered", "unanswered"]].tolist() == [4, 0, 2, 1, 7, 1]
    got = per.loc["bob", rates].astype(float).tolist()
    assert got == pytest.approx([4 / 6, 1.0, 5 / 7, 2 / 3, 0.0])
    assert per.loc["bob", "rating_fake"] == pytest.approx((4 + 3 + 2) / 3)
    assert per.loc["bob", "note"] == "1 image(s) unanswered, left out of the rates"

    summary = pd.read_csv(paths["summary"]).set_index(["basis", "quantity"])
    # mean and sd (ddof=1) of two raters: (x + y) / 2 and |x - y| / √2
    expected = {"precision": (0.75, 4 / 6), "recall": (0.75, 1.0), "accuracy": (0.75, 5 / 7),
                "fpr": (0.25, 2 / 3), "fnr": (0.25, 0.0)}
    for quantity, (x, y) in expected.items():
        row = summary.loc[("raters", quantity)]
        assert (row["mean"], row["sd"], row["n"]) == pytest.approx(((x + y) / 2, abs(x - y) / math.sqrt(2), 2))
    # pooled realism: real ratings 5 4 2 4 | 4 5 3 4 -> mean 31/8, squared deviations sum 6.875
    real = summary.loc[("all ratings", "rating_real")]
    assert (real["mean"], real["sd"], real["n"]) == pytest.approx((31 / 8, math.sqrt(6.875 / 7), 8))
    fake = summary.loc[("all ratings", "rating_fake")]  # 3 1 2 1 | 4 3 2
    assert (fake["mean"], fake["n"]) == pytest.approx((16 / 7, 7))
    md = Path(paths["markdown"]).read_text()
    assert "| all | 71 (±6) | 88 (±18) | 73 (±3) | 46 (±29) | 12 (±18) |" in md
    assert "real 3.88 (±0.99)" in md


def three_models(tmp_path: Path) -> tuple[Path, Path]:
    """A key of 2 real images and 2 of each of models a, b, c; one rater who takes a's for real, half of b's."""
    key = _write(tmp_path / "key.csv", [(1, "r1", "real", "", ""), (2, "r2", "real", "", ""),
                                        (3, "a1", "fake", "a", ""), (4, "a2", "fake", "a", ""),
                                        (5, "b1", "fake", "b", ""), (6, "b2", "fake", "b", ""),
                                        (7, "c1", "fake", "c", ""), (8, "c2", "fake", "c", "")], KEY_COLUMNS)
    rater = _write(tmp_path / "r.csv", [("r1", "real", 4), ("r2", "fake", 2), ("a1", "real", 4), ("a2", "real", 5),
                                        ("b1", "real", 3), ("b2", "fake", 2), ("c1", "fake", 1), ("c2", "fake", 2)])
    return key, rater


def test_fid_correlation_by_hand(tmp_path):
    key, rater = three_models(tmp_path)
    paths = score_vtt(key, [rater], tmp_path / "out", fid={"a": 5.0, "b": 7.0, "c": 12.0})
    per = pd.read_csv(paths["per_rater"]).set_index("model")
    assert per.loc[["a", "b", "c"], "fpr"].tolist() == [1.0, 0.5, 0.0]
    assert per.loc[["a", "b", "c"], "fnr"].tolist() == [0.5] * 3  # the real images are shared
    # FID - mean = (-3, -1, 4); FPR - mean = (0.5, 0, -0.5): r = -3.5 / √(26 · 0.5) = -3.5 / √13
    r = -3.5 / math.sqrt(13)
    t = abs(r) / math.sqrt(1 - r * r)  # 1 degree of freedom: Student t is Cauchy
    p = 1 - 2 * math.atan(t) / math.pi
    corr = pd.read_csv(paths["correlation"]).iloc[0]
    assert (corr["n_models"], corr["pearson_r"], corr["p"]) == pytest.approx((3, r, p))
    assert pd.read_csv(paths["fid_fpr"])["mean_fpr"].tolist() == [1.0, 0.5, 0.0]
    two = score_vtt(key, [rater], tmp_path / "two", fid={"a": 5.0, "b": 7.0})
    assert "needs at least 3" in pd.read_csv(two["correlation"]).loc[0, "note"]
    with pytest.raises(VTTError, match="not in the key: z"):
        score_vtt(key, [rater], tmp_path / "bad", fid={"z": 1.0})


def test_answer_file_errors(hand_worked, tmp_path):
    key, (alice, _) = hand_worked
    bad = _write(tmp_path / "bad.csv", [("r1", "maybe", 3)])
    with pytest.raises(VTTError, match="line 2: answer must be real or fake"):
        score_vtt(key, [bad], tmp_path / "o")
    bad = _write(tmp_path / "bad.csv", [("r1", "real", 6)])
    with pytest.raises(VTTError, match="rating must be an integer from 1 to 5"):
        score_vtt(key, [bad], tmp_path / "o")
    bad = _write(tmp_path / "bad.csv", [("zz", "real", 3)])
    with pytest.raises(VTTError, match="not in the key: zz"):
        score_vtt(key, [bad], tmp_path / "o")
    bad = _write(tmp_path / "bad.csv", [("r1", "real", 3), ("r1", "fake", 3)])
    with pytest.raises(VTTError, match="answered twice: r1"):
        score_vtt(key, [bad], tmp_path / "o")
    with pytest.raises(VTTError, match="rater 'alice' appears twice"):
        score_vtt(key, [alice, alice], tmp_path / "o")
    with pytest.raises(FileNotFoundError, match="answer key not found"):
        score_vtt(tmp_path / "nokey.csv", [alice], tmp_path / "o")


def test_cli_make_and_score(folders, tmp_path, capsys):
    kit = tmp_path / "kit"
    assert main(["vtt", "make", "--real", str(folders["real"]), "--fake", str(folders["m1"]), "-k", "3",
                 "--out", str(kit), "--seed", "3"]) == 0
    key = pd.read_csv(kit / "key.csv")
    answers = _write(tmp_path / "carol.csv", [(i, t, 3) for i, t in zip(key.image_id, key.truth)])
    assert main(["vtt", "score", "--key", str(kit / "key.csv"), "--answers", str(answers),
                 "--fid", "generated=9.5", "--out", str(tmp_path / "score")]) == 0
    per = pd.read_csv(tmp_path / "score" / "per_rater.csv")
    assert per.loc[0, ["rater", "accuracy", "fpr", "fnr"]].tolist() == ["carol", 1.0, 0.0, 0.0]
    assert main(["vtt", "make", "--real", str(folders["real"]), "--fake", str(folders["m1"]), "-k", "30",
                 "--out", str(kit), "--seed", "3"]) == 2
    assert "needs at least 30" in capsys.readouterr().err
    assert main(["vtt", "score", "--key", str(kit / "key.csv"), "--answers", str(answers), "--fid", "generated",
                 "--out", str(tmp_path / "score")]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


def test_the_workflow_scores_answers_against_the_sampled_checkpoints_fid(tmp_path):
    """rule vtt_score: each model's FID is its score file's mean at the kit's checkpoint; the figure is drawn."""
    import json

    from deeppc.report.vtt import kit_iterations
    from deeppc.report.vtt_score import fid_fpr_figure, kit_fids

    pd.DataFrame({"experiment": ["a", "b", "c", "a"], "metric": ["fid", "fid", "fid", "medfid"],
                  "best_iteration": [200, 400, 200, 400]}).to_csv(tmp_path / "best.csv", index=False)
    vtt = {"models": ["a", "b", "c"], "iteration": "best"}
    iterations = kit_iterations(tmp_path / "best.csv", "fid", vtt)
    assert iterations == {"a": 200, "b": 400, "c": 200}
    assert kit_iterations(tmp_path / "best.csv", "fid", {**vtt, "iteration": 400}) == {"a": 400, "b": 400, "c": 400}
    scores = {}
    for m, fids in {"a": {200: [4.0, 6.0], 400: [1.0, 1.0]}, "b": {200: [0.0], 400: [7.0, 7.0]},
                    "c": {200: [12.0], 400: [0.0]}}.items():  # fmt: skip
        for k, values in fids.items():
            path = tmp_path / "scores" / m / f"{k}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"repeats": [{"repeat": i, "fid": v} for i, v in enumerate(values)]}))
            scores.setdefault(m, {})[k] = path
    assert kit_fids(scores, iterations) == {"a": 5.0, "b": 7.0, "c": 12.0}  # the by-hand case above
    with pytest.raises(VTTError, match="no score file of a at iteration 600"):
        kit_fids(scores, {"a": 600})
    key, rater = three_models(tmp_path)
    paths = score_vtt(key, [rater], tmp_path / "out", kit_fids(scores, iterations))
    fid_fpr_figure(pd.read_csv(paths["fid_fpr"]), pd.read_csv(paths["correlation"]), "fid", tmp_path / "f.png")
    assert pd.read_csv(paths["correlation"]).loc[0, "pearson_r"] == pytest.approx(-3.5 / math.sqrt(13))
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
