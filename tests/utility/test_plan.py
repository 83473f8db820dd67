"""Which utility jobs a config asks for, and clear refusals of configs that cannot work."""

from pathlib import Path

import pytest
import yaml

from deeppc import config as deeppc_config
from deeppc.config import ConfigError
from deeppc.study import compared_iteration, train_settings
from deeppc.utility.plan import make_plan

REPO = Path(__file__).resolve().parents[2]


def _plan(edit=lambda c: None):
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    edit(config)
    deeppc_config.validate(config)
    settings = train_settings(config)
    return make_plan(config, settings, lambda run: compared_iteration(config, settings[run]))


def test_demo_plan():
    plan = _plan()
    assert list(plan.arms) == ["real", "augment", "real+vanilla2_1x", "real+wgangp1_1x", "real+stylegan2_ada_1x"]
    assert plan.classes == ["LAT", "AP"] and plan.image_size == 64 and plan.seeds == 3
    assert plan.iterations == {r: 400 for r in plan.labels} and plan.labels == {r: ["LAT"] for r in plan.labels}
    # seed i takes GAN replicate i mod 2: the paired tests vary the GAN's seed as well
    assert [plan.pool_runs("real+wgangp1_1x", i) for i in range(3)] == [["wgangp1"], ["wgangp1@r1"], ["wgangp1"]]
    assert plan.pool_runs("augment", 0) == []
    assert "every class" in plan.skipped["wgangp1_only"]


def test_a_source_of_one_gan_per_class_gets_a_synthetic_only_arm():
    def per_view(c):
        c["experiments"]["wgangp1_ap"] = dict(c["experiments"]["wgangp1"], view="AP")
        c["utility"]["sources"] = {"wgan": ["wgangp1", "wgangp1_ap"]}

    plan = _plan(per_view)
    assert list(plan.arms) == ["real", "augment", "real+wgan_1x", "wgan_only"] and not plan.skipped
    assert plan.pool_runs("wgan_only", 1) == ["wgangp1@r1", "wgangp1_ap@r1"]
    assert plan.labels["wgangp1_ap"] == ["AP"]


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["utility"].update(sources={"x": ["nope"]}), "utility.sources': no experiment named nope"),
    (lambda c: c["utility"].update(labels="labels.csv", classes=["a", "b"]), "vanilla2, wgangp1 are not trained"),
    (lambda c: c["utility"].update(labels="labels.csv", sources={}), "utility.classes': with utility.labels"),
    (lambda c: c["utility"].update(ratios=[2]), "utility.pool': 1 generated images per real one, but an arm takes 2"),
    (lambda c: c["utility"].update(iteration=300), "utility.iteration': run vanilla2 keeps no checkpoint 300"),
    (lambda c: c["utility"].update(classes=["AP"]), "utility.classes"),
])  # fmt: skip
def test_impossible_plans_name_the_key(edit, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _plan(edit)


def test_labels_without_sources_plan_real_and_augment_only():
    plan = _plan(lambda c: c["utility"].update(labels="labels.csv", sources={}, classes=["normal", "abnormal"]))
    assert list(plan.arms) == ["real", "augment"] and plan.image_size == 64


def test_one_gan_per_class_of_a_labels_csv():
    def per_class(c):
        for label in ("normal", "abnormal"):
            c["experiments"][f"wgan_{label}"] = dict(c["experiments"]["wgangp1"], label=label)
        c["utility"].update(labels="labels.csv", classes=["normal", "abnormal"],
                            sources={"wgan": ["wgan_normal", "wgan_abnormal"]})

    plan = _plan(per_class)
    assert list(plan.arms) == ["real", "augment", "real+wgan_1x", "wgan_only"]
    assert plan.labels["wgan_abnormal@r1"] == ["abnormal"] and plan.pool_runs("wgan_only", 0) == ["wgan_normal",
                                                                                               "wgan_abnormal"]


def test_a_label_needs_the_labels_csv():
    with pytest.raises(ConfigError, match="label \\(train on one class\\) needs utility.labels"):
        config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
        config["experiments"]["wgangp1"]["label"] = "abnormal"
        deeppc_config.validate(config)
        from deeppc.study import check_study

        check_study(config, train_settings(config))
