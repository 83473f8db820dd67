"""Networks against the study's description: shapes and parameter counts at 256 px, quirks, sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deeppc.models import build_discriminator, build_generator, generate, load_generator
from deeppc.models.mlp import SamplingBatchNorm1d
from deeppc.train.checkpoint import save_generator
from deeppc.train.settings import TrainSettings

SIZE = 256
PIXELS = SIZE * SIZE


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def test_mlp_generator_matches_paper_at_256px():
    # latent 100 -> 128 -> 256 -> 512 -> 1024 -> 256*256; BN (scale + shift) after all blocks but the first
    expected = (
        linear(100, 128)
        + linear(128, 256) + 2 * 256
        + linear(256, 512) + 2 * 512
        + linear(512, 1024) + 2 * 1024
        + linear(1024, PIXELS)
    )
    assert expected == 67_880_832
    with torch.device("meta"):
        G = build_generator("mlp", SIZE)
        out = G(torch.empty(64, 100))
    assert n_params(G) == expected
    assert out.shape == (64, 1, SIZE, SIZE)
    kinds = [type(m).__name__ for m in G.model]
    assert kinds == ["Linear", "LeakyReLU",
                     "Linear", "SamplingBatchNorm1d", "LeakyReLU",
                     "Linear", "SamplingBatchNorm1d", "LeakyReLU",
                     "Linear", "SamplingBatchNorm1d", "LeakyReLU",
                     "Linear", "Tanh"]
    assert all(m.negative_slope == 0.2 for m in G.model if isinstance(m, nn.LeakyReLU))


@pytest.mark.parametrize("family, last", [("vanilla", nn.Sigmoid), ("wgangp", nn.Linear)])
def test_mlp_discriminator_matches_paper_at_256px(family, last):
    expected = linear(PIXELS, 512) + linear(512, 256) + linear(256, 1)
    assert expected == 33_686_529
    with torch.device("meta"):
        D = build_discriminator(family, "mlp", SIZE)
        out = D(torch.empty(64, 1, SIZE, SIZE))
    assert n_params(D) == expected
    assert out.shape == (64, 1)
    assert isinstance(D.model[-1], last)  # sigmoid for Vanilla, linear critic for WGAN-GP


def test_original_batchnorm_quirk_is_eps_not_momentum():
    # the original's nn.BatchNorm1d(out_feat, 0.8): second positional argument = eps
    G = build_generator("mlp", 16)
    norms = [m for m in G.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == 3
    assert all(m.eps == 0.8 and m.momentum == 0.1 for m in norms)
    assert build_generator("mlp", 16, bn_eps=1e-5).model[3].eps == 1e-5


def test_state_dict_layout_matches_original_sequential():
    keys = set(build_generator("mlp", 16).state_dict())
    assert {"model.0.weight", "model.2.weight", "model.3.running_var", "model.11.weight"} <= keys
    assert set(build_discriminator("vanilla", "mlp", 16).state_dict()) == {
        f"model.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")}


@pytest.mark.parametrize("size", [64, 256])
@pytest.mark.parametrize("family, norm", [("vanilla", nn.BatchNorm2d), ("wgangp", nn.GroupNorm)])
def test_dcgan_shapes(size, family, norm):
    with torch.device("meta"):
        G = build_generator("dcgan", size)
        D = build_discriminator(family, "dcgan", size)
        x = G(torch.empty(8, 100))
        y = D(x)
    assert x.shape == (8, 1, size, size) and y.shape == (8, 1)
    assert any(isinstance(m, norm) for m in D.modules())  # no batch norm in a gradient-penalty critic
    if family == "wgangp":
        assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


def test_dcgan_parameter_count_64px():
    # classic DCGAN widths at 64 px: 512 (4x4) -> 256 -> 128 -> 64 -> 1; bias-free convs, BN scale+shift
    g = (100 * 512 * 16 + 2 * 512 + 512 * 256 * 16 + 2 * 256 + 256 * 128 * 16 + 2 * 128
         + 128 * 64 * 16 + 2 * 64 + 64 * 16)
    d = 16 * 64 + 64 * 128 * 16 + 2 * 128 + 128 * 256 * 16 + 2 * 256 + 256 * 512 * 16 + 2 * 512 + 512 * 16
    assert n_params(build_generator("dcgan", 64)) == g
    assert n_params(build_discriminator("vanilla", "dcgan", 64)) == d


def test_eval_mode_samples_with_batch_statistics_by_default():
    torch.manual_seed(0)
    G = build_generator("mlp", 16)
    z = torch.randn(32, 100)
    with torch.no_grad():
        train_out = G.train()(z)
        running = G.model[3].running_mean.clone()
        eval_out = G.eval()(z)
    assert torch.equal(eval_out, train_out)  # as the study sampled: train-mode batch statistics
    assert torch.equal(G.model[3].running_mean, running)  # ... without touching the running statistics

    H = build_generator("mlp", 16, eval_batch_stats=False)
    assert isinstance(H.model[3], SamplingBatchNorm1d)
    with torch.no_grad():
        assert not torch.allclose(H.eval()(z), H.train()(z))  # standard eval: running statistics


def test_generate_is_seeded_batched_and_restores_mode():
    torch.manual_seed(0)
    G = build_generator("mlp", 16).train()
    a = generate(G, 5, seed=7)
    b = generate(G, 70, seed=7)
    assert a.dtype == np.uint8 and a.shape == (5, 16, 16)
    assert np.array_equal(a, b[:5])  # image i does not depend on how many are asked for
    assert not np.array_equal(a, generate(G, 5, seed=8))
    assert G.training


def test_checkpoint_roundtrip(tmp_path):
    settings = TrainSettings(experiment="e", family="wgangp", lr=1e-4, betas=(0.5, 0.9), image_size=16,
                             generator={"bn_eps": 0.5})
    torch.manual_seed(0)
    G = build_generator("mlp", 16, bn_eps=0.5)
    save_generator(tmp_path / "10.pt", G, settings, 10, "abc")
    H, meta = load_generator(tmp_path / "10.pt")
    assert meta["format"] == "deeppc.generator/1" and meta["iteration"] == 10 and meta["model_kwargs"]["bn_eps"] == 0.5
    assert set(meta) == {"format", "family", "arch", "model_kwargs", "iteration", "image_size", "latent_dim",
                         "experiment", "config_sha256", "classes", "class_counts", "n_train_images"}
    assert meta["classes"] is None and meta["class_counts"] is None
    assert np.array_equal(generate(G, 9, 1), generate(H, 9, 1))
    torch.save({"gen_state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a deeppc.generator/1"):
        load_generator(tmp_path / "foreign.pt")


def test_unknown_model_setting_is_named():
    with pytest.raises(ValueError, match="bn_epsilon"):
        build_generator("mlp", 16, bn_epsilon=0.1)
