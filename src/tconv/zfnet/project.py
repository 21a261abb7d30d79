"""ZFNet's deconvnet (seed 000 §3.3): project one activation back to pixel space through a mirror network.

The recipe of seed 000's ``cal_vis_data``, done exactly and batched:

1. Forward the images through ``model[: layer + 1]``, recording the max-pool switches (the argmax of every window).
2. Keep only the strongest activation of one channel: a one-hot "seed" at that position.
3. Run the seed back through the mirror of every layer, last to first:

   ======================  ==================================================================================
   forward layer           mirror layer
   ======================  ==================================================================================
   Conv2d                  transposed convolution with the *same* weights, no bias (seed 000 §2; the plan)
   MaxPool2d               unpooling: each value goes to its switch, values whose switches coincide are **summed**
   ReLU / LeakyReLU        ReLU of the signal (the deconvnet rule; "guided" and "saliency" differ only here)
   AvgPool2d               its transpose: spread each value over its window, divided by the window's divisor
   BatchNorm2d             folded into the preceding convolution (or a per-channel scale)
   Dropout / Identity      nothing
   ======================  ==================================================================================

Two details make the result exact where the seed's code is not. Every mirror layer returns exactly the size of the
forward layer's input (the seed builds ``ConvTranspose2d`` without ``output_size``, so AlexNet's conv1 on a 224 image
comes back as 223). And unpooling *sums* where several pooled outputs share a switch, as the true gradient of
max-pooling does; ``nn.MaxUnpool2d`` overwrites, which is what ``unpool="overwrite"`` reproduces. With summing
unpools the deconvnet is exactly backpropagation with seed 000's "revised ReLU" (``method="gradient"``).

Speed comes from two facts. One forward pass serves every channel and image (seed 000 repeats it per call). And the
signal of a one-hot seed never leaves the unit's receptive field, so the mirror runs on a *window* that follows the
receptive field down the layers, not on whole feature maps: each seed carries its window's start, all windows of a
batch share one size, and a transposed convolution of a window of size ``W`` starting at ``a`` covers the input
positions ``a * stride - pad_before + [0, (W - 1) * stride + dilation * (k - 1] + 1)`` -- the plan's index mapping
``o = j * stride + t * dilation - pad_before``. Positions that fall outside the feature map are the ones the plan
crops; they are zeroed, which makes every mirror layer return exactly the forward layer's input size.

>>> import torch, torch.nn as nn
>>> from tconv.zfnet import project
>>> torch.manual_seed(0) and None
>>> net = nn.Sequential(nn.Conv2d(3, 8, 5, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(8, 4, 3))
>>> img = torch.rand(3, 40, 40)
>>> proj, ch = project(net, img, layer=3)
>>> proj.shape == img.shape, 0 <= ch < 4
(True, True)
>>> grad, _ = project(net, img, layer=3, channel=ch, method="gradient")
>>> torch.allclose(proj, grad, atol=1e-5)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError, ConfigTypeError
from .mirror import _MAX_ELEMENTS, Mirror, _progress, features_of
from .mirror_steps import METHODS, UNPOOLS, Method, Projections, Trace, Unpool, _check_method

__all__ = [
    "METHODS",
    "UNPOOLS",
    "Mirror",
    "Trace",
    "Projections",
    "project",
    "project_channels",
    "features_of",
    "ROUTES",
]


# ----------------------------------------------------------------------------------------------------------------
# the public functions
# ----------------------------------------------------------------------------------------------------------------
def _as_images(images: Any) -> tuple[Tensor, bool, bool]:
    """(batch tensor, was unbatched, was numpy)."""
    from_np = isinstance(images, np.ndarray)
    if from_np:
        if images.dtype not in (np.float32, np.float64):
            raise ConfigTypeError("images", f"ndarray(dtype={images.dtype})", "must be float32 or float64")
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, Tensor):
        raise ConfigTypeError("images", type(images).__name__, "must be a torch.Tensor or a numpy.ndarray")
    if images.ndim not in (3, 4):
        raise ConfigError("images", tuple(images.shape), "must be (C, H, W) or (B, C, H, W)")
    unbatched = images.ndim == 3
    return (images[None] if unbatched else images), unbatched, from_np


def _channel_tensor(name: str, channel: Any, count: int, limit: int, device: torch.device) -> Tensor:
    from .objective import as_channels  # noqa: PLC0415

    return as_channels(name, channel, count, limit).to(device)  # type: ignore[union-attr]


Route = Literal["auto", "mirror", "graph"]
#: How :func:`project` computes: ``"mirror"`` (the explicit deconvnet of an ``nn.Sequential``), ``"graph"``
#: (autograd on the torch.fx graph with each activation's backward rule, :mod:`tconv.zfnet.traced`), ``"auto"``.
ROUTES: tuple[str, ...] = ("auto", "mirror", "graph")


def _mirror_or_name(model: nn.Module, layer: Any, kind: str, unpool: str, route: str) -> tuple[Mirror | None, Any]:
    """The Sequential mirror when it applies, else the layer's name for the graph route."""
    if route not in ROUTES:
        raise ConfigError("route", route, f"must be one of {ROUTES}")
    if layer is not None and not isinstance(layer, (str, int, np.integer)) or isinstance(layer, bool):
        raise ConfigTypeError("layer", layer, "must be an int index, a module's qualified name or an fx node name")
    if isinstance(layer, (int, np.integer)):
        try:
            feats = features_of(model)
        except ConfigError:
            raise ConfigError(
                "layer", layer, "is an index, which needs an nn.Sequential (or .features); name a module or fx node"
            ) from None
        if not -len(feats) <= layer < len(feats):
            raise ConfigError(
                "layer", layer, f"must index one of the model's {len(feats)} layers (0..{len(feats) - 1})"
            )
        if route != "graph" and kind == "unit":
            try:
                return Mirror(model, int(layer)), None
            except ConfigError as exc:
                if route == "mirror" or not exc.param.startswith("model["):
                    raise
        prefix = "" if feats is model else "features."
        return None, f"{prefix}{int(layer) % len(feats)}"
    if route == "mirror":
        raise ConfigError("route", route, "needs an int layer of an nn.Sequential and objective='unit'")
    if unpool != "sum":
        raise ConfigError("unpool", unpool, "must be 'sum' on the graph route (autograd always sums)")
    return None, layer


def _graph_setup(model: nn.Module, x: Tensor, name: Any, method: str, max_elements: int) -> tuple[Any, Tensor, int]:
    from .traced import build  # noqa: PLC0415

    net = build(model, name, method)
    params = list(model.parameters())
    if params:
        x = x.to(params[0].device, params[0].dtype)
    if x.ndim != 4 or not x.is_floating_point():
        raise ConfigError("images", tuple(x.shape), "must be a float (C, H, W) image or (B, C, H, W) batch")
    chunk = max(1, max_elements // max(1, 16 * x[0].numel()))
    return net, x, chunk


def _graph_interior(model: nn.Module, net: Any, shape: tuple[int, ...]) -> Any:
    from .objective import interior_mask  # noqa: PLC0415
    from .traced import Traced  # noqa: PLC0415

    if isinstance(net, Traced):
        return interior_mask(model, shape, node_name=net.layer)
    return interior_mask(model, shape, layer_module=net.module)


def project(
    model: nn.Module,
    images: Tensor | np.ndarray,
    layer: int | str | None = None,
    channel: int | Sequence[int] | Tensor | None = None,
    method: Method = "deconvnet",
    unpool: Unpool = "sum",
    *,
    objective: str | int = "unit",
    position: Any = None,
    inside: bool = True,
    route: Route = "auto",
    max_elements: int = _MAX_ELEMENTS,
    progress: bool = False,
) -> tuple[Tensor | np.ndarray, Any]:
    """Project one unit, channel or class of ``layer`` back to pixel space (seed 000 §3.3), on any traceable model.

    ``images`` is one image (C, H, W) or a batch (B, C, H, W); the projection has exactly their shape (and their
    type: tensor or ndarray). ``layer`` is an index into an ``nn.Sequential`` (or its ``.features``), a module's
    qualified name (``"layer3.1.relu"``; a module called twice means its last call), an fx node name
    (``"layer3_1_relu_1"``, ``"add_3"``) or None for the model's output. ``method`` is one of :data:`METHODS`.

    ``objective`` (:mod:`tconv.zfnet.objective`): ``"unit"`` -- the strongest unit of ``channel``, by default only
    among units whose receptive field lies inside the image (``inside``), or the unit at ``position``; ``"channel"``
    -- the channel's whole map; ``"logit"`` or an int -- one output entry (a class). ``channel`` is an int, one int per
    image, what a previous call returned, or None for the strongest; the chosen channel(s) come back as the second
    result (an int for one image, else a tensor).

    ``route="auto"`` runs an ``nn.Sequential`` of the classic layers through the explicit mirror network
    (``unpool="overwrite"`` reproduces ``nn.MaxUnpool2d``), and anything else through autograd on the torch.fx
    graph with every ReLU-family activation's backward rule (:mod:`tconv.zfnet.traced`); both give the same numbers.
    The model is used in eval semantics (BatchNorm with running statistics, no dropout).

    >>> import torch, torch.nn as nn
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.ReLU())
    >>> with torch.no_grad(): _ = net[0].weight.fill_(1.0)
    >>> p, ch = project(net, torch.ones(1, 7, 7), layer=1, channel=0, inside=False)
    >>> p[0].tolist()[:4]                                   # the 3x3 receptive field of the unit at (0, 0)
    [[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
    >>> q, _ = project(net, torch.ones(1, 7, 7), layer="1", channel=ch, inside=False)   # the graph route
    >>> torch.equal(p, q)
    True
    """
    from .objective import as_channels, forward_all, gradients, interior_mask, parse_objective, select  # noqa: PLC0415

    _check_method(method, unpool)
    kind, channel = parse_objective(objective, channel)
    x, unbatched, from_np = _as_images(images)
    mirror, name = _mirror_or_name(model, layer, kind, unpool, route)
    if mirror is not None:
        mirror.check_images(x)
        trace = mirror.trace(x, signs=method in ("guided", "saliency"))
        limit = mirror.out_channels or x.shape[1]
        chosen = as_channels("channel", channel, len(x), limit)
        region = None
        if inside and position is None:
            feats = features_of(model)
            region = interior_mask(feats, tuple(x.shape[1:]), layer_module=feats[mirror.layer])
        chosen, positions = select(trace.activations.cpu(), "unit", chosen, position, region)
        dev = trace.activations.device
        owner = torch.arange(len(x), device=dev)
        proj = mirror.backward(trace, owner, chosen.to(dev), positions.to(dev), method, unpool, max_elements, progress)
    else:
        net, xg, chunk = _graph_setup(model, x, name, method, max_elements)
        acts = forward_all(net, xg, chunk)
        chosen = as_channels("channel", channel, len(x), acts.shape[1] if acts.ndim > 1 else 1)
        region = _graph_interior(model, net, tuple(x.shape[1:])) if kind == "unit" and inside else None
        chosen, positions = select(acts.cpu(), kind, chosen, position, region)
        spans = -(-len(x) // chunk)
        with _progress(progress and spans > 1, f"{method} projections", spans) as advance:
            proj = gradients(net, xg, torch.arange(len(x)), kind, chosen, positions, chunk, advance)
    proj = proj.to(x.device, x.dtype)
    chosen = chosen.cpu()
    if unbatched:
        proj, chosen_out = proj[0], int(chosen[0])
    else:
        chosen_out = chosen
    return (proj.numpy() if from_np else proj), chosen_out


def project_channels(
    model: nn.Module,
    images: Tensor | np.ndarray,
    layer: int | str | None,
    channels: Sequence[int] | None = None,
    method: Method = "deconvnet",
    unpool: Unpool = "sum",
    *,
    inside: bool = True,
    route: Route = "auto",
    max_elements: int = _MAX_ELEMENTS,
    progress: bool = False,
) -> Projections:
    """Project the strongest unit of ``K`` channels (default: all of the layer's) for each of ``B`` images, from one
    forward pass (``inside`` and ``route`` as in :func:`project`).

    >>> import torch, torch.nn as nn
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(3, 2))
    >>> res = project_channels(net, torch.rand(2, 3, 16, 16), layer=2)
    >>> tuple(res.projection.shape), tuple(res.positions.shape)
    ((2, 4, 3, 16, 16), (2, 4, 2))
    """
    from .objective import forward_all, gradients, interior_grid, interior_mask  # noqa: PLC0415

    _check_method(method, unpool)
    x, _, _ = _as_images(images)
    mirror, name = _mirror_or_name(model, layer, "unit", unpool, route)
    if mirror is not None:
        mirror.check_images(x)
        trace = mirror.trace(x, signs=method in ("guided", "saliency"))
        acts = trace.activations
        feats = features_of(model)
        region = interior_mask(feats, tuple(x.shape[1:]), layer_module=feats[mirror.layer]) if inside else None
    else:
        net, xg, chunk = _graph_setup(model, x, name, method, max_elements)
        acts = forward_all(net, xg, chunk)
        region = _graph_interior(model, net, tuple(x.shape[1:])) if inside else None
    if acts.ndim != 4:
        raise ConfigError("layer", layer, f"gives {tuple(acts.shape)}: project_channels needs (B, C, h, w) maps")
    limit = acts.shape[1]
    chans = (
        torch.arange(limit)
        if channels is None
        else _channel_tensor("channels", channels, len(channels), limit, torch.device("cpu"))
    )
    masked = acts if region is None else acts.masked_fill(~interior_grid(region).to(acts.device), -torch.inf)
    b, k = len(x), len(chans)
    owner = torch.arange(b).repeat_interleave(k)
    seeds = chans.repeat(b)
    positions, values = (t[owner, seeds] for t in Mirror.strongest(masked.cpu()))
    if region is not None:
        values = acts.cpu()[owner, seeds, positions[:, 0], positions[:, 1]]
    if mirror is not None:
        dev = acts.device
        proj = mirror.backward(
            trace, owner.to(dev), seeds.to(dev), positions.to(dev), method, unpool, max_elements, progress
        )
    else:
        spans = -(-len(owner) // chunk)
        with _progress(progress and spans > 1, f"{method} projections", spans) as advance:
            proj = gradients(net, xg, owner, "unit", seeds, positions, chunk, advance)
    return Projections(
        projection=proj.view(b, k, *x.shape[1:]).to(x.device, x.dtype),
        channels=chans.cpu(),
        positions=positions.view(b, k, 2).cpu(),
        values=values.view(b, k).cpu(),
    )
