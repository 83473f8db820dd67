"""Seconds per thousand training images (sec/kimg) of deeppc's StyleGAN2, optionally beside the official one.

A training iteration is every phase the schedule runs (G main, lazy path
length every 4, D main, lazy R1 every 16) plus the G_ema update (and the ADA
p update with ``--ada``), at the paper's configuration: batch 16, mapping
depth 2, channel_base 16384, channel_max 512, R1 gamma 0.0002 * res^2 / batch,
style mixing 0.9, path length weight 2. That is about 5 TFLOP per iteration
already at 64 px, a minute or more per iteration on a CPU, so CPU runs
default to narrower networks (channel_base 2048, channel_max 128: the same
blocks, about 1/50 of the work); ``--channel-base``/``--channel-max``
override either way. Timed iterations are a multiple of
16 so every regulariser runs in proportion; data loading is excluded (each
step gets a ready batch). sec/kimg = seconds per iteration / batch * 1000.

    python benchmarks/stylegan2.py --quick                      # CPU: 64 px; CUDA: 256 px
    python benchmarks/stylegan2.py --device cuda                # 256 px: fp32, mixed, + channels-last, + compile
    python benchmarks/stylegan2.py --device cuda --official ~/src/stylegan2-ada-pytorch

``--official PATH`` imports NVlabs/stylegan2-ada-pytorch from a local
checkout the user provides (nothing of it is vendored here) and times its
networks and loss under a plain re-implementation of its training loop's
phase structure (the harness below, written for this benchmark) with the
same batch, resolution and settings. On CUDA: fp16 in the top 4
resolutions, conv clamp 256, cuDNN benchmark on, TF32 off on both sides;
its custom CUDA ops are built by its own code, and the report says whether
they loaded or it fell back to its reference ops. On the CPU: both sides in
float32 (its num_fp16_res 0, our half_res 0), its reference ops (its custom
ops are CUDA-only). The two sides alternate for ``--rounds`` rounds (default
3 on the CPU, where other load drifts, 1 on CUDA); the medians and their
ratio (official sec/kimg / deeppc sec/kimg: > 1 means deeppc is faster) are
printed.

    python benchmarks/stylegan2.py --device cpu --official ../shared/peers/stylegan2-ada-pytorch
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from deeppc.train import TrainSettings, Trainer
from deeppc.train import device as devices

PAPER = {"lr": 0.0025, "betas": (0.0, 0.99), "batch_size": 16, "latent_dim": 512}
CHANNELS = {"channel_base": 16384, "channel_max": 512}


def r1_gamma(resolution: int, batch: int) -> float:
    # the official 'auto' configuration's heuristic, which the paper's run used at 256 px
    return 0.0002 * resolution**2 / batch


def toy_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros((n, size, size), dtype=np.uint8)
    for image in images:
        cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < (size * 0.2) ** 2] = 200
    return images


def ours(size: int, device: torch.device, half_res: int, channels_last: bool, compile_: bool,
         ada: bool, channels: dict[str, int]) -> Trainer:
    net = {**channels, "half_res": half_res}
    settings = TrainSettings(
        experiment="bench", family="stylegan2", arch="stylegan2", image_size=size, iterations=10**6,
        generator={**net, "w_dim": 512, "mapping_layers": 2}, discriminator=net, drop_last=True,
        # ADA from p = 0.5, as the official side's pipeline is set: every op does real work on both sides
        loss={"r1_gamma": r1_gamma(size, PAPER["batch_size"]), "ada": "adaptive" if ada else "none",
              "ada_p": 0.5 if ada else 0.0},
        ema_kimg=PAPER["batch_size"] * 10 / 32, ema_rampup=0.05, channels_last=channels_last, compile=compile_,
        deterministic=False, **PAPER)
    devices.configure(device, deterministic=False, tf32=False)
    return Trainer(settings, toy_images(64, size), device)


def time_steps(step: Callable[[], Any], device: torch.device, warmup: int, iterations: int) -> float:
    """Seconds per iteration over `iterations` steps after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    sync()
    return (time.perf_counter() - start) / iterations


# ---------------------------------------------------------------------------
# OFFICIAL: NVlabs' networks and loss from the user's checkout, driven by a
# plain re-implementation of the phase structure of their training loop
# (lazy-regularised Adam per network, phases Gmain/Greg/Dmain/Dreg, NaN
# cleanup, G_ema, ADA heuristic), written for this benchmark.
# ---------------------------------------------------------------------------


class OfficialStep:
    def __init__(self, path: Path, size: int, device: torch.device, ada: bool, channels: dict[str, int]) -> None:
        if not (path / "training" / "networks.py").is_file() or not (path / "torch_utils" / "ops").is_dir():
            raise SystemExit(f"--official {path}: not a stylegan2-ada-pytorch checkout (no training/networks.py)")
        sys.path.insert(0, str(path))
        import copy
        import warnings

        from torch_utils.ops import bias_act, conv2d_gradfix, grid_sample_gradfix, upfirdn2d
        from training import augment, loss, networks

        # its grid_sample_gradfix warns on every call on a PyTorch it does not know, then uses the plain op
        warnings.filterwarnings("ignore", message="grid_sample_gradfix not supported")
        cuda = device.type == "cuda"
        conv2d_gradfix.enabled = True
        grid_sample_gradfix.enabled = True
        # its custom ops exist for CUDA only; on the CPU its own dispatch takes the reference ops
        self.plugins = {"bias_act": bool(bias_act._init()), "upfirdn2d": bool(upfirdn2d._init())} if cuda else \
            {"bias_act": False, "upfirdn2d": False}
        fp16 = 4 if cuda else 0  # float16 convolutions on a CPU would measure a slow path nobody uses
        self.device, self.batch = device, PAPER["batch_size"]
        common = dict(c_dim=0, img_resolution=size, img_channels=1)
        self.G = networks.Generator(z_dim=512, w_dim=512, **common, mapping_kwargs={"num_layers": 2},
                                    synthesis_kwargs={**channels, "num_fp16_res": fp16, "conv_clamp": 256})
        self.D = networks.Discriminator(**common, **channels, num_fp16_res=fp16, conv_clamp=256,
                                        epilogue_kwargs={"mbstd_group_size": 4})
        self.G = self.G.train().requires_grad_(False).to(device)
        self.D = self.D.train().requires_grad_(False).to(device)
        self.G_ema = copy.deepcopy(self.G).eval()
        self.pipe = None
        if ada:
            ops = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1, contrast=1,
                       lumaflip=1, hue=1, saturation=1)
            self.pipe = augment.AugmentPipe(**ops).train().requires_grad_(False).to(device)
            self.pipe.p.copy_(torch.as_tensor(0.5))  # mid-range: every op does real work
        self.loss = loss.StyleGAN2Loss(device=device, G_mapping=self.G.mapping, G_synthesis=self.G.synthesis,
                                       D=self.D, augment_pipe=self.pipe, r1_gamma=r1_gamma(size, self.batch))
        self.phases = []
        for name, module, interval in (("G", self.G, 4), ("D", self.D, 16)):
            c = interval / (interval + 1)
            opt = torch.optim.Adam(module.parameters(), lr=PAPER["lr"] * c,
                                   betas=tuple(b**c for b in PAPER["betas"]), eps=1e-8)
            self.phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, interval)]
        images = torch.from_numpy(toy_images(self.batch, size)).unsqueeze(1).to(device)
        self.real = images.float() / 127.5 - 1
        self.c = torch.zeros(self.batch, 0, device=device)
        self.index, self.nimg = 0, 0

    def __call__(self) -> None:
        for name, module, opt, interval in self.phases:
            if self.index % interval:
                continue
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            z = torch.randn(self.batch, 512, device=self.device)
            self.loss.accumulate_gradients(phase=name, real_img=self.real, real_c=self.c, gen_z=z, gen_c=self.c,
                                           sync=True, gain=interval)
            module.requires_grad_(False)
            for param in module.parameters():
                if param.grad is not None:
                    torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)
            opt.step()
        with torch.no_grad():
            ema_nimg = min(PAPER["batch_size"] * 10 / 32 * 1000, self.nimg * 0.05)
            beta = 0.5 ** (self.batch / max(ema_nimg, 1e-8))
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)
        self.nimg += self.batch
        self.index += 1


# ---------------------------------------------------------------------------


def row(name: str, seconds: float, size: int, device: torch.device, **extra: Any) -> dict[str, Any]:
    result = {"implementation": name, "resolution": size, "batch": PAPER["batch_size"],
              "sec_per_kimg": round(seconds / PAPER["batch_size"] * 1000, 2), "sec_per_iteration": round(seconds, 4)}
    if device.type == "cuda":
        result["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        torch.cuda.reset_peak_memory_stats(device)
    return {**result, **extra}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--size", type=int, default=None, help="resolution (default 256 on CUDA, 64 on CPU)")
    parser.add_argument("--iterations", type=int, default=None, help="timed iterations (multiple of 16)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations, default variant only")
    parser.add_argument("--ada", action="store_true", help="with the adaptive augmentation pipeline")
    parser.add_argument("--official", type=Path, default=None, help="local stylegan2-ada-pytorch checkout")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds with --official (3 CPU, 1 CUDA)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads")
    parser.add_argument("--channel-base", type=int, default=None, help="default 16384 on CUDA, 2048 on CPU")
    parser.add_argument("--channel-max", type=int, default=None, help="default 512 on CUDA, 128 on CPU")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = devices.select(args.device)
    cuda = device.type == "cuda"
    size = args.size or (256 if cuda else 64)
    iterations = args.iterations or (16 if args.quick or not cuda else 64)
    iterations = max(16, math.ceil(iterations / 16) * 16)
    warmup = 16 if cuda else 2
    channels = {"channel_base": args.channel_base or (CHANNELS["channel_base"] if cuda else 2048),
                "channel_max": args.channel_max or (CHANNELS["channel_max"] if cuda else 128)}
    print(f"# {devices.describe(device)}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{size} px, batch {PAPER['batch_size']}, {channels}, {iterations} timed iterations, ada={args.ada}")
    if args.official is not None:
        return side_by_side(args, size, device, warmup, iterations, channels)
    variants = [("deeppc", dict(half_res=4, channels_last=False, compile_=False))]
    if cuda and not args.quick:
        variants = [("deeppc fp32", dict(half_res=0, channels_last=False, compile_=False)),
                    ("deeppc mixed", dict(half_res=4, channels_last=False, compile_=False)),
                    ("deeppc mixed + channels-last", dict(half_res=4, channels_last=True, compile_=False)),
                    ("deeppc mixed + channels-last + compile", dict(half_res=4, channels_last=True, compile_=True))]
    rows = []
    for name, options in variants:
        trainer = ours(size, device, ada=args.ada, channels=channels, **options)
        rows.append(row(name, time_steps(trainer.step, device, warmup, iterations), size, device, **channels))
        print(json.dumps(rows[-1]))
        del trainer
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def side_by_side(args: argparse.Namespace, size: int, device: torch.device, warmup: int, iterations: int,
                 channels: dict[str, int]) -> int:
    """deeppc and the official code in alternating rounds (each built once); medians and their ratio."""
    cuda = device.type == "cuda"
    half_res = 4 if cuda else 0  # the paper's mixed precision on CUDA, float32 on the CPU (as the official side)
    official = OfficialStep(args.official.expanduser(), size, device, args.ada, channels)
    trainer = ours(size, device, half_res=half_res, channels_last=False, compile_=False, ada=args.ada,
                   channels=channels)  # fmt: skip
    times: dict[str, list[float]] = {"deeppc": [], "official": []}
    for r in range(args.rounds or (1 if cuda else 3)):
        for name, step in (("deeppc", trainer.step), ("official", official)):
            times[name].append(time_steps(step, device, warmup, iterations))
            print(f"# round {r + 1}: {name} {times[name][-1] / PAPER['batch_size'] * 1000:.2f} sec/kimg", flush=True)
    median = {k: float(np.median(v)) for k, v in times.items()}
    rows = [row("deeppc", median["deeppc"], size, device, rounds=times["deeppc"], **channels),
            row("official stylegan2-ada-pytorch", median["official"], size, device, custom_ops=official.plugins,
                rounds=times["official"], **channels)]  # fmt: skip
    for r in rows:
        print(json.dumps(r))
    ratio = median["official"] / median["deeppc"]
    print(f"# ratio official/deeppc sec/kimg: {ratio:.3f} (> 1: deeppc faster), ada={args.ada}, "
          f"{'mixed precision' if cuda else 'float32'}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratio": ratio}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
