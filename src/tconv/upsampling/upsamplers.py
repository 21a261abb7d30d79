"""Every way to make a feature map bigger, behind one interface (seed 003).

Seed 003 contrasts three ways back up after a pooling layer: **unpooling** puts each value at the position its max
pool took it from (the "switch") and leaves zeros elsewhere (figure a); **copying** ("unsampling") writes the value
into every position of its pooling window (figure b); a **transposed convolution** learns its kernel (figure c).
With a kernel of ones (kernel size = stride) it copies exactly, but no kernel unpools: a transposed convolution
writes the same kernel for every input, while unpooling writes each value where its max was, which depends on the
image (the best least-squares k2 s2 kernel, with a bias, leaves 85% relative L2 error on the ``camera`` photo;
:func:`tconv.upsampling.experiments.unpool_tconv_error`). Around those three we add the usual modern alternatives: fixed nearest and
bilinear interpolation, a transposed convolution initialised to bilinear or nearest, resize-convolution (nearest
then a stride-1 convolution, Distill's recommended fix) and pixel shuffle (sub-pixel convolution) with ICNR
initialisation.

All of them are :class:`Upsampler` modules built by :func:`make_upsampler` and called the same way::

    y = up(x)                          # (N, C, H, W) -> (N, C, factor * H, factor * W)
    y = up(x, switches=idx)            # unpooling needs the switches of its paired max pool
    y = up(x, output_size=(H2, W2))    # any reachable size (e.g. after a pool that dropped a remainder)

>>> import torch
>>> from tconv.upsampling import make_upsampler, max_pool_with_switches
>>> img = torch.arange(16.0).reshape(1, 1, 4, 4)
>>> pooled, switches = max_pool_with_switches(img, 2)
>>> make_upsampler("unpool")(pooled, switches=switches)[0, 0]
tensor([[ 0.,  0.,  0.,  0.],
        [ 0.,  5.,  0.,  7.],
        [ 0.,  0.,  0.,  0.],
        [ 0., 13.,  0., 15.]])
>>> make_upsampler("copy")(pooled)[0, 0]
tensor([[ 5.,  5.,  7.,  7.],
        [ 5.,  5.,  7.,  7.],
        [13., 13., 15., 15.],
        [13., 13., 15., 15.]])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ConfigTypeError
from ..geometry import conv_plan
from ..ops.dispatch import conv_transpose

__all__ = [
    "METHODS",
    "LEARNABLE",
    "Upsampler",
    "make_upsampler",
    "max_pool_with_switches",
    "unpool",
    "copy_back",
    "bilinear_kernel",
    "tconv_padding",
]

#: The upsampling methods, in the order the figures and tables show them.
METHODS: tuple[str, ...] = (
    "nearest",
    "bilinear",
    "copy",
    "unpool",
    "tconv",
    "tconv_bilinear",
    "tconv_nearest",
    "resize_conv",
    "pixel_shuffle",
)

#: Methods with parameters of their own (the others are fixed maps).
LEARNABLE: tuple[str, ...] = ("tconv", "tconv_bilinear", "tconv_nearest", "resize_conv", "pixel_shuffle")

_DESCRIPTIONS: dict[str, str] = {
    "nearest": "nearest-neighbour interpolation (fixed)",
    "bilinear": "bilinear interpolation, align_corners=False (fixed)",
    "copy": "copy each value into its whole pooling window, averaged where windows overlap",
    "unpool": "max-unpooling: each value back at its max pool's switch, zeros elsewhere",
    "tconv": "transposed convolution, random (PyTorch default) initialisation",
    "tconv_bilinear": "transposed convolution initialised to bilinear interpolation",
    "tconv_nearest": "transposed convolution initialised to nearest (kernel = stride, ones)",
    "resize_conv": "nearest resize, then a stride-1 convolution",
    "pixel_shuffle": "sub-pixel convolution (conv to C*f^2 channels, PixelShuffle), ICNR initialisation",
}


def _check_int(name: str, value: Any, lo: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ConfigTypeError(name, value, "must be an int")
    if value < lo:
        raise ConfigError(name, value, f"must be >= {lo}")
    return int(value)


# ----------------------------------------------------------------------------------------------------------------
# the paired max pool and the two pooling inverses of seed 003
# ----------------------------------------------------------------------------------------------------------------
def max_pool_with_switches(x: Tensor, kernel_size: int, stride: int | None = None) -> tuple[Tensor, Tensor]:
    """2-D max pool that also returns its switches: for each pooled value, the flat index ``row * W + col`` of the
    input position it came from (PyTorch's ``return_indices`` convention).

    >>> v, s = max_pool_with_switches(torch.tensor([[[[1.0, 9.0], [3.0, 4.0]]]]), 2)
    >>> v.item(), s.item()
    (9.0, 1)
    """
    k = _check_int("kernel_size", kernel_size, 1)
    s = k if stride is None else _check_int("stride", stride, 1)
    if x.ndim != 4:
        raise ConfigError("input", tuple(x.shape), "must be (N, C, H, W)")
    if min(x.shape[-2:]) < k:
        raise ConfigError("kernel_size", k, f"must fit in the input's spatial size {tuple(x.shape[-2:])}")
    return F.max_pool2d(x, k, s, return_indices=True)


def unpool(x: Tensor, switches: Tensor, output_size: Sequence[int]) -> Tensor:
    """Max-unpooling (seed 003 fig. a): scatter each value to its switch position; zeros elsewhere.

    This is the transpose of the max pool's selection (the gradient of ``max_pool2d`` with respect to its input), so
    where two overlapping windows chose the same position their values are **added**; where switches do not
    collide it equals ``nn.MaxUnpool2d``. ``switches`` with one channel are shared by every channel of ``x``.

    >>> unpool(torch.tensor([[[[2.0]]]]), torch.tensor([[[[3]]]]), (2, 2))[0, 0]
    tensor([[0., 0.],
            [0., 2.]])
    """
    if x.ndim != 4 or switches.ndim != 4:
        raise ConfigError("input", tuple(x.shape), "and switches must both be (N, C, h, w)")
    if switches.shape[1] == 1 and x.shape[1] != 1:
        switches = switches.expand(x.shape[0], x.shape[1], *switches.shape[2:])
    if tuple(switches.shape) != tuple(x.shape):
        raise ConfigError("switches", tuple(switches.shape), f"must match the input's shape {tuple(x.shape)}")
    h, w = (int(v) for v in output_size)
    if switches.numel() and int(switches.max()) >= h * w:
        raise ConfigError("output_size", (h, w), f"is too small for switch index {int(switches.max())}")
    n, c = x.shape[:2]
    out = x.new_zeros(n, c, h * w)
    out = out.scatter_add(2, switches.reshape(n, c, -1), x.reshape(n, c, -1))
    return out.reshape(n, c, h, w)


def copy_back(x: Tensor, kernel_size: int, stride: int, output_size: Sequence[int]) -> Tensor:
    """Copying ("unsampling", seed 003 fig. b): every value is written into its whole pooling window.

    The pooling windows of a (kernel, stride) pool over ``output_size`` are exactly the index mapping of the
    convolution's plan (:func:`tconv.geometry.conv_plan`), so copying is the transposed convolution with a kernel of
    ones, divided by the plan's overlap counts so that overlapping windows average instead of adding. With
    ``kernel_size == stride`` it is nearest-neighbour upsampling.

    >>> copy_back(torch.tensor([[[[1.0, 3.0]]]]), 3, 2, (3, 5))[0, 0, 0].tolist()   # windows 3 wide, 2 apart
    [1.0, 1.0, 2.0, 3.0, 3.0]
    """
    h, w = (int(v) for v in output_size)
    plan = conv_plan((h, w), kernel_size, stride)  # the pool's geometry, seen from its transpose
    if tuple(x.shape[-2:]) != plan.in_size:
        raise ConfigError(
            "output_size", (h, w), f"is not what a {kernel_size}/{stride} pool maps to {tuple(x.shape[-2:])}"
        )
    c = x.shape[1]
    ones = x.new_ones(c, 1, kernel_size, kernel_size)
    summed = conv_transpose(x, ones, stride=stride, groups=c, output_size=(h, w))
    counts = torch.as_tensor(plan.overlap_counts(), dtype=x.dtype, device=x.device)
    return summed / counts.clamp(min=1)


# ----------------------------------------------------------------------------------------------------------------
# kernels and geometry of the transposed-convolution upsamplers
# ----------------------------------------------------------------------------------------------------------------
def bilinear_kernel(factor: int) -> np.ndarray:
    """The 1-D kernel (length ``2f - f % 2``) whose stride-``f`` transposed convolution is linear interpolation.

    Its outer product with itself is the 2-D bilinear kernel; with padding :func:`tconv_padding` it reproduces
    ``F.interpolate(mode="bilinear", align_corners=False)`` away from the border.

    >>> bilinear_kernel(2).tolist()
    [0.25, 0.75, 0.75, 0.25]
    """
    f = _check_int("factor", factor, 1)
    k = 2 * f - f % 2
    center = f - 1 if k % 2 == 1 else f - 0.5
    return 1.0 - np.abs(np.arange(k) - center) / f


def tconv_padding(kernel_size: int, factor: int) -> tuple[int, int]:
    """(padding, output_padding) that make a stride-``factor`` transposed convolution exactly ``factor`` times bigger.

    From ``out = (in - 1) f - 2p + k + op = f * in``: ``2p - op = k - f`` with the smallest ``p >= 0``.

    >>> tconv_padding(3, 2), tconv_padding(4, 2), tconv_padding(2, 2)
    ((1, 1), (1, 0), (0, 0))
    """
    k = _check_int("kernel_size", kernel_size, 1)
    f = _check_int("factor", factor, 1)
    p = max(0, math.ceil((k - f) / 2))
    op = 2 * p - (k - f)
    if op >= f:
        raise ConfigError("output_padding", op, f"would be needed for kernel {k} and factor {f}, but must be < {f}")
    return p, op


# ----------------------------------------------------------------------------------------------------------------
# the modules
# ----------------------------------------------------------------------------------------------------------------
class Upsampler(nn.Module):
    """Base class: ``forward(x, switches=None, output_size=None)`` maps ``(N, C, H, W)`` to ``(N, C, fH, fW)``."""

    method: str = ""
    needs_switches: bool = False

    def __init__(self, channels: int, factor: int) -> None:
        super().__init__()
        self.channels = channels
        self.factor = factor

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self.method]

    def _size(self, x: Tensor, output_size: Sequence[int] | None) -> tuple[int, int]:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ConfigError("input", tuple(x.shape), f"must be (N, {self.channels}, H, W)")
        if output_size is None:
            return (x.shape[2] * self.factor, x.shape[3] * self.factor)
        size = tuple(int(v) for v in output_size)[-2:]
        return size  # type: ignore[return-value]

    def forward(self, x: Tensor, switches: Tensor | None = None, output_size: Sequence[int] | None = None) -> Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"method={self.method!r}, channels={self.channels}, factor={self.factor}"


class _Interpolate(Upsampler):
    def __init__(self, channels: int, factor: int, mode: str) -> None:
        super().__init__(channels, factor)
        self.method = mode
        self.mode = mode

    def forward(self, x: Tensor, switches: Tensor | None = None, output_size: Sequence[int] | None = None) -> Tensor:
        size = self._size(x, output_size)
        if self.mode == "nearest":
            return F.interpolate(x, size=size, mode="nearest")
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class _Copy(Upsampler):
    method = "copy"

    def __init__(self, channels: int, factor: int, pool_kernel: int) -> None:
        super().__init__(channels, factor)
        self.pool_kernel = pool_kernel

    def forward(self, x: Tensor, switches: Tensor | None = None, output_size: Sequence[int] | None = None) -> Tensor:
        return copy_back(x, self.pool_kernel, self.factor, self._size(x, output_size))


class _Unpool(Upsampler):
    method = "unpool"
    needs_switches = True

    def forward(self, x: Tensor, switches: Tensor | None = None, output_size: Sequence[int] | None = None) -> Tensor:
        if switches is None:
            raise ConfigError("switches", None, "are required by 'unpool': pass the indices of the paired max pool")
        return unpool(x, switches, self._size(x, output_size))


class _TransposedConv(Upsampler):
    method = "tconv"

    def __init__(self, channels: int, factor: int, kernel_size: int, init: str) -> None:
        super().__init__(channels, factor)
        self.method = {"random": "tconv", "bilinear": "tconv_bilinear", "nearest": "tconv_nearest"}[init]
        self.kernel_size = kernel_size
        self.padding, self.output_padding = tconv_padding(kernel_size, factor)
        ref = nn.ConvTranspose2d(channels, channels, kernel_size, stride=factor)  # PyTorch's default initialisation
        self.weight = nn.Parameter(ref.weight.detach().clone())
        self.bias = nn.Parameter(ref.bias.detach().clone())
        if init != "random":
            k1 = bilinear_kernel(factor) if init == "bilinear" else np.ones(factor)
            k2 = torch.as_tensor(np.outer(k1, k1), dtype=self.weight.dtype)
            with torch.no_grad():
                self.weight.zero_()
                self.bias.zero_()
                for c in range(channels):  # identity across channels: each channel is upsampled on its own
                    self.weight[c, c] = k2

    def forward(self, x: Tensor, switches: Tensor | None = None, output_size: Sequence[int] | None = None) -> Tensor:
        size = self._size(x, output_size)
        p = self.padding
        return conv_transpose(x, self.weight, self.bias, stride=self.factor, padding=p, output_size=size)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kernel_size={self.kernel_size}, padding={self.padding}"


class _ResizeConv(Upsampler):
    method = "resize_conv"

    def __init__(self, channels: int, factor: int, kernel_size: int) -> None:
        super().__init__(channels, factor)
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding="same")

    def forward(self, x: Tensor, switches: Tensor | None = None, output_size: Sequence[int] | None = None) -> Tensor:
        return self.conv(F.interpolate(x, size=self._size(x, output_size), mode="nearest"))


class _PixelShuffle(Upsampler):
    method = "pixel_shuffle"

    def __init__(self, channels: int, factor: int, kernel_size: int, icnr: bool) -> None:
        super().__init__(channels, factor)
        self.conv = nn.Conv2d(channels, channels * factor * factor, kernel_size, padding="same")
        self.icnr = icnr
        if icnr:
            # ICNR (Aitken et al. 2017): start from a kernel for C outputs and give all f^2 sub-pixels of a channel
            # the same copy, so that at initialisation the layer is a convolution followed by nearest upsampling
            # (PixelShuffle reads input channel c * f^2 + i * f + j into output channel c at sub-pixel (i, j)).
            base = nn.Conv2d(channels, channels, kernel_size, padding="same")
            with torch.no_grad():
                self.conv.weight.copy_(base.weight.repeat_interleave(factor * factor, dim=0))
                self.conv.bias.copy_(base.bias.repeat_interleave(factor * factor, dim=0))

    def forward(self, x: Tensor, switches: Tensor | None = None, output_size: Sequence[int] | None = None) -> Tensor:
        size = self._size(x, output_size)
        y = F.pixel_shuffle(self.conv(x), self.factor)
        if tuple(y.shape[-2:]) != size:
            raise ConfigError("output_size", size, f"must be factor * input = {tuple(y.shape[-2:])} for pixel_shuffle")
        return y


def make_upsampler(
    method: str,
    channels: int = 1,
    factor: int = 2,
    *,
    kernel_size: int | None = None,
    pool_kernel: int | None = None,
    icnr: bool = True,
    seed: int | None = 0,
) -> Upsampler:
    """Build the upsampler ``method`` (one of :data:`METHODS`) for ``channels`` channels and an integer ``factor``.

    ``kernel_size`` is the learned kernel's size (default: 3 for ``tconv``, ``resize_conv`` and ``pixel_shuffle``;
    ``2f - f % 2`` for ``tconv_bilinear``; ``f`` for ``tconv_nearest``); ``pool_kernel`` the window of the pool that
    ``copy`` mirrors (default ``factor``). Random initialisations draw from ``torch.manual_seed(seed)`` inside a
    forked RNG, so the global generator is untouched; ``seed=None`` uses the global generator.

    >>> up = make_upsampler("tconv_bilinear", channels=3, factor=2)
    >>> up(torch.ones(1, 3, 4, 4)).shape, up.kernel_size
    (torch.Size([1, 3, 8, 8]), 4)
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ConfigError("method", method, f"must be one of {METHODS}")
    channels = _check_int("channels", channels, 1)
    factor = _check_int("factor", factor, 2)
    if kernel_size is not None:
        kernel_size = _check_int("kernel_size", kernel_size, 1)
    if pool_kernel is not None:
        pool_kernel = _check_int("pool_kernel", pool_kernel, 1)
    if method == "tconv_bilinear" and kernel_size not in (None, 2 * factor - factor % 2):
        raise ConfigError("kernel_size", kernel_size, f"must be 2f - f % 2 = {2 * factor - factor % 2} for bilinear")
    if method == "tconv_nearest" and kernel_size not in (None, factor):
        raise ConfigError("kernel_size", kernel_size, f"must equal the factor {factor} for a nearest initialisation")
    if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
        raise ConfigTypeError("seed", seed, "must be an int or None")

    def build() -> Upsampler:
        if method in ("nearest", "bilinear"):
            return _Interpolate(channels, factor, method)
        if method == "copy":
            return _Copy(channels, factor, pool_kernel or factor)
        if method == "unpool":
            return _Unpool(channels, factor)
        if method.startswith("tconv"):
            init = method.partition("_")[2] or "random"
            default_k = {"random": 3, "bilinear": 2 * factor - factor % 2, "nearest": factor}[init]
            return _TransposedConv(channels, factor, kernel_size or default_k, init)
        if method == "resize_conv":
            return _ResizeConv(channels, factor, kernel_size or 3)
        return _PixelShuffle(channels, factor, kernel_size or 3, icnr)

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()
