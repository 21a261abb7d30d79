"""Forward windows: a convolution or pooling window is the plan's index mapping read the other way.

Along each spatial dimension, output ``u`` of a forward convolution or pooling (kernel ``k``, stride ``s``,
dilation ``d``, padding ``(before, after)``) reads input position::

    j = u * s - before + t * d          for taps t = 0 .. k - 1

which is the transposed plan's ``o = j * s + t * d - pad_before`` (:mod:`tconv.geometry`) with the roles of input and
output swapped (seed 001: C and Cᵀ share one mapping). ``count`` neighbouring outputs read ``(count - 1) * s +
d * (k - 1) + 1`` consecutive inputs (:func:`reach`). This module is the one place those two formulas, the output
size (with PyTorch's ``ceil_mode``) and the "same" padding rule are written; arith's sizes, receptive fields and the
ZFNet mirror read them.

>>> w = forward_window(224, 11, stride=4, padding=2)         # AlexNet conv1
>>> w.out_size, w.padding
((55,), ((2, 2),))
>>> w.transpose.out_size                                       # its adjoint restores 224 (output_padding 1)
(224,)
>>> forward_window(3, 4, stride=4, ceil_mode=True).out_size    # a ceil_mode window larger than the input
(1,)
>>> forward_window((7, 8), 3, stride=2, padding="same").padding   # TensorFlow / PyTorch "same": odd pixel after
((1, 1), (0, 1))
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError
from .geometry import PaddingSpec, Plan, conv_plan
from .padding import _normalize_padding
from .params import _freeze, _is_int, normalize_tuple

__all__ = [
    "Window",
    "forward_window",
    "same_pads",
    "reach",
    "read_start",
    "read_positions",
    "transposed_sources",
]


# ----------------------------------------------------------------------------------------------------------------
# the formulas (everything else in tconv calls these)
# ----------------------------------------------------------------------------------------------------------------
def read_start(u: Any, s: Any, pad_before: Any) -> Any:
    """First input position output ``u`` reads (tap 0): ``u * s - pad_before``. Works on ints and arrays/tensors.

    >>> read_start(3, 2, 1)
    5
    """
    return u * s - pad_before


def read_positions(u: np.ndarray, k: int, s: int, d: int, pad_before: int) -> np.ndarray:
    """Array ``(len(u), k)``: the input position each output in ``u`` reads through each tap (unclipped).

    >>> read_positions(np.array([0, 1]), 3, 2, 1, 1).tolist()
    [[-1, 0, 1], [1, 2, 3]]
    """
    u = np.asarray(u, dtype=np.int64).reshape(-1, 1)
    return read_start(u, s, pad_before) + np.arange(k, dtype=np.int64)[None, :] * d


def transposed_sources(o: np.ndarray, k: int, s: int, d: int, pad_before: int) -> tuple[np.ndarray, np.ndarray]:
    """The transposed plan's mapping ``o = j * s + t * d - pad_before`` solved for ``j``, for every tap.

    Returns ``(j, valid)``, arrays ``(len(o), k)``: tap ``t`` brings input ``j`` to output ``o`` where ``valid``.

    >>> j, ok = transposed_sources(np.array([2]), 3, 2, 1, 0)
    >>> j[ok].tolist()
    [1, 0]
    """
    o = np.asarray(o, dtype=np.int64).reshape(-1, 1)
    num = o + pad_before - np.arange(k, dtype=np.int64)[None, :] * d
    return num // s, num % s == 0


def reach(count: int, k: int, s: int, d: int) -> int:
    """How many consecutive inputs ``count`` neighbouring outputs read: ``(count - 1) * s + d * (k - 1) + 1``.

    It is also the "full" size of a transposed convolution of ``count`` inputs (``Plan.full_size``).

    >>> reach(1, 3, 2, 1), reach(2, 3, 2, 1), reach(55, 11, 4, 1)
    (3, 5, 227)
    """
    return (count - 1) * s + d * (k - 1) + 1


def same_pads(
    in_size: int | Sequence[int], kernel_size: int | Sequence[int], stride: Any = 1, dilation: Any = 1
) -> tuple[tuple[int, int], ...]:
    """The one "same" rule: pad so that ``out = ceil(in / stride)``, the odd pixel after.

    It is TensorFlow's ``padding="SAME"``, and for stride 1 exactly PyTorch's ``nn.Conv*d(padding="same")`` (total
    ``d * (k - 1)``, ``total // 2`` before). PyTorch refuses "same" with a stride; TensorFlow's rule is the natural
    extension.

    >>> same_pads(5, 4), same_pads(5, 3, dilation=2), same_pads((224,), 3, stride=2)
    (((1, 2),), ((2, 2),), ((0, 1),))
    """
    n_t = (int(in_size),) if _is_int(in_size) else tuple(int(v) for v in in_size)  # type: ignore[union-attr]
    nd = len(n_t)
    k_t = normalize_tuple("kernel_size", kernel_size, nd)
    s_t = normalize_tuple("stride", stride, nd)
    d_t = normalize_tuple("dilation", dilation, nd)
    pads = []
    for n, k, s, d in zip(n_t, k_t, s_t, d_t, strict=True):
        out = -(-n // s)
        total = max(reach(out, k, s, d) - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


# ----------------------------------------------------------------------------------------------------------------
# the window object
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """A forward convolution or pooling window over an input of ``in_size``; hashable, immutable and cached.

    ``padding`` holds (before, after) pairs; ``ceil_mode`` windows may run past ``after`` (PyTorch pooling:
    the last window must start inside the input or the left padding), and :attr:`overhang` says by how much.
    """

    in_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    ceil_mode: bool
    out_size: tuple[int, ...]

    @property
    def nd(self) -> int:
        return len(self.in_size)

    @property
    def pad_before(self) -> tuple[int, ...]:
        return tuple(p[0] for p in self.padding)

    @property
    def extent(self) -> tuple[int, ...]:
        """The dilated kernel: ``d * (k - 1) + 1`` input positions per window."""
        return tuple(reach(1, k, 1, d) for k, d in zip(self.kernel_size, self.dilation, strict=True))

    @property
    def overhang(self) -> tuple[int, ...]:
        """Positions the last window reads past the right padding (only ``ceil_mode`` makes it non-zero)."""
        return tuple(
            max(reach(o, k, s, d) - (n + pb + pa), 0)
            for o, k, s, d, n, (pb, pa) in zip(
                self.out_size, self.kernel_size, self.stride, self.dilation, self.in_size, self.padding, strict=True
            )
        )

    def reach(self, count: Sequence[int]) -> tuple[int, ...]:
        """Input extent read by ``count[dim]`` neighbouring outputs in each dimension (unclipped)."""
        return tuple(
            reach(c, k, s, d) for c, k, s, d in zip(count, self.kernel_size, self.stride, self.dilation, strict=True)
        )

    def index_map(self, dim: int) -> np.ndarray:
        """Array ``(out_size[dim], kernel_size[dim])`` of the input position each (output, tap) reads; -1 = padding.

        >>> forward_window(5, 3, stride=2, padding=1).index_map(0)
        array([[-1,  0,  1],
               [ 1,  2,  3],
               [ 3,  4, -1]])
        """
        pos = read_positions(
            np.arange(self.out_size[dim]),
            self.kernel_size[dim],
            self.stride[dim],
            self.dilation[dim],
            self.pad_before[dim],
        )
        return np.where((pos >= 0) & (pos < self.in_size[dim]), pos, -1)

    @functools.cached_property
    def transpose(self) -> Plan:
        """The transposed plan (the window's adjoint): its ``in_size`` is ``out_size`` and its ``out_size`` is
        ``in_size``; a ceil_mode overhang is cropped as extra padding after."""
        pads = tuple((pb, pa + o) for (pb, pa), o in zip(self.padding, self.overhang, strict=True))
        return conv_plan(self.in_size, self.kernel_size, self.stride, pads, self.dilation)

    def describe(self) -> str:
        return (
            f"window in={self.in_size} kernel={self.kernel_size} stride={self.stride} padding={self.padding} "
            f"dilation={self.dilation} ceil_mode={self.ceil_mode} -> out={self.out_size}"
        )


def forward_window(
    in_size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = 1,
    padding: PaddingSpec = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
) -> Window:
    """Validate a forward convolution / pooling window and return its (cached) :class:`Window`.

    ``stride=None`` means the kernel size (pooling's default). ``padding`` is an int, one int per dimension, one
    ``(before, after)`` pair per dimension, ``"valid"`` or ``"same"`` (:func:`same_pads`). The output size is
    PyTorch's: ``floor((n + before + after - d (k - 1) - 1) / s) + 1``, rounded up with ``ceil_mode`` as long as
    the last window starts inside the input or the left padding.

    >>> forward_window(6, 3, stride=2, ceil_mode=True).out_size     # MaxPool1d(3, 2, ceil_mode=True) on 6
    (3,)
    >>> forward_window(4, 5)
    Traceback (most recent call last):
    ...
    tconv.errors.ConfigError: kernel_size=(5,) with dilation (1,) spans 5 > the padded input 4: the window has no output
    """
    return _forward_window_cached(
        _freeze("in_size", in_size),
        _freeze("kernel_size", kernel_size),
        _freeze("stride", kernel_size if stride is None else stride),
        _freeze("padding", padding),
        _freeze("dilation", dilation),
        bool(ceil_mode),
    )


@functools.lru_cache(maxsize=4096)
def _forward_window_cached(in_size, kernel_size, stride, padding, dilation, ceil_mode) -> Window:
    n_t = (in_size,) if _is_int(in_size) else in_size
    if not isinstance(n_t, tuple) or not n_t:
        raise ConfigError("in_size", in_size, "must be an int or a non-empty sequence of ints")
    nd = len(n_t)
    n_t = normalize_tuple("in_size", n_t, nd)
    k_t = normalize_tuple("kernel_size", kernel_size, nd)
    s_t = normalize_tuple("stride", stride, nd)
    d_t = normalize_tuple("dilation", dilation, nd)
    for name, vals in (("in_size", n_t), ("kernel_size", k_t), ("stride", s_t), ("dilation", d_t)):
        if any(v < 1 for v in vals):
            raise ConfigError(name, vals, "must be positive in every dimension")
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in ("same", "valid"):
            raise ConfigError("padding", padding, "must be an int, per-dimension ints or pairs, 'same' or 'valid'")
        pads = same_pads(n_t, k_t, s_t, d_t) if mode == "same" else ((0, 0),) * nd
    else:
        pads = _normalize_padding(padding, nd)
    if any(p < 0 for pair in pads for p in pair):
        raise ConfigError("padding", padding, "must be non-negative in every dimension (a forward window pads)")
    outs = []
    for n, k, s, d, (pb, pa) in zip(n_t, k_t, s_t, d_t, pads, strict=True):
        span = n + pb + pa - reach(1, k, 1, d)
        if ceil_mode:
            o = -(-span // s) + 1
            if (o - 1) * s >= n + pb:  # PyTorch: the last window may not start in the right padding
                o -= 1
        else:
            o = span // s + 1 if span >= 0 else 0
        if o < 1:
            raise ConfigError(
                "kernel_size",
                k_t,
                f"with dilation {d_t} spans {reach(1, k, 1, d)} > the padded input {n + pb + pa}: the window has no "
                "output",
            )
        outs.append(o)
    return Window(n_t, k_t, s_t, d_t, pads, ceil_mode, tuple(outs))
