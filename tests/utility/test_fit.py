"""Classifier networks, augmentation and the training loop (random initialisations throughout)."""

import numpy as np
import pytest
import torch
import torchvision

from deeppc.utility.augment import ClassicalAugment
from deeppc.utility.fit import FitSettings, fit, predict
from deeppc.utility.networks import build, resnet18
from deeppc.validate import InputError

import planted


def test_gray_resnet18_equals_the_rgb_network_on_a_repeated_gray_image(tmp_path):
    # random weights in the ImageNet file's layout (no download here); what matters is the conv1 fold
    rgb = torchvision.models.resnet18(weights=None).eval()
    torch.save(rgb.state_dict(), tmp_path / "resnet18.pth")
    gray = resnet18(1000, tmp_path / "resnet18.pth").eval()
    gray.fc.load_state_dict(rgb.fc.state_dict())
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(gray(x), rgb(x.expand(-1, 3, -1, -1)), atol=1e-4, rtol=1e-4)
    assert gray.fc.out_features == 1000 and resnet18(3).fc.out_features == 3


def test_wrong_weights_are_refused(tmp_path):
    torch.save({"conv1.weight": torch.zeros(64, 1, 7, 7)}, tmp_path / "gray.pth")
    with pytest.raises(InputError, match="gray.pth is not torchvision ResNet-18"):
        build("resnet18", 2, tmp_path / "gray.pth")
    with pytest.raises(InputError, match="utility.network"):
        build("vgg", 2)


def test_augmentation_is_per_image_and_seeded():
    x = torch.linspace(-1, 1, 16).repeat(4, 1, 16, 1)
    flip = ClassicalAugment(flip=1.0, degrees=0.0, brightness=0.0, contrast=0.0)
    assert torch.allclose(flip(x, torch.Generator().manual_seed(0)), x.flip(-1), atol=1e-6)
    aug = ClassicalAugment()
    a, b = aug(x, torch.Generator().manual_seed(1)), aug(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.min() >= -1 and a.max() <= 1
    assert not torch.allclose(a[0], a[1])  # each image drew its own parameters


def _task():
    return planted.real_set(6, 2, 1, "p"), planted.real_set(4, 2, 2, "v"), planted.real_set(10, 2, 3, "t")


def test_the_same_seed_trains_the_same_classifier():
    train, val, test = _task()
    settings = FitSettings(steps=30, batch_size=8, eval_every=10)
    runs = [fit(train, val, settings, seed=4) for _ in range(2)]
    assert np.array_equal(predict(runs[0][0], test.images), predict(runs[1][0], test.images))
    other = fit(train, val, settings, seed=5)[0]
    assert not np.array_equal(predict(other, test.images), predict(runs[0][0], test.images))


def test_early_stopping_keeps_the_best_validation_state():
    train, val, _ = _task()
    noise = val.__class__(val.images, np.random.default_rng(0).permutation(val.labels), val.groups, val.classes)
    model, history = fit(train, noise, FitSettings(steps=400, batch_size=8, eval_every=5, patience=3), seed=0)
    losses = [h["val_loss"] for h in history["history"]]
    assert history["stopped_early"] and history["steps_run"] < 400
    assert history["best_val_loss"] == min(losses)
    assert losses.index(min(losses)) == len(losses) - 1 - 3  # stopped exactly `patience` evaluations later
