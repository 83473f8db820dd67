"""The labelled task from the data stage's output: view labels or a labels CSV, patients kept together."""

import numpy as np
import pandas as pd
import pytest

from deeppc.utility.task import load_task, validation_split
from deeppc.validate import InputError

from planted import data_stage


def test_view_task_uses_the_data_stage_split(tmp_path):
    task = load_task(data_stage(tmp_path), classes=["LAT", "AP"])
    assert task["train"].classes == ("LAT", "AP")
    assert task["holdout"].counts() == {"LAT": 3, "AP": 3} and task["train"].counts() == {"LAT": 7, "AP": 7}
    assert not set(task["train"].groups) & set(task["holdout"].groups)
    # labels follow the images: AP images were written 40 grey levels brighter
    train = task["train"]
    assert np.all((train.images[:, 0, 0] >= 40) == (train.labels == 1))


def test_labels_csv_by_sha256_or_by_path(tmp_path):
    root = data_stage(tmp_path)
    manifest = pd.read_csv(root / "manifest.csv").query("status == 'ok'")
    label = ["abnormal" if int(s[:2]) % 3 == 0 else "normal" for s in manifest.sha256]
    pd.DataFrame({"sha256": manifest.sha256, "label": label}).to_csv(tmp_path / "by_sha.csv", index=False)
    pd.DataFrame({"path": manifest.source, "label": label}).to_csv(tmp_path / "by_path.csv", index=False)
    a = load_task(root, tmp_path / "by_sha.csv")
    b = load_task(root, tmp_path / "by_path.csv")
    assert a["train"].classes == ("abnormal", "normal")
    assert np.array_equal(a["train"].labels, b["train"].labels) and np.array_equal(a["holdout"].images, b["holdout"].images)
    assert a["train"].counts()["abnormal"] == 2 * sum(1 for p in range(10) if p % 3 == 0 and p % 4 != 0)


def test_bad_labels_are_refused_by_name(tmp_path):
    root = data_stage(tmp_path)
    (tmp_path / "nolabel.csv").write_text("sha256,diagnosis\nabc,x\n")
    with pytest.raises(InputError, match="nolabel.csv needs a 'label' column"):
        load_task(root, tmp_path / "nolabel.csv")
    (tmp_path / "twice.csv").write_text(f"sha256,label\n{'0' * 64},a\n{'0' * 64},b\n")
    with pytest.raises(InputError, match="listed twice"):
        load_task(root, tmp_path / "twice.csv")
    (tmp_path / "one.csv").write_text("label,sha256\n" + "".join(f"x,{s}\n" for s in pd.read_csv(root / "manifest.csv").sha256))
    with pytest.raises(InputError, match="at least 2 classes"):
        load_task(root, tmp_path / "one.csv")
    with pytest.raises(FileNotFoundError, match="manifest"):
        load_task(tmp_path / "elsewhere")


def test_validation_split_keeps_patients_whole_and_every_class(tmp_path):
    train = load_task(data_stage(tmp_path, patients=20), classes=["LAT", "AP"])["train"]
    fit, val = validation_split(train, 0.25, seed=3)
    assert len(fit) + len(val) == len(train)
    assert not set(fit.groups) & set(val.groups)
    assert all(n > 0 for n in val.counts().values())
    again = validation_split(train, 0.25, seed=3)[1]
    assert np.array_equal(again.groups, val.groups)


def test_class_folder_holds_one_class_of_one_view_in_the_data_stage_layout(tmp_path):
    from deeppc.utility.task import write_class_folder

    root = data_stage(tmp_path / "data", patients=12)
    manifest = pd.read_csv(root / "manifest.csv").query("status == 'ok'")
    label = ["abnormal" if int(s[:2]) % 3 == 0 else "normal" for s in manifest.sha256]
    pd.DataFrame({"sha256": manifest.sha256, "label": label}).to_csv(tmp_path / "labels.csv", index=False)
    out = tmp_path / "classes" / "AP" / "abnormal"
    counts = write_class_folder(root, tmp_path / "labels.csv", "AP", "abnormal", out)
    # patients 0, 3, 6, 9 are abnormal; 0 and 8 ... are held out (p % 4 == 0): 0 holdout, 3, 6, 9 train
    assert counts == {"train": 3, "holdout": 1}
    names = sorted(p.name for p in (out / "train").iterdir())
    expected = sorted(f"img-{f'{p:02d}AP'.ljust(64, '0')[:16]}.png" for p in (3, 6, 9))
    assert names == expected and [p.name for p in (out / "holdout").iterdir()] == [f"img-{'00AP'.ljust(16, '0')}.png"]
    with pytest.raises(InputError, match="no training image of view LAT has class 'rare'"):
        write_class_folder(root, tmp_path / "labels.csv", "LAT", "rare", tmp_path / "rare")
    assert not (tmp_path / "rare").exists()
