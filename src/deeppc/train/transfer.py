"""Initial weights for a run (``init_from``): one of our generator checkpoints or an official pickle.

* ``*.pt`` in our ``deeppc.generator/1`` format: its weights start G (and
  G_ema); the discriminator starts fresh (our checkpoints hold generators
  only). Architecture and generator settings must match the experiment's.
* an official StyleGAN2-ADA pickle (e.g. the public FFHQ 256 model): G, D
  and G_ema all start from it, converted to 1 channel
  (``deeppc.models.stylegan2_import``), without running any code from the file.

Tensors are copied by name, as the original's resume does, so a pickle of
a higher resolution can start a lower-resolution run from its coarse
blocks; a tensor whose shape differs is an error that names the settings
the file was trained with. The file's sha256 is returned for provenance
(and invalidates a resume state written with another file).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from deeppc.config import ConfigError
from deeppc.models import CHECKPOINT_FORMAT
from deeppc.models.stylegan2_import import is_pickle, read_official
from deeppc.validate import load_torch

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def initialize(nets: Mapping[str, nn.Module | None], path: str | Path, arch: str) -> str:
    """Load `path` into `nets` ({"G", "D", "G_ema"}, None where absent); returns the file's sha256."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config key init_from: file not found: {path}")
    if is_pickle(path):
        if arch != "stylegan2":
            raise ConfigError(f"init_from: {path} is a StyleGAN2-ADA pickle; it can only start arch stylegan2")
        official = read_official(path)
        hint = (f"it was trained at {official.image_size} px with latent_dim: {official.latent_dim}, "
                f"generator: {official.generator_kwargs}, discriminator: {official.discriminator_kwargs}")
        sources = dict(official.state_dicts)
    else:
        ckpt = load_torch(path, f"a {CHECKPOINT_FORMAT} checkpoint or network pickle (config key init_from)")
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError(f"init_from: {path} is neither a {CHECKPOINT_FORMAT} checkpoint nor a network pickle")
        if ckpt["arch"] != arch:
            raise ConfigError(f"init_from: {path} holds a {ckpt['arch']} generator; this experiment trains {arch}")
        hint = f"it was trained with image_size: {ckpt['image_size']}, generator: {ckpt['model_kwargs']}"
        sources = {"G": ckpt["state_dict"], "G_ema": ckpt["state_dict"]}
    for name, net in nets.items():
        if net is not None and name in sources:
            _copy_matching(net, sources[name], f"{path} ({name})", hint)
    return file_sha256(path)


def _copy_matching(net: nn.Module, source: Mapping[str, Any], label: str, hint: str) -> None:
    target = net.state_dict()
    shared = [k for k in target if k in source]
    if not shared:
        raise ConfigError(f"init_from: {label} has no tensor this network has; {hint}")
    for key in shared:
        if tuple(source[key].shape) != tuple(target[key].shape):
            raise ConfigError(f"init_from: {label}: {key} has shape {tuple(source[key].shape)}, this network "
                              f"{tuple(target[key].shape)}; {hint}")
    with torch.no_grad():
        for key in shared:
            target[key].copy_(source[key])
    missing = len(target) - len(shared)
    log.info("init_from %s: %d tensors copied%s", label, len(shared),
             f", {missing} keep their initial values" if missing else "")
