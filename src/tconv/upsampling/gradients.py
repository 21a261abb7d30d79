"""Checkerboards in the gradients of strided convolutions (:mod:`tconv.upsampling.experiments` (d)): the gradient of
a stack of strided convolutions with respect to its input is a stack of transposed convolutions, so it carries
their checkerboard (Distill's last claim).

>>> strided_net("k3s2", layers=2)[0].stride
(2, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..stats import bootstrap_ci
from .overlap import Layer, interior_pattern, phase_means, ripple
from .photos import CAMERA_CROP, load_gray, torch_threads

__all__ = ["GRADIENT_NETS", "strided_net", "input_gradient", "gradient_checkerboards", "gradient_figure"]

# ----------------------------------------------------------------------------------------------------------------
# (d) checkerboards in the gradients of strided convolutions
# ----------------------------------------------------------------------------------------------------------------
#: name -> (kernel, stride, padding) of each of the stacked layers; "k3s1+pool" is a stride-1 conv then 2x2 avg pool
GRADIENT_NETS: dict[str, tuple[int, int, int]] = {
    "k3s2": (3, 2, 1),
    "k4s2": (4, 2, 1),
    "k2s2": (2, 2, 0),
    "k5s2": (5, 2, 2),
    "k3s1+pool": (3, 1, 1),
}


def strided_net(name: str, channels: int = 8, layers: int = 3, seed: int = 0, uniform: bool = False) -> nn.Sequential:
    """A discriminator-like stack of ``layers`` convolutions (``GRADIENT_NETS[name]``) with ReLUs.

    ``uniform=True`` gives all-ones kernels, one channel, no bias and no ReLU: then the gradient of the output's sum
    with respect to the input is exactly the count map of the transposed stack.
    """
    if name not in GRADIENT_NETS:
        raise ConfigError("net", name, f"must be one of {tuple(GRADIENT_NETS)}")
    k, s, p = GRADIENT_NETS[name]
    mods: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        c_in = 1
        for _ in range(layers):
            c_out = 1 if uniform else channels
            conv = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, bias=not uniform)
            if uniform:
                nn.init.ones_(conv.weight)
            mods.append(conv)
            if name.endswith("+pool"):
                mods.append(nn.AvgPool2d(2))
            if not uniform:
                mods.append(nn.ReLU())
            c_in = c_out
    return nn.Sequential(*mods)


def input_gradient(net: nn.Module, image: Tensor, seed: int = 0) -> np.ndarray:
    """Gradient of a random linear read-out of ``net(image)`` (normal weights from ``seed``) w.r.t. the image."""
    x = image.detach().clone().requires_grad_(True)
    y = net(x)
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(y.shape, generator=g)
    (y * r).sum().backward()
    return x.grad[0, 0].numpy().copy()


def gradient_checkerboards(
    image: str | np.ndarray = "camera", seeds: int = 16, channels: int = 8, layers: int = 3, threads: int | None = 1
) -> dict[str, dict[str, Any]]:
    """(d): for each of :data:`GRADIENT_NETS`, the input gradients of ``seeds`` random nets and how periodic they are.

    The gradient of a stack of strided convolutions is a stack of transposed convolutions applied to the output's
    gradient, so its *energy* depends on the position modulo the total stride ``S = 2**layers``. Per net: ``energy``
    — the mean squared gradient by phase (an ``S x S`` tile, normalised to mean 1); ``score`` — :func:`ripple` of
    the mean squared gradient at period ``S`` (0 = no pattern; the ``k3s1+pool`` net is the control), with
    ``ci95``, a percentile bootstrap interval over the ``seeds`` random nets (500 resamples; ``n`` = seeds);
    ``uniform_ratio`` — the max/min of the count map of the transposed stack (what all-equal weights would give);
    ``example`` — seed 0's gradient.

    >>> r = gradient_checkerboards(np.random.default_rng(0).random((32, 32), np.float32), seeds=1, channels=2)
    >>> r["k3s2"]["energy"].shape, r["k3s2"]["uniform_ratio"]
    ((8, 8), 25.0)
    """
    if isinstance(image, str):
        img = load_gray(image)
        img = img[CAMERA_CROP] if image == "camera" else img[:128, :128]
    else:
        img = np.asarray(image, dtype=np.float32)
    x = torch.from_numpy(np.ascontiguousarray(img))[None, None]
    period = 2**layers
    out: dict[str, dict[str, Any]] = {}
    with torch_threads(threads):
        for name, (k, s, p) in GRADIENT_NETS.items():
            grads = [input_gradient(strided_net(name, channels, layers, seed), x, seed) for seed in range(seeds)]
            sq = np.stack([g**2 for g in grads])
            energy = sq.mean(axis=0)
            ci = bootstrap_ci(lambda i, sq=sq: ripple(sq[i].mean(axis=0), period), seeds, resamples=500)
            tile = phase_means(energy, period)
            if name.endswith("+pool"):
                stack = [Layer(k, s, p), Layer(2, 2)] * layers
            else:
                stack = [Layer(k, s, p)] * layers
            pat = interior_pattern(stack, dims=2)
            out[name] = {
                "score": ripple(energy, period),
                "ci95": [ci.lo, ci.hi],
                "n": seeds,
                "energy": tile / tile.mean() if tile.mean() > 0 else tile,
                "uniform_ratio": float(pat.max() / pat.min()) if pat.min() > 0 else float("inf"),
                "example": grads[0],
            }
    return out


def gradient_figure(results: dict[str, dict[str, Any]]) -> Any:
    """(d): one random net's input gradient per architecture (zoomed) and the gradient energy by phase."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(results)
    fig, axes = plt.subplots(2, len(names), figsize=(2.6 * len(names), 5.8), layout="constrained")
    vmax = max(float(r["energy"].max()) for r in results.values())
    for j, name in enumerate(names):
        r = results[name]
        g = r["example"]
        h, w = g.shape
        crop = g[h // 2 - 24 : h // 2 + 24, w // 2 - 24 : w // 2 + 24]
        lim = float(np.abs(crop).max()) or 1.0
        axes[0, j].imshow(crop, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        axes[0, j].set_title(name, fontsize=10)
        im = axes[1, j].imshow(r["energy"], cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
        axes[1, j].set_title(f"ripple {r['score']:.2f}\n(equal weights: max/min {r['uniform_ratio']:.3g})", fontsize=9)
        for a in axes[:, j]:
            a.set_xticks([])
            a.set_yticks([])
    fig.colorbar(im, ax=axes[1, :].tolist(), shrink=0.8, label="mean squared gradient / mean")
    axes[0, 0].set_ylabel("input gradient, seed 0\n(48x48 centre)", fontsize=9)
    axes[1, 0].set_ylabel("gradient energy by\nposition mod 8", fontsize=9)
    fig.suptitle(
        "(d) gradients of three stacked strided convolutions (random weights, ReLU) w.r.t. the input", fontsize=10
    )
    return fig
