"""StyleGAN2 loss: R1 against finite differences, lazy schedules, optimizer rescaling, path length, EMA, settings."""

from __future__ import annotations

import pytest
import torch

from deeppc.config import ConfigError
from deeppc.models.stylegan2 import StyleGAN2Discriminator
from deeppc.train import PhaseContext, Trainer, build_loss
from deeppc.train.ada import AugmentPipe
from deeppc.train.ema import ema_beta, update_ema
from deeppc.train.stylegan2_loss import r1_penalty

from .conftest import blob_images, tiny


def tiny_d() -> StyleGAN2Discriminator:
    torch.manual_seed(4)
    return StyleGAN2Discriminator(8, channel_base=64, channel_max=8, mbstd_group=2).double()


def fd_sum_gradient(f, x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Central differences of f(x).sum() for every pixel (minibatch std couples the samples)."""
    grad = torch.zeros_like(x)
    flat = grad.view(-1)
    for j in range(x.numel()):
        step = torch.zeros_like(x).view(-1)
        step[j] = h
        flat[j] = (f(x + step.view_as(x)).sum() - f(x - step.view_as(x)).sum()) / (2 * h)
    return grad


@pytest.mark.parametrize("augmented", [False, True])
def test_r1_penalty_matches_finite_differences(augmented):
    D = tiny_d()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64) * 2 - 1
    augment = None
    if augmented:  # through ADA (fixed draws), as the Dreg phase computes it
        pipe = AugmentPipe(p=0.7)
        augment = lambda t: pipe(t, torch.Generator().manual_seed(5))  # noqa: E731
    penalty, _ = r1_penalty(D, x, augment)
    with torch.no_grad():
        grad = fd_sum_gradient(lambda t: D(augment(t) if augment else t), x)
    assert torch.allclose(penalty, grad.square().sum(dim=[1, 2, 3]), rtol=1e-6)


def test_r1_gradient_trains_d_correctly():
    # d(mean R1)/d(theta) through the double backward, against finite differences of R1 itself
    D = tiny_d()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64) * 2 - 1
    r1_penalty(D, x)[0].mean().backward()
    weight = D.b8.conv0.weight
    for index in [(0, 0, 0, 0), (3, 2, 1, 1), (7, 5, 2, 0)]:
        original = weight.data[index].item()
        values = []
        for delta in (1e-6, -1e-6):
            weight.data[index] = original + delta
            values.append(r1_penalty(D, x)[0].mean().item())
        weight.data[index] = original
        assert weight.grad[index].item() == pytest.approx((values[0] - values[1]) / 2e-6, rel=1e-5, abs=1e-9)


def trainer(**overrides) -> Trainer:
    return Trainer(tiny(**overrides), blob_images(16), torch.device("cpu"))


def test_lazy_schedules_and_optimizer_rescaling():
    t = trainer(loss={"r1_gamma": 0.1, "r1_interval": 16, "pl_interval": 4})
    phases = {it: t.loss.phases(it, 0) for it in range(1, 18)}
    assert phases[1] == ("Gmain", "Greg", "Dmain", "Dreg")
    assert phases[2] == ("Gmain", "Dmain") and phases[5] == ("Gmain", "Greg", "Dmain")
    assert phases[17] == ("Gmain", "Greg", "Dmain", "Dreg")
    # lazy regularisation keeps Adam's effective step: lr * c, betas ** c, c = k / (k + 1)
    g, d = t.opt_G.param_groups[0], t.opt_D.param_groups[0]
    assert g["lr"] == pytest.approx(0.0025 * 4 / 5) and g["betas"][1] == pytest.approx(0.99 ** (4 / 5))
    assert d["lr"] == pytest.approx(0.0025 * 16 / 17) and d["betas"][1] == pytest.approx(0.99 ** (16 / 17))
    plain = trainer(loss={"r1_gamma": 0.0, "pl_weight": 0.0})
    assert plain.loss.phases(1, 0) == ("Gmain", "Dmain") and plain.opt_D.param_groups[0]["lr"] == 0.0025


def test_path_length_mean_style_mixing_and_loss_state():
    t = trainer(loss={"style_mixing": 1.0, "pl_decay": 0.01})
    ctx = PhaseContext(t.real_batch(1), torch.Generator().manual_seed(0))
    z = torch.randn(4, 32)
    ws_plain = t.G.mapping(z)
    _, ws = t.loss.run_G(z, ctx)
    same = (ws == ws_plain).all(dim=2).all(dim=0)
    cutoff = int(same.sum())  # the first layers keep z's w, the rest come from a second latent
    assert 1 <= cutoff < t.G.num_ws and same[:cutoff].all() and not same[cutoff:].any()
    logged = t.loss.run("Greg", ctx)
    assert t.loss.pl_mean.item() > 0 and logged["pl"].item() >= 0  # mean length moved 1% of the way
    state = t.loss.state_dict()
    other = trainer(loss={"style_mixing": 1.0})
    other.loss.load_state_dict(state)
    assert other.loss.pl_mean.item() == t.loss.pl_mean.item()


def test_ema_beta_and_update():
    assert ema_beta(16, 0, 5.0, 0.05) == 0.0  # ramp-up: at the start the average is G itself
    assert ema_beta(16, 10**6, 5.0, 0.05) == pytest.approx(0.5 ** (16 / 5000))
    assert ema_beta(16, 1000, 5.0, 0.05) == pytest.approx(0.5 ** (16 / 50))
    t = trainer(ema_kimg=1.0, ema_rampup=None)
    before = [p.clone() for p in t.G_ema.parameters()]
    t.step()
    beta = ema_beta(4, 0, 1.0, None)
    for old, new, live in zip(before, t.G_ema.parameters(), t.G.parameters()):
        assert torch.allclose(new, beta * old + (1 - beta) * live, atol=1e-6)
    assert torch.equal(t.G_ema.mapping.w_avg, t.G.mapping.w_avg)  # buffers copied
    assert t.exported_generator() is t.G_ema and not t.G_ema.training
    update_ema(t.G_ema, t.G, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(t.G_ema.parameters(), t.G.parameters()))


def test_steps_log_the_family_columns_and_images_seen():
    t = trainer(loss={"r1_gamma": 0.1, "ada": "adaptive", "ada_interval": 2}, drop_last=False, batch_size=6)
    rows = [t.step() for _ in range(4)]
    assert set(rows[0]) == {"g_loss", "pl", "d_loss", "d_real", "d_fake", "r1", "ada_p"}
    assert "ada_rt" in rows[1] and "r1" not in rows[1]
    assert all(torch.isfinite(v).all() for row in rows for v in row.values())
    # 16 images, batch 6: 6 + 6 + 4 per epoch
    assert [t.images_seen(k) for k in (0, 1, 2, 3, 4, 6)] == [0, 6, 12, 16, 22, 32]
    assert set(t.loss.columns) >= {"d_loss", "g_loss", "r1", "pl", "ada_p"}


def test_channels_last_gives_the_same_training_step():
    a, b = trainer(), trainer(channels_last=True)
    la, lb = a.step(), b.step()
    assert b.D.b32.conv0.weight.is_contiguous(memory_format=torch.channels_last)
    assert all(torch.allclose(la[k], lb[k], atol=1e-4) for k in la)


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="ada"):
        tiny(loss={"ada": "sometimes"})
    with pytest.raises(ConfigError, match="r1_interval"):
        tiny(loss={"r1_interval": 0})
    with pytest.raises(ConfigError, match="arch"):
        tiny(arch="dcgan")
    with pytest.raises(ConfigError, match="compile"):
        tiny(family="vanilla", compile=True, discriminator={}, loss={})
    with pytest.raises(ConfigError, match="ema_kimg"):
        tiny(ema_kimg=-1)
    with pytest.raises(ValueError, match="StyleGAN2 generator"):
        from deeppc.models import build_discriminator, build_generator

        build_loss("stylegan2", build_generator("mlp", 16), build_discriminator("stylegan2", "mlp", 16))


def test_compile_traces_the_main_phases_and_matches_eager(monkeypatch):
    # the eager backend exercises graph capture of our modules without a compiler toolchain
    import functools

    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    compiled, plain = trainer(compile=True), trainer()
    assert compiled.loss._D is not compiled.D and plain.loss._D is plain.D
    for _ in range(2):  # iteration 1 runs both regularisers, which stay eager (double backward)
        a, b = compiled.step(), plain.step()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(p, q) for p, q in zip(compiled.G.parameters(), plain.G.parameters()))


def test_fixed_p_mode_keeps_p_and_saves_it():
    t = trainer(loss={"r1_gamma": 0.1, "ada": "fixed", "ada_p": 0.3})
    rows = [t.step() for _ in range(3)]
    assert [round(r["ada_p"].item(), 6) for r in rows] == [0.3] * 3 and "ada_rt" not in rows[-1]
    assert t.loss.state_dict()["ada"]["p"].item() == pytest.approx(0.3)
