"""Official StyleGAN2-ADA pickles: a synthetic pickle of the official structure round-trips, safely.

The pickle is written here the way the official training loop writes its
snapshots: a dict of "persistent" module objects rebuilt by
torch_utils.persistence._reconstruct_persistent_obj from a meta dict that
carries the class source and the module __dict__ (_parameters, _buffers,
_modules, plain attributes), tensors pickled by torch, RGB toRGB/fromRGB
layers, resampling-filter buffers, an augment pipe and dnnlib EasyDicts.
Writing needs stand-in modules under those names; they are removed before
reading, so reading proves no NVIDIA code is needed.
"""

from __future__ import annotations

import contextlib
import copy
import math
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from deeppc.config import ConfigError
from deeppc.models import build_discriminator, build_generator
from deeppc.models.stylegan2 import Conv2dLayer, ToRGB, fir_kernel
from deeppc.models.stylegan2_import import LUMA, read_official, read_pickle
from deeppc.train import Trainer
from deeppc.train.checkpoint import save_generator

from .conftest import DISCRIMINATOR, GENERATOR, SIZE, blob_images, tiny

BUFFERS = ("w_avg", "noise_const", "resample_filter")
RGB_MIX = torch.tensor([0.587, -0.299, 0.0])  # luminance-neutral: sum(LUMA * RGB_MIX) = 0
SUM_MIX = torch.tensor([1.0, -2.0, 1.0])  # sums to zero


@contextlib.contextmanager
def official_names():
    """Temporary modules torch_utils.persistence and dnnlib.util, so pickle can refer to them by name."""
    persistence = types.ModuleType("torch_utils.persistence")
    util = types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):
        raise AssertionError("only referenced by name while writing")

    class EasyDict(dict):
        pass

    _reconstruct_persistent_obj.__module__ = persistence.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    EasyDict.__module__, EasyDict.__qualname__ = util.__name__, "EasyDict"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util.EasyDict = EasyDict
    stand_ins = {"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": persistence,
                 "dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": util}
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    try:
        yield persistence, EasyDict
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class Persistent:
    """Pickles as the official persistent objects do: (reconstruct, (meta,))."""

    def __init__(self, class_name: str, state: dict, reconstruct) -> None:
        self.class_name, self.state, self.reconstruct = class_name, state, reconstruct

    def __reduce__(self):
        meta = {"type": "class", "version": 6, "class_name": self.class_name, "state": self.state,
                "module_src": "raise SystemExit('the class source of a network pickle must never run')"}
        return self.reconstruct, (meta,)


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def module_tree(tensors: dict[str, torch.Tensor], reconstruct, easy_dict, name: str) -> Persistent:
    nested: dict = {}
    for key, tensor in tensors.items():
        *path, leaf = key.split(".")
        node = nested
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = tensor

    def build(node: dict, class_name: str) -> Persistent:
        state = {"training": False, "_parameters": OrderedDict(), "_buffers": OrderedDict(),
                 "_modules": OrderedDict(), "_non_persistent_buffers_set": set(),
                 "_init_kwargs": easy_dict(w_dim=32, mapping_kwargs=easy_dict(num_layers=2)),
                 "weight_gain": np.float64(0.25), "bias_gain": 0.01 if class_name == "FullyConnectedLayer" else 1}
        for key, value in node.items():
            if isinstance(value, dict):
                child = "FullyConnectedLayer" if key.startswith("fc") or key in ("affine", "out") else key
                state["_modules"][key] = build(value, child)
            elif key in BUFFERS:
                state["_buffers"][key] = value
            else:
                state["_parameters"][key] = torch.nn.Parameter(value, requires_grad=False)
        if class_name == "mapping":
            state["w_avg_beta"] = 0.995
        return Persistent(class_name, state, reconstruct)

    return build(nested, name)


def to_official(G: torch.nn.Module, D: torch.nn.Module) -> tuple[dict, dict]:
    """Our 1-channel weights as official-style RGB tensors (plus the official filter buffers)."""
    g, d = {}, {}
    torch.manual_seed(9)
    for key, tensor in G.state_dict().items():
        if key.endswith("torgb.weight") or key.endswith("torgb.bias"):
            extra = torch.randn_like(tensor)
            tensor = tensor + RGB_MIX.reshape(3, *[1] * (tensor.ndim - 1)) * extra  # 3 different rows
        g[key] = tensor.clone()
        if key.endswith(".weight") and tensor.ndim == 4 and "torgb" not in key:  # as the official layers
            g[key.replace(".weight", ".resample_filter")] = fir_kernel(1)[0, 0]
    for key, tensor in D.state_dict().items():
        if key.endswith("fromrgb.weight"):
            # the original's gain is 1/sqrt(3) on 3 inputs: these columns sum to sqrt(3) times ours
            tensor = tensor * math.sqrt(3) / 3 + SUM_MIX.reshape(1, 3, 1, 1) * torch.randn_like(tensor)
        d[key] = tensor.clone()
        if key.endswith(".weight") and tensor.ndim == 4:
            d[key.replace(".weight", ".resample_filter")] = fir_kernel(1)[0, 0]
    for res in G.synthesis.resolutions:
        g[f"synthesis.b{res}.resample_filter"] = fir_kernel(1)[0, 0]
    return g, d


def write_official_pickle(path: Path, G, D, G_ema, marker: Path) -> dict:
    g, d = to_official(G, D)
    g_ema, _ = to_official(G_ema, D)
    with official_names() as (persistence, easy_dict):
        reconstruct = persistence._reconstruct_persistent_obj
        data = {"G": module_tree(g, reconstruct, easy_dict, "Generator"),
                "D": module_tree(d, reconstruct, easy_dict, "Discriminator"),
                "G_ema": module_tree(g_ema, reconstruct, easy_dict, "Generator"),
                "augment_pipe": module_tree({"p": torch.tensor(0.3)}, reconstruct, easy_dict, "AugmentPipe"),
                "training_set_kwargs": easy_dict(path="ffhq.zip", resolution=SIZE),
                "evil": Evil(marker)}
        data["D"].state["_modules"]["b4"].state["_modules"]["mbstd"] = Persistent(
            "MinibatchStdLayer", {"group_size": 4, "num_channels": 1, "_parameters": OrderedDict(),
                                  "_buffers": OrderedDict(), "_modules": OrderedDict()}, reconstruct)
        with open(path, "wb") as fh:
            pickle.dump(data, fh, protocol=4)
    assert "torch_utils.persistence" not in sys.modules
    return {"G": g, "D": d}


def networks(seed: int):
    torch.manual_seed(seed)
    G = build_generator("stylegan2", SIZE, 32, **GENERATOR)
    D = build_discriminator("stylegan2", "stylegan2", SIZE, **DISCRIMINATOR)
    with torch.no_grad():
        for name, param in G.named_parameters():
            if name.endswith("noise_strength"):
                param.fill_(0.3)
        G.mapping.w_avg.normal_()
    return G, D


@pytest.fixture
def official(tmp_path):
    G, D = networks(1)
    G_ema = copy.deepcopy(G)
    with torch.no_grad():
        for p in G_ema.parameters():
            p.mul_(0.9)
    marker = tmp_path / "code-ran"
    path = tmp_path / "network-snapshot-000100.pkl"
    raw = write_official_pickle(path, G, D, G_ema, marker)
    return path, G, D, G_ema, raw, marker


def test_synthetic_official_pickle_round_trips(official):
    path, G, D, G_ema, raw, marker = official
    nets = read_official(path)
    assert not marker.exists()  # the os.system payload was never called
    assert set(nets.state_dicts) == {"G", "D", "G_ema"}
    for name, ours in (("G", G), ("D", D), ("G_ema", G_ema)):
        state = nets.state_dicts[name]
        assert state.keys() == ours.state_dict().keys()
        for key, tensor in ours.state_dict().items():
            assert torch.allclose(state[key], tensor, atol=1e-6), key
    assert nets.image_size == SIZE and nets.latent_dim == 32
    assert nets.generator_kwargs == {**GENERATOR, "mapping_lr": 0.01, "w_avg_beta": 0.995}
    assert nets.discriminator_kwargs == {**DISCRIMINATOR, "mbstd_channels": 1}
    # rebuilt from the inferred settings, the imported generator draws the same images
    H = build_generator("stylegan2", nets.image_size, nets.latent_dim, **nets.generator_kwargs)
    H.load_state_dict(nets.state_dicts["G"])
    z = torch.randn(3, 32)
    with torch.no_grad():
        assert torch.allclose(H.eval()(z), G.eval()(z), atol=1e-5)


def test_rgb_conversion_rule(official):
    """Gray G = luminance of the RGB G's image; gray D(g) = RGB D on (g, g, g)."""
    path, G, D, _, raw, _ = official
    nets = read_official(path)
    gray_G = build_generator("stylegan2", SIZE, 32, **GENERATOR)
    gray_G.load_state_dict(nets.state_dicts["G"])
    rgb_G = copy.deepcopy(gray_G)
    for res in rgb_G.synthesis.resolutions:
        block = getattr(rgb_G.synthesis, f"b{res}")
        block.torgb = ToRGB(block.torgb.weight.shape[1], 3, 32, conv_clamp=256.0)
        block.torgb.load_state_dict({k.split("torgb.")[1]: v for k, v in raw["G"].items()
                                     if k.startswith(f"synthesis.b{res}.torgb.")})
        block.img_fir = fir_kernel(3, gain=4.0) if hasattr(block, "img_fir") else None
    z = torch.randn(4, 32)
    with torch.no_grad():
        rgb, gray = rgb_G.eval()(z), gray_G.eval()(z)
    assert rgb.shape == (4, 3, SIZE, SIZE)
    assert torch.allclose(gray[:, 0], torch.einsum("c,nchw->nhw", torch.tensor(LUMA), rgb), atol=1e-5)

    gray_D = build_discriminator("stylegan2", "stylegan2", SIZE, **DISCRIMINATOR)
    gray_D.load_state_dict(nets.state_dicts["D"])
    rgb_D = copy.deepcopy(gray_D)
    rgb_D.b32.fromrgb = Conv2dLayer(3, 16, 1, conv_clamp=256.0)
    rgb_D.b32.fromrgb.load_state_dict({"weight": raw["D"]["b32.fromrgb.weight"], "bias": raw["D"]["b32.fromrgb.bias"]})
    image = torch.rand(4, 1, SIZE, SIZE) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(gray_D(image), rgb_D(image.expand(-1, 3, -1, -1)), atol=1e-5)


def test_restricted_unpickler_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps({"x": Evil(marker), "t": torch.arange(3.0)})
    loaded = read_pickle(__import__("io").BytesIO(payload))
    assert not marker.exists() and torch.equal(loaded["t"], torch.arange(3.0))
    assert type(loaded["x"]).__name__ == "Placeholder"
    (tmp_path / "nothing.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not a StyleGAN2-ADA network pickle"):
        read_official(tmp_path / "nothing.pkl")


def test_init_from_official_pickle_and_from_our_checkpoint(official, tmp_path):
    path, G, D, G_ema, _, _ = official
    images = blob_images(8)
    t = Trainer(tiny(init_from=str(path)), images, torch.device("cpu"))
    for net, ref in ((t.G, G), (t.D, D), (t.G_ema, G_ema)):
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(net.state_dict().values(),
                                                                  ref.state_dict().values()))
    assert t.init_sha256 and len(t.init_sha256) == 64

    ckpt = tmp_path / "100.pt"
    save_generator(ckpt, G_ema, tiny(), 100, "abc")
    fresh = Trainer(tiny(), images, torch.device("cpu"))
    t = Trainer(tiny(init_from=str(ckpt)), images, torch.device("cpu"))
    assert all(torch.equal(a, b) for a, b in zip(t.G.state_dict().values(), G_ema.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(t.G_ema.state_dict().values(), G_ema.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(t.D.state_dict().values(), fresh.D.state_dict().values()))

    with pytest.raises(FileNotFoundError, match="init_from"):
        Trainer(tiny(init_from=str(tmp_path / "missing.pkl")), images, torch.device("cpu"))
    wider = {**GENERATOR, "channel_max": 64}
    with pytest.raises(ConfigError, match="channel_max"):  # the error names the file's settings
        Trainer(tiny(init_from=str(path), generator=wider), images, torch.device("cpu"))
