"""StyleGAN2 networks: shapes, official layout, demodulation, resampling filters, sampling paths, precision."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deeppc.models import build_discriminator, build_generator, generate, load_generator
from deeppc.models import stylegan2 as sg
from deeppc.train.checkpoint import save_generator

from .conftest import DISCRIMINATOR, GENERATOR, SIZE, tiny


def networks(size: int = SIZE, **g_overrides):
    torch.manual_seed(0)
    G = build_generator("stylegan2", size, 32, **{**GENERATOR, **g_overrides})
    D = build_discriminator("stylegan2", "stylegan2", size, **DISCRIMINATOR)
    return G, D


@pytest.mark.parametrize("size", [32, 64])
def test_output_shapes_and_latent_count(size):
    G, D = networks(size)
    z = torch.randn(6, 32)
    x = G(z)
    assert x.shape == (6, 1, size, size) and x.dtype == torch.float32
    assert D(x).shape == (6, 1)
    # one w per conv layer plus the last toRGB: 1 + 2 per doubling + 1
    assert G.num_ws == 2 * int(math.log2(size)) - 2
    assert G.mapping(z).shape == (6, G.num_ws, 32)
    assert D(x[:5]).shape == (5, 1)  # a batch the minibatch-std group (4) does not divide


def test_parameter_names_follow_the_official_layout():
    G, D = networks()
    g_keys, d_keys = set(G.state_dict()), set(D.state_dict())
    assert {"mapping.fc0.weight", "mapping.fc1.bias", "mapping.w_avg", "synthesis.b4.const",
            "synthesis.b4.conv1.affine.weight", "synthesis.b4.conv1.noise_const", "synthesis.b4.conv1.noise_strength",
            "synthesis.b8.conv0.weight", "synthesis.b8.torgb.weight", "synthesis.b32.torgb.bias"} <= g_keys
    assert {"b32.fromrgb.weight", "b32.conv0.weight", "b32.conv1.bias", "b32.skip.weight", "b16.conv0.weight",
            "b4.conv.weight", "b4.fc.weight", "b4.out.weight", "b4.out.bias"} <= d_keys
    assert not any("fir" in k or "resample_filter" in k for k in g_keys | d_keys)  # filters are not weights
    assert "b16.fromrgb.weight" not in d_keys  # residual D reads the image once
    # widths min(channel_base / res, channel_max) = min(512 / res, 32): 16 at 32 px, 32 below
    assert G.state_dict()["synthesis.b32.conv0.weight"].shape == (16, 32, 3, 3)
    assert D.state_dict()["b32.fromrgb.weight"].shape == (16, 1, 1, 1)
    assert D.state_dict()["b4.conv.weight"].shape == (32, 33, 3, 3)  # + 1 minibatch-std feature


def test_demodulation_keeps_unit_output_variance():
    torch.manual_seed(1)
    weight = torch.randn(8, 16, 3, 3) * torch.rand(8, 1, 1, 1) * 5  # badly scaled filters
    styles = torch.rand(256, 16) * 3 + 0.1  # arbitrary positive per-sample styles
    x = torch.randn(256, 16, 24, 24)
    y = sg.modulated_conv2d(x, weight, styles, demodulate=True)[:, :, 1:-1, 1:-1]  # away from zero padding
    per_feature = y.var(dim=(0, 2, 3))
    assert torch.allclose(per_feature, torch.ones(8), atol=0.05)
    raw = sg.modulated_conv2d(x, weight, styles, demodulate=False)[:, :, 1:-1, 1:-1]
    assert raw.var(dim=(0, 2, 3)).max() > 5  # without demodulation the scale follows weights and styles


def test_fused_and_separate_modulated_convolutions_agree():
    torch.manual_seed(2)
    x, weight, styles = torch.randn(3, 8, 8, 8), torch.randn(5, 8, 3, 3), torch.randn(3, 8)
    up = sg.fir_kernel(5, gain=4.0)
    for up_fir in (None, up):
        a = sg.modulated_conv2d(x, weight, styles, up_fir=up_fir, fused=False)
        b = sg.modulated_conv2d(x, weight, styles, up_fir=up_fir, fused=True)
        assert a.shape == b.shape == (3, 5, 16 if up_fir is not None else 8, 16 if up_fir is not None else 8)
        assert torch.allclose(a, b, atol=1e-5)


def _composed_bias_act(x, bias, lrelu, gain, clamp):
    # the original's reference bias_act, written out of place with PyTorch's own ops
    x = x + bias.reshape(1, -1, 1, 1)
    x = F.leaky_relu(x, sg.LRELU_SLOPE) if lrelu else x
    return (x * gain).clamp(-clamp, clamp) if clamp is not None else x * gain


@pytest.mark.parametrize("lrelu, gain, clamp", [(True, math.sqrt(2), None), (True, math.sqrt(2), 0.6),
                                                (False, 1.0, 0.6), (True, 0.5, 256.0)])
def test_in_place_bias_act_matches_the_composed_ops_to_second_order(lrelu, gain, clamp):
    torch.manual_seed(3)
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64, requires_grad=True)  # |x| > clamp for a third of x at 0.6
    bias = torch.randn(4, dtype=torch.float64, requires_grad=True)
    mix = torch.randn(3, 4, 5, 5, dtype=torch.float64)

    def ours(x, bias):
        return sg.bias_act_(x * mix, bias, lrelu, gain, clamp)  # x * mix: a fresh buffer, as a layer's output

    assert torch.autograd.gradcheck(ours, (x, bias))
    assert torch.autograd.gradgradcheck(ours, (x, bias))  # R1 and the path-length penalty differentiate it twice
    # first order (the in-place backward) and second order (an R1-like penalty) against the composed ops
    results = []
    for f in (ours, lambda x, b: _composed_bias_act(x * mix, b, lrelu, gain, clamp)):
        y = f(x, bias)
        gx, gb = torch.autograd.grad(y.square().sum(), (x, bias), create_graph=True)
        hx, hb = torch.autograd.grad(gx.square().sum() + gb.sum(), (x, bias))
        first = torch.autograd.grad(f(x, bias).sin().sum(), (x, bias))
        results.append([y, gx, gb, hx, hb, *first])
    for a, b in zip(*results):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)


def test_in_place_bias_act_refuses_a_buffer_another_op_still_needs():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    saved = x.exp()  # exp saves its output for its backward
    y = sg.bias_act_(saved, torch.zeros(3), lrelu=True, gain=math.sqrt(2))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    with pytest.raises(ValueError, match="gain must be positive"):
        sg.bias_act_(torch.randn(2, 3), None, lrelu=True, gain=-1.0)


def test_resampling_filters_match_their_definition():
    # upsampling = insert zeros, pad (2, 1), convolve with the gain-4 [1,3,3,1] filter (the original's upfirdn2d)
    x = torch.randn(2, 3, 5, 5)
    zeros = torch.zeros(2, 3, 10, 10)
    zeros[:, :, ::2, ::2] = x
    kernel = sg.fir_kernel(3, gain=4.0)
    expected = F.conv2d(F.pad(zeros, (2, 1, 2, 1)), kernel.flip([2, 3]), groups=3)
    assert torch.allclose(sg.upsample2d(x, kernel), expected, atol=1e-6)
    # downsampling = pad (1, 1), filter, keep every second pixel
    y = torch.randn(2, 3, 8, 8)
    expected = F.conv2d(F.pad(y, (1, 1, 1, 1)), sg.fir_kernel(3), groups=3)[:, :, ::2, ::2]
    assert torch.allclose(sg.downsample2d(y, sg.fir_kernel(3)), expected, atol=1e-6)
    # a constant image stays constant away from the borders
    flat = torch.ones(1, 1, 8, 8)
    assert torch.allclose(sg.upsample2d(flat, sg.fir_kernel(1, 4.0))[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12))


def test_noise_modes_truncation_and_style_mixing_inputs():
    G, _ = networks()
    for name, param in G.named_parameters():
        if name.endswith("noise_strength"):  # trained strengths; they start at 0
            param.data.fill_(0.5)
    z = torch.randn(4, 32)
    G.train()
    gen = torch.Generator().manual_seed(3)
    a = G(z, noise_generator=gen)
    b = G(z, noise_generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)  # random noise comes from the given generator
    G.eval()
    with torch.no_grad():
        const = G(z)
        assert torch.equal(const, G(z))  # eval mode: constant noise, a pure function of z
        assert not torch.equal(G(z, noise_mode="none"), const)
        assert torch.equal(G(z, truncation_psi=1.0), const)
        G.mapping.w_avg.normal_()
        centre = G.synthesis(G.mapping.w_avg.expand(1, G.num_ws, -1), "const")
        assert torch.allclose(G(z, truncation_psi=0.0), centre.expand(4, -1, -1, -1), atol=1e-5)
        ws = G.mapping(z, truncation_psi=0.5, truncation_cutoff=2)
        plain = G.mapping(z)
        assert torch.allclose(ws[:, 2:], plain[:, 2:]) and not torch.allclose(ws[:, :2], plain[:, :2])


def test_w_average_moves_only_when_asked():
    G, _ = networks()
    z = torch.randn(8, 32)
    G.mapping(z)
    assert torch.count_nonzero(G.mapping.w_avg) == 0
    w = G.mapping(z, update_w_avg=True)[:, 0]
    assert torch.allclose(G.mapping.w_avg, w.mean(0) * (1 - 0.995), atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_reduced_precision_blocks(monkeypatch, dtype):
    """The top-resolution half-precision path (CUDA only in use) computes and differentiates correctly."""
    G, D = networks(half_dtype=dtype, half_res=2)
    D = build_discriminator("stylegan2", "stylegan2", SIZE, **DISCRIMINATOR, half_dtype=dtype, half_res=2)
    G.eval()
    z = torch.randn(4, 32)
    with torch.no_grad():
        reference, d_reference = G(z), D(G(z))
    monkeypatch.setattr(sg, "HALF_PRECISION_DEVICES", ("cuda", "cpu"))  # run the CUDA path on the CPU
    assert [b.use_half for b in G.synthesis.blocks()] == [False, False, True, True]  # 16 and 32 px
    for fused in (True, False):
        out = G.synthesis(G.mapping(z), "const", fused=fused)
        assert out.dtype == torch.float32 and torch.allclose(out, reference, atol=0.1)
    x = reference.clone().requires_grad_(True)
    logits = D(x)
    assert logits.dtype == torch.float32 and torch.allclose(logits, d_reference, atol=0.05)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    grad.square().sum().backward()  # R1's double backward through the half-precision blocks
    assert all(torch.isfinite(p.grad).all() for p in D.parameters() if p.grad is not None)


def test_checkpoint_roundtrip_and_generate_with_truncation(tmp_path):
    settings = tiny()
    G, _ = networks()
    save_generator(tmp_path / "6.pt", G, settings, 6, "abc")
    H, meta = load_generator(tmp_path / "6.pt")
    assert meta["arch"] == "stylegan2" and meta["model_kwargs"]["mapping_layers"] == 2 and not H.training
    assert np.array_equal(generate(G, 5, seed=4), generate(H, 5, seed=4))
    truncated = generate(H, 5, seed=4, truncation_psi=0.5)
    assert truncated.shape == (5, SIZE, SIZE) and not np.array_equal(truncated, generate(H, 5, seed=4))
    H.truncation_psi = 0.5  # the sampling default scoring sets
    assert np.array_equal(generate(H, 5, seed=4), truncated)
    with pytest.raises(ValueError, match="truncation"):
        generate(build_generator("mlp", 16), 2, seed=0, truncation_psi=0.5)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="power-of-two"):
        build_generator("stylegan2", 48)
    with pytest.raises(ValueError, match="half_dtype"):
        build_generator("stylegan2", 32, half_dtype="float8")
    with pytest.raises(ValueError, match="channels"):
        build_generator("stylegan2", 32, channels=3)
