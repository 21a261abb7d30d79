"""What to project: a unit, a whole channel or a class logit, and the general (autograd) projection route.

* ``objective="unit"`` -- one unit of a channel: the strongest one, by default only among units whose receptive field
  lies wholly inside the image (``inside=True``: at deep layers the strongest unit often sits on the border and owes
  its value to the zero padding), or the unit at a given ``position``.
* ``objective="channel"`` -- the sum of the channel's whole map (default channel: the largest sum).
* ``objective="logit"`` (or an int: that output index) -- one entry of a (B, K) output such as a classifier's logits
  (default: the largest, i.e. the predicted class). ``layer`` defaults to the model's output.

Which units are "inside" comes from :mod:`tconv.receptive` (the geometry's one place): unit ``u`` of a layer is
inside when its theoretical field ``[lo(u), hi(u)]`` starts at or after 0 and ends before the image's edge, in
every spatial dimension.

>>> import torch, torch.nn as nn
>>> net = nn.Sequential(nn.Conv2d(3, 2, 5), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1))
>>> rows, cols = interior_mask(net, (3, 12, 12), layer_module=net[2])
>>> rows.tolist()                                  # conv2 pads by 1: its first and last units reach outside
[False, True, True, True, True, True, True, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError, ConfigTypeError

__all__ = ["OBJECTIVES", "interior_mask", "parse_objective", "select", "pick", "gradients"]

#: Objectives of :func:`tconv.project`.
OBJECTIVES: tuple[str, ...] = ("unit", "channel", "logit")


def parse_objective(objective: Any, channel: Any) -> tuple[str, Any]:
    """``(kind, channel)``: an int objective means ``"logit"`` with that output index."""
    if isinstance(objective, (int, np.integer)) and not isinstance(objective, bool):
        if channel is not None:
            raise ConfigError("channel", channel, "must be None when objective is an output index")
        return "logit", int(objective)
    if objective not in OBJECTIVES:
        raise ConfigError("objective", objective, f"must be one of {OBJECTIVES} or an output index (int)")
    return str(objective), channel


def as_channels(name: str, channel: Any, count: int, limit: int) -> Tensor | None:
    """``channel`` as a (count,) long tensor: None, an int, ints, or what :func:`tconv.project` returned (a tensor
    or array of ints, one per image)."""
    if channel is None:
        return None
    if isinstance(channel, (Tensor, np.ndarray)):
        if channel.dtype in (torch.bool, np.bool_) or (
            channel.dtype.is_floating_point if isinstance(channel, Tensor) else channel.dtype.kind == "f"
        ):
            raise ConfigTypeError(name, f"{type(channel).__name__}(dtype={channel.dtype})", "must hold ints")
        channel = channel.tolist()
    vals = [channel] * count if isinstance(channel, (int, np.integer)) else list(channel)
    if len(vals) != count or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
        raise ConfigError(name, channel, f"must be None, an int or {count} ints (one per image)")
    if any(not 0 <= v < limit for v in vals):
        raise ConfigError(name, channel, f"must be between 0 and {limit - 1} (the layer has {limit} channels)")
    return torch.tensor([int(v) for v in vals], dtype=torch.long)


# ----------------------------------------------------------------------------------------------------------------
# which units lie inside the image: tconv.receptive's per-unit fields
# ----------------------------------------------------------------------------------------------------------------
def interior_mask(
    model: nn.Module,
    image_shape: Sequence[int],
    node_name: str | None = None,
    layer_module: nn.Module | None = None,
) -> tuple[np.ndarray, ...] | None:
    """Per spatial dimension, which units of the layer have their whole theoretical field inside the image.

    The layer is an fx node name of ``model``'s trace (``node_name``) or a module called once (``layer_module``).
    None when the layer is not spatial, could not be located, or no unit's field fits (fields larger than the image).
    """
    from ..receptive import unit_fields  # noqa: PLC0415

    layer = layer_module if layer_module is not None else node_name
    if layer is None:
        return None
    try:  # traced in the model's own dtype (float64 models included)
        fields = unit_fields(model, (1, *(int(s) for s in image_shape)), layer)
    except (ConfigError, ConfigTypeError):
        return None
    masks = fields.inside
    return tuple(masks) if all(m.any() for m in masks) else None


def interior_grid(masks: tuple[np.ndarray, ...]) -> Tensor:
    grid = torch.ones((), dtype=torch.bool)
    for d, m in enumerate(masks):
        shape = [1] * len(masks)
        shape[d] = len(m)
        grid = grid & torch.from_numpy(m).view(shape)
    return grid


# ----------------------------------------------------------------------------------------------------------------
# choosing the objective's unit / channel / class
# ----------------------------------------------------------------------------------------------------------------
def select(
    acts: Tensor,
    kind: str,
    channel: Tensor | None,
    position: Any = None,
    inside: tuple[np.ndarray, ...] | None = None,
) -> tuple[Tensor, Tensor | None]:
    """``(channels (B,), positions (B, nd) or None)`` for activations ``acts`` (B, C, *spatial) or (B, K)."""
    b = acts.shape[0]
    spatial = tuple(acts.shape[2:])
    if kind == "logit":
        if acts.ndim != 2:
            raise ConfigError(
                "objective", "logit", f"needs a (B, K) output, but the layer gives {tuple(acts.shape)}: name "
                "another layer or use objective='channel'",
            )  # fmt: skip
        return (acts.argmax(1) if channel is None else channel), None
    if kind == "channel":
        sums = acts.flatten(2).sum(2) if acts.ndim > 2 else acts
        return (sums.argmax(1) if channel is None else channel), None
    # unit
    if not spatial:
        return (acts.argmax(1) if channel is None else channel), torch.zeros(b, 0, dtype=torch.long)
    flat = acts.flatten(2)  # (B, C, n)
    if position is not None:
        pos = _positions(position, b, spatial)
        lin = torch.tensor([int(np.ravel_multi_index(tuple(p), spatial)) for p in pos.tolist()], dtype=torch.long)
        if channel is None:
            channel = flat[torch.arange(b), :, lin].argmax(1)
        return channel, pos
    if inside is not None and len(inside) == len(spatial):
        flat = flat.masked_fill(~interior_grid(inside).flatten(), -torch.inf)
    if channel is None:
        channel = flat.amax(2).argmax(1)
    lin = flat[torch.arange(b), channel].argmax(1)
    pos = torch.stack([torch.as_tensor(c) for c in np.unravel_index(lin.numpy(), spatial)], 1).long()
    return channel, pos


def _positions(position: Any, b: int, spatial: tuple[int, ...]) -> Tensor:
    if isinstance(position, Tensor):
        position = position.tolist()
    arr = np.asarray(position, dtype=object)
    if arr.ndim == 1:
        arr = np.stack([arr] * b)
    ok = arr.ndim == 2 and arr.shape == (b, len(spatial))
    ok = ok and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr.ravel())
    if not ok:
        raise ConfigError("position", position, f"must be {len(spatial)} ints, or {b} such tuples (one per image)")
    pos = torch.tensor(arr.astype(np.int64))
    if (pos < 0).any() or (pos >= torch.tensor(spatial)).any():
        raise ConfigError("position", position, f"must lie in the layer's map of size {spatial}")
    return pos


def pick(values: Tensor, kind: str, channel: Tensor, positions: Tensor | None) -> Tensor:
    """The objective per image: one unit, a channel's sum or one output entry -- (B,)."""
    rows = torch.arange(values.shape[0], device=values.device)
    channel = channel.to(values.device)
    if kind == "channel":
        return values[rows, channel].flatten(1).sum(1) if values.ndim > 2 else values[rows, channel]
    if kind == "unit" and positions is not None and positions.shape[1]:
        idx = (rows, channel, *positions.to(values.device).T)
        return values[idx]
    return values[rows, channel]


# ----------------------------------------------------------------------------------------------------------------
# the general route: autograd through the rewritten graph
# ----------------------------------------------------------------------------------------------------------------
def forward_all(net: Any, x: Tensor, chunk: int) -> Tensor:
    """The layer's values for every image, without gradients, ``chunk`` images at a time."""
    with torch.no_grad():
        return torch.cat([net.forward(x[a : a + chunk]) for a in range(0, len(x), chunk)])


def gradients(
    net: Any,
    x: Tensor,
    owner: Tensor,
    kind: str,
    channel: Tensor,
    positions: Tensor | None,
    chunk: int,
    advance: Any = None,
) -> Tensor:
    """d objective / d image for every seed (image ``owner[s]``, ``channel[s]``, ``positions[s]``): (S, C, H, W).

    Each seed's image is a separate batch entry (BatchNorm runs in eval mode, so entries do not interact), so one
    backward pass serves a whole chunk of seeds.
    """
    out = torch.empty(len(owner), *x.shape[1:], dtype=x.dtype, device=x.device)
    for a in range(0, len(owner), chunk):
        b = min(a + chunk, len(owner))
        xs = x[owner[a:b]].detach().clone().requires_grad_(True)
        with torch.enable_grad():
            values = net.forward(xs)
            obj = pick(values, kind, channel[a:b], None if positions is None else positions[a:b])
            (grad,) = torch.autograd.grad(obj.sum(), xs)
        out[a:b] = grad
        if advance is not None:
            advance()
    return out
