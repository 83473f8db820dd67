"""The network is the paper's Table 4, counted the way Keras counts it, and freezing really freezes."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from deeppc.medfid.model import (
    BACKBONE_LAYERS,
    TOP_BLOCKS,
    MedFIDNet,
    build,
    keras_parameter_count,
    load_imagenet_weights,
    set_trainable,
    train_mode,
    trainable_blocks,
    trainable_parameter_count,
)
from deeppc.medfid.stage import comparability
from deeppc.medfid.train import PhaseSettings, make_optimizer

# Table 4 of the paper (7 classes)
TABLE4_DENSE = 4_196_352
TABLE4_DENSE_4 = 14_343
TABLE4_TRAINABLE = 16_799_751
TABLE4_BASE = 21_802_784
TABLE4_TOTAL = 38_602_535


@pytest.fixture(scope="module")
def net7() -> MedFIDNet:
    return build(7, weights=None, seed=0)[0]


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def _bns(module: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


def test_head_has_table4_trainable_parameters(net7):
    set_trainable(net7, ())
    assert [layer.weight.numel() + layer.bias.numel() for layer in net7.dense] == [TABLE4_DENSE] * 4
    assert net7.classifier.weight.numel() + net7.classifier.bias.numel() == TABLE4_DENSE_4
    assert trainable_parameter_count(net7) == TABLE4_TRAINABLE


def test_backbone_counted_the_keras_way_is_table4(net7):
    """Keras' BN (scale=False): beta + moving mean + moving variance; torchvision's adds gamma."""
    base = net7.backbone
    conv = sum(m.weight.numel() for m in _convs(base))
    channels = sum(m.num_features for m in _bns(base))
    assert all(m.bias is None for m in _convs(base))
    assert (conv, channels) == (21_751_136, 17_216)
    # the mapping: torch parameters - BN gamma + BN running mean and variance (buffers)
    torch_params = sum(p.numel() for p in base.parameters())
    gammas = sum(m.weight.numel() for m in _bns(base))
    moving = sum(m.running_mean.numel() + m.running_var.numel() for m in _bns(base))
    assert torch_params == conv + 2 * channels
    assert torch_params - gammas + moving == keras_parameter_count(base) == TABLE4_BASE
    assert moving == 34_432  # Keras' "non-trainable" count of the base
    assert keras_parameter_count(net7) == TABLE4_TOTAL


def test_features_are_the_last_hidden_dense_layer(net7):
    net7.eval()
    x = torch.zeros(2, 3, 75, 75)
    with torch.no_grad():
        features = net7.embed(x)
        logits = net7(x)
    assert features.shape == (2, 2048) and logits.shape == (2, 7)
    assert torch.all(features >= 0)  # after dense_3's ReLU
    assert torch.allclose(logits, net7.classifier(features))  # dropout is inactive at inference


def test_phase2_unfreezes_the_top_two_inception_blocks_without_bn_scale(net7):
    set_trainable(net7, TOP_BLOCKS)
    assert trainable_blocks(net7) == ["Mixed_7b", "Mixed_7c"] == list(BACKBONE_LAYERS[-2:])
    blocks = [getattr(net7.backbone, name) for name in TOP_BLOCKS]
    # Keras' trainable part of a block: conv kernels and BN beta
    keras_trainable = sum(sum(m.weight.numel() for m in _convs(b)) + sum(m.num_features for m in _bns(b))
                          for b in blocks)  # fmt: skip
    assert trainable_parameter_count(net7) == TABLE4_TRAINABLE + keras_trainable
    assert not any(m.weight.requires_grad for m in _bns(net7.backbone))


def _step(net: MedFIDNet, blocks: tuple[str, ...]) -> None:
    set_trainable(net, blocks)
    train_mode(net)
    opt = make_optimizer([p for p in net.parameters() if p.requires_grad], PhaseSettings(1, lr=1e-2))
    x = torch.randn(4, 3, 75, 75, generator=torch.Generator().manual_seed(1))
    loss = nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2, 3]))
    opt.zero_grad()
    loss.backward()
    opt.step()


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_phase1_step_leaves_the_whole_base_unchanged():
    net = build(7, weights=None, seed=1)[0]
    base, head = _snapshot(net.backbone), _snapshot(net.dense)
    _step(net, ())
    after = net.backbone.state_dict()
    assert all(torch.equal(base[k], after[k]) for k in base), "frozen weights or BN statistics moved"
    assert not all(torch.equal(head[k], v) for k, v in net.dense.state_dict().items())


def test_phase2_step_changes_only_the_unfrozen_blocks():
    net = build(7, weights=None, seed=1)[0]
    before = _snapshot(net.backbone)
    _step(net, TOP_BLOCKS)
    after = net.backbone.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == set(TOP_BLOCKS)
    gammas = [k for k in before if k.endswith("bn.weight")]
    assert all(torch.equal(before[k], after[k]) for k in gammas)


def test_imagenet_weights_fill_the_base_and_drop_aux_and_fc(tmp_path):
    reference = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    gen = torch.Generator().manual_seed(3)
    state = {k: torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
             for k, v in reference.state_dict().items()}  # fmt: skip
    path = tmp_path / "inception_v3_google.pth"
    torch.save(state, path)
    net, init = build(5, weights=path, seed=0)
    assert init.startswith("imagenet:") and len(init) == len("imagenet:") + 64
    loaded = net.backbone.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in loaded)
    assert any(k.startswith("AuxLogits.") for k in state) and "fc.weight" in state
    torch.save({k: v for k, v in state.items() if not k.startswith("Mixed_7c")}, path)
    with pytest.raises(ValueError, match="not a torchvision InceptionV3 state dict"):
        load_imagenet_weights(net, path)
    with pytest.raises(FileNotFoundError):
        load_imagenet_weights(net, tmp_path / "missing.pth")


def test_only_imagenet_weights_at_299_are_comparable():
    assert comparability("imagenet:" + "0" * 64, 299, demo=False) == (True, [])
    comparable, notes = comparability("random:1", 75, demo=True)
    assert not comparable and len(notes) == 3
