"""Loss phases: gradient penalty against finite differences, schedules, augmentation, faithfulness."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from deeppc.models import build_discriminator, build_generator
from deeppc.models.mlp import MLPDiscriminator
from deeppc.train import PhaseContext, build_loss, gradient_penalty
from deeppc.train.augment import DiffAugment

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "train_step.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("train_step_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_critic() -> nn.Module:
    torch.manual_seed(3)
    return MLPDiscriminator(4, hidden=(6, 5), output="linear").double()


def fd_input_gradient(D: nn.Module, x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Central finite-difference gradient of D(x_i) w.r.t. each pixel of each sample."""
    grad = torch.zeros_like(x)
    flat = x.reshape(x.shape[0], -1)
    for j in range(flat.shape[1]):
        step = torch.zeros_like(flat)
        step[:, j] = h
        up = D((flat + step).view_as(x)).squeeze(1)
        down = D((flat - step).view_as(x)).squeeze(1)
        grad.view(x.shape[0], -1)[:, j] = (up - down) / (2 * h)
    return grad


def test_gradient_penalty_matches_finite_differences():
    D = tiny_critic()
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(5, 1, 4, 4, generator=gen, dtype=torch.float64) * 2 - 1
    fake = torch.rand(5, 1, 4, 4, generator=gen, dtype=torch.float64) * 2 - 1
    alpha = torch.rand(5, 1, 1, 1, generator=gen, dtype=torch.float64)  # one weight per sample
    x_hat = alpha * real + (1 - alpha) * fake
    with torch.no_grad():
        norms = fd_input_gradient(D, x_hat).reshape(5, -1).norm(dim=1)
    expected = ((norms - 1) ** 2).mean()
    assert gradient_penalty(D, real, fake, alpha).item() == pytest.approx(expected.item(), rel=1e-7)


def test_gradient_penalty_trains_the_critic_correctly():
    # d GP / d theta through the double backward, against finite differences of GP itself
    D = tiny_critic()
    gen = torch.Generator().manual_seed(1)
    real, fake = (torch.rand(4, 1, 4, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    alpha = torch.rand(4, 1, 1, 1, generator=gen, dtype=torch.float64)
    gradient_penalty(D, real, fake, alpha).backward()
    weight = D.model[2].weight
    for index in [(0, 0), (2, 3), (4, 5)]:
        original = weight.data[index].item()
        weight.data[index] = original + 1e-6
        up = gradient_penalty(D, real, fake, alpha).item()
        weight.data[index] = original - 1e-6
        down = gradient_penalty(D, real, fake, alpha).item()
        weight.data[index] = original
        assert weight.grad[index].item() == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-9)


def test_gradient_penalty_is_zero_for_a_unit_lipschitz_linear_critic():
    w = torch.randn(16, dtype=torch.float64)
    w /= w.norm()
    D = lambda x: (x.reshape(x.shape[0], -1) @ w)[:, None]  # noqa: E731
    real, fake = torch.randn(3, 1, 4, 4, dtype=torch.float64), torch.randn(3, 1, 4, 4, dtype=torch.float64)
    alpha = torch.rand(3, 1, 1, 1, dtype=torch.float64)
    assert gradient_penalty(D, real, fake, alpha).item() == pytest.approx(0, abs=1e-12)


def test_wgangp_schedules():
    G, D = build_generator("mlp", 8), build_discriminator("wgangp", "mlp", 8)
    per_epoch = build_loss("wgangp", G, D)
    overall = build_loss("wgangp", G, D, g_schedule="global")
    # 2618 images / batch 64 = 41 batches per epoch; the original updates G at i = 0, 5, ..., 40
    epoch_g = sum("G" in per_epoch.phases(it, (it - 1) % 41) for it in range(1, 41 * 10 + 1))
    global_g = sum("G" in overall.phases(it, (it - 1) % 41) for it in range(1, 41 * 10 + 1))
    assert epoch_g == 90 and global_g == 82
    assert per_epoch.phases(1, 0) == ("D", "G") and per_epoch.phases(2, 1) == ("D",)
    assert build_loss("vanilla", G, build_discriminator("vanilla", "mlp", 8)).phases(1, 0) == ("G", "D")


def test_unknown_loss_option_is_named():
    G, D = build_generator("mlp", 8), build_discriminator("wgangp", "mlp", 8)
    with pytest.raises(ValueError, match="clip_value"):
        build_loss("wgangp", G, D, clip_value=0.01)


@pytest.mark.parametrize("family", ["vanilla", "wgangp"])
def test_identical_to_reference_pytorch_gan_loop(family):
    """With the reference's (unfused) Adam, deeppc's step is the original loop bit for bit."""
    bench = load_benchmark()
    ours, ref = bench.make_pair(family, 16, 8, 40, torch.device("cpu"), fused_adam=False)
    noise = torch.Generator().manual_seed(ours.settings.seeds()["noise"])
    for iteration in range(1, 13):  # 40 images / 8 = 5 batches per epoch: crosses epoch boundaries
        ours.step()
        bench.ref_step(ours, ref, noise, iteration)
    for a, b in ((ours.G, ref.G), (ours.D, ref.D)):
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # with fused Adam (the default) only rounding differs
    assert bench.check(family, iterations=12)["max_abs_diff"] < 1e-3


@pytest.mark.parametrize("op", ["brightness", "contrast", "translation", "cutout"])
def test_augmentations_are_differentiable_and_shape_preserving(op):
    x = torch.rand(4, 1, 16, 16, requires_grad=True)
    y = DiffAugment([op])(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.equal(y, x)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_augmentation_reaches_everything_d_sees_and_nothing_g_outputs():
    torch.manual_seed(0)
    G, D = build_generator("mlp", 16), build_discriminator("vanilla", "mlp", 16)
    seen: list[torch.Tensor] = []
    D.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    loss = build_loss("vanilla", G, D)
    real = torch.full((8, 1, 16, 16), 0.5)
    ctx = PhaseContext(real, torch.Generator().manual_seed(0), DiffAugment(["cutout"]))
    for phase in loss.phases(1, 0):
        loss.run(phase, ctx)
    assert len(seen) == 3  # fakes in the G phase, real and fakes in the D phase
    for x in seen:  # every image D saw has a black (-1) cutout square of about a quarter of its area
        black = (x == -1).float().mean(dim=(1, 2, 3))
        assert torch.all(black >= 0.1)
    assert (ctx.scratch["fake"] == -1).float().mean() < 0.01  # G's own output is untouched
