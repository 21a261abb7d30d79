"""The geometry behind every animation frame, computed in one function (:func:`scene`) from the plan.

A picture of a (transposed) convolution is three things: a *source* grid the kernel is laid on, a *target* grid
that receives results, and, per frame, which cells light up. This module computes all of them once; the renderers
in :mod:`tconv.viz.animate` only read the resulting :class:`Scene` and never do index arithmetic of their own, so a
picture cannot disagree with the operator. The views:

``op="transposed", view="equivalent"`` (conv_arithmetic style, seed 000 §2, seed 001)
    The source is the *zero-inserted, padded* input of the equivalent stride-1 convolution
    (:attr:`Plan.equivalent_conv`): ``s - 1`` zeros between inputs, ``d(k - 1) - p`` zeros of padding on each side
    (a negative amount crops). The flipped, dilated kernel slides over it; one frame per output cell.
``op="transposed", view="scatter"``
    The source is the input itself; one frame per input cell, which paints ``x[j] * w`` into the output at the
    positions the plan maps it to. The target is the *full* output (before padding crops it), so the cropped border
    is visible; a running count per cell shows the uneven overlap.
``op="conv", view="equivalent"``
    The forward convolution whose transpose the plan describes: the padded input of size ``plan.out_size``, the
    (unflipped) kernel sliding with the stride; one frame per convolution output (``plan.in_size`` of them).

>>> from tconv.geometry import plan_from_sizes
>>> sc = scene(plan_from_sizes(2, 3, stride=2), view="scatter", x=[1.0, 10.0], w=[1.0, 2.0, 3.0])
>>> len(sc.frames), sc.output.tolist()
(2, [1.0, 2.0, 13.0, 20.0, 30.0])
>>> sc.frames[1].counts.tolist()            # output 2 is reached twice
[1, 1, 2, 1, 1]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, ConfigTypeError
from ..geometry import Plan, conv_plan, make_plan, plan_from_sizes

__all__ = [
    "OPS",
    "VIEWS",
    "MAX_FRAMES",
    "MAX_CELLS",
    "Grid",
    "Frame",
    "Scene",
    "scene",
    "animation_plan",
    "example_values",
]

OPS: tuple[str, ...] = ("transposed", "conv")
VIEWS: tuple[str, ...] = ("equivalent", "scatter")

#: Pictures are for small cases: more frames than this are refused before any work.
MAX_FRAMES = 1024
#: ... and so are grids wider than this many cells along a dimension.
MAX_CELLS = 64

Index = tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Grid:
    """A grid of cells as drawn: ``kind[c - lo]`` is what cell ``c`` shows, ``pos`` where 1-D cells sit.

    Kinds: ``"input"`` (an element of x), ``"zero"`` (a zero inserted between inputs), ``"pad"`` (a padding zero),
    ``"cropped"`` (a position that padding removes), ``"output"`` (an element of y).
    ``lo`` is the coordinate of the first cell along each dimension; ``pos`` (1-D pictures only) gives the horizontal
    position, in cell widths, of each cell, so that the source and target rows line up.
    """

    lo: Index
    kind: np.ndarray
    pos: np.ndarray | None = None

    @property
    def shape(self) -> Index:
        return tuple(self.kind.shape)

    def kind_at(self, cell: Sequence[int]) -> str:
        """The kind of the cell at coordinate ``cell``."""
        return str(self.kind[tuple(c - lo for c, lo in zip(cell, self.lo, strict=True))])

    def cells(self) -> list[Index]:
        """Every cell coordinate, row-major."""
        return [tuple(lo + i for lo, i in zip(self.lo, ix, strict=True)) for ix in np.ndindex(*self.shape)]


@dataclass(frozen=True, eq=False)
class Frame:
    """What one frame shows.

    ``focus``: the output being computed (target coordinate) in the equivalent and conv views, or the input being
    scattered (source coordinate) in the scatter view. ``kernel``: ``(cell, tap)`` for every kernel tap drawn — on
    the source grid for the equivalent and conv views (the window), on the target grid for the scatter view (the
    painted window, cropped cells included). ``pairs``: the real contributions ``(input, tap, output)`` in the plan's
    terms (transposed-convolution input and output indices), sorted. ``paint``: ``(target cell, value)`` added this
    frame. ``values``, ``counts`` and ``written``: the target grid after this frame (running sums, running numbers of
    contributions, and which cells have been written).
    """

    step: int
    focus: Index
    kernel: tuple[tuple[Index, Index], ...]
    pairs: tuple[tuple[Index, Index, Index], ...]
    paint: tuple[tuple[Index, float], ...]
    values: np.ndarray
    counts: np.ndarray
    written: np.ndarray


@dataclass(frozen=True, eq=False)
class Scene:
    """Everything an animation shows, for one plan, operation and view (see :func:`scene`)."""

    plan: Plan
    op: str
    view: str
    x: np.ndarray
    w: np.ndarray
    source: Grid
    target: Grid
    frames: tuple[Frame, ...]
    flipped: bool

    @property
    def nd(self) -> int:
        return self.plan.nd

    @property
    def out_shape(self) -> Index:
        """Shape of the operation's output: the plan's output (transposed) or its input size (conv)."""
        return self.plan.in_size if self.op == "conv" else self.plan.out_size

    @property
    def output(self) -> np.ndarray:
        """The operation's result, read off the last frame's target grid (the cropped border removed)."""
        last = self.frames[-1].values
        sl = tuple(slice(-lo, -lo + n) for lo, n in zip(self.target.lo, self.out_shape, strict=True))
        return last[sl]

    def describe(self) -> str:
        """One line with the sizes and every parameter that is not at its default."""
        p = self.plan
        fmt = _fmt_size
        if self.op == "conv":
            pads = p.padding
            head = f"convolution  i={fmt(p.out_size)} k={fmt(p.kernel_size)}"
            tail = f"→ o={fmt(p.in_size)}"
        else:
            pads = p.padding
            head = f"transposed convolution  i={fmt(p.in_size)} k={fmt(p.kernel_size)}"
            tail = f"→ o={fmt(p.out_size)}"
        parts = [head]
        if any(v != 1 for v in p.stride):
            parts.append(f"s={_fmt_param(p.stride)}")
        if any(a or b for a, b in pads):
            parts.append(f"p={_fmt_pad(pads)}")
        if any(v != 1 for v in p.dilation):
            parts.append(f"d={_fmt_param(p.dilation)}")
        if self.op == "transposed" and any(p.output_padding):
            parts.append(f"op={_fmt_param(p.output_padding)}")
        parts.append(tail)
        return " ".join(parts)


def _fmt_size(t: Sequence[int]) -> str:
    return "×".join(str(v) for v in t) if len(set(t)) > 1 else str(t[0])


def _fmt_param(t: Sequence[int]) -> str:
    return f"({','.join(map(str, t))})" if len(set(t)) > 1 else str(t[0])


def _fmt_pad(pads: Sequence[tuple[int, int]]) -> str:
    if all(a == b for a, b in pads):
        return _fmt_param([a for a, _ in pads])
    if len(pads) == 1:
        return f"({pads[0][0]},{pads[0][1]})"
    return "(" + ",".join(f"({a},{b})" for a, b in pads) + ")"


# ----------------------------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------------------------
def animation_plan(
    op: str,
    in_size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: Any = 0,
    dilation: int | Sequence[int] = 1,
    output_padding: int | Sequence[int] = 0,
) -> Plan:
    """The plan to animate: a transposed convolution of ``in_size``, or (``op="conv"``) a convolution of ``in_size``.

    For ``op="conv"`` all parameters are the convolution's (PyTorch ``Conv2d``); the plan is its transpose
    (:func:`tconv.geometry.conv_plan`), whose ``out_size`` is ``in_size``.

    >>> animation_plan("conv", 5, 3, stride=2, padding=1).in_size      # the convolution's output size
    (3,)
    >>> animation_plan("transposed", (2, 3), 3, stride=2).out_size
    (5, 7)
    """
    _check_op(op)
    if op == "conv":
        if any(_ints(output_padding)):
            raise ConfigError(
                "output_padding", output_padding, "applies only to op='transposed' (a convolution has none)"
            )
        return conv_plan(in_size, kernel_size, stride, padding, dilation)
    return plan_from_sizes(in_size, kernel_size, stride, padding, output_padding, dilation)


def _ints(v: Any) -> tuple[int, ...]:
    return (v,) if isinstance(v, int) else tuple(v)


def _check_op(op: Any) -> None:
    if op not in OPS:
        raise ConfigError("op", op, f"must be one of {OPS}")


def example_values(shape: Sequence[int], kind: str, seed: int = 0) -> np.ndarray:
    """Small integers for following the arithmetic by hand: inputs and kernel taps in 1..3 (seeded, no zeros, so
    every term of a sum is visible).

    >>> example_values((2, 2), "kernel").tolist()
    [[2.0, 3.0], [3.0, 2.0]]
    """
    rng = np.random.default_rng([seed, 0 if kind == "input" else 1])
    return rng.integers(1, 4, size=tuple(shape)).astype(np.float64)


def _as_values(name: str, value: Any, shape: Index) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigTypeError(name, type(value).__name__, "must be an array of numbers") from None
    if arr.shape != shape:
        raise ConfigError(name, arr.shape, f"must have shape {shape}")
    return arr


def _spatial(plan: Plan) -> Plan:
    """The single-channel, unbatched plan with the same geometry (pictures show one channel)."""
    if plan.batch is None and plan.in_channels == 1 and plan.out_channels == 1:
        return plan
    return make_plan(
        (1, *plan.in_size),
        (1, 1, *plan.kernel_size),
        plan.stride,
        plan.padding,
        plan.output_padding,
        1,
        plan.dilation,
    )


def _full_plan(plan: Plan) -> Plan:
    """The same transposed convolution without padding or output_padding: its index map gives the *uncropped*
    output position ``j * s + t * d`` of every (input, tap) pair; subtracting ``pad_before`` gives plan coordinates."""
    return make_plan((1, *plan.in_size), (1, 1, *plan.kernel_size), plan.stride, 0, 0, 1, plan.dilation)


# ----------------------------------------------------------------------------------------------------------------
# the one function
# ----------------------------------------------------------------------------------------------------------------
def scene(
    plan: Plan,
    op: str = "transposed",
    view: str = "equivalent",
    x: Any = None,
    w: Any = None,
    seed: int = 0,
) -> Scene:
    """Compute the geometry and the numbers of every frame of an animation of ``plan``.

    ``op="transposed"`` animates the plan's transposed convolution (``x`` has shape ``plan.in_size``);
    ``op="conv"`` animates the forward convolution it is the transpose of (``x`` has shape ``plan.out_size``, the
    result ``plan.in_size``). ``view`` is ``"equivalent"`` (kernel sliding over the zero-inserted, padded input, one
    frame per output) or ``"scatter"`` (each input paints its kernel window, one frame per input; transposed only).
    ``x`` and ``w`` default to small seeded integers (:func:`example_values`). Only the spatial geometry is used:
    one channel, no batch.

    >>> from tconv.geometry import plan_from_sizes
    >>> sc = scene(plan_from_sizes(2, 3), x=[1.0, 2.0], w=[1.0, 0.0, -1.0])
    >>> sc.source.kind.tolist()        # the input padded with k - 1 = 2 zeros on each side (seed 000 fig. 1-c)
    ['pad', 'pad', 'input', 'input', 'pad', 'pad']
    >>> [f.pairs for f in sc.frames[:2]]
    [(((0,), (0,), (0,)),), (((0,), (1,), (1,)), ((1,), (0,), (1,)))]
    >>> sc.output.tolist()
    [1.0, 2.0, -1.0, -2.0]
    """
    if not isinstance(plan, Plan):
        raise ConfigTypeError("plan", type(plan).__name__, "must be a tconv.geometry.Plan")
    if 0 in plan.out_size:  # allowed by the plan since negative padding (JAX's empty outputs); nothing to draw
        raise ConfigError("padding", plan.padding, f"leaves an empty output {plan.out_size}: nothing to animate")
    _check_op(op)
    if view not in VIEWS:
        raise ConfigError("view", view, f"must be one of {VIEWS}")
    if op == "conv" and view == "scatter":
        raise ConfigError("view", view, "applies only to op='transposed' (a convolution is drawn as a sliding window)")
    if plan.nd not in (1, 2):
        raise ConfigError("input", plan.in_size, "must be 1-D or 2-D for pictures")
    plan = _spatial(plan)
    src_shape = plan.out_size if op == "conv" else plan.in_size
    n_frames = math.prod(plan.in_size if (op == "conv" or view == "scatter") else plan.out_size)
    if n_frames > MAX_FRAMES:
        raise ConfigError("input", src_shape, f"gives {n_frames} frames: pictures are limited to {MAX_FRAMES}")
    x = example_values(src_shape, "input", seed) if x is None else _as_values("x", x, src_shape)
    w = example_values(plan.kernel_size, "kernel", seed) if w is None else _as_values("w", w, plan.kernel_size)
    if op == "conv":
        sc = _conv_scene(plan, x, w)
    elif view == "equivalent":
        sc = _equivalent_scene(plan, x, w)
    else:
        sc = _scatter_scene(plan, x, w)
    for g in (sc.source, sc.target):
        if max(g.shape) > MAX_CELLS:
            raise ConfigError(
                "input", src_shape, f"needs a grid of {g.shape} cells: pictures are limited to {MAX_CELLS}"
            )
    return sc


def _combine_kinds(per_dim: list[list[str]]) -> np.ndarray:
    """An n-d cell takes the "strongest" kind of its coordinates: cropped > pad > zero > input / output."""
    rank = {"input": 0, "output": 0, "zero": 1, "pad": 2, "cropped": 3}
    shape = tuple(len(k) for k in per_dim)
    out = np.empty(shape, dtype="<U7")
    for ix in np.ndindex(*shape):
        kinds = [per_dim[d][i] for d, i in enumerate(ix)]
        out[ix] = max(kinds, key=lambda k: rank[k])
    return out


def _frames(
    target: Grid,
    focuses: list[Index],
    kernels: list[tuple],
    pairs: list[tuple],
    paints: list[tuple[tuple[Index, float], ...]],
    counts_add: list[dict[Index, int]],
) -> tuple[Frame, ...]:
    """One frame per step, each with the running output values, contribution counts and written mask after it."""
    values = np.zeros(target.shape)
    counts = np.zeros(target.shape, dtype=np.int64)
    written = np.zeros(target.shape, dtype=bool)
    frames = []
    for i, (paint, cadd) in enumerate(zip(paints, counts_add, strict=True)):
        for cell, v in paint:
            ix = tuple(c - lo for c, lo in zip(cell, target.lo, strict=True))
            values[ix] += v
            written[ix] = True
        for cell, n in cadd.items():
            ix = tuple(c - lo for c, lo in zip(cell, target.lo, strict=True))
            counts[ix] += n
        frames.append(Frame(i, focuses[i], kernels[i], pairs[i], paint, values.copy(), counts.copy(), written.copy()))
    return tuple(frames)


def _equivalent_scene(plan: Plan, x: np.ndarray, w: np.ndarray) -> Scene:
    eq = plan.equivalent_conv
    nd = plan.nd
    # source grid: upsampled coordinates u (input j sits at u = j * s); padded cells outside [0, U); if the
    # equivalent padding is negative the first/last cells are cropped away before the convolution.
    lo, kinds, pos = [], [], None
    for d in range(nd):
        (eb, ea), up, s = eq.pad[d], eq.upsampled_size[d], plan.stride[d]
        start, stop = min(-eb, 0), max(up + ea, up)
        lo.append(start)
        row = []
        for u in range(start, stop):
            if u < -eb or u >= up + ea:
                row.append("cropped")
            elif u < 0 or u >= up:
                row.append("pad")
            else:
                row.append("input" if u % s == 0 else "zero")
        kinds.append(row)
    source_kind = _combine_kinds(kinds)
    target = Grid(lo=(0,) * nd, kind=np.full(plan.out_size, "output", dtype="<U7"))
    if nd == 1:
        dk = eq.kernel_dilation[0] * (plan.kernel_size[0] - 1) + 1
        pos = np.arange(source_kind.shape[0], dtype=float)
        tpos = np.arange(plan.out_size[0]) - eq.pad[0][0] + (dk - 1) / 2 - lo[0]
        target = Grid(lo=(0,), kind=target.kind, pos=tpos)
    source = Grid(lo=tuple(lo), kind=source_kind, pos=pos)

    frames_kernel, frames_pairs, paints, cadds, focuses = [], [], [], [], []
    k = plan.kernel_size
    for o in itertools.product(*(range(n) for n in plan.out_size)):
        window, pairs = [], []
        # the equivalent stride-1 convolution reads padded position o + t' * d with the *flipped* tap t'
        for tf in itertools.product(*(range(n) for n in k)):
            tap = tuple(k[d] - 1 - tf[d] for d in range(nd))  # flipped: which weight sits here
            u = tuple(o[d] + tf[d] * eq.kernel_dilation[d] - eq.pad[d][0] for d in range(nd))
            window.append((u, tap))
            if source.kind_at(u) == "input":
                pairs.append((tuple(u[d] // plan.stride[d] for d in range(nd)), tap, o))
        pairs.sort()
        value = float(sum(x[j] * w[t] for j, t, _ in pairs))
        focuses.append(o)
        frames_kernel.append(tuple(window))
        frames_pairs.append(tuple(pairs))
        paints.append(((o, value),))
        cadds.append({o: len(pairs)})
    frames = _frames(target, focuses, frames_kernel, frames_pairs, paints, cadds)
    return Scene(plan, "transposed", "equivalent", x, w, source, target, frames, flipped=True)


def _scatter_scene(plan: Plan, x: np.ndarray, w: np.ndarray) -> Scene:
    nd = plan.nd
    full = _full_plan(plan)
    maps = [full.index_map(d) - plan.pad_before[d] for d in range(nd)]  # uncropped, in output coordinates
    lo, kinds = [], []
    for d in range(nd):
        start = min(0, int(maps[d].min()))
        stop = max(plan.out_size[d], int(maps[d].max()) + 1)
        lo.append(start)
        kinds.append(["output" if 0 <= o < plan.out_size[d] else "cropped" for o in range(start, stop)])
    target_kind = _combine_kinds(kinds)
    tpos = spos = None
    if nd == 1:
        tpos = np.arange(target_kind.shape[0], dtype=float)
        dk = plan.dilation[0] * (plan.kernel_size[0] - 1) + 1
        spos = maps[0][:, 0] + (dk - 1) / 2 - lo[0]  # each input above the middle of the window it paints
    target = Grid(lo=tuple(lo), kind=target_kind, pos=tpos)
    source = Grid(lo=(0,) * nd, kind=np.full(plan.in_size, "input", dtype="<U7"), pos=spos)

    frames_kernel, frames_pairs, paints, cadds, focuses = [], [], [], [], []
    for j in itertools.product(*(range(n) for n in plan.in_size)):
        window, pairs, paint, cadd = [], [], [], {}
        for tap in itertools.product(*(range(n) for n in plan.kernel_size)):
            o = tuple(int(maps[d][j[d], tap[d]]) for d in range(nd))
            v = float(x[j] * w[tap])
            window.append((o, tap))
            paint.append((o, v))
            cadd[o] = cadd.get(o, 0) + 1
            if target.kind_at(o) == "output":
                pairs.append((j, tap, o))
        focuses.append(j)
        frames_kernel.append(tuple(window))
        frames_pairs.append(tuple(sorted(pairs)))
        paints.append(tuple(paint))
        cadds.append(cadd)
    frames = _frames(target, focuses, frames_kernel, frames_pairs, paints, cadds)
    return Scene(plan, "transposed", "scatter", x, w, source, target, frames, flipped=False)


def _conv_scene(plan: Plan, x: np.ndarray, w: np.ndarray) -> Scene:
    nd = plan.nd
    full = _full_plan(plan)
    maps = [full.index_map(d) - plan.pad_before[d] for d in range(nd)]  # window of conv output j, input coordinates
    lo, kinds = [], []
    for d in range(nd):
        (pb, pa), n = plan.padding[d], plan.out_size[d]
        lo.append(-pb)
        kinds.append(["input" if 0 <= c < n else "pad" for c in range(-pb, n + pa)])
    source_kind = _combine_kinds(kinds)
    spos = tpos = None
    if nd == 1:
        spos = np.arange(source_kind.shape[0], dtype=float)
        dk = plan.dilation[0] * (plan.kernel_size[0] - 1) + 1
        tpos = maps[0][:, 0] + (dk - 1) / 2 - lo[0]  # each output above the middle of its window
    source = Grid(lo=tuple(lo), kind=source_kind, pos=spos)
    target = Grid(lo=(0,) * nd, kind=np.full(plan.in_size, "output", dtype="<U7"), pos=tpos)

    frames_kernel, frames_pairs, paints, cadds, focuses = [], [], [], [], []
    for j in itertools.product(*(range(n) for n in plan.in_size)):
        window, pairs = [], []
        for tap in itertools.product(*(range(n) for n in plan.kernel_size)):
            c = tuple(int(maps[d][j[d], tap[d]]) for d in range(nd))
            window.append((c, tap))
            if source.kind_at(c) == "input":
                pairs.append((j, tap, c))
        pairs.sort()
        value = float(sum(x[c] * w[t] for _, t, c in pairs))
        focuses.append(j)
        frames_kernel.append(tuple(window))
        frames_pairs.append(tuple(pairs))
        paints.append(((j, value),))
        cadds.append({j: len(pairs)})
    frames = _frames(target, focuses, frames_kernel, frames_pairs, paints, cadds)
    return Scene(plan, "conv", "equivalent", x, w, source, target, frames, flipped=False)
