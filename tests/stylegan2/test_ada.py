"""ADA: every op differentiable and the identity at p = 0, exact resampling, probabilities, the p controller."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from deeppc.models import build_discriminator
from deeppc.train.ada import OPS, AdaController, AugmentPipe, resample

from .conftest import DISCRIMINATOR, SIZE, blob_images


def images(n: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(blob_images(n, SIZE, seed)).float().div(127.5).sub(1).unsqueeze(1)


def run(pipe: AugmentPipe, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    return pipe(x, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("op", OPS)
def test_each_op_is_the_identity_at_p0_and_differentiable(op):
    x = images() + 0.01 * torch.randn(8, 1, SIZE, SIZE)  # no symmetric image hides a flip
    assert torch.equal(run(AugmentPipe([op], p=0.0), x), x)
    x.requires_grad_(True)
    y = run(AugmentPipe([op], p=1.0), x)
    assert y.shape == x.shape and not torch.equal(y, x)
    weights = torch.randn_like(y)
    (grad,) = torch.autograd.grad((y * weights).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("ops", [["xflip", "rotate90", "xint"], ["scale", "rotate", "aniso", "xfrac"],
                                 ["brightness", "contrast", "lumaflip"]])
def test_gradients_match_finite_differences_including_second_order(ops):
    pipe = AugmentPipe(ops, p=1.0)
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    f = lambda t: run(pipe, t, seed=3)  # noqa: E731 - the same draws at every evaluation
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5)
    # R1 differentiates D's input gradient again, through the augmentation
    assert torch.autograd.gradgradcheck(f, (x,), eps=1e-6, atol=1e-5)


def test_resampling_is_exact_for_identity_and_whole_pixel_shifts():
    x = torch.rand(3, 1, SIZE, SIZE)
    identity = torch.eye(3)[:2].expand(3, 2, 3)
    assert torch.allclose(resample(x, identity), x, atol=1e-5)
    shift = torch.tensor([[1.0, 0.0, -3.0], [0.0, 1.0, 2.0]]).expand(3, 2, 3)  # out(u, v) = in(u - 3, v + 2)
    expected = torch.roll(x, shifts=(-2, 3), dims=(2, 3))
    assert torch.allclose(resample(x, shift)[..., :-2, 3:], expected[..., :-2, 3:], atol=1e-5)
    # a smooth blob rotated by 90 degrees lands where torch.rot90 puts it
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, SIZE), torch.linspace(-1, 1, SIZE), indexing="ij")
    blob = torch.exp(-((xx - 0.3) ** 2 + (yy + 0.2) ** 2) / 0.1)[None, None]
    quarter = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]])
    assert min((resample(blob, quarter) - torch.rot90(blob, k, dims=(2, 3))).abs().max() for k in range(4)) < 0.01


def test_pixel_blits_are_exact_permutations_with_reflection():
    x = torch.rand(16, 1, SIZE, SIZE)
    y = run(AugmentPipe(["xflip", "rotate90"], p=1.0), x)
    for sample, out in zip(x, y):  # one of the eight symmetries of the square, bit for bit
        candidates = [torch.rot90(s, k, dims=(1, 2)) for s in (sample, sample.flip(2)) for k in range(4)]
        assert any(torch.equal(out, c) for c in candidates)
    shifted = run(AugmentPipe(["xint"], p=1.0), x)
    assert all(set(torch.unique(out).tolist()) <= set(torch.unique(s).tolist()) for s, out in zip(x, shifted))


def test_color_ops_follow_their_definitions():
    x = images(16) + 0.05
    brightness = run(AugmentPipe(["brightness"], p=1.0), x) - x
    assert torch.allclose(brightness, brightness[:, :, :1, :1].expand_as(x), atol=1e-6)  # one offset per image
    contrast = run(AugmentPipe(["contrast"], p=1.0), x) / x
    assert torch.allclose(contrast, contrast[:, :, :1, :1].expand_as(x), atol=1e-5)  # one factor per image
    flipped = run(AugmentPipe(["lumaflip"], p=1.0), x)
    same = (flipped == x).flatten(1).all(1)
    assert torch.all(same | (flipped == -x).flatten(1).all(1)) and 0 < same.sum() < 16


@pytest.mark.parametrize("op, expected", [("scale", 0.5), ("xflip", 0.25), ("rotate", 0.5), ("lumaflip", 0.25)])
def test_ops_fire_with_probability_p(op, expected):
    """At p = 0.5: scale fires half the time, a flip (p/2) a quarter, rotation (pre or post) half."""
    x = torch.rand(4000, 1, 8, 8)
    y = run(AugmentPipe([op], p=0.5), x)
    changed = (y != x).flatten(1).any(1).float().mean().item()
    assert abs(changed - expected) < 0.03


def batch(seed: int, n: int = 8) -> torch.Tensor:
    return images(n, seed)


def trained_discriminator(real_batch, steps: int = 40) -> torch.nn.Module:
    """A small D trained briefly against fresh samples of the same toy distribution."""
    torch.manual_seed(0)
    D = build_discriminator("stylegan2", "stylegan2", SIZE, **DISCRIMINATOR)
    opt = torch.optim.Adam(D.parameters(), lr=0.002, betas=(0.0, 0.99))
    for step in range(steps):
        loss = F.softplus(D(batch(10_000 + step))).mean() + F.softplus(-D(real_batch(step))).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return D


def drive_controller(D: torch.nn.Module, reals, intervals: int = 6) -> list[float]:
    pipe = AugmentPipe(p=0.5)
    controller = AdaController(pipe, target=0.6, interval=4, kimg=0.16)  # 16 images move p by 0.1
    history = []
    with torch.no_grad():
        for iteration in range(1, 4 * intervals + 1):
            real = reals(iteration)
            controller.observe(D(real))
            if controller.end_iteration(iteration, real.shape[0]):
                history.append(round(pipe.p.item(), 6))
    return history


def test_p_rises_when_d_overfits_and_falls_when_it_cannot_tell():
    tiny_set = batch(1, 4)
    overfit = trained_discriminator(lambda step: tiny_set)  # 4 real images, seen 40 times: memorised
    p = drive_controller(overfit, lambda it: tiny_set)
    assert p == pytest.approx([0.6, 0.7, 0.8, 0.9, 1.0, 1.0])  # r_t = 1 > 0.6 every time; p capped at 1

    # reals are fresh samples of the fakes' distribution: nothing to tell them apart by
    blind = trained_discriminator(lambda step: batch(20_000 + step))
    p = drive_controller(blind, lambda it: batch(30_000 + it, 4))
    assert p[-1] < 0.5 and sum(b < a for a, b in zip([0.5] + p, p)) >= 4


def test_controller_state_roundtrip_and_validation():
    pipe = AugmentPipe(p=0.25)
    controller = AdaController(pipe, interval=4)
    controller.observe(torch.tensor([1.0, -2.0, 3.0]))
    controller.end_iteration(1, 3)
    state = controller.state_dict()
    other = AdaController(AugmentPipe(p=0.0), interval=4)
    other.load_state_dict(state)
    assert other.pipe.p.item() == 0.25 and other.sign_sum.item() == 1.0 and (other.count, other.images) == (3, 3)
    with pytest.raises(ValueError, match="ADA op"):
        AugmentPipe(["hue"])
    with pytest.raises(ValueError, match="target"):
        AdaController(pipe, target=1.5)
    assert math.isclose(AugmentPipe(p=1.0).p.item(), 1.0)
