"""The front page's utility section says, per arm, whether it helps, with its unit, n and interval."""

import pandas as pd

from deeppc.report.headline import _data_section, _utility_section
from deeppc.utility.compare import paired_against


def test_utility_section_in_words():
    runs = pd.DataFrame([{"arm": arm, "seed": i, "balanced_accuracy": v}
                         for arm, values in {"real": [0.70, 0.72, 0.68, 0.71], "real+sg2_1x": [0.80, 0.83, 0.79, 0.82],
                                             "augment": [0.69, 0.73, 0.66, 0.72], "real+bad_1x": [0.71, 0.73, 0.69, 0.72]
                                             }.items() for i, v in enumerate(values)])  # fmt: skip
    paired = paired_against(runs, ["balanced_accuracy"])
    text = "\n".join(_utility_section(paired, {"utility_arms": "results/figures/utility_arms.png"}))
    assert "unit: classifier seeds, n = 4" in text and "holm correction" in text
    assert "`arms <utility_arms.png_>`_" in text
    assert "real+sg2\\_1x: helps, +0.108" in text
    assert "augment: no clear difference" in text
    # the same +0.01 on every seed: stated, not tested
    assert "real+bad\\_1x: +0.010, not tested (the difference is the same for every seed" in text


def test_input_path_is_shown_as_it_is():
    lines = _data_section({"files": 3, "input": "/data/elbow_dicom", "status": {"ok": 3}})
    assert "``/data/elbow_dicom``" in lines[3]
