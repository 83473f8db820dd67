"""StyleGAN2 (Karras et al. 2020) for 1-channel images, in plain PyTorch (``arch: stylegan2``).

Generator: a mapping network (z -> w, ``mapping_layers`` deep, learning rate
multiplier 0.01, tracked mean of w for truncation), then a synthesis network
from a learned 4x4 constant: per resolution two 3x3 convolutions whose
weights are *modulated* by a per-sample style (an affine map of w) and
*demodulated* (rescaled so each output feature has unit expected variance),
per-pixel noise with a learned strength, and a "skip" output: every
resolution adds its own 1x1 toRGB (here to-gray) image to the upsampled sum
of the coarser ones. Style mixing and truncation act on the per-layer
latents ``ws``. Discriminator: residual blocks (two 3x3 convolutions plus a
1x1 skip, both downsampling, summed with gain sqrt(1/2)), then a 4x4 head
with a minibatch standard-deviation feature, a 3x3 convolution and two
dense layers; it returns raw logits.

Conventions that make official StyleGAN2-ADA weights map one to one
(``deeppc.models.stylegan2_import``): equalised learning rate (weights
stored as N(0, 1) and scaled at run time), leaky ReLU 0.2 with gain sqrt(2),
the [1, 3, 3, 1] low-pass filter around every resampling, with the same
padding and filter placement, and the same parameter names
(``mapping.fc0.weight``, ``synthesis.b4.const``, ``b32.fromrgb.weight``, ...).
The resampling filters are non-persistent buffers, so checkpoints hold only
learned weights, the w average and the constant noise maps.

Mixed precision as in the original: on CUDA, blocks at the ``half_res``
highest resolutions compute in ``half_dtype`` (float16 or bfloat16) with
activations clamped to +-``conv_clamp``; weights, styles, demodulation
coefficients and the output image stay float32. On the CPU everything is
computed in the weights' dtype (float32; float64 in the gradient tests).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
SKIP_GAIN = math.sqrt(0.5)  # residual sums keep unit variance
FIR_TAPS = (1.0, 3.0, 3.0, 1.0)
HALF_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}
HALF_PRECISION_DEVICES = ("cuda",)  # where half_res applies; CPU convolutions in 16 bits are slow
NoiseSpec = str | Sequence[torch.Tensor | None]


def _check_size(image_size: int) -> int:
    size = int(image_size)
    if size < 8 or size > 1024 or size & (size - 1):
        raise ValueError(f"stylegan2 needs a power-of-two image size from 8 to 1024, not {image_size}")
    return size


def _half_dtype(name: str) -> torch.dtype:
    if name not in HALF_DTYPES:
        raise ValueError(f"half_dtype must be one of {', '.join(HALF_DTYPES)}, not {name!r}")
    return HALF_DTYPES[name]


def channel_counts(image_size: int, channel_base: int, channel_max: int) -> dict[int, int]:
    """Feature maps per resolution: min(channel_base / resolution, channel_max)."""
    return {2**i: min(channel_base // 2**i, channel_max) for i in range(2, int(math.log2(image_size)) + 1)}


def half_precision_from(image_size: int, half_res: int) -> int:
    """Lowest resolution computed in reduced precision (the top `half_res` ones, never below 8 px)."""
    return max(2 ** (int(math.log2(image_size)) + 1 - half_res), 8)


def compute_dtype(use_half: bool, half_dtype: torch.dtype, device: torch.device, full: torch.dtype) -> torch.dtype:
    """A block's activation dtype: reduced for top-resolution blocks on a GPU, else its weights' dtype."""
    return half_dtype if use_half and device.type in HALF_PRECISION_DEVICES else full


def fir_kernel(channels: int, gain: float = 1.0) -> torch.Tensor:
    """The normalised 2-D [1, 3, 3, 1] low-pass filter as a depthwise weight (channels, 1, 4, 4)."""
    taps = torch.tensor(FIR_TAPS)
    kernel = torch.outer(taps, taps)
    return (kernel / kernel.sum() * gain).expand(channels, 1, 4, 4).contiguous()


def upsample2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """2x upsampling: zero insertion + low-pass (kernel carries gain 4), as one transposed conv."""
    return F.conv_transpose2d(x, kernel.to(x.dtype), stride=2, padding=1, groups=x.shape[1])


def downsample2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """2x downsampling: low-pass then every second pixel, as one strided depthwise conv."""
    return F.conv2d(x, kernel.to(x.dtype), stride=2, padding=1, groups=x.shape[1])


def bias_act_(
    x: torch.Tensor, bias: torch.Tensor | None, lrelu: bool, gain: float = 1.0, clamp: float | None = None
) -> torch.Tensor:
    """x + bias, optional leaky ReLU, times gain, clamped to +-clamp (the original's order), in x's buffer.

    x must be a temporary of the caller's (a layer's fresh output): it is
    overwritten. Every convolution is followed by this, and on the CPU a
    fresh buffer of an activation's size costs page faults on first touch
    (an out-of-place bias add measured ~5x its in-place twin), so the layers
    reuse the buffer their convolution wrote. Autograd's version counters
    turn any misuse (x saved by another op) into an error, never a wrong
    gradient.
    """
    if bias is not None:
        x = x.add_(bias.to(x.dtype).reshape([1, -1] + [1] * (x.ndim - 2)))
    if not lrelu and gain == 1 and clamp is None:
        return x
    if gain <= 0:
        raise ValueError(f"bias_act_ gain must be positive, not {gain}")
    return ActGainClamp.apply(x, lrelu, gain, clamp)


class ActGainClamp(torch.autograd.Function):
    """In place: clamp(act(x) * gain, -clamp, clamp), act = leaky ReLU or identity; backward in <= 3 passes.

    Composed, these are three out-of-place ops forward and up to six passes
    backward (leaky ReLU, gain, and clamp's compare-compare-and-select). The
    gradient is read off the output y alone: gain > 0 keeps the sign (y > 0
    exactly where x > 0) and |y| < clamp exactly where the clamp is inactive
    (the original's CUDA bias_act makes the same choice at the measure-zero
    boundary |y| = clamp). First-order backward writes one new buffer and
    works in place on it; under ``create_graph`` (R1 and the path-length
    penalty differentiate this backward) it uses differentiable out-of-place
    ops, with the mask constant almost everywhere.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, lrelu: bool, gain: float,
                clamp: float | None) -> torch.Tensor:
        if lrelu:
            F.leaky_relu(x, LRELU_SLOPE, inplace=True)
        if gain != 1:
            x.mul_(gain)
        if clamp is not None:
            x.clamp_(-clamp, clamp)
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)
        ctx.options = (lrelu, gain, clamp)  # type: ignore[attr-defined]
        return x

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx,
                 grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (y,) = ctx.saved_tensors  # type: ignore[attr-defined]
        y = y.detach()  # the mask's own derivative is zero
        lrelu, gain, clamp = ctx.options  # type: ignore[attr-defined]
        if torch.is_grad_enabled():
            if clamp is not None:
                grad = torch.ops.aten.hardtanh_backward(grad, y, -clamp, clamp)
            if lrelu:
                grad = torch.ops.aten.leaky_relu_backward(grad, y, LRELU_SLOPE, True)
            return grad * gain, None, None, None
        out = torch.ops.aten.hardtanh_backward(grad, y, -clamp, clamp) if clamp is not None else grad.clone()
        if lrelu:
            torch.ops.aten.leaky_relu_backward.grad_input(out, y, LRELU_SLOPE, True, grad_input=out)
        return out.mul_(gain) if gain != 1 else out, None, None, None


def one_hot(labels: torch.Tensor, c_dim: int) -> torch.Tensor:
    """Class indices (N,) -> float32 one-hot (N, c_dim): the ``c`` of conditional networks."""
    return F.one_hot(labels.long(), c_dim).float()


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class FullyConnected(nn.Module):
    """Dense layer with equalised learning rate (and an optional learning-rate multiplier)."""

    def __init__(self, in_features: int, out_features: int, lrelu: bool = False, lr_multiplier: float = 1.0,
                 bias_init: float = 0.0) -> None:
        super().__init__()
        self.lrelu = lrelu
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias.to(x.dtype) * self.bias_gain
        if not self.lrelu:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act_(x.matmul(w.t()), b, lrelu=True, gain=LRELU_GAIN)


class Conv2dLayer(nn.Module):
    """Discriminator convolution, optionally downsampling by 2, with bias, activation and clamp."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 lrelu: bool = True, down: bool = False, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.lrelu = lrelu
        self.down = down
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        if down:
            self.register_buffer("fir", fir_kernel(in_channels), persistent=False)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        if not self.down:
            x = F.conv2d(x, w, padding=self.padding)
        elif self.padding == 0:  # 1x1: downsample first, 4x fewer pixels to convolve
            x = F.conv2d(downsample2d(x, self.fir), w)
        else:  # blur with the conv's padding folded in, then a strided valid conv
            x = F.conv2d(x, self.fir.to(x.dtype), padding=self.padding + 1, groups=x.shape[1])
            x = F.conv2d(x, w, stride=2)
        act_gain = (LRELU_GAIN if self.lrelu else 1.0) * gain
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act_(x, self.bias, self.lrelu, act_gain, clamp)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    up_fir: torch.Tensor | None = None,
    fused: bool = False,
) -> torch.Tensor:
    """Convolution of x (N, I, H, W) with weight (O, I, k, k) scaled per sample by styles (N, I).

    Demodulation divides each output feature by the norm of its modulated
    weights, sqrt(sum_{i,k} (w_oik s_i)^2) = sqrt(s^2 . sum_k w_oik^2), which is
    computed from that factorisation instead of materialising per-sample
    weights. ``up_fir`` (gain-4 low-pass) makes it a 2x upsampling conv:
    transposed stride-2 convolution, then the filter. ``fused`` runs it as one
    grouped convolution with per-sample weights (faster for inference in
    float32); otherwise the activations are scaled before and after a shared
    convolution (training; cuDNN friendly).
    """
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:  # keep float16 in range; demodulation cancels the scale
        weight = weight * (1 / math.sqrt(in_ch * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    dcoefs = None
    if demodulate:
        dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()  # (N, O)
    if not fused:
        x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
        x = _conv(x, weight.to(x.dtype), up_fir is not None, groups=1)
        if up_fir is not None:
            x = F.conv2d(x, up_fir.to(x.dtype), padding=1, groups=out_ch)
        return x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1) if dcoefs is not None else x
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
    if dcoefs is not None:
        w = w * dcoefs.reshape(n, -1, 1, 1, 1)
    x = _conv(x.reshape(1, n * in_ch, *x.shape[2:]), w.reshape(n * out_ch, in_ch, kh, kw).to(x.dtype),
              up_fir is not None, groups=n)
    x = x.reshape(n, out_ch, *x.shape[2:])
    if up_fir is not None:
        x = F.conv2d(x, up_fir.to(x.dtype), padding=1, groups=out_ch)
    return x


def _conv(x: torch.Tensor, w: torch.Tensor, up: bool, groups: int) -> torch.Tensor:
    """'Same' 3x3/1x1 conv, or the transposed stride-2 conv of an upsampling layer (before its filter)."""
    if not up:
        return F.conv2d(x, w, padding=w.shape[-1] // 2, groups=groups)
    out_per_group, in_ch, kh, kw = w.shape[0] // groups, w.shape[1], w.shape[2], w.shape[3]
    w = w.reshape(groups, out_per_group, in_ch, kh, kw).transpose(1, 2).reshape(groups * in_ch, out_per_group, kh, kw)
    return F.conv_transpose2d(x, w, stride=2, groups=groups)


class MappingNetwork(nn.Module):
    """(z, c) -> w: 2nd-moment normalisation, `num_layers` dense leaky-ReLU layers; tracks mean w.

    With ``c_dim`` > 0 the class label (one-hot, (N, c_dim)) is embedded by a
    dense layer to ``w_dim`` features, normalised like z and concatenated to
    it (the official conditional design). ``z_dim`` = 0 maps the label alone
    (the discriminator's projection); ``num_ws=None`` returns w as (N, w_dim)
    and ``w_avg_beta=None`` tracks no mean.
    """

    def __init__(self, z_dim: int, w_dim: int, num_ws: int | None, num_layers: int = 8, lr_multiplier: float = 0.01,
                 w_avg_beta: float | None = 0.995, c_dim: int = 0) -> None:
        super().__init__()
        if z_dim + c_dim < 1 or c_dim < 0:
            raise ValueError("stylegan2 mapping needs z_dim + c_dim >= 1 and c_dim >= 0")
        self.z_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, w_dim, num_ws, num_layers
        self.c_dim = c_dim
        self.w_avg_beta = w_avg_beta
        embed = w_dim if c_dim else 0
        if c_dim:
            self.embed = FullyConnected(c_dim, embed)
        for idx in range(num_layers):
            setattr(self, f"fc{idx}", FullyConnected(z_dim + embed if idx == 0 else w_dim, w_dim, lrelu=True,
                                                     lr_multiplier=lr_multiplier))
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor | None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                update_w_avg: bool = False, c: torch.Tensor | None = None) -> torch.Tensor:
        """(N, z_dim) -> ws (N, num_ws, w_dim); `update_w_avg` moves the tracked mean (training only)."""
        x = self._inputs(z, c)
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_w_avg:
            self.track_w_avg(x.detach().mean(dim=0))
        if self.num_ws is None:
            return x
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws = torch.cat([self.w_avg.lerp(ws[:, :cutoff], truncation_psi), ws[:, cutoff:]], dim=1)
        return ws

    def track_w_avg(self, batch_mean: torch.Tensor) -> None:
        """Move the tracked mean of w towards a batch's mean w (a data-parallel run passes the global batch's)."""
        if self.w_avg_beta is not None:
            self.w_avg.copy_(batch_mean.lerp(self.w_avg, self.w_avg_beta))

    def _inputs(self, z: torch.Tensor | None, c: torch.Tensor | None) -> torch.Tensor:
        dtype = self.fc0.weight.dtype
        parts = [normalize_2nd_moment(z.to(dtype))] if self.z_dim else []
        if self.c_dim:
            if c is None or c.shape[1:] != (self.c_dim,):
                got = None if c is None else tuple(c.shape)
                raise ValueError(f"this network is conditional on {self.c_dim} classes: pass c (N, {self.c_dim}), "
                                 f"got {got}")
            parts.append(normalize_2nd_moment(self.embed(c.to(dtype))))
        elif c is not None:
            raise ValueError("this network is unconditional (c_dim = 0): it takes no class labels")
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally 2x upsampling), noise, bias, leaky ReLU, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.resolution = resolution
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.up_fir: torch.Tensor | None
        if up:
            self.register_buffer("up_fir", fir_kernel(out_channels, gain=4.0), persistent=False)
        else:
            self.up_fir = None

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None, fused: bool) -> torch.Tensor:
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight, styles, demodulate=True, up_fir=self.up_fir, fused=fused)
        if noise is not None:
            x = x.add_((noise * self.noise_strength).to(x.dtype))  # x: the conv's fresh output
        return bias_act_(x, self.bias, lrelu=True, gain=LRELU_GAIN, clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """Modulated (not demodulated) 1x1 conv to the output image; named as in the original."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
        return bias_act_(x, self.bias, lrelu=False, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (constant input or upsampling conv), conv, and its image contribution."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, image_channels: int,
                 use_half: bool, half_dtype: torch.dtype, conv_clamp: float | None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.use_half = use_half
        self.half_dtype = half_dtype
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, conv_clamp=conv_clamp)
            self.register_buffer("img_fir", fir_kernel(image_channels, gain=4.0), persistent=False)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGB(out_channels, image_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2

    def layers(self) -> list[SynthesisLayer]:
        """The modulated convolutions, in order (each takes one w and one noise map)."""
        return [self.conv1] if self.in_channels == 0 else [self.conv0, self.conv1]

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise: Sequence[torch.Tensor | None], fused: bool | None) -> tuple[torch.Tensor, torch.Tensor]:
        full = self.conv1.weight.dtype
        dtype = compute_dtype(self.use_half, self.half_dtype, ws.device, full)
        fused = (not self.training and dtype == full) if fused is None else fused
        if x is None:
            x = self.const.to(dtype).unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
            x = self.conv1(x, ws[:, 0], noise[0], fused)
        else:
            x = self.conv0(x.to(dtype), ws[:, 0], noise[0], fused)
            x = self.conv1(x, ws[:, 1], noise[1], fused)
        y = self.torgb(x, ws[:, self.num_conv], fused).to(full)
        img = y if img is None else upsample2d(img, self.img_fir) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> image; block b{r} for r = 4, 8, ..., image_size."""

    def __init__(self, w_dim: int, image_size: int, image_channels: int = 1, channel_base: int = 32768,
                 channel_max: int = 512, half_res: int = 4, half_dtype: str = "float16",
                 conv_clamp: float | None = 256.0) -> None:
        super().__init__()
        self.image_size = _check_size(image_size)
        self.w_dim = w_dim
        channels = channel_counts(self.image_size, channel_base, channel_max)
        half_from = half_precision_from(self.image_size, half_res)
        self.resolutions = sorted(channels)
        self.num_ws = 0
        for res in self.resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res, image_channels,
                                   use_half=half_res > 0 and res >= half_from, half_dtype=_half_dtype(half_dtype),
                                   conv_clamp=conv_clamp)
            setattr(self, f"b{res}", block)
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last block's toRGB; every other toRGB shares the next block's first w

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.resolutions]

    def noise_shapes(self, batch: int) -> list[tuple[int, int, int, int]]:
        """Shape of each noise input, in layer order."""
        return [(batch, 1, b.resolution, b.resolution) for b in self.blocks() for _ in range(b.num_conv)]

    def draw_noise(self, batch: int, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu") -> list[torch.Tensor]:
        """Fresh N(0, 1) noise for every layer, from `generator` (on `device`) in layer order."""
        return [torch.randn(shape, generator=generator, device=device) for shape in self.noise_shapes(batch)]

    def _layer_noise(self, mode: NoiseSpec, batch: int) -> list[torch.Tensor | None]:
        if mode == "const":
            return [layer.noise_const.expand(batch, 1, -1, -1) for b in self.blocks() for layer in b.layers()]
        if mode == "none":
            return [None] * (self.num_ws - 1)
        if isinstance(mode, str):
            raise ValueError(f"noise must be 'const', 'none' or a list of tensors, not {mode!r}")
        if len(mode) != self.num_ws - 1:
            raise ValueError(f"expected {self.num_ws - 1} noise tensors, got {len(mode)}")
        return list(mode)

    def forward(self, ws: torch.Tensor, noise: NoiseSpec = "const", fused: bool | None = None) -> torch.Tensor:
        noises = self._layer_noise(noise, ws.shape[0])
        x = img = None
        w_idx = n_idx = 0
        for block in self.blocks():
            x, img = block(x, img, ws[:, w_idx : w_idx + block.num_conv + 1], noises[n_idx : n_idx + block.num_conv],
                           fused)
            w_idx += block.num_conv
            n_idx += block.num_conv
        return img


class StyleGAN2Generator(nn.Module):
    """latent (N, latent_dim) -> image (N, 1, H, W), roughly in [-1, 1] (no output squashing).

    ``forward(z, truncation_psi=None, truncation_cutoff=None, noise_mode="auto")``:
    noise is random in training mode (from ``noise_generator`` if given) and
    the stored constant maps in eval mode, so sampling a checkpoint is a
    pure function of z. ``truncation_psi=None`` uses the attribute of the
    same name (1 = no truncation; a sampling setting, not saved).
    """

    supports_truncation = True
    truncation_psi: float = 1.0

    def __init__(
        self,
        image_size: int,
        latent_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_lr: float = 0.01,
        channel_base: int = 32768,
        channel_max: int = 512,
        half_res: int = 4,
        half_dtype: str = "float16",
        conv_clamp: float | None = 256.0,
        w_avg_beta: float = 0.995,
        c_dim: int = 0,
    ) -> None:
        super().__init__()
        if mapping_layers < 1 or half_res < 0 or c_dim < 0:
            raise ValueError("stylegan2 needs mapping_layers >= 1, half_res >= 0 and c_dim >= 0")
        self.image_size = _check_size(image_size)
        self.latent_dim = int(latent_dim)
        self.c_dim = int(c_dim)
        self.synthesis = SynthesisNetwork(w_dim, self.image_size, 1, channel_base, channel_max, half_res, half_dtype,
                                          conv_clamp)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(self.latent_dim, w_dim, self.num_ws, mapping_layers, mapping_lr, w_avg_beta,
                                      c_dim=self.c_dim)

    def forward(self, z: torch.Tensor, truncation_psi: float | None = None, truncation_cutoff: int | None = None,
                noise_mode: str = "auto", noise_generator: torch.Generator | None = None,
                c: torch.Tensor | None = None) -> torch.Tensor:
        psi = self.truncation_psi if truncation_psi is None else truncation_psi
        ws = self.mapping(z, psi, truncation_cutoff, c=c)
        mode = ("random" if self.training else "const") if noise_mode == "auto" else noise_mode
        if mode != "random":
            return self.synthesis(ws, mode)
        return self.synthesis(ws, self.synthesis.draw_noise(z.shape[0], noise_generator, z.device))


class MinibatchStd(nn.Module):
    """Appends the mean standard deviation over groups of samples as extra feature maps."""

    def __init__(self, group_size: int, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def group(self, batch: int) -> int:
        # the largest group <= group_size that divides the batch (a short last batch must not crash)
        return next(g for g in range(min(self.group_size, batch), 0, -1) if batch % g == 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g, f = self.group(n), self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1)
        return torch.cat([x, y.repeat(g, 1, h, w)], dim=1)


class DiscriminatorBlock(nn.Module):
    """Residual block at one resolution; the first also converts the image (fromrgb)."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, image_channels: int,
                 use_half: bool, half_dtype: torch.dtype, conv_clamp: float | None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.use_half = use_half
        self.half_dtype = half_dtype
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(image_channels, tmp_channels, 1, conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, down=True, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, lrelu=False, down=True)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
        dtype = compute_dtype(self.use_half, self.half_dtype, img.device, self.conv0.weight.dtype)
        x = self.fromrgb(img.to(dtype)) if x is None else x.to(dtype)
        y = self.skip(x, gain=SKIP_GAIN)
        x = self.conv1(self.conv0(x), gain=SKIP_GAIN)
        return y + x


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: minibatch std, 3x3 conv, dense, dense to one logit (float32)."""

    def __init__(self, channels: int, mbstd_group: int, mbstd_channels: int, conv_clamp: float | None,
                 cmap_dim: int = 0) -> None:
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStd(mbstd_group, mbstd_channels) if mbstd_channels > 0 else None
        self.conv = Conv2dLayer(channels + mbstd_channels, channels, 3, conv_clamp=conv_clamp)
        self.fc = FullyConnected(channels * 16, channels, lrelu=True)
        self.out = FullyConnected(channels, cmap_dim or 1)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None = None) -> torch.Tensor:
        x = x.to(self.fc.weight.dtype)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if self.cmap_dim:
            # projection discriminator (Miyato & Koyama 2018): the features' inner product with the class's embedding
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x


class StyleGAN2Discriminator(nn.Module):
    """image (N, 1, H, W) -> (N, 1): logit (``output="linear"``) or its sigmoid.

    With ``c_dim`` > 0, ``forward(img, c)`` is conditional on the one-hot
    class c: a mapping network (``mapping_layers`` deep, no latent) embeds c
    to ``cmap_dim`` features (default: the 4x4 channel count, as the
    original), and the logit is the projection of the head's features on it.
    """

    def __init__(
        self,
        image_size: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        mbstd_group: int = 4,
        mbstd_channels: int = 1,
        half_res: int = 4,
        half_dtype: str = "float16",
        conv_clamp: float | None = 256.0,
        output: str = "linear",
        c_dim: int = 0,
        cmap_dim: int | None = None,
        mapping_layers: int = 8,
    ) -> None:
        super().__init__()
        if output not in ("sigmoid", "linear"):
            raise ValueError(f"discriminator output must be 'sigmoid' or 'linear', not {output!r}")
        if mbstd_group < 1 or mbstd_channels < 0 or half_res < 0:
            raise ValueError("stylegan2 needs mbstd_group >= 1, mbstd_channels >= 0 and half_res >= 0")
        if c_dim < 0 or mapping_layers < 1 or (cmap_dim is not None and cmap_dim < 1):
            raise ValueError("stylegan2 needs c_dim >= 0, mapping_layers >= 1 and cmap_dim >= 1 (or null)")
        self.image_size = _check_size(image_size)
        self.output = output
        self.c_dim = int(c_dim)
        channels = channel_counts(self.image_size, channel_base, channel_max)
        half_from = half_precision_from(self.image_size, half_res)
        self.resolutions = sorted((r for r in channels if r > 4), reverse=True)
        for res in self.resolutions:
            block = DiscriminatorBlock(0 if res == self.image_size else channels[res], channels[res],
                                       channels[res // 2], 1, use_half=half_res > 0 and res >= half_from,
                                       half_dtype=_half_dtype(half_dtype), conv_clamp=conv_clamp)
            setattr(self, f"b{res}", block)
        cmap = (cmap_dim or channels[4]) if self.c_dim else 0
        if self.c_dim:
            self.mapping = MappingNetwork(0, cmap, None, mapping_layers, w_avg_beta=None, c_dim=self.c_dim)
        self.b4 = DiscriminatorEpilogue(channels[4], mbstd_group, mbstd_channels, conv_clamp, cmap_dim=cmap)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if (c is not None) != bool(self.c_dim):
            wanted = f"conditional on {self.c_dim} classes: pass c" if self.c_dim else "unconditional: it takes no c"
            raise ValueError(f"this discriminator is {wanted}")
        x = None
        for res in self.resolutions:
            x = getattr(self, f"b{res}")(x, img)
        logits = self.b4(x, self.mapping(None, c=c) if self.c_dim else None)
        return torch.sigmoid(logits) if self.output == "sigmoid" else logits
