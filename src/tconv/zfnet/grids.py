"""Pictures of seed 000 §3.2-3.3: feature-map grids, first-layer kernel grids, projections next to their images.

Array builders (``feature_grid``, ``kernel_grid``, ``to_rgb``) return NumPy arrays, so tests can check values;
the ``*_figure`` functions wrap them in matplotlib Figures (saving is separate: :func:`tconv.files.save_figure`).

>>> import torch
>>> g = feature_grid(torch.arange(8.0).view(2, 2, 2), ncols=2)
>>> g.shape, float(np.nanmin(g)), float(np.nanmax(g))     # two 2x2 maps, a 1-pixel gap, each scaled to [0, 1]
((2, 5), 0.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import ConfigError

__all__ = [
    "minmax",
    "to_rgb",
    "grid",
    "feature_grid",
    "kernel_grid",
    "feature_grid_figure",
    "kernel_grid_figure",
    "projections_figure",
]


def _np(a: torch.Tensor | np.ndarray) -> np.ndarray:
    return a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=np.float64)


def minmax(a: torch.Tensor | np.ndarray) -> np.ndarray:
    """Scale to [0, 1] by the array's own min and max (a constant array becomes 0.5).

    >>> minmax(np.array([2.0, 4.0, 3.0])).tolist()
    [0.0, 1.0, 0.5]
    """
    a = _np(a)
    lo, hi = float(a.min()), float(a.max())
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        return np.full(a.shape, 0.5)
    return (a - lo) / (hi - lo)


def to_rgb(chw: torch.Tensor | np.ndarray, bgr: bool = False, scale: str = "minmax") -> np.ndarray:
    """A (3, H, W) projection or image as an (H, W, 3) RGB picture in [0, 1].

    ``scale="minmax"`` is seed 000's last step; ``"robust"`` maps 0 to mid-gray and the 99.5th percentile of the
    nonzero magnitudes to full contrast (a projection is mostly zeros with a few extreme pixels, which min-max
    scaling turns into a flat gray picture).

    >>> to_rgb(np.array([-1.0, 0.0, 1.0]).reshape(3, 1, 1), scale="robust").ravel().tolist()
    [0.0, 0.5, 1.0]
    """
    a = _np(chw)
    if a.ndim != 3 or a.shape[0] != 3:
        raise ConfigError("image", a.shape, "must be (3, H, W)")
    if scale not in ("minmax", "robust"):
        raise ConfigError("scale", scale, "must be 'minmax' or 'robust'")
    if bgr:
        a = a[::-1]
    if scale == "minmax":
        return minmax(a).transpose(1, 2, 0)
    nz = np.abs(a[a != 0])
    s = float(np.quantile(nz, 0.995)) if nz.size else 1.0
    return np.clip(0.5 + a / (2 * s), 0, 1).transpose(1, 2, 0)


def grid(tiles: Sequence[np.ndarray], ncols: int | None = None, pad: int = 1, fill: float = np.nan) -> np.ndarray:
    """Tile same-shaped (h, w) or (h, w, 3) arrays row by row, ``pad`` pixels of ``fill`` between them."""
    if not len(tiles):
        raise ConfigError("tiles", 0, "must hold at least one array")
    n = len(tiles)
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    h, w = tiles[0].shape[:2]
    extra = tiles[0].shape[2:]
    out = np.full((nrows * h + (nrows - 1) * pad, ncols * w + (ncols - 1) * pad, *extra), fill, dtype=np.float64)
    for k, t in enumerate(tiles):
        r, c = divmod(k, ncols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = t
    return out


def feature_grid(maps: torch.Tensor | np.ndarray, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """A layer's feature maps (C, h, w) in one 2-D array, each map min-max scaled on its own; gaps are NaN."""
    a = _np(maps)
    if a.ndim != 3:
        raise ConfigError("maps", a.shape, "must be (C, h, w): one image's feature maps")
    return grid([minmax(m) for m in a], ncols, pad)


def kernel_grid(weight: torch.Tensor | np.ndarray, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """First-layer kernels (O, 3, kh, kw) as RGB tiles (AlexNet's Figure 3), each min-max scaled; gaps are white.

    The weight's input channels must be in RGB order (see :meth:`Network.first_kernels_rgb` for BGR models).
    """
    w = _np(weight)
    if w.ndim != 4 or w.shape[1] != 3:
        raise ConfigError("weight", w.shape, "must be (out_channels, 3, kh, kw): a first layer that sees RGB")
    return grid([minmax(k).transpose(1, 2, 0) for k in w], ncols, pad, fill=1.0)


def feature_grid_figure(maps: torch.Tensor | np.ndarray, title: str = "", ncols: int | None = None, cmap: str = "gray"):
    """Figure of :func:`feature_grid` (seed 000 §3.2's ``visualize_feature_maps``)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    g = feature_grid(maps, ncols)
    scale = 7.0 / max(g.shape)
    fig, ax = plt.subplots(figsize=(max(3.0, g.shape[1] * scale), max(3.0, g.shape[0] * scale) + 0.4))
    cm = plt.get_cmap(cmap).with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(g), cmap=cm, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def kernel_grid_figure(weight: torch.Tensor | np.ndarray, title: str = "", ncols: int | None = None):
    """Figure of :func:`kernel_grid` (seed 000 §3.2's ``visualize_kernels``), pixels drawn as blocks."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    g = kernel_grid(weight, ncols)
    scale = 6.0 / max(g.shape[:2])
    fig, ax = plt.subplots(figsize=(max(3.0, g.shape[1] * scale), max(3.0, g.shape[0] * scale) + 0.4))
    ax.imshow(g, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def projections_figure(
    images: Sequence[np.ndarray],
    columns: dict[str, Sequence[torch.Tensor | np.ndarray]],
    row_labels: Sequence[str] | None = None,
    bgr: bool = False,
    diff: tuple[str, str] | None = None,
    scale: str = "robust",
    title: str = "",
    image_title: str = "image",
):
    """One row per image: the image (H, W, 3 uint8 RGB), then one column per projection set (3, H, W each).

    ``scale`` is :func:`to_rgb`'s. ``diff=(a, b)`` adds a column ``|a - b|`` scaled by the largest magnitude of ``a``, in a heat map.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(columns)
    ncols = 1 + len(names) + (1 if diff else 0)
    fig, axes = plt.subplots(len(images), ncols, figsize=(2.3 * ncols, 2.35 * len(images)), squeeze=False)
    for r, img in enumerate(images):
        axes[r, 0].imshow(img)
        axes[r, 0].set_ylabel(row_labels[r] if row_labels else "", fontsize=9)
        for c, name in enumerate(names, start=1):
            axes[r, c].imshow(to_rgb(columns[name][r], bgr=bgr, scale=scale), interpolation="nearest")
        if diff:
            a, b = _np(columns[diff[0]][r]), _np(columns[diff[1]][r])
            d = np.abs(a - b).max(axis=0) / max(np.abs(a).max(), 1e-30)
            im = axes[r, -1].imshow(d, cmap="magma", vmin=0, vmax=max(float(d.max()), 1e-6))
            fig.colorbar(im, ax=axes[r, -1], fraction=0.046, pad=0.02)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    titles = [image_title, *names] + (["|difference|"] if diff else [])
    for c, t in enumerate(titles):
        axes[0, c].set_title(t, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
