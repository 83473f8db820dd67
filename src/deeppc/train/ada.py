"""Adaptive discriminator augmentation (Karras et al. 2020, "Training GANs with Limited Data"), 1 channel.

``AugmentPipe`` transforms every image the discriminator sees (reals and
fakes, in the D and in the G updates, and the reals of the R1 penalty), each
op applied per sample with probability ``p``. It is differentiable in the
images, so generator gradients pass through it, and it leaves the
generator's own outputs untouched, so with p < 1 (in practice < ~0.8) the
generator cannot learn the augmentations ("non-leaking").

Ops, in the order the original composes them, with its parameter laws:
  xflip       mirror left-right (probability p/2)
  rotate90    rotate by k * 90 degrees, k uniform in 0..3
  xint        integer translation, uniform up to 1/8 of the size per axis
  scale       isotropic scaling, log2 s ~ N(0, 0.2^2)
  rotate      arbitrary rotation, uniform angle; applied before and after
              aniso, each with probability 1 - sqrt(1 - p)
  aniso       anisotropic scaling, log2 s ~ N(0, 0.2^2), s along x, 1/s along y
  xfrac       fractional translation, N(0, 0.125^2) of the size per axis
  brightness  x + b, b ~ N(0, 0.2^2)
  contrast    x * c, log2 c ~ N(0, 0.5^2)
  lumaflip    x -> -x (probability p/2): the original's luma-axis
              reflection restricted to one channel; its hue and saturation
              ops do nothing to a grayscale image and are left out
Out-of-image pixels reflect the image, as the original's reflect padding.
The first three ops move whole pixels and are done exactly by an index
gather. The next four are one affine resampling per sample: upsample 2x
with the orthonormal Daubechies-4 wavelet, bilinear resampling on the fine
grid, downsample with the same wavelet (the original uses the 12-tap symlet
in the same scheme); with an orthonormal filter, up-then-down is the
identity, so only the resampling itself filters. A sample for which no op
fires is returned bit for bit, so p = 0 is exactly the identity.

Every random number comes from the run's CPU generator, drawn in one block
of fixed size per call whatever p is (resume stays exact, no device syncs);
p itself is a device tensor, so adjusting it never waits for the GPU.

``AdaController`` implements the adaptive rule: accumulate sign(D(x_real))
over ``interval`` iterations, r_t = E[sign]; move p by
sign(r_t - target) * images / (kimg * 1000), clamped to [0, 1] (the
original leaves p unbounded above; above 1 every op already fires, so the
clamp only speeds the way down).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F

from deeppc.train.device import to_device
from deeppc.train.distributed import SINGLE, Shard

OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac", "brightness", "contrast", "lumaflip")
MODES = ("none", "fixed", "adaptive")
GENERAL = ("scale", "rotate", "aniso", "xfrac")

XINT_MAX = 0.125
SCALE_STD = 0.2
ANISO_STD = 0.2
XFRAC_STD = 0.125
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5

# columns of the uniform and normal draws of one call
_U = {name: i for i, name in enumerate(
    ["xflip", "xflip_coin", "rotate90", "rotate90_k", "xint", "xint_x", "xint_y", "scale", "prerot", "prerot_angle",
     "aniso", "postrot", "postrot_angle", "xfrac", "brightness", "contrast", "lumaflip", "lumaflip_coin"])}
_N = {name: i for i, name in enumerate(["scale", "aniso", "xfrac_x", "xfrac_y", "brightness", "contrast"])}

_SQRT3 = math.sqrt(3.0)
D4 = tuple(v / (4 * math.sqrt(2.0)) for v in (1 + _SQRT3, 3 + _SQRT3, 3 - _SQRT3, 1 - _SQRT3))  # orthonormal
D4_CENTRE = (3 - _SQRT3) / 2  # centre of mass of the D4 taps: where a fine sample sits between coarse ones
PAD = 2  # reflect margin (px) keeping the wavelet's border transient outside the image


class AugmentPipe:
    """Callable (images, cpu_generator) -> augmented images; ``p`` is a 0-d float32 device tensor."""

    def __init__(self, ops: Sequence[str] = OPS, p: float = 0.0, device: torch.device | str = "cpu") -> None:
        unknown = sorted(set(ops) - set(OPS))
        if unknown:
            raise ValueError(f"unknown ADA op(s) {', '.join(unknown)}; choose from {', '.join(OPS)}")
        if not 0 <= p <= 1:
            raise ValueError(f"ADA p must be in [0, 1], not {p}")
        self.ops = frozenset(ops)
        self.device = torch.device(device)
        self.p = torch.tensor(float(p), device=self.device)

    def __call__(self, x: torch.Tensor, gen: torch.Generator, shard: Shard = SINGLE) -> torch.Tensor:
        def block(shape: tuple[int, ...]) -> torch.Tensor:
            return torch.cat([torch.rand(shape[0], len(_U), generator=gen), torch.randn(shape[0], len(_N), generator=gen)],
                             dim=1)

        draws = to_device(shard.draw(block, x.shape[0]), x.device)  # the global batch's draws, this rank's rows
        u, g = draws[:, : len(_U)], draws[:, len(_U) :]
        p = self.p.to(x.device)
        x = self._blit(x, u, p)
        if self.ops & set(GENERAL):
            x = self._geometric(x, u, g, p)
        return self._color(x, u, g, p)

    def _fires(self, op: str, u: torch.Tensor, p: torch.Tensor, column: str | None = None) -> torch.Tensor:
        return (u[:, _U[column or op]] < p) if op in self.ops else torch.zeros_like(u[:, 0], dtype=torch.bool)

    def _blit(self, x: torch.Tensor, u: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """x-flip, 90-degree rotations and integer translation as one exact gather per sample."""
        if not self.ops & {"xflip", "rotate90", "xint"}:
            return x
        n, c, h, w = x.shape
        flip = self._fires("xflip", u, p) & (u[:, _U["xflip_coin"]] < 0.5)
        k = torch.where(self._fires("rotate90", u, p), torch.floor(u[:, _U["rotate90_k"]] * 4), torch.zeros_like(p))
        shift = torch.stack([u[:, _U["xint_x"]], u[:, _U["xint_y"]]], 1) * 2 - 1
        shift = torch.where(self._fires("xint", u, p)[:, None], torch.round(shift * XINT_MAX * w), 0.0)
        # output pixel -> source pixel, in coordinates centred on the image: undo the shift,
        # then the rotation (by -k * 90 degrees), then the flip
        ys, xs = torch.meshgrid(torch.arange(h, device=x.device, dtype=x.dtype) - (h - 1) / 2,
                                torch.arange(w, device=x.device, dtype=x.dtype) - (w - 1) / 2, indexing="ij")
        px = xs[None] - shift[:, 0, None, None]
        py = ys[None] - shift[:, 1, None, None]
        cos = torch.cos(k * (math.pi / 2)).round()[:, None, None]
        sin = torch.sin(k * (math.pi / 2)).round()[:, None, None]
        px, py = cos * px + sin * py, -sin * px + cos * py
        px = torch.where(flip[:, None, None], -px, px)
        sx = _reflect_index(torch.round(px + (w - 1) / 2).long(), w)
        sy = _reflect_index(torch.round(py + (h - 1) / 2).long(), h)
        index = (sy * w + sx).reshape(n, 1, h * w).expand(n, c, h * w)
        moved = x.reshape(n, c, h * w).gather(2, index).reshape(n, c, h, w)
        untouched = ~(flip | (k != 0) | (shift != 0).any(dim=1))
        return torch.where(untouched[:, None, None, None], x, moved)

    def _geometric(self, x: torch.Tensor, u: torch.Tensor, g: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """Scaling, rotation, anisotropy and fractional translation as one affine resampling per sample."""
        n, _, h, w = x.shape
        one, zero = torch.ones_like(p).expand(n), torch.zeros_like(p).expand(n)
        p_rot = 1 - torch.sqrt((1 - p).clamp(0, 1))  # P(pre or post rotation) = p
        s = torch.where(self._fires("scale", u, p), torch.exp2(g[:, _N["scale"]] * SCALE_STD), one)
        pre = torch.where(self._fires("rotate", u, p_rot, "prerot"), (u[:, _U["prerot_angle"]] * 2 - 1) * math.pi, zero)
        a = torch.where(self._fires("aniso", u, p), torch.exp2(g[:, _N["aniso"]] * ANISO_STD), one)
        post = torch.where(self._fires("rotate", u, p_rot, "postrot"), (u[:, _U["postrot_angle"]] * 2 - 1) * math.pi,
                           zero)
        fires_frac = self._fires("xfrac", u, p)
        tx = torch.where(fires_frac, g[:, _N["xfrac_x"]] * XFRAC_STD * w, zero)
        ty = torch.where(fires_frac, g[:, _N["xfrac_y"]] * XFRAC_STD * h, zero)
        # inverse map (output -> input), composed like the original's G_inv
        inv = _scale(1 / s, 1 / s) @ _rotate(pre) @ _scale(1 / a, a) @ _rotate(post) @ _translate(-tx, -ty)
        moved = resample(x, inv[:, :2, :])
        touched = (s != 1) | (pre != 0) | (a != 1) | (post != 0) | (tx != 0) | (ty != 0)
        return torch.where(touched[:, None, None, None], moved, x)

    def _color(self, x: torch.Tensor, u: torch.Tensor, g: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        if not self.ops & {"brightness", "contrast", "lumaflip"}:
            return x
        b = torch.where(self._fires("brightness", u, p), g[:, _N["brightness"]] * BRIGHTNESS_STD, 0.0)
        c = torch.where(self._fires("contrast", u, p), torch.exp2(g[:, _N["contrast"]] * CONTRAST_STD), 1.0)
        flip = self._fires("lumaflip", u, p) & (u[:, _U["lumaflip_coin"]] < 0.5)
        gain = c * torch.where(flip, -1.0, 1.0)
        # (x + b) * gain; exactly x when b = 0 and gain = 1
        return (x + b.reshape(-1, 1, 1, 1).to(x.dtype)) * gain.reshape(-1, 1, 1, 1).to(x.dtype)


def _reflect_index(i: torch.Tensor, size: int) -> torch.Tensor:
    """Indices mirrored into [0, size) about the edge pixels (numpy/F.pad 'reflect')."""
    period = 2 * (size - 1)
    i = torch.remainder(i, period)
    return torch.where(i < size, i, period - i)


def _matrix(rows: list[list[torch.Tensor]]) -> torch.Tensor:
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def _scale(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    one, zero = torch.ones_like(sx), torch.zeros_like(sx)
    return _matrix([[sx, zero, zero], [zero, sy, zero], [zero, zero, one]])


def _rotate(theta: torch.Tensor) -> torch.Tensor:
    one, zero = torch.ones_like(theta), torch.zeros_like(theta)
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, zero], [s, c, zero], [zero, zero, one]])


def _translate(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    one, zero = torch.ones_like(tx), torch.zeros_like(tx)
    return _matrix([[one, zero, tx], [zero, one, ty], [zero, zero, one]])


@functools.lru_cache(maxsize=32)
def _wavelet(channels: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    # cached: building it from Python numbers on a GPU is a blocking host-to-device copy
    taps = torch.tensor(D4, dtype=dtype)
    return torch.outer(taps, taps).expand(channels, 1, 4, 4).contiguous().to(device)


def resample(x: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """Sample x (N, C, H, W) at inverse @ (u, v, 1) for each output pixel (u, v), centred pixel units.

    Wavelet 2x upsampling of the reflect-padded image, bilinear sampling on
    the fine grid, wavelet 2x downsampling, crop. Source points outside the
    region the padding covers are mirrored about the edge pixels first.
    Padding and sampling are index gathers, whose gradients are deterministic
    on CUDA (grid_sample's and reflection padding's are not, and refuse to
    run under ``deterministic: true``).
    """
    n, c, h, w = x.shape
    kernel = _wavelet(c, x.dtype, x.device)
    fine = F.conv_transpose2d(_reflect_pad(x, PAD), kernel, stride=2, groups=c)
    size_y, size_x = fine.shape[2:]  # 2 (h + 2 PAD) + 2
    # fine sample m sits at padded-image position (m - D4_CENTRE) / 2
    fy = torch.arange(size_y, device=x.device, dtype=x.dtype)
    fx = torch.arange(size_x, device=x.device, dtype=x.dtype)
    py, px = torch.meshgrid((fy - D4_CENTRE) / 2 - PAD - (h - 1) / 2, (fx - D4_CENTRE) / 2 - PAD - (w - 1) / 2,
                            indexing="ij")
    inverse = inverse.to(x.dtype)
    qx = inverse[:, 0, 0, None, None] * px + inverse[:, 0, 1, None, None] * py + inverse[:, 0, 2, None, None]
    qy = inverse[:, 1, 0, None, None] * px + inverse[:, 1, 1, None, None] * py + inverse[:, 1, 2, None, None]
    # source positions as fractional fine-grid indices
    mx = (_fold(qx + (w - 1) / 2, w) + PAD) * 2 + D4_CENTRE
    my = (_fold(qy + (h - 1) / 2, h) + PAD) * 2 + D4_CENTRE
    moved = _bilinear(fine, mx, my)
    out = F.conv2d(moved, kernel, stride=2, groups=c)
    return out[:, :, PAD : PAD + h, PAD : PAD + w]


def _reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    h, w = x.shape[2:]
    rows = _reflect_index(torch.arange(-pad, h + pad, device=x.device), h)
    cols = _reflect_index(torch.arange(-pad, w + pad, device=x.device), w)
    return x.index_select(2, rows).index_select(3, cols)


def _bilinear(img: torch.Tensor, mx: torch.Tensor, my: torch.Tensor) -> torch.Tensor:
    """img (N, C, S, T) at fractional indices (mx, my) of shape (N, P, Q), bilinearly, by gathers."""
    n, c, size_y, size_x = img.shape
    x0 = mx.floor().clamp(0, size_x - 2)
    y0 = my.floor().clamp(0, size_y - 2)
    wx, wy = (mx - x0).unsqueeze(1), (my - y0).unsqueeze(1)
    x0, y0 = x0.long(), y0.long()
    flat = img.reshape(n, c, size_y * size_x)

    def at(row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
        index = (row * size_x + col).reshape(n, 1, -1).expand(n, c, -1)
        return flat.gather(2, index).reshape(n, c, *mx.shape[1:])

    top = at(y0, x0) * (1 - wx) + at(y0, x0 + 1) * wx
    bottom = at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x0 + 1) * wx
    return top * (1 - wy) + bottom * wy


def _fold(q: torch.Tensor, size: int) -> torch.Tensor:
    """Leave positions the upsampled padding covers alone; mirror the rest about the edge pixels."""
    # fine samples 3 .. 2 (size + 2 PAD) - 2 saw four padded-image pixels: no border transient
    lo = (3 - D4_CENTRE) / 2 - PAD
    hi = (2 * (size + 2 * PAD) - 2 - D4_CENTRE) / 2 - PAD
    period = 2 * (size - 1)
    mirrored = torch.remainder(q, period)
    mirrored = torch.where(mirrored <= size - 1, mirrored, period - mirrored)
    return torch.where((q >= lo) & (q <= hi), q, mirrored)


class AdaController:
    """Adjusts ``pipe.p`` from the sign of D's outputs on reals (the ADA heuristic)."""

    def __init__(self, pipe: AugmentPipe, target: float = 0.6, interval: int = 4, kimg: float = 500.0) -> None:
        if not 0 <= target <= 1 or interval < 1 or kimg <= 0:
            raise ValueError("ADA needs 0 <= target <= 1, interval >= 1 and kimg > 0")
        self.pipe = pipe
        self.target = target
        self.interval = interval
        self.kimg = kimg
        self.sign_sum = torch.zeros([], device=pipe.device)
        self.count = 0
        self.images = 0

    def observe(self, real_logits: torch.Tensor, shard: Shard = SINGLE) -> None:
        """Record D's outputs on (augmented) reals of one D main step (of every rank's share)."""
        signs = shard.all_mean(real_logits.detach().sign().sum()) * shard.world
        self.sign_sum += signs.to(self.sign_sum.device)
        self.count += real_logits.numel() * shard.world

    def end_iteration(self, iteration: int, batch_size: int) -> dict[str, torch.Tensor]:
        """Count the iteration's images; every `interval` iterations update p. Returns r_t when updated."""
        self.images += batch_size
        if iteration % self.interval != 0 or self.count == 0:
            return {}
        rt = self.sign_sum / self.count
        step = torch.sign(rt - self.target) * (self.images / (self.kimg * 1000))
        self.pipe.p.copy_((self.pipe.p + step).clamp(0.0, 1.0))
        self.sign_sum.zero_()
        self.count = self.images = 0
        return {"ada_rt": rt}

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.pipe.p.detach().cpu().clone(), "sign_sum": self.sign_sum.detach().cpu().clone(),
                "count": self.count, "images": self.images}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.pipe.p.copy_(state["p"])
        self.sign_sum.copy_(state["sign_sum"])
        self.count = int(state["count"])
        self.images = int(state["images"])
