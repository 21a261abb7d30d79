"""Seed 000's graph diagrams (figures 1-4): a 1-D (transposed) convolution as nodes joined by weighted edges.

Three panels share one horizontal axis, so a column is one element of the transposed convolution's output (= one
element of the convolution's input):

(a) the convolution ``x -> o`` whose backward pass the transposed convolution is. Padding nodes are dashed; with a
    stride, the windows the stride skips are drawn as dashed outputs (seed 000 fig. 3-a: computed, then discarded);
    with dilation, the elements a window skips are joined by grey dotted weight-0 edges (fig. 4-a).
(b) the transposed convolution ``o' -> x'``: the same edges, walked backwards. Inserted zeros (stride) and the
    ``output_padding`` zeros are dashed nodes; outputs that padding crops are dashed (fig. 2-b, 3-b); outputs that
    only output_padding adds (past the full result, reached by no input) are white with a dotted rim, as in the
    explorer.
(c) the same thing as a plain convolution: the zero-inserted, fully padded ``o'`` with the flipped kernel
    (fig. 1-c); dashed edges carry zeros.

Edges are coloured by kernel tap, with the palette of every other tconv picture, so an edge keeps its colour
(its weight) in all three panels. All nodes and edges come from :func:`tconv.viz.frames.scene`.

>>> from tconv.geometry import plan_from_sizes
>>> fig = graph_figure(plan_from_sizes(3, 3, stride=2))
>>> len(fig.axes)
3
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

from ..errors import ConfigError, ConfigTypeError
from ..geometry import Plan, conv_plan
from ..window import reach
from .frames import Scene, scene
from .style import CROPPED, GRID, INPUT, MUTED, OUTPUT, PAD, TEXT, ZERO, tap_color

__all__ = ["graph_figure", "graph_edges", "PANELS"]

#: The panels :func:`graph_figure` can draw, in order.
PANELS: tuple[str, ...] = ("conv", "transposed", "equivalent")

_R = 0.32  # node radius (x spacing is 1)
_Y_IN, _Y_OUT = 0.0, 1.9


def _shifts(sc: Scene) -> tuple[float, float]:
    """Offsets that put target cell ``o`` at X = o (equivalent, scatter) or source cell ``c`` at X = c (conv)."""
    if sc.source.pos is None or sc.target.pos is None:
        raise ValueError("scene without positions: build it with tconv.viz's scene functions")
    if sc.op == "conv":
        shift = sc.source.lo[0] - sc.source.pos[0]
    else:
        shift = sc.target.lo[0] - sc.target.pos[0]
    return float(shift), float(shift)


def graph_edges(plan: Plan, panel: str) -> list[tuple[float, float, int | None, str]]:
    """The edges a panel draws: ``(x_from, x_to, tap, style)``; ``style`` is "solid", "dashed" (a zero or a cropped
    end), "discarded" (a window the stride skips) or "zero-weight" (an element a dilated window skips).

    X coordinates are the columns of the picture (output / conv-input index).

    >>> from tconv.geometry import plan_from_sizes
    >>> graph_edges(plan_from_sizes(2, 2), "transposed")
    [(0.5, 0.0, 0, 'solid'), (0.5, 1.0, 1, 'solid'), (1.5, 1.0, 0, 'solid'), (1.5, 2.0, 1, 'solid')]
    """
    return _panel(plan, panel)[2]


def _panel(plan: Plan, panel: str) -> tuple[list, list, list]:
    """Bottom nodes, top nodes and edges of one panel: nodes are ``(X, kind, label)``."""
    k = plan.kernel_size[0]
    dk = reach(1, k, 1, plan.dilation[0])  # the dilated kernel's extent
    if panel == "conv":
        # every stride-1 window of the padded input; the stride keeps those at multiples of s
        s = plan.stride[0]
        dense_plan = conv_plan(plan.out_size, plan.kernel_size, 1, plan.padding, plan.dilation)
        dense = scene(dense_plan, op="conv")
        shift, _ = _shifts(dense)
        if dense.source.pos is None or dense.target.pos is None:
            raise ValueError("scene without positions: build it with tconv.viz's scene functions")
        bottom = []
        for c in dense.source.cells():
            kind = dense.source.kind_at(c)
            bottom.append(
                (
                    dense.source.pos[c[0] - dense.source.lo[0]] + shift,
                    kind,
                    f"$x_{{{c[0]}}}$" if kind == "input" else "0",
                )
            )
        top, edges = [], []
        for fr in dense.frames:
            (m,) = fr.focus
            X = float(dense.target.pos[m] + shift)
            kept = m % s == 0
            top.append((X, "output" if kept else "discarded", f"$o_{{{m // s}}}$" if kept else ""))
            for (c,), tap in fr.kernel:
                pad = dense.source.kind_at((c,)) != "input"
                style = ("dashed" if pad else "solid") if kept else "discarded"
                edges.append((float(c), X, tap[0], style))
            if kept and plan.dilation[0] > 1:
                first = fr.kernel[0][0][0]
                taken = {cell[0] for cell, _ in fr.kernel}
                for c in range(first, first + dk):
                    if c not in taken:
                        edges.append((float(c), X, None, "zero-weight"))
        return bottom, top, edges
    if panel == "transposed":
        sc = scene(plan, view="scatter")
        shift, _ = _shifts(sc)
        if sc.source.pos is None or sc.target.pos is None:
            raise ValueError("scene without positions: build it with tconv.viz's scene functions")
        s, op = plan.stride[0], plan.output_padding[0]
        bottom, edges = [], []
        for (j,) in sc.source.cells():
            X = float(sc.source.pos[j] + shift)
            bottom.append((X, "input", f"$o'_{{{j}}}$"))
            extra = s - 1 if j < plan.in_size[0] - 1 else op  # zeros between inputs; output_padding after the last
            bottom.extend((X + r, "zero", "0") for r in range(1, extra + 1))
        top = []
        for (o,) in sc.target.cells():
            kind = _extra(plan, o, sc.target.kind_at((o,)))
            top.append((float(o), kind, f"$x'_{{{o}}}$" if kind in ("output", "extra") else ""))
        for fr in sc.frames:
            X = float(sc.source.pos[fr.focus[0]] + shift)
            for (o,), tap in fr.kernel:
                edges.append((X, float(o), tap[0], "solid" if sc.target.kind_at((o,)) == "output" else "dashed"))
        return bottom, top, edges
    if panel == "equivalent":
        sc = scene(plan, view="equivalent")
        shift, _ = _shifts(sc)
        if sc.source.pos is None or sc.target.pos is None:
            raise ValueError("scene without positions: build it with tconv.viz's scene functions")
        bottom = []
        for c in sc.source.cells():
            kind = sc.source.kind_at(c)
            X = float(sc.source.pos[c[0] - sc.source.lo[0]] + shift)
            label = f"$o'_{{{c[0] // plan.stride[0]}}}$" if kind == "input" else ("0" if kind != "cropped" else "")
            bottom.append((X, kind, label))
        top = [
            (float(sc.target.pos[o] + shift), _extra(plan, o, "output"), f"$x'_{{{o}}}$") for (o,) in sc.target.cells()
        ]
        edges = []
        for fr in sc.frames:
            X = float(sc.target.pos[fr.focus[0]] + shift)
            for c, tap in fr.kernel:
                Xs = float(sc.source.pos[c[0] - sc.source.lo[0]] + shift)
                edges.append((Xs, X, tap[0], "solid" if sc.source.kind_at(c) == "input" else "dashed"))
        return bottom, top, edges
    raise ConfigError("panels", panel, f"must be chosen from {PANELS}")


def _extra(plan: Plan, o: int, kind: str) -> str:
    """``"extra"`` for an output that only output_padding adds (past the full, uncropped result: no input reaches
    it; the explorer draws these dotted too), else ``kind``."""
    return "extra" if kind == "output" and o + plan.pad_before[0] >= plan.full_size[0] else kind


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


_TITLES = {
    "conv": "({}) convolution  o = conv(x, w)",
    "transposed": "({}) transposed convolution  x′ = convᵀ(o′, w): the same edges, walked backwards",
    "equivalent": "({}) the same as a convolution of the zero-inserted, padded o′ with the flipped kernel",
}


def _notes(plan: Plan, panel: str) -> str:
    s, d, (pb, pa), op = plan.stride[0], plan.dilation[0], plan.padding[0], plan.output_padding[0]
    notes = []
    if panel == "conv":
        if pb or pa:
            notes.append("dashed nodes: padding")
        if s > 1:
            notes.append(f"stride {s}: dashed outputs are computed, then discarded")
        if d > 1:
            notes.append("dotted grey: weight-0 edges of the dilated kernel")
    elif panel == "transposed":
        if s > 1:
            notes.append(f"{s - 1} zero{'s' if s > 2 else ''} inserted between inputs")
        if pb:
            notes.append(f"padding crops {_n(pb, 'output')} before (dashed)")
        if pa and not op:
            notes.append(f"padding crops {_n(pa, 'output')} after (dashed)")
        elif op:
            head = f"p={pa} after, op={op}: " if pa else f"output_padding {op}: "
            if pa > op:
                notes.append(head + f"{_n(pa - op, 'output')} cropped after (dashed)")
            elif pa == op:
                notes.append(head + "they cancel at the end")
            else:
                notes.append(head + f"{_n(op - pa, 'output')} past the full result, reached by no input (dotted)")
    else:
        eb, ea = plan.equivalent_conv.pad[0]
        notes.append(f"padding d(k−1)−p = {eb} before" + (f", d(k−1)−p+op = {ea} after" if op else f", {ea} after"))
        notes.append("dashed edges carry zeros")
        if op > pa:
            notes.append("dotted outputs: added by output_padding, they sum zeros only")
    return "; ".join(notes)


_INDEX = re.compile(r"_\{(\d+)\}")


def _with_numbers(nodes: list, x: np.ndarray, y: np.ndarray) -> list:
    """Nodes of the transposed / equivalent panels with their values inside and ``x[j]`` / ``y[o]`` beside them."""
    out = []
    for X, kind, label in nodes:
        m = _INDEX.search(label) if kind in ("input", "output", "extra") else None
        if m is None:
            out.append((X, kind, label, ""))
            continue
        n = int(m.group(1))
        if kind == "input":
            out.append((X, kind, f"{x[n]:g}", f"x[{n}]"))
        else:
            out.append((X, kind, f"{y[n]:g}", f"y[{n}]"))
    return out


def graph_figure(
    plan: Plan, panels: Sequence[str] = PANELS, width: float | None = None, numbers: bool = False, seed: int = 0
) -> Figure:
    """Seed 000's graph diagram of a 1-D plan: the panels ``"conv"``, ``"transposed"``, ``"equivalent"``.

    Works for any parameters: padding (asymmetric too), stride, dilation and output_padding. With ``numbers=True``
    the transposed and equivalent panels carry values: small seeded integers as inputs and weights (the ones
    ``tconv animate --numbers`` uses, :func:`tconv.viz.example_values`), each output the sum its edges bring.
    Returns a matplotlib Figure (save it with :func:`tconv.files.save_figure`).

    >>> from tconv.geometry import plan_from_sizes
    >>> fig = graph_figure(plan_from_sizes(3, 3, stride=2), numbers=True)
    >>> "13" in [t.get_text() for ax in fig.axes for t in ax.texts]      # y[2] = 3·3 + 2·2
    True
    """
    if not isinstance(plan, Plan):
        raise ConfigTypeError("plan", type(plan).__name__, "must be a tconv.geometry.Plan")
    if plan.nd != 1:
        raise ConfigError("plan", plan.in_size, "must be 1-D for a graph diagram (seed 000 draws vectors)")
    panels = tuple(panels)
    if not panels or any(p not in PANELS for p in panels):
        raise ConfigError("panels", panels, f"must be a non-empty selection of {PANELS}")
    data = [_panel(plan, p) for p in panels]
    weights = None
    if numbers:
        sc = scene(plan, view="scatter", seed=seed)
        x, weights, y = sc.x, sc.w, sc.output
        data = [
            (_with_numbers(b, x, y), _with_numbers(t, x, y), e) if p != "conv" else (b, t, e)
            for p, (b, t, e) in zip(panels, data, strict=True)
        ]
    xs = [node[0] for bottom, top, _ in data for node in bottom + top]
    x_lo, x_hi = min(xs) - 0.6, max(xs) + 0.6
    unit = 0.48  # inches per column
    ax_w = (x_hi - x_lo) * unit
    room = 0.45 if numbers else 0.0  # space for the x[j] / y[o] tags above and below the rows
    ax_h = (_Y_OUT - _Y_IN + 1.0 + 2 * room) * unit
    head, foot, left = 0.62, 0.42, 0.45
    fig_w = max(width or 0.0, 7.2, ax_w + left + 0.2)
    fig_h = len(panels) * (ax_h + head) + foot
    fig = Figure(figsize=(fig_w, fig_h))
    k = plan.kernel_size[0]
    x0_in = left + (fig_w - left - 0.2 - ax_w) / 2 if ax_w + left + 0.2 < fig_w else left
    for i, (name, (bottom, top, edges)) in enumerate(zip(panels, data, strict=True)):
        y_top = fig_h - i * (ax_h + head) - head
        ax = fig.add_axes((x0_in / fig_w, (y_top - ax_h) / fig_h, ax_w / fig_w, ax_h / fig_h))
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(_Y_IN - 0.5 - room, _Y_OUT + 0.5 + room)
        ax.axis("off")
        fig.text(
            0.08 / fig_w,
            (y_top + head - 0.12) / fig_h,
            _TITLES[name].format("abc"[i]),
            fontsize=10,
            color=TEXT,
            va="top",
        )
        fig.text(0.08 / fig_w, (y_top + head - 0.36) / fig_h, _notes(plan, name), fontsize=8.5, color=MUTED, va="top")
        for x0, x1, tap, style in edges:
            if style == "zero-weight":
                ax.add_line(Line2D([x0, x1], [_Y_IN + _R, _Y_OUT - _R], color="#9a9a9a", lw=0.8, ls=":", zorder=1))
                continue
            col = tap_color(tap, k)
            ls = "-" if style == "solid" else (0, (3, 2))
            alpha = 0.3 if style == "discarded" else 1.0
            lw = 1.7 if style == "solid" else 1.2
            ax.add_line(Line2D([x0, x1], [_Y_IN + _R, _Y_OUT - _R], color=col, lw=lw, ls=ls, alpha=alpha, zorder=2))
        for row, y in ((bottom, _Y_IN), (top, _Y_OUT)):
            for x, kind, label, *tag in row:
                if tag and tag[0]:
                    below = y == _Y_IN
                    ax.text(x, y + (-1 if below else 1) * (_R + 0.08), tag[0], ha="center",
                            va="top" if below else "bottom", fontsize=7.5, color=MUTED, zorder=4)  # fmt: skip
                fill = {"input": INPUT, "output": OUTPUT, "zero": ZERO, "pad": PAD}.get(kind, CROPPED)
                if kind in ("discarded", "extra"):
                    fill = "#ffffff"
                dashed = kind not in ("input", "output")
                # output_padding's own outputs: white with a dotted rim, as in the explorer
                style = (0, (1, 1.6)) if kind == "extra" else (0, (2.5, 1.5)) if dashed else "-"
                ax.add_patch(
                    Circle(
                        (x, y),
                        _R,
                        facecolor=fill,
                        edgecolor=GRID if not dashed else MUTED,
                        lw=1.2 if kind == "extra" else 1.0,
                        ls=style,
                        zorder=3,
                    )
                )
                if label:
                    ax.text(
                        x,
                        y,
                        label,
                        ha="center",
                        va="center",
                        fontsize=9 if label != "0" else 8.5,
                        color=TEXT if label != "0" else "#8a8a8a",
                        zorder=4,
                    )
        ax.text(x_lo, _Y_IN, "in ", ha="right", va="center", fontsize=8.5, color=MUTED)
        ax.text(x_lo, _Y_OUT, "out ", ha="right", va="center", fontsize=8.5, color=MUTED)
    # tap legend
    handles = [Line2D([0], [0], color=tap_color(t, k), lw=2.2) for t in range(k)]
    labels = [f"$w_{{{t}}}$" for t in range(k)]
    if weights is not None:
        labels = [f"{lab} = {v:g}" for lab, v in zip(labels, weights, strict=True)]
    fig.legend(
        handles,
        labels,
        loc="lower right",
        ncol=k,
        fontsize=9,
        frameon=False,
        bbox_to_anchor=(1.0, 0.0),
        title="edge colour = kernel tap",
        title_fontsize=8.5,
        handlelength=1.6,
        columnspacing=1.0,
    )
    d = plan.dilation[0]
    desc = (
        f"n_o′={plan.in_size[0]}  n_w={k}  s={plan.stride[0]}  p={plan.padding[0] if plan.padding[0][0] != plan.padding[0][1] else plan.padding[0][0]}"
        f"  d={d}  op={plan.output_padding[0]}  →  n_x′={plan.out_size[0]}"
    )
    fig.text(0.08 / fig_w, 0.12 / fig_h, desc, fontsize=8.5, color=MUTED, va="bottom")
    return fig
