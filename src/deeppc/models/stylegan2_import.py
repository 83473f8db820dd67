"""Read official StyleGAN2-ADA (PyTorch) network pickles without NVIDIA's code, for transfer learning.

The official ``network-snapshot-*.pkl`` (and the published FFHQ/AFHQ/...
models) is a plain pickle of ``{"G", "D", "G_ema", "augment_pipe",
"training_set_kwargs"}`` whose modules are "persistent" objects: each
carries the *source code* of its class and is rebuilt by
``torch_utils.persistence._reconstruct_persistent_obj``, which executes
that code. Loading such a file with ``pickle.load`` runs arbitrary code.

``read_official`` never does: a restricted unpickler resolves only
tensor/storage rebuilders (storages are read with ``torch.load(...,
weights_only=True)``), ``OrderedDict``, ``set``, numpy scalars, and maps
the persistence hook and ``dnnlib.util.EasyDict`` to local stand-ins that
keep the class name and the object's ``__dict__``. Every other global is
replaced by an inert placeholder. From the module tree it collects the
parameters and buffers under their official names, which are the names of
``deeppc.models.stylegan2`` (``mapping.fc0.weight``, ``synthesis.b4.const``,
``synthesis.b8.torgb.weight``, ``b32.fromrgb.weight``, ``b4.out.weight``, ...).

RGB -> 1 channel (``to_grayscale``):
  * generator toRGB layers (weight (3, C, 1, 1), bias (3,)) become the
    luminance combination Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601) of
    their three output rows. The skip architecture sums the toRGB outputs
    through linear upsampling, so the converted generator outputs exactly
    the luminance of the RGB image the original would draw;
  * the discriminator's fromRGB (weight (C, 3, 1, 1)) becomes the sum over
    its three input columns, divided by sqrt(3) because the run-time weight
    gain (equalised learning rate) is 1/sqrt(fan-in) with 3 inputs there and
    1 here; the converted discriminator on a gray image g then equals the
    original on the RGB image (g, g, g).
The resampling filter buffers are checked to be the standard [1, 3, 3, 1]
filter and dropped (ours are built in). Conditional models (labels) are
refused.
"""

from __future__ import annotations

import io
import math
import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import numpy as np
import torch

from deeppc.models.stylegan2 import fir_kernel

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights of R, G, B
BUFFER_NAMES = ("w_avg", "noise_const", "resample_filter")
NETWORKS = ("G", "D", "G_ema")


class PersistentObject:
    """Stand-in for an object rebuilt by the official persistence hook: class name and state only."""

    def __init__(self, class_name: str, state: Mapping[str, Any]) -> None:
        self.class_name = class_name
        self.state = dict(state)


class Placeholder:
    """Inert stand-in for any global the restricted unpickler does not allow."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "Placeholder":
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _EasyDict(dict):
    """dnnlib.util.EasyDict without dnnlib."""


def _reconstruct_persistent_obj(meta: Mapping[str, Any]) -> PersistentObject:
    # the class source in meta["module_src"] is deliberately ignored: never executed
    return PersistentObject(str(meta.get("class_name", "?")), meta.get("state") or {})


def _load_storage(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), weights_only=True)


def _rebuild_parameter(data: torch.Tensor, requires_grad: bool = False, backward_hooks: Any = None,
                       state: Any = None) -> torch.Tensor:
    return data


def _numpy_scalar(dtype: np.dtype, data: Any = None) -> Any:
    if not isinstance(data, bytes) or dtype.hasobject:
        raise pickle.UnpicklingError("only plain numeric numpy scalars can be read")
    return np.frombuffer(data, dtype=dtype)[0]


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    if encoding != "latin1":
        raise pickle.UnpicklingError(f"unexpected bytes encoding {encoding!r}")
    return text.encode("latin1")


_ALLOWED: dict[str, Any] = {
    "collections.OrderedDict": OrderedDict,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch.storage._load_from_bytes": _load_storage,
    "torch_utils.persistence._reconstruct_persistent_obj": _reconstruct_persistent_obj,
    "dnnlib.util.EasyDict": _EasyDict,
    "numpy.core.multiarray.scalar": _numpy_scalar,
    "numpy._core.multiarray.scalar": _numpy_scalar,
    "numpy.dtype": np.dtype,
    "_codecs.encode": _latin1,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return _ALLOWED.get(f"{module}.{name}", Placeholder)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("network pickles use no persistent ids; this is not one")


def read_pickle(source: BinaryIO) -> Any:
    """Unpickle `source` without running any code from it (see module docstring)."""
    return _RestrictedUnpickler(source).load()


def is_pickle(path: str | Path) -> bool:
    """A plain pickle (protocol >= 2), as opposed to a torch.save zip archive."""
    with open(path, "rb") as fh:
        return fh.read(1) == b"\x80"


def _module_tensors(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Parameters and buffers of a pickled module tree under dotted names (as state_dict names them)."""
    state = obj.state if isinstance(obj, (PersistentObject, Placeholder)) else None
    if not isinstance(state, dict):
        return {}
    found: dict[str, torch.Tensor] = {}
    for group in ("_parameters", "_buffers"):
        for name, tensor in (state.get(group) or {}).items():
            if isinstance(tensor, torch.Tensor):
                found[prefix + name] = tensor.detach().to(torch.float32)
    for name, child in (state.get("_modules") or {}).items():
        found.update(_module_tensors(child, f"{prefix}{name}."))
    return found


def _attribute(obj: Any, path: str, default: float) -> float:
    """A numeric attribute of a pickled submodule (e.g. 'mapping.fc0.bias_gain'), or `default`."""
    *parents, name = path.split(".")
    for part in parents:
        modules = obj.state.get("_modules") if isinstance(obj, PersistentObject) else None
        obj = (modules or {}).get(part)
    value = obj.state.get(name) if isinstance(obj, PersistentObject) else None
    return float(value) if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class OfficialNetworks:
    """Tensors of an official pickle, converted to 1 channel, with the settings that rebuild them here."""

    state_dicts: dict[str, dict[str, torch.Tensor]]  # "G", "D", "G_ema" (those present)
    image_size: int
    latent_dim: int
    generator_kwargs: dict[str, Any]
    discriminator_kwargs: dict[str, Any]


def read_official(path: str | Path) -> OfficialNetworks:
    """Networks of an official StyleGAN2-ADA pickle as deeppc StyleGAN2 state dicts (1 channel)."""
    path = Path(path)
    with open(path, "rb") as fh:
        data = read_pickle(fh)
    if not isinstance(data, dict) or not any(isinstance(data.get(k), PersistentObject) for k in NETWORKS):
        raise ValueError(f"{path} is not a StyleGAN2-ADA network pickle (no G, D or G_ema networks in it)")
    raw = {name: _module_tensors(data[name]) for name in NETWORKS if isinstance(data.get(name), PersistentObject)}
    states = {name: to_grayscale(tensors, path) for name, tensors in raw.items()}
    g_source = data.get("G_ema") if "G_ema" in states else data.get("G")
    g_kwargs, image_size, latent_dim = ({}, 0, 0)
    if g_source is not None:
        g_kwargs, image_size, latent_dim = generator_settings(states.get("G_ema") or states["G"], g_source)
    d_kwargs = discriminator_settings(states["D"]) if "D" in states else {}
    if "D" in states and not image_size:
        image_size = max(int(m.group(1)) for k in states["D"] if (m := re.match(r"b(\d+)\.", k)))
    return OfficialNetworks(states, image_size, latent_dim, g_kwargs, d_kwargs)


def to_grayscale(tensors: Mapping[str, torch.Tensor], source: str | Path = "pickle") -> dict[str, torch.Tensor]:
    """Apply the RGB -> 1 channel rule and drop the resampling filters (after checking them)."""
    if any(k.startswith("mapping.embed.") for k in tensors):
        raise ValueError(f"{source}: conditional (class-label) StyleGAN2 models are not supported")
    luma = torch.tensor(LUMA)
    out: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        if name.endswith("resample_filter"):
            _check_filter(name, tensor, source)
        elif name.endswith("torgb.weight") and tensor.shape[0] == 3:
            out[name] = torch.einsum("c,cihw->ihw", luma, tensor).unsqueeze(0)
        elif name.endswith("torgb.bias") and tensor.shape[0] == 3:
            out[name] = (luma * tensor).sum().reshape(1)
        elif name.endswith("fromrgb.weight") and tensor.shape[1] == 3:
            out[name] = tensor.sum(dim=1, keepdim=True) / math.sqrt(3)
        else:
            out[name] = tensor.clone()
    return out


def _check_filter(name: str, tensor: torch.Tensor, source: str | Path) -> None:
    expected = fir_kernel(1)[0, 0]
    if tensor.shape != expected.shape or not torch.allclose(tensor, expected, atol=1e-6):
        raise ValueError(f"{source}: {name} is not the standard [1, 3, 3, 1] resampling filter")


def _channel_settings(channels: Mapping[int, int]) -> dict[str, int]:
    """channel_base / channel_max reproducing per-resolution widths min(base // res, max)."""
    channel_max = max(channels.values())
    below = [(res, ch) for res, ch in channels.items() if ch < channel_max]
    channel_base = max(below)[0] * max(below)[1] if below else channel_max * max(channels)
    if any(min(channel_base // res, channel_max) != ch for res, ch in channels.items()):
        raise ValueError(f"feature widths {dict(sorted(channels.items()))} follow no channel_base/channel_max rule")
    return {"channel_base": channel_base, "channel_max": channel_max}


def generator_settings(state: Mapping[str, torch.Tensor], module: Any = None) -> tuple[dict[str, Any], int, int]:
    """(generator kwargs, image size, latent size) of a converted generator state dict."""
    fc_layers = sorted({int(m.group(1)) for k in state if (m := re.match(r"mapping\.fc(\d+)\.weight", k))})
    resolutions = sorted({int(m.group(1)) for k in state if (m := re.match(r"synthesis\.b(\d+)\.", k))})
    if not fc_layers or not resolutions:
        raise ValueError("not a StyleGAN2 generator: no mapping.fc*/synthesis.b* tensors")
    channels = {res: state[f"synthesis.b{res}.conv1.weight"].shape[0] for res in resolutions}
    kwargs: dict[str, Any] = {
        "w_dim": int(state["mapping.fc0.weight"].shape[0]),
        "mapping_layers": len(fc_layers),
        **_channel_settings(channels),
    }
    if module is not None:
        kwargs["mapping_lr"] = _attribute(module, "mapping.fc0.bias_gain", 0.01)
        kwargs["w_avg_beta"] = _attribute(module, "mapping.w_avg_beta", 0.995)
    return kwargs, max(resolutions), int(state["mapping.fc0.weight"].shape[1])


def discriminator_settings(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Discriminator kwargs (widths, minibatch-std features) of a converted discriminator state dict."""
    resolutions = sorted({int(m.group(1)) for k in state if (m := re.match(r"b(\d+)\.conv0\.weight", k))})
    if "b4.out.weight" not in state or not resolutions:
        raise ValueError("not a StyleGAN2 discriminator: no b*.conv0 / b4.out tensors")
    if state["b4.out.weight"].shape[0] != 1:
        raise ValueError("conditional (class-label) StyleGAN2 discriminators are not supported")
    channels = {res: state[f"b{res}.conv0.weight"].shape[0] for res in resolutions}
    channels[4] = state["b4.conv.weight"].shape[0]
    return {**_channel_settings(channels), "mbstd_channels": int(state["b4.conv.weight"].shape[1] - channels[4])}

