"""Overlap analysis: how unevenly a transposed convolution (or a stack of them) covers its output.

A transposed convolution scatters a copy of its kernel for every input element; where the copies overlap, outputs
are sums of more terms. The number of terms at each output position is the operator applied to an input of ones
with a kernel of ones — :meth:`tconv.geometry.Plan.overlap_counts`. When the kernel size is not a multiple of the
stride, the count alternates (k=3, s=2: 1, 2, 1, 2, ...), and a layer whose weights are all alike paints that
pattern into its output: the checkerboard. Seed 002 meets it with stride 4 and window 7 (counts 2, 2, 2, 1) and
halves the overlapping taps, which flattens the interior but leaves the borders at half strength.

This module measures it:

* :func:`count_map` — the count map of one layer or a stack, 1-D or 2-D (any dimension), optionally weighted
  (the operator applied to ones with the given kernels);
* :func:`interior_pattern` — one period of the steady-state count map, free of border effects;
* :func:`checkerboard_score` and :func:`ripple` — how much of a signal's energy sits at the stride frequency (graded,
  and defined for zero-mean signals too);
* :func:`overlap_stats` / :func:`overlap_table` — the numbers for common (k, s, d) choices.

>>> from tconv.upsampling.overlap import Layer, count_map, interior_pattern
>>> count_map(Layer(3, 2), in_size=4).tolist()
[1, 1, 2, 1, 2, 1, 2, 1, 1]
>>> interior_pattern(Layer(7, 4)).tolist()      # seed 002: window 7, stride 4
[2, 2, 2, 1]
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, ConfigTypeError
from ..geometry import Plan, plan_from_sizes
from ..ops.dispatch import conv_transpose

__all__ = [
    "Layer",
    "COMMON_CASES",
    "CANCELLING_STACK",
    "OverlapStats",
    "stack_plans",
    "count_map",
    "interior_pattern",
    "checkerboard_score",
    "ripple",
    "phase_means",
    "overlap_stats",
    "overlap_table",
    "overlap_figure",
]


@dataclass(frozen=True)
class Layer:
    """One transposed-convolution layer's geometry (the same in every spatial dimension).

    >>> Layer.parse("k4s2p1")
    Layer(kernel_size=4, stride=2, padding=1, dilation=1, output_padding=0)
    >>> str(Layer(3, 2, padding=1, output_padding=1))
    'k3s2p1o1'
    """

    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    output_padding: int = 0

    @classmethod
    def parse(cls, text: str) -> Layer:
        """Parse ``k<kernel>s<stride>[p<padding>][d<dilation>][o<output_padding>]``, e.g. ``k7s4`` or ``k4s2p1``.

        >>> Layer.parse("k7s4"), Layer.parse("k3s2d2p1").dilation
        (Layer(kernel_size=7, stride=4, padding=0, dilation=1, output_padding=0), 2)
        """
        t = str(text).strip().lower()
        parts = re.findall(r"([kspdo])(\d+)", t)
        keys = [k for k, _ in parts]
        if not parts or "".join(f"{k}{v}" for k, v in parts) != t or keys[0] != "k" or len(set(keys)) != len(keys):
            raise ConfigError("layer", text, "must look like k<kernel>s<stride>[p<pad>][d<dilation>][o<out_pad>]")
        v = {k: int(n) for k, n in parts}
        return cls(v["k"], v.get("s", 1), v.get("p", 0), v.get("d", 1), v.get("o", 0))

    def __str__(self) -> str:
        extra = "".join(
            f"{c}{v}"
            for c, v, dflt in (("p", self.padding, 0), ("d", self.dilation, 1), ("o", self.output_padding, 0))
            if v != dflt
        )
        return f"k{self.kernel_size}s{self.stride}{extra}"


def _as_layers(layers: Layer | Sequence[Layer]) -> tuple[Layer, ...]:
    if isinstance(layers, Layer):
        return (layers,)
    if isinstance(layers, str):
        return tuple(Layer.parse(t) for t in layers.split(","))
    if not isinstance(layers, Sequence) or not layers or not all(isinstance(x, Layer) for x in layers):
        raise ConfigTypeError("layers", layers, "must be a Layer or a non-empty sequence of Layers")
    return tuple(layers)


def stack_plans(layers: Layer | Sequence[Layer], in_size: int | Sequence[int], dims: int | None = None) -> list[Plan]:
    """The plans of a stack of transposed convolutions, each reading the previous one's output.

    ``in_size`` is an int (with ``dims`` spatial dimensions, default 1) or one size per dimension. Every layer is
    validated by :func:`tconv.geometry.make_plan` before anything is computed.

    >>> [p.out_size for p in stack_plans([Layer(3, 2), Layer(3, 2)], 4)]
    [(9,), (19,)]
    """
    layers = _as_layers(layers)
    if isinstance(in_size, int) and not isinstance(in_size, bool):
        size: tuple[int, ...] = (in_size,) * (dims or 1)
    else:
        size = tuple(in_size)  # type: ignore[arg-type]
        if dims is not None and len(size) != dims:
            raise ConfigError("in_size", in_size, f"must have dims={dims} entries")
    plans = []
    for layer in layers:
        plan = plan_from_sizes(
            size, layer.kernel_size, layer.stride, layer.padding, layer.output_padding, layer.dilation
        )
        plans.append(plan)
        size = plan.out_size
    return plans


def count_map(
    layers: Layer | Sequence[Layer],
    in_size: int | Sequence[int] = 8,
    dims: int | None = None,
    weights: Sequence[np.ndarray | None] | None = None,
) -> np.ndarray:
    """How many (input, tap) paths reach each output position of a layer or a stack: the operator applied to ones.

    One layer gives :meth:`Plan.overlap_counts` (integers). For a stack, each further layer is applied, as a
    transposed convolution with a kernel of ones, to the previous count map, so a position's count is the number of
    paths through the whole stack. With ``weights`` (one kernel per layer, ``None`` meaning ones, each of shape
    ``(k,)*dims`` or ``(k,)`` for a separable kernel) the map is the weighted coverage — e.g. seed 002's halving fix.

    >>> count_map(Layer(4, 2, padding=1), in_size=3).tolist()          # DCGAN's k4 s2 p1: flat inside, 1 at borders
    [1, 2, 2, 2, 2, 1]
    >>> count_map([Layer(3, 2), Layer(3, 2)], in_size=2).tolist()
    [1, 1, 2, 1, 3, 2, 3, 1, 2, 1, 1]
    """
    layers = _as_layers(layers)
    plans = stack_plans(layers, in_size, dims)
    if weights is not None and len(weights) != len(layers):
        raise ConfigError(
            "weights", f"{len(weights)} kernels", f"must give one kernel (or None) per layer ({len(layers)})"
        )
    kernels = [_kernel(plan, None if weights is None else weights[i]) for i, plan in enumerate(plans)]
    if kernels[0] is None:
        c = plans[0].overlap_counts()
    else:
        c = _apply(plans[0], np.ones(plans[0].in_size), kernels[0])
    for plan, k in zip(plans[1:], kernels[1:], strict=True):
        c = _apply(plan, np.asarray(c, dtype=np.float64), np.ones(plan.kernel_size) if k is None else k)
    if np.issubdtype(np.asarray(c).dtype, np.floating) and weights is None:
        c = np.rint(c).astype(np.int64)
    return np.asarray(c)


def _kernel(plan: Plan, w: np.ndarray | None) -> np.ndarray | None:
    if w is None:
        return None
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 1 and plan.nd > 1:  # separable: outer product along every dimension
        full = w
        for _ in range(plan.nd - 1):
            full = np.multiply.outer(full, w)
        w = full
    if w.shape != plan.kernel_size:
        raise ConfigError("weights", w.shape, f"must have the layer's kernel shape {plan.kernel_size}")
    return w


def _apply(plan: Plan, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    y = conv_transpose(
        x[None, None].astype(np.float64),
        w[None, None],
        stride=plan.stride,
        padding=plan.padding,
        output_padding=plan.output_padding,
        dilation=plan.dilation,
    )
    return y[0, 0]


def _total_stride(layers: Sequence[Layer]) -> int:
    return math.prod(layer.stride for layer in layers)


def interior_pattern(layers: Layer | Sequence[Layer], dims: int = 1) -> np.ndarray:
    """One period (total stride ``S`` long in each dimension) of the count map far from every border.

    The count map of a stack is periodic with period ``S = prod(strides)`` wherever no border is in reach; this is
    that period, starting at an output index that is a multiple of ``S`` (before the first layer's crop). Padding
    only shifts it.

    >>> interior_pattern(Layer(3, 2), dims=2).tolist()
    [[4, 2], [2, 1]]
    """
    layers = _as_layers(layers)
    big_s = _total_stride(layers)
    reach = sum(layer.dilation * (layer.kernel_size - 1) + 1 + 2 * layer.padding for layer in layers)
    n = 2 * reach + 4  # inputs; the center of the first layer's input is then out of every border's reach
    plain = [Layer(x.kernel_size, x.stride, 0, x.dilation, 0) for x in layers]
    c1 = count_map(plain, n, dims=1)
    start = (len(c1) // 2) // big_s * big_s
    period = c1[start : start + big_s]
    out = period
    for _ in range(dims - 1):
        out = np.multiply.outer(out, period)
    return np.asarray(out)


# ----------------------------------------------------------------------------------------------------------------
# the stride-frequency spectrum
# ----------------------------------------------------------------------------------------------------------------
def _stride_energies(y: np.ndarray, stride: int, dims: int) -> tuple[float, float, float]:
    """(DC energy, energy at the non-zero stride harmonics, total non-DC energy), summed over leading axes.

    The spectrum is taken over the last ``dims`` axes after cropping them to a multiple of ``stride``; the stride
    harmonics are the frequencies ``m * n / stride`` in every axis (excluding all-zero). By Parseval, their energy is
    the energy of the ``stride``-periodic component of ``y`` (its mean over cells, minus the overall mean).
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim < dims:
        raise ConfigError("y", y.shape, f"must have at least dims={dims} axes")
    crop = tuple(slice(None) for _ in range(y.ndim - dims)) + tuple(
        slice(0, (n // stride) * stride) for n in y.shape[-dims:]
    )
    y = y[crop]
    if any(n == 0 for n in y.shape[-dims:]):
        raise ConfigError("stride", stride, f"is larger than the signal's size {y.shape[-dims:]}")
    axes = tuple(range(y.ndim - dims, y.ndim))
    size = math.prod(y.shape[-dims:])
    power = np.abs(np.fft.fftn(y, axes=axes)) ** 2 / size
    power = power.reshape(-1, *y.shape[-dims:]).sum(axis=0)
    harm = tuple(slice(None, None, n // stride) for n in y.shape[-dims:])
    dc = float(power[(0,) * dims])
    at_stride = float(power[harm].sum()) - dc
    total = float(power.sum()) - dc
    return dc, at_stride, total


def checkerboard_score(y: np.ndarray, stride: int, dims: int = 2, of: str = "energy") -> float:
    """How much of ``y`` sits at the stride frequencies, in [0, 1]; graded: 0 for no stride-periodic component,
    small for a faint one, 1 for a pure zero-mean checkerboard.

    ``of="energy"`` (default): the stride-periodic part's share of the whole energy (the mean square, its mean
    included) — :func:`ripple` squared. It is graded on any input, including the flat input the experiments score,
    where a network's output deviates from flat only by a stride-periodic pattern (so the share of *variance* is 1
    for any pattern at all). ``of="variance"``: the share of the mean-removed energy (the variance explained by the
    position modulo ``stride``), useful for photos; all-or-nothing on a flat input. Leading axes (batch, channels)
    are pooled; for white noise the variance share is about ``(stride**dims - 1) / (n**dims - 1)``.

    >>> round(checkerboard_score(np.tile([[1.0, 2.0], [2.0, 4.0]], (8, 8)), 2, of="variance"), 6)
    1.0
    >>> round(checkerboard_score(np.tile([[1.0, 1.01], [1.01, 1.0]], (8, 8)), 2), 6)   # faint: a small score
    2.5e-05
    >>> checkerboard_score(np.ones((16, 16)), 2)
    0.0
    """
    if of not in ("energy", "variance"):
        raise ConfigError("of", of, "must be 'energy' or 'variance'")
    dc, at, total = _stride_energies(y, stride, dims)
    denom = total if of == "variance" else dc + total
    return 0.0 if denom <= 0 else at / denom


def phase_means(y: np.ndarray, stride: int, dims: int = 2) -> np.ndarray:
    """The mean of ``y`` at each position modulo ``stride`` (a ``(stride,) * dims`` tile; leading axes pooled).

    Tiled over the image, it is the stride-periodic component that :func:`checkerboard_score` and :func:`ripple`
    measure in the spectrum (the signal is first cropped to a multiple of ``stride``).

    >>> phase_means(np.tile([[1.0, 2.0], [2.0, 4.0]], (3, 3)), 2).tolist()
    [[1.0, 2.0], [2.0, 4.0]]
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim < dims:
        raise ConfigError("y", y.shape, f"must have at least dims={dims} axes")
    shape = [n // stride for n in y.shape[-dims:]]
    if min(shape) == 0:
        raise ConfigError("stride", stride, f"is larger than the signal's size {y.shape[-dims:]}")
    crop = (Ellipsis, *(slice(0, n * stride) for n in shape))
    y = y[crop].reshape(-1, *[v for n in shape for v in (n, stride)])
    cell_axes = (0, *range(1, 2 * dims, 2))
    return y.mean(axis=cell_axes)


def ripple(y: np.ndarray, stride: int, dims: int = 2) -> float:
    """RMS of the stride-periodic (non-constant) part of ``y`` over the RMS of ``y``: sqrt(stride-frequency energy /
    whole energy), in [0, 1].

    Defined for any signal, zero-mean ones included (a pure zero-mean checkerboard scores 1; an all-zero signal 0).
    For a count map it is the relative strength of the checkerboard a layer with uniform weights paints, 0 when flat;
    for a small ripple on a large mean it is close to the ripple's RMS over the mean. For k=3, s=2 in 1-D the counts
    alternate 1, 2: periodic part ±0.5, RMS of the signal sqrt(2.5):

    >>> round(ripple(np.tile([1.0, 2.0], 16), 2, dims=1), 4)
    0.3162
    >>> ripple(np.tile([1.0, -1.0], 16), 2, dims=1)
    1.0
    """
    dc, at, total = _stride_energies(y, stride, dims)
    return 0.0 if dc + total <= 0 else math.sqrt(max(at, 0.0) / (dc + total))


# ----------------------------------------------------------------------------------------------------------------
# the table
# ----------------------------------------------------------------------------------------------------------------
#: (kernel, stride, dilation, padding) choices worth knowing: common GAN/FCN/U-Net layers, seed 002's k7 s4, holes.
COMMON_CASES: tuple[Layer, ...] = (
    Layer(2, 2),
    Layer(3, 2, 1, 1, 1),
    Layer(4, 2, 1),
    Layer(4, 2, 2),
    Layer(5, 2, 2, 1, 1),
    Layer(6, 2, 2),
    Layer(3, 3),
    Layer(5, 3, 1),
    Layer(6, 3, 3),
    Layer(4, 4),
    Layer(7, 4, 2, 1, 1),
    Layer(8, 4, 2),
    Layer(16, 8, 4),
    Layer(1, 2),
    Layer(3, 2, 2, 2),
)


#: Two different layers whose unevenness cancels: k3 s2 (counts 2 1) followed by k4 s2 p1 gives a flat interior,
#: 3 3 3 3 (each output of the second layer adds one even and one odd output of the first, 2 + 1). Stacking the
#: *same* uneven layer multiplies its unevenness; different layers can cancel it, as Odena et al. allow — in this
#: order only (k4 s2 p1 then k3 s2 is 4 2 4 2).
CANCELLING_STACK: tuple[Layer, ...] = (Layer(3, 2, 1, 1, 1), Layer(4, 2, 1))


@dataclass(frozen=True)
class OverlapStats:
    """The overlap numbers of one layer (``pattern`` and ratios from the interior; ``border_*`` from a whole map)."""

    layer: str
    kernel_size: int
    stride: int
    dilation: int
    padding: int
    pattern: tuple[int, ...]
    ratio_1d: float
    ratio_2d: float
    ripple_2d: float
    border_min_2d: int
    interior_2d: int
    stack2_ratio_2d: float
    stack3_ratio_2d: float

    @property
    def flat(self) -> bool:
        return self.ratio_1d == 1.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("ratio_1d", "ratio_2d", "stack2_ratio_2d", "stack3_ratio_2d", "ripple_2d"):
            if math.isinf(d[key]):
                d[key] = None  # JSON has no infinity: None means "holes" (some outputs receive nothing)
        return d


def _ratio(c: np.ndarray) -> float:
    lo, hi = float(np.min(c)), float(np.max(c))
    return float("inf") if lo == 0 else hi / lo


def overlap_stats(layer: Layer, in_size: int = 8) -> OverlapStats:
    """Interior pattern, max/min ratios (1-D, 2-D, stacks of 2 and 3) and the 2-D border minimum of one layer.

    >>> s = overlap_stats(Layer(3, 2, 1, 1, 1))
    >>> s.pattern, s.ratio_2d, s.stack2_ratio_2d
    ((2, 1), 4.0, 9.0)
    """
    pat = interior_pattern(layer)
    pat2 = interior_pattern(layer, dims=2)
    full2 = count_map(layer, in_size, dims=2)
    return OverlapStats(
        layer=str(layer),
        kernel_size=layer.kernel_size,
        stride=layer.stride,
        dilation=layer.dilation,
        padding=layer.padding,
        pattern=tuple(int(v) for v in pat),
        ratio_1d=_ratio(pat),
        ratio_2d=_ratio(pat2),
        ripple_2d=ripple(np.tile(pat2, (4, 4)), layer.stride),
        border_min_2d=int(full2.min()),
        interior_2d=int(pat2.max()),
        stack2_ratio_2d=_ratio(interior_pattern([layer, layer], dims=2)),
        stack3_ratio_2d=_ratio(interior_pattern([layer, layer, layer], dims=2)),
    )


def overlap_table(cases: Sequence[Layer] = COMMON_CASES) -> list[OverlapStats]:
    """:func:`overlap_stats` for each case (default :data:`COMMON_CASES`).

    >>> [s.layer for s in overlap_table()[:3]]
    ['k2s2', 'k3s2p1o1', 'k4s2p1']
    """
    return [overlap_stats(c) for c in cases]


# ----------------------------------------------------------------------------------------------------------------
# figure
# ----------------------------------------------------------------------------------------------------------------
def overlap_figure(
    layers: Sequence[Layer] | None = None,
    in_size: int = 6,
    stacks: Sequence[Sequence[Layer]] | None = None,
    stack_in_size: int = 4,
) -> Any:
    """Count maps: a 1-D bar row and a 2-D map per layer, 2-D maps of stacks, and seed 002's halving fix (k7 s4).

    Defaults: five common layers, and stacks of three k3 s2 (uneven, compounding), three k4 s2 p1 (flat inside,
    uneven borders) and :data:`CANCELLING_STACK` (two different layers whose unevenness cancels). Returns a
    matplotlib Figure.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415

    layers = list(layers or [Layer(2, 2), Layer(3, 2, 1, 1, 1), Layer(4, 2, 1), Layer(5, 2, 2, 1, 1), Layer(7, 4)])
    stacks = [list(st) for st in (stacks or [[Layer(3, 2, 1, 1, 1)] * 3, [Layer(4, 2, 1)] * 3, CANCELLING_STACK])]
    fig = plt.figure(figsize=(13, 2.1 * len(layers) + 3.4), layout="constrained")
    grid = fig.add_gridspec(len(layers) + 1, 3, width_ratios=[3.2, 1.3, 1.3])
    for i, layer in enumerate(layers):
        ax = fig.add_subplot(grid[i, 0])
        c = count_map(layer, in_size)
        ax.bar(np.arange(len(c)), c, color="tab:blue", width=0.85)
        ax.set_ylim(0, max(c.max(), 1) * 1.25)
        ax.set_xlim(-0.7, len(c) - 0.3)
        for x, v in enumerate(c):
            ax.text(x, v, str(int(v)), ha="center", va="bottom", fontsize=8)
        ax.set_yticks([])
        ratio = _ratio(interior_pattern(layer))
        ax.set_title(
            f"{layer}: 1-D count map of {in_size} inputs (interior max/min {ratio:g})", fontsize=10, loc="left"
        )
        ax2 = fig.add_subplot(grid[i, 1])
        c2 = count_map(layer, in_size, dims=2)
        im = ax2.imshow(c2, cmap="viridis", vmin=0, interpolation="nearest")
        ax2.set_title(f"{layer}: 2-D", fontsize=10)
        ax2.set_xticks([])
        ax2.set_yticks([])
        fig.colorbar(im, cax=ax2.inset_axes((1.05, 0.0, 0.06, 1.0)))
    n = len(layers)
    stacks = stacks[:n]
    bounds = np.linspace(0, n, len(stacks) + 1).round().astype(int)
    for i, st in enumerate(stacks):
        ax3 = fig.add_subplot(grid[bounds[i] : max(bounds[i + 1], bounds[i] + 1), 2])
        cs = count_map(st, stack_in_size, dims=2)
        im3 = ax3.imshow(cs, cmap="viridis", vmin=0, interpolation="nearest")
        name = " -> ".join(str(x) for x in st) if len(set(st)) > 1 else f"{len(st)} x {st[0]}"
        ax3.set_title(
            f"stack {name}, {stack_in_size}x{stack_in_size} in\n(interior max/min {_ratio(interior_pattern(st, 2)):g})",
            fontsize=10,
        )
        ax3.set_xticks([])
        ax3.set_yticks([])
        fig.colorbar(im3, cax=ax3.inset_axes((1.05, 0.0, 0.06, 1.0)))
    # seed 002's fix: halve the six overlapping taps of the window-7 stride-4 kernel
    ax = fig.add_subplot(grid[len(layers), 0:2])
    seed002 = Layer(7, 4)
    plain = count_map(seed002, in_size)
    halved = count_map(seed002, in_size, weights=[np.array([0.5, 0.5, 0.5, 1, 0.5, 0.5, 0.5])])
    x = np.arange(len(plain))
    ax.bar(x - 0.2, plain, width=0.4, label="k7 s4, weights 1")
    ax.bar(x + 0.2, halved, width=0.4, label="the Bezier decoder's fix: overlapping taps x 0.5")
    ax.set_title(
        "Bezier decoder: halving flattens the interior but leaves the borders at 0.5 (its boundary problem)",
        fontsize=10,
        loc="left",
    )
    ax.legend(fontsize=9, loc="upper right", ncol=2)
    ax.set_ylim(0, 2.9)
    ax.set_xlim(-0.7, len(plain) - 0.3)
    ax = fig.add_subplot(grid[len(layers), 2])
    ax.axis("off")
    return fig
