"""Classifiers for the utility stage: torchvision's ResNet-18 with one input channel, or a small CNN for CPUs.

ResNet-18 is the usual baseline of small-data medical classification. Its
ImageNet initialisation comes from a local weights file (torchvision's
`resnet18-*.pth`, fetched on a login node like the other weights), never
downloaded here; the first convolution's RGB filters are summed into one
gray channel, which is exactly what the RGB network computes on a gray image
repeated to three channels. The small CNN (four conv blocks, about 70 k
parameters) trains in seconds on a laptop CPU for the demo and the tests.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from deeppc.validate import InputError, load_torch, reading

NETWORKS = ("resnet18", "small_cnn")


def small_cnn(n_classes: int, width: int = 16) -> nn.Module:
    """Four conv-BN-ReLU-maxpool blocks, global average pooling, one linear layer."""
    layers: list[nn.Module] = []
    channels = [1, width, 2 * width, 4 * width, 4 * width]
    for c_in, c_out in zip(channels, channels[1:]):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2)]  # fmt: skip
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels[-1], n_classes))


def resnet18(n_classes: int, weights: str | Path | None = None) -> nn.Module:
    """torchvision ResNet-18 on 1-channel input; ImageNet weights from `weights` when given (fc left random)."""
    import torchvision

    net = torchvision.models.resnet18(weights=None, num_classes=n_classes)
    gray = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    if weights is not None:
        state = _imagenet_state(weights)
        gray.weight.data.copy_(state.pop("conv1.weight").sum(dim=1, keepdim=True))
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        with reading(weights, "torchvision ResNet-18 ImageNet weights", (RuntimeError,)):
            net.load_state_dict(state, strict=False)
    net.conv1 = gray
    return net


def _imagenet_state(weights: str | Path) -> dict[str, torch.Tensor]:
    expected = "torchvision ResNet-18 ImageNet weights (resnet18-*.pth)"
    state = load_torch(weights, expected)
    if not isinstance(state, dict) or tuple(state.get("conv1.weight", torch.empty(0)).shape) != (64, 3, 7, 7):
        raise InputError(f"{weights} is not {expected}: no conv1.weight of shape 64x3x7x7")
    return dict(state)


def build(name: str, n_classes: int, weights: str | Path | None = None) -> nn.Module:
    """The classifier called `name` (one of NETWORKS) with `n_classes` outputs."""
    if name == "small_cnn":
        if weights is not None:
            raise InputError("utility.weights is for resnet18; the small CNN always starts from random weights")
        return small_cnn(n_classes)
    if name == "resnet18":
        return resnet18(n_classes, weights)
    raise InputError(f"utility.network must be one of {', '.join(NETWORKS)}, got {name!r}")
