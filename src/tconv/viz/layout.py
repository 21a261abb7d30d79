"""The layout of an animation frame (:mod:`tconv.viz.animate`): titles, headers and captions as text, where the
kernel, the source grid, the target grid and the legend go, and how large the cells are. Computed once per scene;
the drawing code only reads it.

>>> _num(2.0), _num(-0.5)
('2', '-0.5')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .canvas import text_width
from .frames import Frame, Scene
from .style import (
    MUTED,
    TEXT,
)

_SUB = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")
M = 14  # margin


# ----------------------------------------------------------------------------------------------------------------
# text helpers
# ----------------------------------------------------------------------------------------------------------------
def _idx(name: str, ix: Sequence[int]) -> str:
    return f"{name}[{','.join(str(i) for i in ix)}]"


def _tap_label(tap: Sequence[int]) -> str:
    return "w" + "".join(str(t) for t in tap).translate(_SUB)


def _num(v: float) -> str:
    if abs(v - round(v)) < 1e-9:
        return str(int(round(v)))
    return f"{v:.3g}"


def _title(sc: Scene) -> str:
    if sc.op == "conv":
        return "Convolution" + (" (dilated)" if any(d > 1 for d in sc.plan.dilation) else "")
    return "Transposed convolution — " + (
        "as a convolution of the zero-inserted input" if sc.view == "equivalent" else "each input scatters its kernel"
    )


def _source_header(sc: Scene) -> str:
    if sc.view == "scatter":
        return "input x"
    if sc.op == "conv":
        return "input x (padded)" if (sc.source.kind == "pad").any() else "input x"
    parts = []
    if (sc.source.kind == "zero").any():
        z = sorted(set(s - 1 for s in sc.plan.stride if s > 1))
        parts.append(f"{'/'.join(map(str, z))} zero{'s' if z != [1] else ''} between")
    if (sc.source.kind == "pad").any():
        parts.append("padded")
    if (sc.source.kind == "cropped").any():
        parts.append("cropped")
    return "input x" + (f" ({', '.join(parts)})" if parts else "")


def _target_header(sc: Scene) -> str:
    if sc.view == "scatter" and (sc.target.kind == "cropped").any():
        return "output y (grey border: cropped by padding)"
    return "output y"


def _caption(sc: Scene, fr: Frame, numbers: bool) -> str:
    if sc.view == "scatter":
        j = fr.focus
        n = len(fr.kernel)
        cropped = n - len(fr.pairs)
        who = f"{_idx('x', j)} = {_num(sc.x[j])}" if numbers else _idx("x", j)
        scaled = f"{_num(sc.x[j])}·w" if numbers else f"{_idx('x', j)}·w"
        tail = f" ({cropped} cropped by padding)" if cropped else ""
        return f"{who} adds {scaled} to {n} cells of y{tail}"
    o = fr.focus
    lhs = _idx("y", o)
    if not fr.pairs:
        return f"{lhs} = 0 (the window covers only zeros)"
    if sc.op == "conv":
        terms = [(c, t) for _, t, c in fr.pairs]
    else:
        terms = [(j, t) for j, t, _ in fr.pairs]
    sym = " + ".join(f"{_idx('x', a)}·{_idx('w', t)}" for a, t in terms)
    text = f"{lhs} = {sym}"
    if numbers:
        nums = " + ".join(f"{_num(sc.x[a])}·{_num(sc.w[t])}" for a, t in terms)
        val = fr.values[tuple(c - lo for c, lo in zip(o, sc.target.lo, strict=True))]
        text += f" = {nums} = {_num(val)}"
    return text


def _wrap(text: str, width: float, size: float) -> list[str]:
    words = text.split(" ")
    lines, cur = [], ""
    for wd in words:
        trial = f"{cur} {wd}" if cur else wd
        if cur and text_width(trial, size) > width:
            lines.append(cur)
            cur = wd
        else:
            cur = trial
    lines.append(cur)
    return lines


# ----------------------------------------------------------------------------------------------------------------
# layout: computed once per scene
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class _Layout:
    width: float
    height: float
    cell: float
    kcell: float
    source_xy: dict[tuple[int, ...], tuple[float, float]] = field(default_factory=dict)
    target_xy: dict[tuple[int, ...], tuple[float, float]] = field(default_factory=dict)
    kernel_xy: dict[tuple[int, ...], tuple[float, float]] = field(default_factory=dict)
    texts: list[tuple[float, float, str, float, str, str, bool]] = field(default_factory=list)
    arrow: tuple[float, float, float, float] | None = None
    caption_xy: tuple[float, float] = (0.0, 0.0)
    caption_width: float = 0.0
    caption_lines: int = 1
    legend_y: float = 0.0
    max_count: int = 1


_SUBTITLE = 12.5
_HEADER = 12.5
_CAPTION = 12.5
_LEGEND = 11.5


def _layout(sc: Scene, numbers: bool, cell: float | None) -> _Layout:
    nd = sc.nd
    if cell is None:
        cell = 40.0 if nd == 1 else 36.0
    kcell = cell * 0.85
    max_count = max(1, int(sc.frames[-1].counts.max()))
    title, sub = _title(sc), sc.describe()
    top = M + 22 + 22  # title and subtitle lines
    L = _Layout(0, 0, cell, kcell, max_count=max_count)
    if nd == 2:
        kh, kw = sc.plan.kernel_size
        sh, sw = sc.source.shape
        th, tw = sc.target.shape
        kname = "kernel w" + (" (slides flipped)" if sc.flipped else "")
        heads = [kname, _source_header(sc), _target_header(sc)]
        grid_w = [kw * kcell, sw * cell, tw * cell]
        panel_w = [max(g, text_width(h, _HEADER)) for g, h in zip(grid_w, heads, strict=True)]
        gap_k, gap_arrow = 26.0, 50.0
        x = M
        xs = []
        for i, pw in enumerate(panel_w):
            xs.append(x)
            x += pw + (gap_k if i == 0 else gap_arrow)
        content_w = x - (gap_arrow) - M
        gy = top + 24
        for i, (h, pw) in enumerate(zip(heads, panel_w, strict=True)):
            L.texts.append((xs[i] + pw / 2, top + 8, h, _HEADER, TEXT, "mm", False))
        gx = [xs[i] + (panel_w[i] - grid_w[i]) / 2 for i in range(3)]
        for t in np.ndindex(kh, kw):
            L.kernel_xy[t] = (gx[0] + t[1] * kcell, gy + t[0] * kcell)
        for c in sc.source.cells():
            r, q = c[0] - sc.source.lo[0], c[1] - sc.source.lo[1]
            L.source_xy[c] = (gx[1] + q * cell, gy + r * cell)
        for c in sc.target.cells():
            r, q = c[0] - sc.target.lo[0], c[1] - sc.target.lo[1]
            L.target_xy[c] = (gx[2] + q * cell, gy + r * cell)
        grid_bottom = gy + max(kh * kcell, sh * cell, th * cell)
        mid = gy + min(sh * cell, th * cell) / 2
        a0 = xs[1] + panel_w[1] + 10
        L.arrow = (a0, mid, a0 + gap_arrow - 20, mid)
    else:
        (k,) = sc.plan.kernel_size
        src_pos, tgt_pos = sc.source.pos, sc.target.pos
        if src_pos is None or tgt_pos is None:
            raise ValueError("scene without positions: build it with tconv.viz's scene functions")
        row_w = (max(src_pos.max(), tgt_pos.max()) + 1) * cell
        kname = "kernel w" + (" (slides flipped)" if sc.flipped else "") + ":"
        klabel_w = text_width(kname, _HEADER) + 10
        ky = top + 4
        L.texts.append((M, ky + kcell / 2, kname, _HEADER, TEXT, "lm", False))
        for t in range(k):
            L.kernel_xy[(t,)] = (M + klabel_w + t * kcell, ky)
        ty = ky + kcell + 34
        L.texts.append((M, ty - 10, _target_header(sc), _HEADER, TEXT, "lm", False))
        sy = ty + cell + 2.4 * cell
        x0 = M
        for c in sc.target.cells():
            L.target_xy[c] = (x0 + tgt_pos[c[0] - sc.target.lo[0]] * cell, ty)
        for c in sc.source.cells():
            L.source_xy[c] = (x0 + src_pos[c[0] - sc.source.lo[0]] * cell, sy)
        L.texts.append((M, sy + cell + 12, _source_header(sc), _HEADER, TEXT, "lm", False))
        grid_bottom = sy + cell + 14
        content_w = max(row_w, klabel_w + k * kcell)
    widest_legend = max(58 + text_width(label, _LEGEND) for _, label in _legend_items(sc, numbers))
    width = max(content_w, text_width(title, 15, True) + 110, text_width(sub, _SUBTITLE), widest_legend) + 2 * M
    L.texts.insert(0, (M, M + 8, title, 15, TEXT, "lm", True))
    L.texts.insert(1, (M, M + 30, sub, _SUBTITLE, MUTED, "lm", False))
    cap_w = width - 2 * M
    n_lines = max(len(_wrap(_caption(sc, fr, numbers), cap_w, _CAPTION)) for fr in sc.frames)
    L.caption_xy = (M, grid_bottom + 22)
    L.caption_width = cap_w
    L.caption_lines = n_lines
    L.legend_y = grid_bottom + 22 + n_lines * 18 + 8
    legend = _legend_items(sc, numbers)
    legend_rows = _legend_rows(legend, cap_w)
    L.width = width
    L.height = L.legend_y + len(legend_rows) * 22 + M - 4
    return L


def _is_extra(sc: Scene, c: tuple[int, ...]) -> bool:
    """Whether target cell ``c`` is an output that only output_padding adds: past the full (uncropped) result."""
    p = sc.plan
    return sc.op == "transposed" and any(o + pb >= f for o, pb, f in zip(c, p.pad_before, p.full_size, strict=True))


def _legend_items(sc: Scene, numbers: bool) -> list[tuple[str, str]]:
    kinds = set(np.unique(sc.source.kind)) | set(np.unique(sc.target.kind))
    items = [("input", "input x")]
    if "zero" in kinds:
        items.append(("zero", "inserted zero"))
    if "pad" in kinds:
        items.append(("pad", "padding"))
    if "cropped" in kinds:
        items.append(("cropped", "cropped"))
    if any(_is_extra(sc, c) for c in sc.target.cells() if sc.target.kind_at(c) == "output"):
        items.append(("extra", "output_padding: no input reaches it"))
    items.append(("output", "output y" + (" (small number: contributions)" if numbers else " (number: contributions)")))
    items.append(("taps", "kernel taps"))
    return items


def _legend_rows(items: list[tuple[str, str]], width: float) -> list[list[tuple[str, str, float]]]:
    rows: list[list[tuple[str, str, float]]] = [[]]
    x = 0.0
    for kind, label in items:
        sw = 34 if kind in ("output", "taps") else 14
        w = sw + 6 + text_width(label, _LEGEND) + 18
        if rows[-1] and x + w > width:
            rows.append([])
            x = 0.0
        rows[-1].append((kind, label, x))
        x += w
    return rows
