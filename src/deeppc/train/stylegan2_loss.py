"""StyleGAN2's loss (family ``stylegan2``): non-saturating logistic loss, lazy R1, lazy path length, ADA.

Phases per iteration, in the original's order (iterations counted from 1,
so the regularisers run on iterations 1, 1 + interval, ...):

  Gmain  softplus(-D(A(G(z)))), with style mixing                  every iteration
  Greg   path-length penalty on G, times ``pl_interval``            every ``pl_interval``  (if pl_weight > 0)
  Dmain  softplus(D(A(G(z)))) + softplus(-D(A(x)))                  every iteration
  Dreg   R1: gamma / 2 * ||grad_x D(A(x))||^2, times ``r1_interval`` every ``r1_interval`` (if r1_gamma > 0)

A class-conditional run (``classes``) gives G and D the one-hot class:
the real batch's own for D(x), classes drawn from the training set's class
frequencies for G(z) (``PhaseContext.fake_c``), the same in D(G(z)).

A is the ADA pipeline (``deeppc.train.ada``; identity when ``ada: none``),
then the run's DiffAugment policy if one is configured. Lazy
regularisation runs a regulariser every k-th iteration with its loss scaled
by k; to keep Adam's effective step, the optimizer of a regularised network
gets lr * c and betas ** c with c = k / (k + 1) (``optimizer_settings``).

Path length: for y ~ N(0, I) / sqrt(H W), the length ||J_w^T y|| (averaged
over the ws of a sample) is pulled towards its running mean (decay
``pl_decay``), on ``1 / pl_batch_shrink`` of the batch. Style mixing: with
probability ``style_mixing`` the ws from a second latent replace those from
a random layer on.

Random numbers: latents, style-mixing draws, ADA parameters and a seed per
generator call come from the run's CPU stream; the per-pixel noise maps and
the path-length directions are drawn on the device from a generator seeded
with that seed. The path-length mean and the ADA state are this object's
``state_dict``.

Losses are float32; the networks choose their own precision per
resolution (``half_res``), so the run's ``amp`` autocast is not used here.
Gradients are cleaned of NaN/inf before each optimizer step, as the
original does for its float16 layers.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from deeppc.train.ada import MODES, OPS, AdaController, AugmentPipe
from deeppc.train.losses import GANLoss, PhaseContext, register_loss

log = logging.getLogger(__name__)


def r1_penalty(D: nn.Module, real: torch.Tensor, augment: Any = None,
               c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample ||grad_x D(augment(x))||^2 at the reals x (of classes c, if conditional; graph kept), and D's logits."""
    real = real.detach().requires_grad_(True)
    logits = D(augment(real) if augment is not None else real, c).float()
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return grad.square().sum(dim=[1, 2, 3]), logits


@register_loss
class StyleGAN2Loss(GANLoss):
    family = "stylegan2"
    columns = ("d_loss", "g_loss", "r1", "pl", "ada_p", "ada_rt", "d_real", "d_fake")

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        r1_gamma: float = 10.0,
        r1_interval: int = 16,
        pl_weight: float = 2.0,
        pl_interval: int = 4,
        pl_decay: float = 0.01,
        pl_batch_shrink: int = 2,
        style_mixing: float = 0.9,
        ada: str = "none",
        ada_p: float = 0.0,
        ada_target: float = 0.6,
        ada_interval: int = 4,
        ada_kimg: float = 500.0,
        ada_ops: Sequence[str] = OPS,
    ) -> None:
        super().__init__(G, D)
        if not hasattr(G, "mapping") or not hasattr(G, "synthesis"):
            raise ValueError("the stylegan2 loss needs a StyleGAN2 generator (arch: stylegan2)")
        self.check_options(dict(r1_gamma=r1_gamma, r1_interval=r1_interval, pl_weight=pl_weight,
                                pl_interval=pl_interval, pl_decay=pl_decay, pl_batch_shrink=pl_batch_shrink,
                                style_mixing=style_mixing, ada=ada, ada_p=ada_p, ada_target=ada_target,
                                ada_interval=ada_interval, ada_kimg=ada_kimg, ada_ops=ada_ops))
        self.r1_gamma, self.r1_interval = float(r1_gamma), int(r1_interval)
        self.pl_weight, self.pl_interval = float(pl_weight), int(pl_interval)
        self.pl_decay, self.pl_batch_shrink = float(pl_decay), int(pl_batch_shrink)
        self.style_mixing = float(style_mixing)
        device = next(G.parameters()).device
        self.pl_mean = torch.zeros([], device=device)
        self.pipe = None if ada == "none" else AugmentPipe(ada_ops, ada_p, device)
        self.controller = AdaController(self.pipe, ada_target, ada_interval, ada_kimg) if ada == "adaptive" else None
        self._synthesis: nn.Module = G.synthesis  # compiled variants (``compile``) serve the main phases
        self._D: nn.Module = D
        self._warned_amp = False

    @staticmethod
    def check_options(options: Mapping[str, Any]) -> None:
        """Raise ValueError naming the first option out of range."""
        def count(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 1

        def unit(v: Any) -> bool:
            return 0 <= v <= 1

        rules: dict[str, tuple[Callable[[Any], bool], str]] = {
            "r1_gamma": (lambda v: v >= 0, ">= 0"), "pl_weight": (lambda v: v >= 0, ">= 0"),
            "r1_interval": (count, "an integer >= 1"), "pl_interval": (count, "an integer >= 1"),
            "pl_batch_shrink": (count, "an integer >= 1"), "pl_decay": (lambda v: 0 < v <= 1, "in (0, 1]"),
            "style_mixing": (unit, "in [0, 1]"), "ada": (lambda v: v in MODES, f"one of {', '.join(MODES)}"),
            "ada_p": (unit, "in [0, 1]"), "ada_target": (unit, "in [0, 1]"),
            "ada_interval": (count, "an integer >= 1"), "ada_kimg": (lambda v: v > 0, "> 0"),
            "ada_ops": (lambda v: not isinstance(v, str) and set(v) <= set(OPS), f"a list from {', '.join(OPS)}"),
        }
        for name, (valid, rule) in rules.items():
            try:
                ok = bool(valid(options[name]))
            except (TypeError, ValueError):  # e.g. a string where a number belongs
                ok = False
            if not ok:
                raise ValueError(f"loss option {name} must be {rule}, not {options[name]!r}")

    # -- schedule and optimizer ------------------------------------------------

    def phases(self, iteration: int, position: int) -> tuple[str, ...]:
        phases = ["Gmain"]
        if self.pl_weight > 0 and (iteration - 1) % self.pl_interval == 0:
            phases.append("Greg")
        phases.append("Dmain")
        if self.r1_gamma > 0 and (iteration - 1) % self.r1_interval == 0:
            phases.append("Dreg")
        return tuple(phases)

    def optimizer_settings(self, net: str, lr: float, betas: tuple[float, float]) -> tuple[float, tuple[float, float]]:
        interval = {"G": self.pl_interval if self.pl_weight > 0 else None,
                    "D": self.r1_interval if self.r1_gamma > 0 else None}[net]
        if interval is None:
            return lr, betas
        c = interval / (interval + 1)
        return lr * c, (betas[0] ** c, betas[1] ** c)

    def compile(self) -> None:
        # only the main phases: compiled graphs do not support the double backward of the regularisers
        self._synthesis = torch.compile(self.G.synthesis)
        self._D = torch.compile(self.D)

    # -- phases ------------------------------------------------------------------

    def run(self, phase: str, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        if ctx.autocast is not contextlib.nullcontext and not self._warned_amp:
            log.warning("amp is ignored by the stylegan2 family: its networks set precision per resolution")
            self._warned_amp = True
        logged = {"Gmain": self._g_main, "Greg": self._g_reg, "Dmain": self._d_main, "Dreg": self._d_reg}[phase](ctx)
        _clean_gradients(self.G if phase[0] == "G" else self.D)
        return logged

    def _g_main(self, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        c = ctx.fake_c(ctx.batch_size)
        img, _ = self.run_G(ctx.randn(ctx.batch_size, self.G.latent_dim), ctx, fast=True, c=c)
        g_loss = F.softplus(-self.run_D(img, ctx, fast=True, c=c)).mean()
        g_loss.backward()
        return {"g_loss": g_loss.detach()}

    def _g_reg(self, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        n = max(ctx.batch_size // self.pl_batch_shrink, 1)
        img, ws = self.run_G(ctx.randn(n, self.G.latent_dim), ctx, c=ctx.fake_c(n))
        gen = self._device_generator(ctx)
        directions = ctx.shard.draw(lambda s: torch.randn(s, generator=gen, device=img.device), *img.shape)
        directions = directions / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img * directions).sum(), ws, create_graph=True)
        lengths = grad.square().sum(2).mean(1).sqrt()
        pl_mean = self.pl_mean.lerp(_batch_mean(lengths, ctx), self.pl_decay)
        self.pl_mean.copy_(pl_mean.detach())
        penalty = (lengths - pl_mean).square()
        (penalty.mean() * (self.pl_weight * self.pl_interval)).backward()
        return {"pl": penalty.detach().mean()}

    def _d_main(self, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        c = ctx.fake_c(ctx.batch_size)
        with torch.no_grad():
            fake, _ = self.run_G(ctx.randn(ctx.batch_size, self.G.latent_dim), ctx, fast=True, c=c)
        fake_logits = self.run_D(fake, ctx, fast=True, c=c)
        real_logits = self.run_D(ctx.real, ctx, fast=True, c=ctx.real_c)
        d_loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        d_loss.backward()
        if self.controller is not None:
            self.controller.observe(real_logits, ctx.shard)
        return {"d_loss": d_loss.detach(), "d_real": real_logits.detach().mean(),
                "d_fake": fake_logits.detach().mean()}

    def _d_reg(self, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        penalty, _ = r1_penalty(self.D, ctx.real, lambda x: self.augment(x, ctx), ctx.real_c)
        (penalty.mean() * (self.r1_gamma / 2 * self.r1_interval)).backward()
        return {"r1": penalty.detach().mean()}

    # -- networks --------------------------------------------------------------

    def run_G(self, z: torch.Tensor, ctx: PhaseContext, fast: bool = False,
              c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and their ws for latents z (and classes c): w-average update, style mixing, random noise."""
        mapping = self.G.mapping
        ws = mapping(z, c=c)
        mapping.track_w_avg(ctx.shard.all_mean(ws[:, 0].detach().mean(dim=0)))  # over the global batch
        if self.style_mixing > 0:
            coin, where = torch.rand(2, generator=ctx.noise).tolist()
            z_mix = ctx.randn(*z.shape)
            if coin < self.style_mixing:
                cutoff = 1 + min(int(where * (ws.shape[1] - 1)), ws.shape[1] - 2)
                ws = torch.cat([ws[:, :cutoff], mapping(z_mix, c=c)[:, cutoff:]], dim=1)
        noise = self.G.synthesis.draw_noise(z.shape[0] * ctx.shard.world, self._device_generator(ctx), z.device)
        noise = [ctx.shard.take(n) for n in noise]
        synthesis = self._synthesis if fast else self.G.synthesis
        return synthesis(ws, noise), ws

    def augment(self, x: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
        """What D sees of x: the ADA pipeline, then the run's DiffAugment policy (if any)."""
        if self.pipe is not None:
            x = self.pipe(x, ctx.noise, ctx.shard)
        return ctx.augmented(x)

    def run_D(self, x: torch.Tensor, ctx: PhaseContext, fast: bool = False, c: torch.Tensor | None = None) -> torch.Tensor:
        return (self._D if fast else self.D)(self.augment(x, ctx), c).float()

    @staticmethod
    def _device_generator(ctx: PhaseContext) -> torch.Generator:
        seed = int(torch.randint(0, 2**62, (1,), generator=ctx.noise))
        return torch.Generator(device=ctx.real.device).manual_seed(seed)

    # -- per-iteration bookkeeping and state --------------------------------------

    def end_iteration(self, iteration: int, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        batch = ctx.batch_size * ctx.shard.world
        logged = self.controller.end_iteration(iteration, batch) if self.controller is not None else {}
        if self.pipe is not None:
            logged["ada_p"] = self.pipe.p.detach().clone()
        return logged

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"pl_mean": self.pl_mean.detach().cpu().clone()}
        if self.controller is not None:
            state["ada"] = self.controller.state_dict()
        elif self.pipe is not None:
            state["ada"] = {"p": self.pipe.p.detach().cpu().clone()}
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.pl_mean.copy_(state["pl_mean"])
        if self.controller is not None:
            self.controller.load_state_dict(state["ada"])
        elif self.pipe is not None:
            self.pipe.p.copy_(state["ada"]["p"])


def _batch_mean(x: torch.Tensor, ctx: PhaseContext) -> torch.Tensor:
    """Mean over the global batch, differentiable: every rank's gradient through it reaches the others' samples."""
    if not ctx.shard.active:
        return x.mean()
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(x.sum()) / (x.shape[0] * ctx.shard.world)


def _clean_gradients(net: nn.Module) -> None:
    for param in net.parameters():
        if param.grad is not None:
            torch.nan_to_num(param.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=param.grad)

