"""The utility study on a planted task where the truth is known.

Synthetic images that follow the real class rule must help a classifier
trained on 12 real images (6 patients); images with the rule inverted must hurt; images
without the signal must not help. Seeds are the unit (3 here, to keep it
short), every arm against real-only, Holm-corrected.
"""

import json

import pandas as pd
import pytest

from deeppc.utility.fit import FitSettings
from deeppc.utility.stage import UtilitySettings, run_study
from deeppc.validate import InputError

import planted


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("utility")
    task = {"train": planted.real_set(4, 2, 1, "p"), "holdout": planted.real_set(30, 2, 2, "h")}
    synthetic = {kind: planted.synthetic(kind, 80, 3) for kind in ("good", "wrong", "blank")}
    settings = UtilitySettings(fit=FitSettings(steps=150, batch_size=16, eval_every=10, patience=5), seeds=3,
                               ratios=(4.0,), augment=False, validation_fraction=0.25, bootstrap=200)  # fmt: skip
    tables = run_study(task, synthetic, settings, out)
    return tables, out


def test_images_with_the_class_signal_help(study):
    paired = study[0]["paired"].query("metric == 'balanced_accuracy'").set_index("arm")
    good = paired.loc["real+good_4x"]
    assert good.mean_diff > 0.08 and good.significant and good.n == 3
    assert good.diff_ci_low > 0


def test_images_with_the_signal_inverted_or_absent_do_not(study):
    paired = study[0]["paired"].query("metric == 'balanced_accuracy'").set_index("arm")
    for arm in ("real+wrong_4x", "wrong_only", "real+blank_4x", "blank_only"):
        assert paired.loc[arm].mean_diff < 0, arm
    # early stopping on real validation patients keeps the wrong arms near chance (their best state comes
    # before the inverted rule is learnt); the loss against real-only is still clear
    assert paired.loc["real+wrong_4x"].significant and paired.loc["real+wrong_4x"].diff_ci_high < 0
    arms = study[0]["arms"].set_index("arm")
    for arm in ("real+wrong_4x", "wrong_only"):  # what they learnt ranks real patients the wrong way round
        assert arms.loc[arm, "auroc_mean"] < 0.3
    assert arms.loc["good_only", "auroc_mean"] > 0.8  # train on synthetic, test on real


def test_outputs_state_unit_n_and_make_up(study, tmp_path):
    tables, out = study
    assert {p.name for p in out.iterdir()} == {"runs.csv", "arms.csv", "paired.csv", "task.json"}
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 3 * 7  # real + 3 sources x (4x, only), 3 seeds
    good = runs[runs.arm == "real+good_4x"].iloc[0]
    assert (good.n_real, good.n_synthetic) == (12, 48)  # 16 real images less 2 validation patients' 4
    assert (runs[runs.arm == "good_only"].n_real == 0).all()
    assert (runs.balanced_accuracy_low <= runs.balanced_accuracy).all()
    assert (runs.balanced_accuracy <= runs.balanced_accuracy_high).all()
    assert (pd.read_csv(out / "arms.csv").n == 3).all()
    task = json.loads((out / "task.json").read_text())
    assert task["holdout"] == {"images": 120, "patients": 60, "per_class": {"left": 60, "right": 60}}
    assert task["unit"].startswith("classifier seeds") and len(set(task["seeds"])) == 3


def test_one_seed_is_refused():
    with pytest.raises(InputError, match="utility.seeds must be at least 2"):
        run_study({}, {}, UtilitySettings(seeds=1), "unused")


def test_workflow_summary_and_figures_from_arm_files(study, tmp_path):
    import numpy as np
    from PIL import Image

    from deeppc import files
    from deeppc.report.utility_figures import arms_figure, quality_figure, ratios_figure
    from deeppc.utility.stage import summary_job

    tables, out = study
    task = json.loads((out / "task.json").read_text())
    paths = []
    for i, row in enumerate(tables["runs"].to_dict("records")):
        paths.append(tmp_path / "arms" / f"{i}.json")
        files.write_json(paths[-1], {"row": row, "task": task})
    # planted quality: the good source has the best FID
    quality = pd.DataFrame({"source": ["good", "blank", "wrong"], "fid": [10.0, 50.0, 30.0],
                            "medfid": [1.0, 3.0, 2.0]})  # fmt: skip
    settings = UtilitySettings(seeds=3)
    found = summary_job(paths, settings, tmp_path / "summary", quality, skipped={"x_only": "why"})
    # the same tables as the in-process study
    pd.testing.assert_frame_equal(found["paired"], tables["paired"])
    gains = found["quality"].set_index("arm")
    assert gains.loc["real+good_4x", "fid"] == 10.0 and gains.loc["real+good_4x", "gain_balanced_accuracy"] > 0
    rho = found["correlation"].query("gain == 'gain_balanced_accuracy' and quality == 'fid'")
    assert set(rho.setting) == {"real + 4x synthetic", "synthetic only"} and (rho.n == 3).all()
    assert json.loads((tmp_path / "summary" / "task.json").read_text())["skipped"] == {"x_only": "why"}
    figures = [arms_figure(found["runs"], tmp_path / "a.png"),
               ratios_figure(found["runs"], found["paired"], tmp_path / "r.png"),
               quality_figure(found["quality"], found["correlation"], tmp_path / "q.png")]  # fmt: skip
    for path in figures:
        image = np.asarray(Image.open(path).convert("L"))
        assert image.shape[1] > 600 and image.std() > 5  # drawn, not blank
