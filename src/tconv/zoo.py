"""Built-in example networks: small, randomly initialized stand-ins with the geometry of classic CNNs.

Each builder returns a :class:`ZooNet` — an ``nn.Module`` whose layers sit in a ``.features`` ``nn.Sequential``
(torchvision style), so receptive fields, the ZFNet projection and the CLI (``tconv rf alexnet-like``) can walk it
layer by layer. Weights come only from the explicit ``seed`` (PyTorch's default initialization drawn from a private
generator state; the global RNG is left untouched), so the same seed gives the same network everywhere.

The layer *geometry* (kernel, stride, padding, pooling) is that of the original network; the widths can be thinned
with ``width`` so that tests run fast. No pretrained weights are downloaded or needed.

>>> import torch
>>> from tconv.zoo import alexnet_like
>>> net = alexnet_like(seed=0)
>>> net(torch.zeros(1, 3, 224, 224)).shape
torch.Size([1, 256, 6, 6])
>>> net.features[0]
Conv2d(3, 64, kernel_size=(11, 11), stride=(4, 4), padding=(2, 2))
"""

from __future__ import annotations

import importlib
import numbers
import os
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .errors import ConfigError, ConfigTypeError

__all__ = ["ZooNet", "alexnet_like", "vgg16_like", "small_cnn", "BUILTINS", "get", "load", "import_model"]


class ZooNet(nn.Module):
    """A plain feed-forward network whose layers are ``self.features`` (an ``nn.Sequential``).

    ``forward(x)`` is ``self.features(x)``; ``name`` records which builder made it and ``seed`` its seed.
    """

    def __init__(self, features: nn.Sequential, name: str, seed: int) -> None:
        super().__init__()
        self.features = features
        self.name = name
        self.seed = seed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, seed={self.seed}"


def _check_seed(seed: int) -> int:
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise ConfigTypeError("seed", seed, "must be an int")
    return int(seed)


def _check_width(width: float) -> float:
    if isinstance(width, bool) or not isinstance(width, numbers.Real):
        raise ConfigTypeError("width", width, "must be a positive number (a multiplier of the channel counts)")
    if not width > 0:
        raise ConfigError("width", width, "must be positive (a multiplier of the channel counts)")
    return float(width)


def _check_channels(in_channels: int) -> int:
    if not isinstance(in_channels, numbers.Integral) or isinstance(in_channels, bool):
        raise ConfigTypeError("in_channels", in_channels, "must be an int")
    if in_channels < 1:
        raise ConfigError("in_channels", in_channels, "must be >= 1")
    return int(in_channels)


def _seeded(seed: int, build: Callable[[], nn.Sequential], name: str) -> ZooNet:
    """Build the layers with the global RNG forked and seeded, so only ``seed`` decides the weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        features = build()
    return ZooNet(features, name, seed)


def _w(c: int, width: float) -> int:
    return max(1, round(c * width))


def alexnet_like(seed: int = 0, width: float = 1.0, in_channels: int = 3) -> ZooNet:
    """AlexNet's feature extractor (torchvision's single-tower version), randomly initialized from ``seed``.

    conv 11/4 p2 (64) · ReLU · maxpool 3/2 · conv 5 p2 (192) · ReLU · maxpool 3/2 · conv 3 p1 (384) · ReLU ·
    conv 3 p1 (256) · ReLU · conv 3 p1 (256) · ReLU · maxpool 3/2. Channel counts are multiplied by ``width``.

    >>> net = alexnet_like(seed=1, width=0.25)
    >>> [m.out_channels for m in net.features if isinstance(m, torch.nn.Conv2d)]
    [16, 48, 96, 64, 64]
    """
    seed, width, cin = _check_seed(seed), _check_width(width), _check_channels(in_channels)
    c = [_w(v, width) for v in (64, 192, 384, 256, 256)]

    def build() -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, c[0], kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c[0], c[1], kernel_size=5, padding=2),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c[1], c[2], kernel_size=3, padding=1),
            nn.ReLU(inplace=False),
            nn.Conv2d(c[2], c[3], kernel_size=3, padding=1),
            nn.ReLU(inplace=False),
            nn.Conv2d(c[3], c[4], kernel_size=3, padding=1),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )

    return _seeded(seed, build, "alexnet-like")


#: VGG16's configuration "D": channel counts, "M" for a 2x2 max-pool with stride 2.
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16_like(seed: int = 0, width: float = 1.0, in_channels: int = 3) -> ZooNet:
    """VGG16's feature extractor: 13 convs 3x3 padding 1, each followed by ReLU, and 5 max-pools 2/2.

    ``width`` multiplies every channel count (``width=1/16`` gives a thin 4-to-32-channel copy for tests).

    >>> net = vgg16_like(seed=0, width=1 / 16)
    >>> net(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 32, 2, 2])
    >>> sum(isinstance(m, torch.nn.Conv2d) for m in net.features), len(net.features)
    (13, 31)
    """
    seed, width, cin = _check_seed(seed), _check_width(width), _check_channels(in_channels)

    def build() -> nn.Sequential:
        layers: list[nn.Module] = []
        c = cin
        for v in _VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                out = _w(int(v), width)
                layers += [nn.Conv2d(c, out, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                c = out
        return nn.Sequential(*layers)

    return _seeded(seed, build, "vgg16-like")


def small_cnn(seed: int = 0, in_channels: int = 1, width: float = 1.0) -> ZooNet:
    """A tiny CNN for quick demos and tests: conv 3 p1 (8) · ReLU · maxpool 2/2 · conv 3 p1 (16) · ReLU · maxpool 2/2.

    >>> small_cnn(seed=0)(torch.zeros(1, 1, 28, 28)).shape
    torch.Size([1, 16, 7, 7])
    """
    seed, width, cin = _check_seed(seed), _check_width(width), _check_channels(in_channels)
    c1, c2 = _w(8, width), _w(16, width)

    def build() -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, c1, kernel_size=3, padding=1),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )

    return _seeded(seed, build, "small-cnn")


#: Built-in networks by the names the CLI accepts.
BUILTINS: dict[str, Callable[..., ZooNet]] = {
    "alexnet-like": alexnet_like,
    "vgg16-like": vgg16_like,
    "small-cnn": small_cnn,
}


def get(name: str, seed: int = 0, **kwargs: float) -> ZooNet:
    """A built-in network by name (``alexnet-like``, ``vgg16-like``, ``small-cnn``; ``_`` may replace ``-``).

    >>> get("vgg16_like", width=0.0625).name
    'vgg16-like'
    """
    key = str(name).lower().replace("_", "-")
    if key not in BUILTINS:
        raise ConfigError("model", name, f"is not a built-in network; choose one of {', '.join(BUILTINS)}")
    return BUILTINS[key](seed=seed, **kwargs)


def import_model(spec: str, seed: int = 0, accept: tuple[type, ...] = (nn.Module,)) -> Any:
    """The one loader of ``"package.module:attr"`` models (the CLI and tconv.zfnet both use it).

    ``attr`` may be dotted (``module:Class.build``). The module is imported with the current directory first on
    ``sys.path`` (so ``tconv rf mynet:Net`` works from the folder holding ``mynet.py``). A class or function is
    called with no arguments under the global RNG forked and seeded with ``seed`` (as the zoo builds its networks),
    so the same seed gives the same weights and the caller's RNG is left alone. The result must be an instance of
    one of ``accept``.

    >>> import_model("tconv.zoo:small_cnn", seed=1).name
    'small-cnn'
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError("model", spec, "must be 'package.module:attr'")
    mod_name, _, attr = spec.partition(":")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(mod_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError("model", spec, f"cannot be loaded: {type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(cwd)
    if not isinstance(obj, accept) and callable(obj):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_check_seed(seed))
            obj = obj()
    if not isinstance(obj, accept):
        names = " or ".join(t.__name__ for t in accept)
        raise ConfigError("model", spec, f"must name a {names} or something that returns one when called")
    return obj


def load(spec: str, seed: int = 0) -> nn.Module:
    """A built-in network by name, or ``package.module:attr`` through :func:`import_model`.

    >>> load("alexnet-like").name, type(load("tconv.zoo:vgg16_like")).__name__
    ('alexnet-like', 'ZooNet')
    """
    key = str(spec).lower().replace("_", "-")
    if key in BUILTINS:
        return get(key, seed=seed)
    if ":" not in str(spec):
        raise ConfigError("model", spec, f"must be one of {', '.join(BUILTINS)} or 'package.module:attr'")
    return import_model(spec, seed)
