"""Occlusion sensitivity (ZFNet §4.2, Figure 7): slide a gray square over the image and watch the network.

For every position of the square, the occluded image goes through the model, and three maps are recorded:

* ``activation`` -- the objective: a feature map's total activation (``objective="channel"``, ZFNet's Fig. 7b), one
  unit (``"unit"``), or a class logit (``layer=None``);
* ``probability`` -- the probability of the class ``target`` (default: the one predicted for the whole image), Fig. 7d;
* ``label`` -- the most probable class, Fig. 7e.

The last two need a model whose output is (B, K) logits. All occluded copies of an image run in batches of
``batch_size``; ``progress`` shows a bar (or plain lines when not on a terminal).

>>> import torch, torch.nn as nn
>>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
>>> occ = occlusion(net, torch.rand(2, 3, 16, 16), size=6, stride=2)
>>> tuple(occ.activation.shape), tuple(occ.label.shape), occ.rows.tolist()
((2, 6, 6), (2, 6, 6), [0, 2, 4, 6, 8, 10])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .mirror import _progress
from .objective import as_channels, interior_mask, parse_objective, pick, select
from .project import _as_images
from .traced import Traced, eval_mode

__all__ = ["Occlusion", "occlusion", "occlusion_positions"]


@dataclass
class Occlusion:
    """Maps over the square's positions: ``[b, i, j]`` has the square's top-left corner at ``(rows[i], cols[j])``."""

    rows: np.ndarray
    cols: np.ndarray
    size: int
    stride: int
    layer: str | None
    objective: str
    channel: Tensor  # (B,) the channel or class of the objective
    position: Tensor | None  # (B, nd) the unit, for objective="unit"
    baseline: Tensor  # (B,) the objective without occlusion
    activation: Tensor  # (B, ny, nx)
    target: Tensor | None = None  # (B,) the class whose probability is mapped
    probability: Tensor | None = None  # (B, ny, nx)
    label: Tensor | None = None  # (B, ny, nx) the most probable class

    def heat(self, b: int, shape: tuple[int, int]) -> np.ndarray:
        """``activation[b]`` spread back to image pixels: each pixel gets the mean over the squares covering it."""
        total = np.zeros(shape)
        count = np.zeros(shape)
        for i, r in enumerate(self.rows):
            for j, c in enumerate(self.cols):
                total[r : r + self.size, c : c + self.size] += float(self.activation[b, i, j])
                count[r : r + self.size, c : c + self.size] += 1
        return total / np.maximum(count, 1)


def occlusion_positions(n: int, size: int, stride: int) -> np.ndarray:
    """Top-left corners along one axis: every ``stride`` px, plus the last one flush with the edge.

    >>> occlusion_positions(10, 4, 3).tolist()
    [0, 3, 6]
    >>> occlusion_positions(11, 4, 3).tolist()
    [0, 3, 6, 7]
    """
    pos = list(range(0, n - size + 1, stride))
    if pos[-1] != n - size:
        pos.append(n - size)
    return np.asarray(pos)


def occlusion(
    model: nn.Module,
    images: Tensor | np.ndarray,
    layer: str | None = None,
    channel: Any = None,
    *,
    objective: str | int | None = None,
    position: Any = None,
    inside: bool = True,
    size: int = 32,
    stride: int = 8,
    fill: float | Tensor = 0.0,
    target: Any = None,
    batch_size: int = 32,
    progress: bool = False,
) -> Occlusion:
    """Occlusion maps (ZFNet §4.2) for images (C, H, W) or (B, C, H, W) in the model's input units.

    ``layer`` (a module or fx node name; None: the output) and ``objective`` (default ``"channel"`` at a layer,
    ``"logit"`` at the output), ``channel``, ``position``, ``inside``: as in :func:`tconv.project`, chosen on the
    unoccluded image. ``fill`` is the square's value in model-input units (0: the mean gray of a mean-subtracted
    input; a (C,) tensor for per-channel values). ``target``: the class whose probability is mapped.
    """
    x, _, _ = _as_images(images)
    params = list(model.parameters())
    if params:
        x = x.to(params[0].device, params[0].dtype)
    h, w = x.shape[-2:]
    for name, v in (("size", size), ("stride", stride), ("batch_size", batch_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(name, v, "must be a positive int")
    if size > min(h, w):
        raise ConfigError("size", size, f"must be at most the image's smaller side ({min(h, w)})")
    kind, channel = parse_objective(objective or ("logit" if layer is None else "channel"), channel)
    fill_t = torch.as_tensor(fill, dtype=x.dtype, device=x.device)
    if fill_t.ndim == 1:
        if len(fill_t) != x.shape[1]:
            raise ConfigError("fill", fill, f"must be a number or {x.shape[1]} numbers (one per channel)")
        fill_t = fill_t[:, None, None]
    elif fill_t.ndim != 0:
        raise ConfigError("fill", fill, "must be a number or one number per channel")

    net = Traced(model, layer, "saliency")
    with torch.no_grad():
        base_values = net.forward(x)
        outputs = None
        if layer is not None:
            with eval_mode(model):
                outputs = model(x)
        else:
            outputs = base_values
    classes = isinstance(outputs, Tensor) and outputs.ndim == 2
    chosen = as_channels("channel", channel, len(x), base_values.shape[1] if base_values.ndim > 1 else 1)
    region = interior_mask(model, tuple(x.shape[1:]), node_name=net.layer) if kind == "unit" and inside else None
    chosen, positions = select(base_values.cpu(), kind, chosen, position, region)
    baseline = pick(base_values, kind, chosen, positions).cpu()
    tgt = None
    if classes:
        tgt = outputs.argmax(1).cpu() if target is None else as_channels("target", target, len(x), outputs.shape[1])
    elif target is not None:
        raise ConfigError("target", target, "needs a model whose output is (B, K) class scores")

    rows, cols = occlusion_positions(h, size, stride), occlusion_positions(w, size, stride)
    grid = [(r, c) for r in rows for c in cols]
    act = torch.empty(len(x), len(grid), dtype=x.dtype)
    prob = torch.empty(len(x), len(grid), dtype=x.dtype) if classes else None
    label = torch.empty(len(x), len(grid), dtype=torch.long) if classes else None
    spans = [(b, a, min(a + batch_size, len(grid))) for b in range(len(x)) for a in range(0, len(grid), batch_size)]
    with _progress(progress, f"occlusion {size}px/{stride}", len(spans)) as advance, torch.no_grad():
        for b, a, e in spans:
            batch = x[b].repeat(e - a, 1, 1, 1)
            for k, (r, c) in enumerate(grid[a:e]):
                batch[k, :, r : r + size, c : c + size] = fill_t
            values = net.forward(batch)
            n = e - a
            act[b, a:e] = pick(
                values, kind, chosen[b].repeat(n), None if positions is None else positions[b].repeat(n, 1)
            ).cpu()
            if classes:
                if layer is not None:
                    with eval_mode(model):
                        logits = model(batch)
                else:
                    logits = values
                p = torch.softmax(logits.double(), 1)
                prob[b, a:e] = p[:, int(tgt[b])].to(x.dtype).cpu()  # type: ignore[index]
                label[b, a:e] = p.argmax(1).cpu()  # type: ignore[index]
            advance()
    shape = (len(x), len(rows), len(cols))
    return Occlusion(
        rows=rows,
        cols=cols,
        size=size,
        stride=stride,
        layer=net.layer if layer is not None else None,
        objective=kind,
        channel=chosen.cpu(),
        position=None if positions is None else positions.cpu(),
        baseline=baseline,
        activation=act.view(shape),
        target=tgt,
        probability=None if prob is None else prob.view(shape),
        label=None if label is None else label.view(shape),
    )
