"""Iterations per second of deeppc's Vanilla GAN and WGAN-GP steps vs the study's original loop.

The original is PyTorch-GAN's gan.py / wgan_gp.py, which the study ran at
256 px, batch 64. The REFERENCE section below re-implements that loop
plainly (same networks, same update order, gradients flowing where the
original lets them flow, default Adam), so both sides do identical math;
``--check`` (always run first, at a small size) shows they agree. Data loading
is excluded on both sides: each step gets the same ready batch.

    python benchmarks/train_step.py --quick            # CPU or CUDA, a few steps
    python benchmarks/train_step.py --device cuda      # + TF32, AMP (bf16), channels-last, DCGAN rows

Where deeppc is faster, it is for three reasons, none changing the math: the
critic step draws its fakes without building G's graph (the original
backpropagates d_loss into G and then discards those gradients), the network
not being updated in a phase has its weight gradients switched off, and Adam
runs fused (one pass over memory; the default CPU Adam makes several passes
over the 67M-weight output layer).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deeppc.train import TrainSettings, Trainer
from deeppc.train import device as devices

# Table 1 / Table 2 row used for timing (vanilla2 and wgangp1); lr does not affect speed
PAPER = {
    "vanilla": {"lr": 2e-4, "betas": (0.5, 0.9)},
    "wgangp": {"lr": 1e-4, "betas": (0.5, 0.9)},
}


# ---------------------------------------------------------------------------
# REFERENCE: straightforward re-implementation of the PyTorch-GAN training
# loops used by the study (implementations/gan/gan.py and
# implementations/wgan_gp/wgan_gp.py): written for this benchmark, not deeppc.
# Random numbers come from a torch.Generator in the order deeppc draws them
# (the original used numpy's global RNG; only the source differs).
# ---------------------------------------------------------------------------


class RefGenerator(nn.Module):
    def __init__(self, image_size: int, latent_dim: int = 100) -> None:
        super().__init__()
        self.shape = (1, image_size, image_size)

        def block(n_in: int, n_out: int, normalize: bool = True) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Linear(n_in, n_out)]
            if normalize:
                layers.append(nn.BatchNorm1d(n_out, 0.8))  # 0.8 is eps, as in the original
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(
            *block(latent_dim, 128, normalize=False),
            *block(128, 256),
            *block(256, 512),
            *block(512, 1024),
            nn.Linear(1024, image_size * image_size),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z).view(z.size(0), *self.shape)


class RefDiscriminator(nn.Module):
    def __init__(self, image_size: int, sigmoid: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Linear(image_size * image_size, 512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 1),
        ]
        if sigmoid:
            layers.append(nn.Sigmoid())
        self.model = nn.Sequential(*layers)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.model(img.view(img.size(0), -1))


class RefVanilla:
    """gan.py: G update (fresh z), then D update on real and the detached fakes."""

    def __init__(self, G: nn.Module, D: nn.Module, lr: float, betas: tuple[float, float]) -> None:
        self.G, self.D = G, D
        self.opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
        self.opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
        self.bce = nn.BCELoss()

    def step(self, real: torch.Tensor, noise: torch.Generator, position: int) -> None:
        valid = torch.ones(real.size(0), 1, device=real.device)
        fake = torch.zeros(real.size(0), 1, device=real.device)
        self.opt_G.zero_grad()
        z = torch.randn(real.size(0), 100, generator=noise).to(real.device)
        gen_imgs = self.G(z)
        g_loss = self.bce(self.D(gen_imgs), valid)
        g_loss.backward()
        self.opt_G.step()
        self.opt_D.zero_grad()
        real_loss = self.bce(self.D(real), valid)
        fake_loss = self.bce(self.D(gen_imgs.detach()), fake)
        d_loss = (real_loss + fake_loss) / 2
        d_loss.backward()
        self.opt_D.step()


class RefWGANGP:
    """wgan_gp.py: critic update every batch; G update when the batch index i % n_critic == 0."""

    def __init__(self, G: nn.Module, D: nn.Module, lr: float, betas: tuple[float, float]) -> None:
        self.G, self.D = G, D
        self.opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
        self.opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
        self.lambda_gp, self.n_critic = 10, 5

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        alpha = torch.rand(real.size(0), 1, 1, 1, generator=noise).to(real.device)
        interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        d_interpolates = self.D(interpolates)
        ones = torch.ones(real.size(0), 1, device=real.device)
        gradients = torch.autograd.grad(
            outputs=d_interpolates, inputs=interpolates, grad_outputs=ones,
            create_graph=True, retain_graph=True, only_inputs=True,
        )[0]
        gradients = gradients.view(gradients.size(0), -1)
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean()

    def step(self, real: torch.Tensor, noise: torch.Generator, position: int) -> None:
        self.opt_D.zero_grad()
        z = torch.randn(real.size(0), 100, generator=noise).to(real.device)
        fake_imgs = self.G(z)
        real_validity = self.D(real)
        fake_validity = self.D(fake_imgs)
        gp = self.gradient_penalty(real.data, fake_imgs.data, noise)
        d_loss = -torch.mean(real_validity) + torch.mean(fake_validity) + self.lambda_gp * gp
        d_loss.backward()
        self.opt_D.step()
        self.opt_G.zero_grad()
        if position % self.n_critic == 0:
            fake_imgs = self.G(z)
            g_loss = -torch.mean(self.D(fake_imgs))
            g_loss.backward()
            self.opt_G.step()


REFERENCE = {"vanilla": RefVanilla, "wgangp": RefWGANGP}

# ---------------------------------------------------------------------------
# end of REFERENCE
# ---------------------------------------------------------------------------


def make_pair(family: str, image_size: int, batch_size: int, n_images: int, device: torch.device,
              seed: int = 0, **overrides) -> tuple[Trainer, object | None]:
    """deeppc's trainer and the reference loop (mlp only, else None), starting from identical weights."""
    images = np.random.default_rng(seed).integers(0, 256, (n_images, image_size, image_size), dtype=np.uint8)
    settings = TrainSettings(experiment="bench", family=family, image_size=image_size, batch_size=batch_size,
                             seed=seed, **{**PAPER[family], **overrides})
    ours = Trainer(settings, images, device)
    if settings.arch != "mlp":  # the reference is the study's fully-connected GAN only
        return ours, None
    G = RefGenerator(image_size).to(device)
    D = RefDiscriminator(image_size, sigmoid=family == "vanilla").to(device)
    G.load_state_dict(ours.G.state_dict())
    D.load_state_dict(ours.D.state_dict())
    ref = REFERENCE[family](G.train(), D.train(), settings.lr, tuple(settings.betas))
    return ours, ref


def ref_step(ours: Trainer, ref, noise: torch.Generator, iteration: int) -> None:
    _, position = ours.sampler.locate(iteration)
    ref.step(ours.real_batch(iteration), noise, position)


def _side_by_side(family: str, iterations: int, image_size: int, device: torch.device, fused: bool) -> dict:
    ours, ref = make_pair(family, image_size, 8, 40, device, fused_adam=fused)
    noise = torch.Generator().manual_seed(ours.settings.seeds()["noise"])
    for iteration in range(1, iterations + 1):
        ours.step()
        ref_step(ours, ref, noise, iteration)
    diffs = {}
    for name, a, b in (("G", ours.G, ref.G), ("D", ours.D, ref.D)):
        sa, sb = a.state_dict(), b.state_dict()
        diffs[name] = max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa)
    return diffs


def check(family: str, iterations: int = 12, image_size: int = 16, device: torch.device | None = None) -> dict:
    """Run both loops side by side from the same weights, batches and random numbers.

    Reports the largest absolute difference over all G and D tensors (weights
    and BatchNorm statistics) after `iterations` with deeppc's fused Adam, and
    whether the two are bit-identical when deeppc uses the reference's
    unfused Adam (expected on CPU).
    """
    device = device or torch.device("cpu")
    fused = _side_by_side(family, iterations, image_size, device, fused=True)
    unfused = _side_by_side(family, iterations, image_size, device, fused=False)
    return {"family": family, "iterations": iterations, "max_abs_diff": max(fused.values()), **fused,
            "identical_with_unfused_adam": max(unfused.values()) == 0.0}


def _timed(step, iterations: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return iterations / (time.perf_counter() - start)


def bench_family(family: str, args: argparse.Namespace, device: torch.device) -> list[dict]:
    rows = []
    variants = [("reference", {}), ("deeppc", {})]
    if device.type == "cuda":
        variants += [("deeppc tf32", {"tf32": True}), ("deeppc amp-bf16", {"amp": True}),
                     ("deeppc amp-bf16+tf32", {"amp": True, "tf32": True}),
                     ("deeppc dcgan", {"arch": "dcgan"}),
                     ("deeppc dcgan channels-last", {"arch": "dcgan", "channels_last": True}),
                     ("deeppc dcgan channels-last amp-bf16", {"arch": "dcgan", "channels_last": True, "amp": True})]
    for name, overrides in variants:
        devices.configure(device, deterministic=not args.nondeterministic, tf32=overrides.get("tf32", False))
        ours, ref = make_pair(family, args.image_size, args.batch_size, args.n_images, device,
                              deterministic=not args.nondeterministic, **overrides)
        # the 256-px DCGAN is tens of times slower per step: fewer steps keep the run short
        iters, warmup = args.iters, args.warmup
        if "dcgan" in name:
            iters, warmup = max(5, iters // 10), max(2, warmup // 10)
        if name == "reference":
            noise = torch.Generator().manual_seed(1)
            counter = iter(range(1, 10**9))
            rate = _timed(lambda: ref_step(ours, ref, noise, next(counter)), iters, warmup, device)
        else:
            rate = _timed(ours.step, iters, warmup, device)
        rows.append({"family": family, "variant": name, "it_per_s": rate})
        print(f"  {family:8s} {name:38s} {rate:8.3f} it/s", flush=True)
        del ours, ref
        if device.type == "cuda":
            torch.cuda.empty_cache()
    base = rows[0]["it_per_s"]
    for row in rows:  # the reference is the fully-connected GAN: no ratio for other architectures
        row["speedup_vs_reference"] = None if "dcgan" in row["variant"] else row["it_per_s"] / base
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few steps per variant (smoke run)")
    p.add_argument("--device", default="auto")
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--n-images", type=int, default=2618, help="size of the synthetic training set")
    p.add_argument("--iters", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--families", nargs="+", default=["vanilla", "wgangp"], choices=["vanilla", "wgangp"])
    p.add_argument("--nondeterministic", action="store_true", help="allow cuDNN autotuning / nondeterministic kernels")
    p.add_argument("--json", type=Path, default=None, help="write results here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = devices.select(args.device)
    quick_iters, full_iters = (3, 1), (20, 3) if device.type == "cpu" else (200, 20)
    args.iters = args.iters or (quick_iters if args.quick else full_iters)[0]
    args.warmup = args.warmup if args.warmup is not None else (quick_iters if args.quick else full_iters)[1]
    if args.quick:
        args.n_images = min(args.n_images, 256)

    cpu = platform.processor() or platform.machine()
    print(f"device: {devices.describe(device)}; torch {torch.__version__}; {cpu}")
    checks = [check(f, device=device) for f in args.families]
    for c in checks:
        print(f"  check {c['family']:8s}: max |deeppc - reference| after {c['iterations']} iterations = "
              f"{c['max_abs_diff']:.3g} (fused Adam); "
              f"bit-identical with unfused Adam: {c['identical_with_unfused_adam']}")
    print(f"{args.image_size} px, batch {args.batch_size}, {args.iters} timed iterations after {args.warmup} warm-up")
    rows = [row for f in args.families for row in bench_family(f, args, device)]
    for row in rows:
        ratio = row["speedup_vs_reference"]
        print(f"  {row['family']:8s} {row['variant']:38s} " + ("-" if ratio is None else f"x{ratio:.2f}"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"device": devices.describe(device), "torch": torch.__version__,
                                         "image_size": args.image_size, "batch_size": args.batch_size,
                                         "iters": args.iters, "checks": checks, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
