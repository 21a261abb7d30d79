"""The matrix view (seeds 001 and 003): convolution as a sparse matrix C, transposed convolution as Cᵀ.

The picture is :func:`tconv.conv_matrix` drawn as a heatmap: every non-zero entry is coloured by its kernel tap (the
palette of the animations and graph diagrams) and labelled ``w_ij``; beside it, the two grids being flattened, with
their row-major numbering and the reading order drawn as a path, so a row or a column of the matrix can be found
on the grid it comes from.

>>> from tconv.geometry import conv_plan
>>> fig = matrix_figure(conv_plan((4, 4), 3))        # seed 001: i=4, k=3 -> C is 4 x 16
>>> [ax.get_label() for ax in fig.axes]
['C', 'columns', 'rows']
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from ..errors import ConfigError, ConfigTypeError
from ..geometry import Plan
from ..ops.matrix import conv_matrix
from .style import GRID, INPUT, MUTED, OUTPUT, TEXT, tap_color, text_color_on

__all__ = ["matrix_figure", "tap_label", "MAX_MATRIX"]

#: Larger matrices than this (rows x columns) are refused: the labels would not be legible.
MAX_MATRIX = 40 * 64


def tap_label(tap: tuple[int, ...]) -> str:
    """The mathtext label of a kernel tap, as seed 001 writes it: ``w_{i,j}`` (row i, column j).

    >>> tap_label((0, 2))
    '$w_{0,2}$'
    """
    return "$w_{" + ",".join(str(t) for t in tap) + "}$"


def _order_grid(ax, shape: tuple[int, ...], fill: str, title: str) -> None:
    """A small grid numbered in row-major order with the reading path drawn through it."""
    h, w = (1, shape[0]) if len(shape) == 1 else shape
    for r in range(h):
        for c in range(w):
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=fill, edgecolor=GRID, lw=0.8))
            ax.text(c + 0.5, r + 0.5, str(r * w + c), ha="center", va="center", fontsize=8, color=TEXT)
    # the reading order: left to right along each row, then down to the start of the next row
    pts = [(c + 0.5, r + 0.5) for r in range(h) for c in range(w)]
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:], strict=True):
        same_row = y0 == y1
        ax.add_patch(
            FancyArrowPatch(
                (x0 + (0.3 if same_row else 0), y0 + (0 if same_row else 0.2)),
                (x1 - (0.3 if same_row else 0), y1 - (0 if same_row else 0.2)),
                arrowstyle="-|>",
                mutation_scale=7,
                color="#c0392b" if same_row else "#e6a29a",
                lw=0.9,
                ls="-" if same_row else (0, (2, 2)),
                connectionstyle="arc3,rad=0" if same_row else "arc3,rad=0.0",
                shrinkA=0,
                shrinkB=0,
                zorder=3,
            )
        )
    ax.set_xlim(-0.1, w + 0.1)
    ax.set_ylim(h + 0.1, -0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=9, color=TEXT, loc="left")


def matrix_figure(plan: Plan, transposed: bool = False, cell: float = 0.42) -> Figure:
    """C (or, with ``transposed=True``, Cᵀ) of ``plan`` as a labelled heatmap, with the flattening order drawn.

    Rows of C are the convolution's outputs (the transposed convolution's inputs, ``plan.in_size``), columns its
    inputs (``plan.out_size``), both flattened row-major; the non-zero entries are exactly those of
    :func:`tconv.conv_matrix`, labelled ``w_ij`` by kernel tap. The matrix axes has label ``"C"`` (or ``"CT"``);
    the two order grids are labelled ``"columns"`` and ``"rows"``.
    """
    if not isinstance(plan, Plan):
        raise ConfigTypeError("plan", type(plan).__name__, "must be a tconv.geometry.Plan")
    if plan.nd not in (1, 2):
        raise ConfigError("plan", plan.in_size, "must be 1-D or 2-D for the matrix view")
    n_rows, n_cols = math.prod(plan.in_size), math.prod(plan.out_size)
    if n_rows * n_cols > MAX_MATRIX:
        raise ConfigError(
            "plan",
            (plan.in_size, plan.out_size),
            f"gives a {n_rows} x {n_cols} matrix: the view is for small cases (<= {MAX_MATRIX} entries)",
        )
    C = conv_matrix(plan).tocoo()
    k = plan.kernel_size
    n_taps = math.prod(k)
    M_rows, M_cols = (n_cols, n_rows) if transposed else (n_rows, n_cols)
    row_shape, col_shape = (plan.out_size, plan.in_size) if transposed else (plan.in_size, plan.out_size)
    row_fill, col_fill = OUTPUT, INPUT  # as everywhere: inputs blue, outputs green

    # geometry of the figure, in inches
    gh, gw = (1, row_shape[0]) if len(row_shape) == 1 else row_shape
    ch, cw = (1, col_shape[0]) if len(col_shape) == 1 else col_shape
    g = 0.36  # order-grid cell
    side_w = max(gw, cw) * g + 0.3
    mat_w, mat_h = M_cols * cell, M_rows * cell
    left = side_w + 0.75
    top = 0.95
    fig_w = left + mat_w + 0.25
    fig_h = max(top + mat_h + 0.55, top + (gh + ch) * g + 1.4)
    fig = Figure(figsize=(fig_w, fig_h))

    ax = fig.add_axes(
        (left / fig_w, (fig_h - top - mat_h) / fig_h, mat_w / fig_w, mat_h / fig_h), label="CT" if transposed else "C"
    )
    ax.set_xlim(0, M_cols)
    ax.set_ylim(M_rows, 0)
    ax.add_patch(Rectangle((0, 0), M_cols, M_rows, facecolor="#ffffff", edgecolor=GRID, lw=1.0))
    for r in range(1, M_rows):
        ax.axhline(r, color="#e2e2e2", lw=0.6, zorder=0)
    for c in range(1, M_cols):
        ax.axvline(c, color="#e2e2e2", lw=0.6, zorder=0)
    for r, c, v in zip(C.row, C.col, C.data, strict=True):
        tap_flat = int(v) - 1
        tap = tuple(int(t) for t in np.unravel_index(tap_flat, k))
        rr, cc = (c, r) if transposed else (r, c)
        col = tap_color(tap_flat, n_taps)
        ax.add_patch(Rectangle((cc, rr), 1, 1, facecolor=col, edgecolor="#ffffff", lw=0.6, zorder=1))
        ax.text(
            cc + 0.5,
            rr + 0.5,
            tap_label(tap),
            ha="center",
            va="center",
            fontsize=7 if len(k) == 2 else 8,
            color=text_color_on(col),
            zorder=2,
        )
    ax.set_xticks(np.arange(M_cols) + 0.5, [str(i) for i in range(M_cols)], fontsize=7)
    ax.set_yticks(np.arange(M_rows) + 0.5, [str(i) for i in range(M_rows)], fontsize=7)
    ax.tick_params(length=0, pad=2)
    ax.xaxis.tick_top()
    for s in ax.spines.values():
        s.set_visible(False)
    name = "Cᵀ" if transposed else "C"
    if transposed:
        head = (
            f"Cᵀ ({M_rows} × {M_cols}): the transposed convolution  y = Cᵀ x,  "
            f"x: {'×'.join(map(str, plan.in_size))} → y: {'×'.join(map(str, plan.out_size))}"
        )
    else:
        head = (
            f"C ({M_rows} × {M_cols}): the convolution  y = C x,  "
            f"x: {'×'.join(map(str, plan.out_size))} → y: {'×'.join(map(str, plan.in_size))}"
        )
    fig.text(0.1 / fig_w, 1 - 0.12 / fig_h, head, fontsize=10.5, color=TEXT, va="top", weight="bold")
    nnz = len(C.data)
    fig.text(
        0.1 / fig_w,
        1 - 0.4 / fig_h,
        f"{nnz} of {M_rows * M_cols} entries non-zero; row r of {name} computes output r",
        fontsize=8.5,
        color=MUTED,
        va="top",
    )
    # order grids: the vector along the columns on top, the one along the rows below it
    ax_c = fig.add_axes(
        (0.15 / fig_w, (fig_h - top - 0.15 - ch * g) / fig_h, cw * g / fig_w, ch * g / fig_h), label="columns"
    )
    _order_grid(ax_c, col_shape, col_fill, f"columns ({M_cols}): input x")
    ax_r = fig.add_axes(
        (0.15 / fig_w, (fig_h - top - 0.15 - ch * g - 0.55 - gh * g) / fig_h, gw * g / fig_w, gh * g / fig_h),
        label="rows",
    )
    _order_grid(ax_r, row_shape, row_fill, f"rows ({M_rows}): output y")
    return fig
