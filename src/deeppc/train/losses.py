"""GAN losses as objects with explicit phases (after NVlabs stylegan2-ada's training/loss.py).

A loss object holds the two networks and, per iteration, names the phases to
run (``phases``); the training loop runs each phase as zero_grad ->
``run(phase)`` (forward + backward) -> optimizer step, with the optimizer of
the network the phase name starts with ("G..." or "D..."). ``run`` returns the
scalars to log. Anything a later phase of the same iteration needs (e.g. the
fakes of the G phase) goes through ``ctx.scratch``; state that must survive
an iteration (StyleGAN2's path-length mean, say) belongs in ``state_dict``.

Hooks with neutral defaults: ``optimizer_settings`` (Adam lr/betas per
network, rescaled by lazy regularisation), ``end_iteration`` (after all
phases and optimizer steps: per-iteration bookkeeping such as ADA's p,
returning more scalars to log), ``check_options`` (option ranges, checked
with the config) and ``compile``.

A family registers its loss class under its name with ``register_loss``; its
``columns`` are the losses.csv columns after ``iteration`` (``d_loss`` and
``g_loss`` first, then the family's extras).

Numerics match the study's scripts: sigmoid + BCELoss for the Vanilla GAN
(BCELoss clamps log at -100, so a saturated D gives large but finite losses),
mean critic scores and a per-sample gradient penalty for WGAN-GP. Losses are
computed in float32 outside autocast.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Callable, ClassVar, ContextManager, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from deeppc.train.augment import DiffAugment
from deeppc.train.device import to_device
from deeppc.train.distributed import SINGLE, Shard


class PhaseContext:
    """Per-iteration inputs of the loss phases: the real batch and the run's random stream.

    A class-conditional run also gives the real batch's one-hot classes
    (``real_c``) and every training image's (``c_pool``), from which the
    classes of generated images are drawn (``fake_c``: the training set's
    class frequencies, as the original draws its generator labels).
    """

    def __init__(
        self,
        real: torch.Tensor,
        noise: torch.Generator,
        augment: DiffAugment | None = None,
        autocast: Callable[[], ContextManager] = contextlib.nullcontext,
        real_c: torch.Tensor | None = None,
        c_pool: torch.Tensor | None = None,
        shard: Shard = SINGLE,
    ) -> None:
        self.real = real
        self.noise = noise
        self.augment = augment
        self.autocast = autocast
        self.real_c = real_c
        self.c_pool = c_pool
        self.shard = shard  # with several processes: this rank's rows of every per-sample draw
        self.scratch: dict[str, Any] = {}

    def fake_c(self, n: int) -> torch.Tensor | None:
        """One-hot classes for `n` generated images (None for an unconditional run; draws nothing then)."""
        if self.c_pool is None:
            return None
        index = self.shard.draw(lambda shape: torch.randint(len(self.c_pool), shape, generator=self.noise), n)
        return self.c_pool.index_select(0, to_device(index, self.c_pool.device))

    @property
    def batch_size(self) -> int:
        return self.real.shape[0]

    def randn(self, *shape: int) -> torch.Tensor:
        # drawn on the CPU so that every device sees the same numbers
        # per-sample numbers: drawn for the global batch, this rank's rows kept (distributed.Shard)
        return to_device(self.shard.draw(lambda s: torch.randn(s, generator=self.noise), *shape), self.real.device)

    def rand(self, *shape: int) -> torch.Tensor:
        return to_device(self.shard.draw(lambda s: torch.rand(s, generator=self.noise), *shape), self.real.device)

    def augmented(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment(x, self.noise, self.shard) if self.augment else x


class GANLoss:
    """Base class: subclasses set ``family`` and ``columns`` and implement ``phases`` and ``run``."""

    family: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]

    def __init__(self, G: nn.Module, D: nn.Module) -> None:
        self.G = G
        self.D = D

    def phases(self, iteration: int, position: int) -> tuple[str, ...]:
        """Phases of 1-based `iteration`, which is batch `position` (0-based) of its epoch."""
        raise NotImplementedError

    def run(self, phase: str, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        """Forward and backward of one phase; returns detached scalars to log."""
        raise NotImplementedError

    @staticmethod
    def check_options(options: Mapping[str, Any]) -> None:
        """Raise ValueError for option values out of range (names are checked by ``loss_kwargs``)."""

    def optimizer_settings(self, net: str, lr: float, betas: tuple[float, float]) -> tuple[float, tuple[float, float]]:
        """Adam (lr, betas) for network "G" or "D"; lazy regularisation rescales them."""
        return lr, betas

    def end_iteration(self, iteration: int, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        """Called after all phases of an iteration (and its optimizer steps); returns scalars to log."""
        return {}

    def compile(self) -> None:
        """Switch the phases that allow it to torch.compile'd networks (``compile: true``)."""
        raise ValueError(f"the {self.family} family does not support compile: true")

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(state)}")

    def generate(self, z: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        with ctx.autocast():
            return self.G(z)

    def discriminate(self, x: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        """D's output on augmented `x`, as float32."""
        with ctx.autocast():
            return self.D(ctx.augmented(x)).float()


class VanillaLoss(GANLoss):
    """Goodfellow et al.'s GAN with the non-saturating generator loss, as in PyTorch-GAN gan.py.

    Each iteration runs G then D, like the original: G's update uses fresh z,
    and D's update (``reuse_fakes=True``) judges the fakes that G produced
    *before* its update, detached. ``reuse_fakes=False`` draws new z and
    regenerates with the updated G instead. d_loss = (BCE(D(x), 1) + BCE(D(G(z)), 0)) / 2,
    g_loss = BCE(D(G(z)), 1).
    """

    family = "vanilla"
    columns = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, G: nn.Module, D: nn.Module, reuse_fakes: bool = True) -> None:
        super().__init__(G, D)
        self.reuse_fakes = reuse_fakes

    def phases(self, iteration: int, position: int) -> tuple[str, ...]:
        return ("G", "D")

    def run(self, phase: str, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        return self._run_g(ctx) if phase == "G" else self._run_d(ctx)

    def _run_g(self, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        fake = self.generate(ctx.randn(ctx.batch_size, self.G.latent_dim), ctx)
        p_fake = self.discriminate(fake, ctx)
        g_loss = F.binary_cross_entropy(p_fake, torch.ones_like(p_fake))
        g_loss.backward()
        ctx.scratch["fake"] = fake.detach()
        return {"g_loss": g_loss.detach()}

    def _run_d(self, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        fake = ctx.scratch.get("fake") if self.reuse_fakes else None
        if fake is None:
            with torch.no_grad():
                fake = self.generate(ctx.randn(ctx.batch_size, self.G.latent_dim), ctx)
        p_real = self.discriminate(ctx.real, ctx)
        p_fake = self.discriminate(fake, ctx)
        real_loss = F.binary_cross_entropy(p_real, torch.ones_like(p_real))
        fake_loss = F.binary_cross_entropy(p_fake, torch.zeros_like(p_fake))
        d_loss = (real_loss + fake_loss) / 2
        d_loss.backward()
        return {"d_loss": d_loss.detach(), "d_real": p_real.detach().mean(), "d_fake": p_fake.detach().mean()}


def gradient_penalty(
    D: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor
) -> torch.Tensor:
    """mean_i (||grad_x D(x_i)||_2 - 1)^2 at x_i = alpha_i real_i + (1 - alpha_i) fake_i.

    `alpha` has shape (N, 1, 1, 1): one mixing weight per sample (Gulrajani et
    al. 2017). The graph is kept (create_graph) so the penalty trains D.
    """
    x = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


class WGANGPLoss(GANLoss):
    """WGAN-GP as in PyTorch-GAN wgan_gp.py.

    Every iteration updates the critic with
    d_loss = -mean D(x) + mean D(G(z)) + lambda_gp * GP, alpha per sample.
    The generator (g_loss = -mean D(G(z))) is updated right after the critic
    on iterations whose batch position is a multiple of n_critic. Two
    schedules: ``g_schedule="epoch"`` counts positions within the epoch as the
    original (``i % n_critic == 0`` with the batch index i restarting every
    epoch: 9 G updates per 41-batch epoch, the first after the epoch's first
    critic step); ``"global"`` counts iterations over the whole run (exactly one
    G update per n_critic iterations). ``reuse_z=True`` (original) feeds the G
    update the z of the critic step just taken.

    The study's Table 2 lists "clip value 0.01": the original script defines
    --clip_value but never uses it (weight clipping belongs to the WGAN
    script, not WGAN-GP), so it has no counterpart here.
    """

    family = "wgangp"
    columns = ("d_loss", "g_loss", "wasserstein", "gp")

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        n_critic: int = 5,
        lambda_gp: float = 10.0,
        reuse_z: bool = True,
        g_schedule: str = "epoch",
    ) -> None:
        super().__init__(G, D)
        if n_critic < 1:
            raise ValueError("n_critic must be >= 1")
        if g_schedule not in ("epoch", "global"):
            raise ValueError("g_schedule must be 'epoch' or 'global'")
        self.n_critic = n_critic
        self.lambda_gp = lambda_gp
        self.reuse_z = reuse_z
        self.g_schedule = g_schedule

    def phases(self, iteration: int, position: int) -> tuple[str, ...]:
        count = position if self.g_schedule == "epoch" else iteration - 1
        return ("D", "G") if count % self.n_critic == 0 else ("D",)

    def run(self, phase: str, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        return self._run_g(ctx) if phase == "G" else self._run_d(ctx)

    def _run_d(self, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        z = ctx.randn(ctx.batch_size, self.G.latent_dim)
        ctx.scratch["z"] = z
        with torch.no_grad():  # the critic step never needs G's gradients
            fake = self.generate(z, ctx)
        real = ctx.augmented(ctx.real)
        fake = ctx.augmented(fake)
        with ctx.autocast():
            real_score = self.D(real).float()
            fake_score = self.D(fake).float()
        alpha = ctx.rand(ctx.batch_size, 1, 1, 1)
        with ctx.autocast():
            gp = gradient_penalty(lambda x: self.D(x).float(), real, fake, alpha.to(real.dtype))
        wasserstein = real_score.mean() - fake_score.mean()
        d_loss = -wasserstein + self.lambda_gp * gp
        d_loss.backward()
        return {"d_loss": d_loss.detach(), "wasserstein": wasserstein.detach(), "gp": gp.detach()}

    def _run_g(self, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        z = ctx.scratch["z"] if self.reuse_z else ctx.randn(ctx.batch_size, self.G.latent_dim)
        g_loss = -self.discriminate(self.generate(z, ctx), ctx).mean()
        g_loss.backward()
        return {"g_loss": g_loss.detach()}


_LOSSES: dict[str, type[GANLoss]] = {}


def register_loss(cls: type[GANLoss]) -> type[GANLoss]:
    """Make `cls` the loss of GAN family ``cls.family`` (usable as a class decorator)."""
    _LOSSES[cls.family] = cls
    return cls


def loss_class(family: str) -> type[GANLoss]:
    try:
        return _LOSSES[family]
    except KeyError:
        raise ValueError(f"no loss registered for GAN family {family!r}; known: {', '.join(sorted(_LOSSES))}") from None


def loss_kwargs(family: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """`kwargs` checked against the family's loss options, defaults filled in."""
    params = dict(inspect.signature(loss_class(family).__init__).parameters)
    for fixed in ("self", "G", "D"):
        params.pop(fixed)
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ValueError(f"unknown loss option(s) {', '.join(unknown)} for {family}; allowed: {', '.join(params)}")
    resolved = {name: kwargs.get(name, p.default) for name, p in params.items()}
    loss_class(family).check_options(resolved)
    return resolved


def build_loss(family: str, G: nn.Module, D: nn.Module, **kwargs: Any) -> GANLoss:
    return loss_class(family)(G, D, **loss_kwargs(family, kwargs))


register_loss(VanillaLoss)
register_loss(WGANGPLoss)
