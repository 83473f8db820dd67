"""Class-conditional StyleGAN2 (``classes``): the official design, training, resume and sampling by class.

Networks use random initialisations (no pretrained weights here).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deeppc.config import ConfigError
from deeppc.models import generate, load_generator
from deeppc.models.checkpoint import class_index
from deeppc.models.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator, one_hot
from deeppc.train.loop import Trainer, run
from deeppc.train.stage import training_images

from conditional_task import CLASSES, PLANTED, conditional, planted

from .conftest import DISCRIMINATOR, GENERATOR, tiny

def real_classifier(images: np.ndarray, labels: np.ndarray):
    """Logistic regression on the pixels, fitted on real images only; returns a predict function."""
    x = torch.from_numpy(images.reshape(len(images), -1) / 127.5 - 1).float()
    y = torch.from_numpy(labels).float()
    model = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], y).backward()
        opt.step()

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = model(torch.from_numpy(batch.reshape(len(batch), -1) / 127.5 - 1).float())[:, 0]
        return (logits > 0).numpy().astype(int)

    return predict


def test_conditional_networks_follow_the_official_design():
    torch.manual_seed(0)
    G = StyleGAN2Generator(32, latent_dim=16, **GENERATOR, c_dim=3)
    D = StyleGAN2Discriminator(32, **DISCRIMINATOR, c_dim=3, mapping_layers=2)
    # the label is embedded to w_dim features and concatenated to z in the mapping network
    assert G.state_dict()["mapping.embed.weight"].shape == (GENERATOR["w_dim"], 3)
    assert G.state_dict()["mapping.fc0.weight"].shape == (GENERATOR["w_dim"], 16 + GENERATOR["w_dim"])
    # projection discriminator: the head gives cmap_dim (= 4x4 channels) features, projected on the class embedding
    cmap = D.b4.fc.weight.shape[0]
    assert D.state_dict()["b4.out.weight"].shape == (cmap, cmap)
    z = torch.randn(4, 16)
    c = one_hot(torch.tensor([0, 1, 2, 0]), 3)
    G.eval()
    img = G(z, c=c)
    assert not torch.allclose(img[0], G(z, c=one_hot(torch.tensor([1, 1, 2, 0]), 3))[0])
    torch.testing.assert_close(img[1:], G(z, c=one_hot(torch.tensor([1, 1, 2, 0]), 3))[1:])
    D.eval()
    head = D.b4.out(D.b4.fc(D.b4.conv(D.b4.mbstd(_features(D, img))).flatten(1)))
    expected = (head * D.mapping(None, c=c)).sum(1, keepdim=True) / math.sqrt(cmap)
    torch.testing.assert_close(D(img, c), expected)


def _features(D, img):
    x = None
    for res in D.resolutions:
        x = getattr(D, f"b{res}")(x, img)
    return x


def test_conditional_networks_demand_a_class_and_unconditional_ones_refuse_one():
    G = StyleGAN2Generator(32, latent_dim=16, **GENERATOR, c_dim=2)
    D = StyleGAN2Discriminator(32, **DISCRIMINATOR)
    with pytest.raises(ValueError, match="conditional on 2 classes"):
        G(torch.randn(2, 16))
    with pytest.raises(ValueError, match="unconditional"):
        D(torch.zeros(2, 1, 32, 32), one_hot(torch.tensor([0, 1]), 2))
    with pytest.raises(ConfigError, match="classes: class-conditional training needs arch stylegan2"):
        tiny(family="vanilla", arch="dcgan", classes=CLASSES, generator={}, discriminator={}, loss={})
    with pytest.raises(ConfigError, match="not both"):
        conditional(label="left")
    with pytest.raises(ConfigError, match="c_dim is set by classes"):
        tiny(generator={**GENERATOR, "c_dim": 2})


def test_conditional_stylegan2_generates_the_requested_class(tmp_path):
    """A short CPU run with ADA on a planted task: a classifier fitted on real images recognises each class."""
    images, labels = planted(64, seed=0)
    settings = conditional(batch_size=8, iterations=120, checkpoint_every=120, seed=3,
                           loss={"r1_gamma": 0.1, "ada": "adaptive"})
    run(settings, images, tmp_path / "run", "cpu", labels)
    G, meta = load_generator(tmp_path / "run" / "ckpt" / "120.pt")
    assert meta["classes"] == list(CLASSES) and G.c_dim == 2
    predict = real_classifier(*planted(200, seed=1))
    for name in CLASSES:
        k = class_index(meta, name)
        accuracy = (predict(generate(G, 200, seed=5, label=k)) == k).mean()
        assert accuracy >= 0.9, (name, accuracy)  # chance: 0.5
    # without a class the generator takes the classes in turn
    mixed = predict(generate(G, 200, seed=5))
    assert (mixed == np.arange(200) % 2).mean() >= 0.9


def test_conditional_run_resumes_bit_identical():
    """Resume state of a conditional ADA run (real classes follow the data order; fake classes the run's stream)."""
    images, labels = planted(24, seed=0)
    settings = conditional(loss={"r1_gamma": 0.1, "r1_interval": 3, "pl_interval": 2, "ada": "adaptive",
                                 "ada_interval": 2, "ada_kimg": 0.05})  # fmt: skip
    whole = Trainer(settings, images, torch.device("cpu"), labels)
    for _ in range(8):
        whole.step()
    first = Trainer(settings, images, torch.device("cpu"), labels)
    for _ in range(5):
        first.step()
    state = first.state_dict()
    second = Trainer(settings, images, torch.device("cpu"), labels)
    second.load_state_dict(state)
    for _ in range(3):
        second.step()
    for key, value in whole.state_dict()["G_ema"].items():
        torch.testing.assert_close(second.state_dict()["G_ema"][key], value, rtol=0, atol=0)
    shuffled = labels[::-1].copy()  # other classes for the same images make another run
    assert Trainer(settings, images, torch.device("cpu"), shuffled).real_classes(1).tolist() != \
        whole.real_classes(1).tolist()


def test_conditional_training_reads_a_folder_per_class_and_checks_labels(tmp_path):
    from PIL import Image

    images, labels = planted(6, seed=0)
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = tmp_path / CLASSES[label]
        folder.mkdir(exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")
    settings = conditional()
    loaded, loaded_labels = training_images(settings, tmp_path)
    assert loaded_labels.tolist() == [0, 0, 0, 1, 1, 1] and loaded.shape == (6, PLANTED, PLANTED)
    mapping, _ = training_images(settings, {"left": tmp_path / "left", "right": tmp_path / "right"})
    np.testing.assert_array_equal(mapping, loaded)
    with pytest.raises(ValueError, match="one class index per training image"):
        Trainer(settings, images, torch.device("cpu"))
    with pytest.raises(ValueError, match="unconditional"):
        Trainer(tiny(image_size=PLANTED), images, torch.device("cpu"), labels)
    G = StyleGAN2Generator(PLANTED, latent_dim=32, **GENERATOR)
    with pytest.raises(ValueError, match="unconditional"):
        generate(G, 2, seed=0, label=0)
