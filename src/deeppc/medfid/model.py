"""MedFID: the paper's InceptionV3 fine-tuned on body-part classification, as a feature extractor.

Architecture (paper, appendix A.5, Table 4): the InceptionV3 convolutional
base (torchvision's layer names, `Conv2d_1a_3x3` … `Mixed_7c`), global average
pooling, four dense layers of 2048 units with ReLU, dropout 0.2 and a softmax
layer over the classes. MedFID features are the 2048 outputs of the last
hidden dense layer (Keras' `dense_3`, after its ReLU).

Keras and torchvision build the same convolutions, but Keras' InceptionV3
batch norms have no scale (gamma fixed at 1) and Keras counts their moving
mean and variance as parameters. `keras_parameter_count` counts the Keras
way: conv kernels + 3 values per batch-norm channel (beta, moving mean,
moving variance); for the base that is 21,751,136 + 3 × 17,216 = 21,802,784,
Table 4's figure. To be the same network, the batch-norm gammas here are
never trained (they stay at their initial or ImageNet value).

One preprocessing path (`Preprocessing`, stored in the checkpoint) is used
for training, real and generated images: uint8 grayscale → antialiased
bilinear resize to `input_size` on one channel → x/127.5 − 1 → repeated to 3
channels. x/127.5 − 1 *is* the backbone's normalisation: torchvision's
ImageNet InceptionV3 weights (ported from TensorFlow) expect ImageNet
mean/std-normalised input that their `transform_input` maps back to
(x01 − 0.5)/0.5, i.e. exactly x/127.5 − 1; the network here is built with
`transform_input=False` and fed that directly.

Importing this module registers the "medfid" extractor with
`deeppc.metrics.extractors`; its weights file is the checkpoint written by
the medfid stage (`medfid/extractor.pt`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deeppc.files import atomic_open, sha256_file
from deeppc.metrics import extractors
from deeppc.metrics.extractors import Extractor, check_images
from deeppc.validate import InputError, load_torch, reading

NAME = "medfid"
CHECKPOINT_FORMAT = "deeppc.medfid/1"
IMPLEMENTATION = "deeppc.medfid/1: torchvision InceptionV3 base, GAP, 4x dense+ReLU, dense_3 output"
MIN_INPUT_SIZE = 75  # torchvision's InceptionV3 reduces 75 px to a 1x1 map at Mixed_7c

# torchvision's InceptionV3 children up to the last inception block (no pooling, dropout or fc)
BACKBONE_LAYERS = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
    "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
    "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c",
)  # fmt: skip
# the "top two inception blocks" of the paper: Keras mixed9 and mixed10 (the layers from index
# 249 on in Keras' InceptionV3, which its fine-tuning example unfreezes)
TOP_BLOCKS = ("Mixed_7b", "Mixed_7c")


@dataclass(frozen=True)
class Preprocessing:
    """The one input path of the MedFID network; stored in the checkpoint."""

    input_size: int = 299
    resize: str = "bilinear, antialias, align_corners=False (torch), one channel"
    scale: str = "x/127.5-1"
    channels: str = "gray repeated to 3"

    def __post_init__(self) -> None:
        if self.input_size < MIN_INPUT_SIZE:
            raise ValueError(f"MedFID input_size must be at least {MIN_INPUT_SIZE} px, got {self.input_size}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Preprocessing":
        spec = cls(**data)
        if spec != cls(input_size=spec.input_size):
            supported = cls(input_size=spec.input_size).to_dict()
            raise ValueError(f"unsupported MedFID preprocessing {dict(data)}; this version implements {supported}")
        return spec


def preprocess(images: np.ndarray, spec: Preprocessing, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 grayscale (N, H, W) -> float32 (N, 3, S, S) network input; the only path into the network."""
    x = torch.from_numpy(check_images(images)).to(device).unsqueeze(1).to(torch.float32)
    size = (spec.input_size, spec.input_size)
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    x = x / 127.5 - 1.0
    return x.expand(-1, 3, -1, -1).contiguous()


class MedFIDNet(nn.Module):
    """InceptionV3 base + global average pooling + `depth` dense layers + dropout + class layer."""

    def __init__(self, num_classes: int, hidden: int = 2048, depth: int = 4, dropout: float = 0.2) -> None:
        super().__init__()
        import torchvision

        # init_weights=False: the base is either overwritten by ImageNet weights or initialised by
        # `random_init`; torchvision's own truncated-normal init would only cost time
        base = torchvision.models.inception_v3(
            weights=None, aux_logits=False, transform_input=False, init_weights=False
        )
        self.backbone = nn.Sequential(OrderedDict((name, getattr(base, name)) for name in BACKBONE_LAYERS))
        self.pool = nn.AdaptiveAvgPool2d(1)
        widths = [2048] + [hidden] * depth
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_classes)
        for layer in [*self.dense, self.classifier]:
            _glorot(layer)
        for bn in self.batch_norms():
            bn.weight.requires_grad_(False)  # Keras' InceptionV3 batch norms have no scale
            bn.momentum = 0.01  # Keras' BatchNormalization momentum 0.99 (torch counts the other way)

    def batch_norms(self) -> Iterator[nn.BatchNorm2d]:
        return (m for m in self.backbone.modules() if isinstance(m, nn.BatchNorm2d))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """MedFID features: the last hidden dense layer's output (after ReLU)."""
        h = self.pool(self.backbone(x)).flatten(1)
        for layer in self.dense:
            h = F.relu(layer(h))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (softmax is in the loss and in `predict_proba`)."""
        return self.classifier(self.dropout(self.embed(x)))


def _glorot(layer: nn.Linear) -> None:
    """Keras' Dense default: Glorot-uniform kernel, zero bias."""
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)


def random_init(net: MedFIDNet, seed: int) -> None:
    """Randomly initialise the base (He-normal convolutions, BN at identity) from `seed`.

    For the demo and tests only: features then mean nothing comparable to published MedFID.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.backbone.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()


def calibrate_batch_norms(net: MedFIDNet, batches: Iterable[torch.Tensor]) -> int:
    """Set every base BN's moving mean and variance to the statistics of `batches` (network inputs).

    A randomly initialised base has BN statistics of 0 and 1 that do not match
    its activations, which then shrink block after block until the pooled
    features hardly vary between images. Estimating the statistics on real
    inputs (each BN normalising with its batch statistics while they are
    collected) gives unit-scale activations at inference, as trained
    statistics would. Returns the number of images seen.
    """
    norms = list(net.batch_norms())
    saved = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over all batches
    net.backbone.train()
    seen = 0
    with torch.no_grad():
        for x in batches:
            net.backbone(x)
            seen += len(x)
    for bn, momentum in zip(norms, saved):
        bn.momentum = momentum
    net.backbone.eval()
    return seen


def load_imagenet_weights(net: MedFIDNet, path: str | Path) -> str:
    """Load torchvision's ImageNet InceptionV3 state dict into the base; returns the file's sha256."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ImageNet InceptionV3 weights not found: {path}")
    state = load_imagenet_state(path, net.backbone.state_dict().keys())
    expected = "torchvision's ImageNet InceptionV3 weights (inception_v3_google-*.pth)"
    with reading(path, expected, (RuntimeError,)):  # right names, wrong shapes
        net.backbone.load_state_dict(state)
    return sha256_file(path)


def check_imagenet_weights(path: str | Path) -> None:
    """InputError unless `path` reads as torchvision's InceptionV3 file (first and last block present)."""
    load_imagenet_state(path, ("Conv2d_1a_3x3.conv.weight", "Mixed_7c.branch_pool.conv.weight"))


def load_imagenet_state(path: str | Path, wanted: Iterable[str]) -> dict[str, torch.Tensor]:
    """The `wanted` tensors of torchvision's ImageNet InceptionV3 file; InputError naming it if it is not one."""
    state = load_torch(path, "torchvision's ImageNet InceptionV3 weights (inception_v3_google-*.pth)")
    # the file also holds the auxiliary classifier and the 1000-class layer, which MedFID replaces
    missing = sorted(k for k in wanted if not isinstance(state, dict) or k not in state)
    if missing:
        raise InputError(f"{path} is not a torchvision InceptionV3 state dict: missing {missing[:3]} …")
    return {k: state[k] for k in wanted}


def build(
    num_classes: int, *, weights: str | Path | None, seed: int, hidden: int = 2048, depth: int = 4, dropout: float = 0.2
) -> tuple[MedFIDNet, str]:
    """A new network and a description of its base ("imagenet:<sha256>" or "random:<seed>")."""
    # layer constructors and the Glorot init draw from the global generator: seed it, then restore it
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = MedFIDNet(num_classes, hidden, depth, dropout)
    if weights is None:
        random_init(net, seed)
        return net, f"random:{seed}"
    return net, f"imagenet:{load_imagenet_weights(net, weights)}"


def set_trainable(net: MedFIDNet, blocks: Sequence[str]) -> None:
    """Freeze the base except `blocks` (by torchvision name); the dense head is always trainable."""
    unknown = set(blocks) - set(BACKBONE_LAYERS)
    if unknown:
        raise ValueError(f"unknown InceptionV3 blocks {sorted(unknown)}; choose from {', '.join(BACKBONE_LAYERS)}")
    for name, child in net.backbone.named_children():
        child.requires_grad_(name in blocks)
    for bn in net.batch_norms():
        bn.weight.requires_grad_(False)
    for module in [*net.dense, net.classifier]:
        module.requires_grad_(True)


def trainable_blocks(net: MedFIDNet) -> list[str]:
    return [name for name, child in net.backbone.named_children() if any(p.requires_grad for p in child.parameters())]


def train_mode(net: MedFIDNet) -> None:
    """Training mode for what trains; frozen blocks stay in inference mode so their BN statistics never move.

    (Keras does the same for a non-trainable BatchNormalization layer.)
    """
    net.train()
    trainable = set(trainable_blocks(net))
    for name, child in net.backbone.named_children():
        if name not in trainable:
            child.eval()


def keras_parameter_count(module: nn.Module) -> int:
    """Parameters as Keras counts them: conv/dense weights and biases, and 3 per BN channel.

    Keras' InceptionV3 BN layers (scale=False) hold beta plus the moving mean and
    variance, which Keras lists as (non-trainable) parameters; torchvision's BN
    also has a gamma (`weight`), which Keras' does not have and is not counted.
    """
    total = 0
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            total += m.weight.numel() + (m.bias.numel() if m.bias is not None else 0)
        elif isinstance(m, nn.BatchNorm2d):
            total += 3 * m.num_features
    return total


def trainable_parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# --- checkpoint -------------------------------------------------------------------------------


def save_checkpoint(path: str | Path, net: MedFIDNet, meta: Mapping[str, Any]) -> None:
    """Write the extractor checkpoint (atomically): weights plus everything needed to rebuild and judge it."""
    payload = {"format": CHECKPOINT_FORMAT, **meta, "state_dict": {k: v.cpu() for k, v in net.state_dict().items()}}
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MedFID extractor checkpoint not found: {path} (written by the medfid stage)")
    expected = f"a MedFID extractor checkpoint ({CHECKPOINT_FORMAT}, extractor.pt of `deeppc medfid train`)"
    ckpt = load_torch(path, expected)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a MedFID extractor checkpoint ({CHECKPOINT_FORMAT})")
    missing = [k for k in ("arch", "classes", "preprocessing", "state_dict", "comparable_to_published",
                           "backbone_init") if k not in ckpt]  # fmt: skip
    if missing:
        raise InputError(f"{path}: incomplete MedFID extractor checkpoint (missing {', '.join(missing)})")
    return ckpt


def network_from_checkpoint(ckpt: Mapping[str, Any]) -> MedFIDNet:
    arch = ckpt["arch"]
    net = MedFIDNet(len(ckpt["classes"]), arch["hidden"], arch["depth"], arch["dropout"])
    net.load_state_dict(ckpt["state_dict"])
    return net.eval()


# --- extractor --------------------------------------------------------------------------------


class MedFIDExtractor(Extractor):
    """MedFID features (dense_3, 2048-d) of 8-bit grayscale images, from a medfid-stage checkpoint."""

    frechet_key = "medfid"

    def __init__(self, checkpoint: str | Path, device: str = "cpu") -> None:
        ckpt = load_checkpoint(checkpoint)
        self.name = NAME
        self.device = torch.device(device)
        # a damaged or hand-edited checkpoint: settings or weights that do not fit the network
        with reading(checkpoint, "a MedFID extractor checkpoint", (TypeError, ValueError, KeyError, RuntimeError)):
            self.spec = Preprocessing.from_dict(ckpt["preprocessing"])
            net = network_from_checkpoint(ckpt)
        self.net = net.to(self.device).requires_grad_(False)
        self.feature_dim = int(ckpt["arch"]["hidden"])
        self.checkpoint_sha256 = sha256_file(checkpoint)
        self.classes = list(ckpt["classes"])
        self.comparable_to_published = bool(ckpt["comparable_to_published"])
        self.backbone_init = str(ckpt["backbone_init"])

    def preprocess(self, images: np.ndarray) -> torch.Tensor:
        return preprocess(images, self.spec, self.device)

    def features(self, batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode(), extractors.full_float32(self.device):
            out = self.net.embed(batch.to(self.device))
        return out.double().cpu().numpy()

    def identity(self) -> dict:
        return {
            "name": self.name,
            "checkpoint_sha256": self.checkpoint_sha256,
            "layer": "dense_3 (2048, ReLU)",
            "input": self.spec.to_dict(),
            "classes": self.classes,
            "backbone_init": self.backbone_init,
            "comparable_to_published": self.comparable_to_published,
            "implementation": IMPLEMENTATION,
        }



def _factory(weights: Path | None = None, device: str = "cpu") -> MedFIDExtractor:
    if weights is None:
        raise ValueError(
            "the 'medfid' extractor needs the checkpoint written by the medfid stage "
            "(results/medfid/extractor.pt, or `deeppc medfid train`); pass it as its weights"
        )
    return MedFIDExtractor(weights, device)


extractors.register(NAME, _factory)
