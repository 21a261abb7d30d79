"""Animation frames drawn from a :class:`~tconv.viz.frames.Scene`, and their export (GIF, MP4, PNG/SVG sheet).

Every frame is laid out once (:func:`_layout`) and drawn on a :class:`~tconv.viz.canvas.Canvas`; the renderer
reads cell kinds, kernel windows, contributions and running values from the scene and does no index arithmetic
of its own. 2-D scenes show the kernel, the source grid and the target grid side by side; 1-D scenes show the
output row above the input row, aligned so that each output sits over its window, with edges coloured by kernel tap
(the same colours as :func:`tconv.viz.graph_figure`).

>>> from tconv.geometry import plan_from_sizes
>>> from tconv.viz.frames import scene
>>> frames = render_frames(scene(plan_from_sizes((2, 2), 3)))
>>> len(frames), frames[0].dtype
(16, dtype('uint8'))
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ConfigError, ConfigTypeError
from ..files import atomic_path, write_bytes, write_text
from .canvas import Canvas, render_canvases, tile_arrays, tile_svg
from .frames import Frame, Grid, Scene, animation_plan, scene
from .layout import (
    _CAPTION,
    _LEGEND,
    _SUBTITLE,
    M,
    _caption,
    _is_extra,
    _Layout,
    _layout,
    _legend_items,
    _legend_rows,
    _num,
    _tap_label,
    _wrap,
)
from .style import (
    CROPPED,
    GRID,
    INPUT,
    INPUT_DARK,
    MUTED,
    OUTPUT_DARK,
    PAD,
    TEXT,
    ZERO,
    blend,
    count_color,
    tap_color,
    text_color_on,
)

__all__ = [
    "animate",
    "frame_canvas",
    "render_frames",
    "contact_sheet",
    "save_animation",
    "FORMATS",
]

#: File formats :func:`save_animation` writes, by suffix.
FORMATS: tuple[str, ...] = (".gif", ".mp4", ".png", ".svg")


# ----------------------------------------------------------------------------------------------------------------
# drawing one frame
# ----------------------------------------------------------------------------------------------------------------
def _draw_source_cell(cv: Canvas, L: _Layout, grid: Grid, c: tuple[int, ...], sc: Scene, numbers: bool) -> None:
    x, y = L.source_xy[c]
    C = L.cell
    kind = grid.kind_at(c)
    if kind == "input":
        cv.rect(x, y, x + C, y + C, fill=INPUT, outline=GRID, width=1)
        if numbers:
            j = c if sc.view == "scatter" else _source_to_input(sc, c)
            cv.text(x + C / 2, y + C * 0.62, _num(sc.x[j]), size=C * 0.36, color=TEXT)
    elif kind in ("zero", "pad"):
        cv.rect(x, y, x + C, y + C, fill=ZERO if kind == "zero" else PAD, outline=MUTED, width=1, dash=True)
        if numbers:
            cv.text(x + C / 2, y + C * 0.62, "0", size=C * 0.32, color="#9a9a9a")
    else:
        cv.rect(x, y, x + C, y + C, fill=CROPPED, outline="#bbbbbb", width=1)
        cv.cross(x + 4, y + 4, x + C - 4, y + C - 4, "#b0b0b0", 1)


def _source_to_input(sc: Scene, c: tuple[int, ...]) -> tuple[int, ...]:
    """The index into ``sc.x`` of an "input" cell of the source grid."""
    if sc.op == "conv":
        return c
    return tuple(u // s for u, s in zip(c, sc.plan.stride, strict=True))


def _draw_target_cell(cv: Canvas, L: _Layout, sc: Scene, fr: Frame, c: tuple[int, ...], numbers: bool) -> None:
    x, y = L.target_xy[c]
    C = L.cell
    ix = tuple(a - lo for a, lo in zip(c, sc.target.lo, strict=True))
    kind = sc.target.kind[ix]
    written = bool(fr.written[ix])
    n = int(fr.counts[ix])
    if kind == "cropped":
        fill = blend(CROPPED, count_color(n, L.max_count), 0.35) if n else CROPPED
        cv.rect(x, y, x + C, y + C, fill=fill, outline="#bbbbbb", width=1)
        cv.cross(x + 4, y + 4, x + C - 4, y + C - 4, "#c4c4c4", 1)
    elif _is_extra(sc, c):
        # added by output_padding past the full result: no input reaches it (white, dotted, as in the explorer)
        fill = ZERO
        cv.rect(x, y, x + C, y + C, fill=fill, outline=MUTED, width=1.2, dash="dot")
        if numbers and written:
            cv.text(x + C / 2, y + C * 0.5, _num(fr.values[ix]), size=C * 0.34, color="#9a9a9a")
        return
    else:
        fill = count_color(n, L.max_count) if written else ZERO
        cv.rect(x, y, x + C, y + C, fill=fill, outline=GRID, width=1)
    if written or n:
        col = MUTED if kind == "cropped" else text_color_on(fill)
        if numbers:
            cv.text(x + C / 2, y + C * 0.5, _num(fr.values[ix]), size=C * 0.34, color=col)
            cv.text(x + C - 3, y + C - 3, str(n), size=C * 0.22, color=col, anchor="rs")
        else:
            cv.text(x + C / 2, y + C / 2, str(n), size=C * 0.34, color=col)


def _tap_flat(sc: Scene, tap: tuple[int, ...]) -> tuple[int, int]:
    return int(np.ravel_multi_index(tap, sc.plan.kernel_size)), math.prod(sc.plan.kernel_size)


def _overlay(cv: Canvas, x: float, y: float, C: float, color: str, base: str, strong: bool) -> None:
    cv.rect(x, y, x + C, y + C, fill=blend(base, color, 0.55 if strong else 0.3))
    cv.rect(x + 1, y + 1, x + C - 1, y + C - 1, outline=color, width=2.6)


def frame_canvas(
    sc: Scene, step: int, numbers: bool = False, cell: float | None = None, _layout_cache: Any = None
) -> Canvas:
    """Draw frame ``step`` of ``sc`` on a :class:`~tconv.viz.canvas.Canvas` (vector primitives).

    ``numbers=True`` writes the values in the cells and the arithmetic in the caption.
    """
    if not 0 <= step < len(sc.frames):
        raise ConfigError("step", step, f"must be between 0 and {len(sc.frames) - 1}")
    L = _layout_cache if _layout_cache is not None else _layout(sc, numbers, cell)
    fr = sc.frames[step]
    C, K = L.cell, L.kcell
    cv = Canvas(L.width, L.height)
    # --- the parts every frame shares (rasterized once per animation) ---
    for x, y, s, size, color, anchor, bold in L.texts:
        cv.text(x, y, s, size=size, color=color, anchor=anchor, bold=bold)
    for t, (x, y) in L.kernel_xy.items():
        col = tap_color(*_tap_flat(sc, t))
        cv.rect(x, y, x + K, y + K, fill=col, outline="#ffffff", width=1)
        lab = _num(sc.w[t]) if numbers else _tap_label(t)
        cv.text(x + K / 2, y + K / 2, lab, size=K * (0.36 if numbers else 0.3), color=text_color_on(col))
    for c in L.source_xy:
        _draw_source_cell(cv, L, sc.source, c, sc, numbers)
    if L.arrow:
        cv.arrow(*L.arrow, color="#888888", width=2.5)
    _draw_legend(cv, L, sc, numbers)
    cv.mark_static()
    # --- what changes from frame to frame ---
    cv.text(L.width - M, M + 8, f"step {step + 1} / {len(sc.frames)}", size=_SUBTITLE, color=MUTED, anchor="rm")
    for c in L.target_xy:
        _draw_target_cell(cv, L, sc, fr, c, numbers)
    # this frame's kernel: on the source grid (window) or on the target grid (painted cells)
    on_source = sc.view != "scatter"
    grid = sc.source if on_source else sc.target
    xy = L.source_xy if on_source else L.target_xy
    for c, tap in fr.kernel:
        x, y = xy[c]
        col = tap_color(*_tap_flat(sc, tap))
        kind = grid.kind_at(c)
        base = {"input": INPUT, "output": "#ffffff", "zero": ZERO, "pad": PAD}.get(kind, CROPPED)
        if not on_source:
            ix = tuple(a - lo for a, lo in zip(c, grid.lo, strict=True))
            base = count_color(int(fr.counts[ix]), L.max_count) if kind == "output" else CROPPED
        _overlay(cv, x, y, C, col, base, strong=kind in ("input", "output"))
        fill_after = blend(base, col, 0.55 if kind in ("input", "output") else 0.3)
        tc = text_color_on(fill_after)
        if on_source:
            cv.text(x + 4, y + 4, _num(sc.w[tap]) if numbers else _tap_label(tap), size=C * 0.24, color=tc, anchor="la")
            if numbers:
                val = _num(sc.x[_source_to_input(sc, c)]) if kind == "input" else "0"
                cv.text(x + C / 2, y + C * 0.64, val, size=C * 0.36, color=tc if kind == "input" else "#8a8a8a")
            elif kind != "input":
                cv.text(x + C - 4, y + C - 4, "0", size=C * 0.24, color="#8a8a8a", anchor="rs")
        else:
            ix = tuple(a - lo for a, lo in zip(c, grid.lo, strict=True))
            cv.text(x + 4, y + 4, _tap_label(tap), size=C * 0.22, color=tc, anchor="la")
            n = int(fr.counts[ix])
            if numbers:
                cv.text(x + C / 2, y + C * 0.58, _num(fr.values[ix]), size=C * 0.32, color=tc)
                cv.text(x + C - 3, y + C - 3, str(n), size=C * 0.22, color=tc, anchor="rs")
            else:
                cv.text(x + C / 2, y + C * 0.58, str(n), size=C * 0.32, color=tc)
    # the focus cell
    if on_source:
        x, y = L.target_xy[fr.focus]
        cv.rect(x - 1, y - 1, x + C + 1, y + C + 1, outline=OUTPUT_DARK, width=3)
    else:
        x, y = L.source_xy[fr.focus]
        cv.rect(x, y, x + C, y + C, fill=blend(INPUT, INPUT_DARK, 0.45))
        cv.rect(x - 1, y - 1, x + C + 1, y + C + 1, outline=INPUT_DARK, width=3)
        if numbers:
            cv.text(x + C / 2, y + C * 0.62, _num(sc.x[fr.focus]), size=C * 0.36, color="#ffffff")
    if sc.nd == 1:
        _edges(cv, L, sc, fr)
    # caption and legend
    lines = _wrap(_caption(sc, fr, numbers), L.caption_width, _CAPTION)
    cx, cy = L.caption_xy
    for i, line in enumerate(lines):
        cv.text(cx, cy + i * 18, line, size=_CAPTION, color=TEXT, anchor="lm")
    return cv


def _edges(cv: Canvas, L: _Layout, sc: Scene, fr: Frame) -> None:
    """1-D: one edge per kernel tap of this frame, coloured by tap; dashed where a zero or a cropped cell is involved."""
    C = L.cell
    if sc.view != "scatter":
        tx, ty = L.target_xy[fr.focus]
        for c, tap in fr.kernel:
            sx, sy = L.source_xy[c]
            dashed = sc.source.kind_at(c) != "input"
            cv.line(sx + C / 2, sy - 2, tx + C / 2, ty + C + 3, tap_color(*_tap_flat(sc, tap)), 2.0, dash=dashed)
    else:
        sx, sy = L.source_xy[fr.focus]
        for c, tap in fr.kernel:
            tx, ty = L.target_xy[c]
            dashed = sc.target.kind_at(c) != "output"
            cv.line(sx + C / 2, sy - 2, tx + C / 2, ty + C + 3, tap_color(*_tap_flat(sc, tap)), 2.0, dash=dashed)


def _draw_legend(cv: Canvas, L: _Layout, sc: Scene, numbers: bool) -> None:
    rows = _legend_rows(_legend_items(sc, numbers), L.caption_width)
    n_taps = math.prod(sc.plan.kernel_size)
    for r, row in enumerate(rows):
        y = L.legend_y + r * 22
        for kind, label, x in row:
            x += M
            if kind == "input":
                cv.rect(x, y, x + 14, y + 14, fill=INPUT, outline=GRID)
                sw = 14
            elif kind in ("zero", "pad"):
                cv.rect(x, y, x + 14, y + 14, fill=ZERO if kind == "zero" else PAD, outline=MUTED, dash=True)
                sw = 14
            elif kind == "extra":
                cv.rect(x, y, x + 14, y + 14, fill=ZERO, outline=MUTED, width=1.2, dash="dot")
                sw = 14
            elif kind == "cropped":
                cv.rect(x, y, x + 14, y + 14, fill=CROPPED, outline="#bbbbbb")
                cv.cross(x + 2, y + 2, x + 12, y + 12, "#b0b0b0")
                sw = 14
            elif kind == "output":
                for i in range(3):
                    col = (
                        count_color(1 + i * (L.max_count - 1) // 2, L.max_count)
                        if L.max_count > 1
                        else count_color(1, 1)
                    )
                    cv.rect(x + i * 11, y, x + i * 11 + 12, y + 14, fill=col, outline=GRID)
                sw = 34
            else:
                m = min(n_taps, 6)
                wd = 34 / m
                for i in range(m):
                    t = round(i * (n_taps - 1) / max(m - 1, 1))
                    cv.rect(x + i * wd, y, x + (i + 1) * wd, y + 14, fill=tap_color(t, n_taps))
                sw = 34
            cv.text(x + sw + 6, y + 7, label, size=_LEGEND, color=TEXT, anchor="lm")


# ----------------------------------------------------------------------------------------------------------------
# all frames and export
# ----------------------------------------------------------------------------------------------------------------
def frame_canvases(sc: Scene, numbers: bool = False, cell: float | None = None) -> list[Canvas]:
    """Every frame of ``sc`` as vector canvases (one shared layout)."""
    if not isinstance(sc, Scene):
        raise ConfigTypeError("scene", type(sc).__name__, "must be a tconv.viz.Scene (see tconv.viz.scene)")
    L = _layout(sc, numbers, cell)
    return [frame_canvas(sc, i, numbers, cell, _layout_cache=L) for i in range(len(sc.frames))]


def render_frames(sc: Scene, numbers: bool = False, cell: float | None = None, scale: int = 2) -> list[np.ndarray]:
    """Every frame of ``sc`` as an ``(H, W, 3)`` uint8 array (``scale`` x supersampled, so anti-aliased)."""
    return render_canvases(frame_canvases(sc, numbers, cell), scale)


def contact_sheet(
    sc: Scene, numbers: bool = False, columns: int | None = None, cell: float | None = None
) -> np.ndarray:
    """All frames of ``sc`` tiled into one image, ``columns`` wide (default: about square)."""
    frames = render_frames(sc, numbers, cell)
    cols = columns or max(1, math.ceil(math.sqrt(len(frames))))
    return tile_arrays(frames, cols)


def _gif_bytes(frames: list[np.ndarray], fps: float, hold: int = 3) -> bytes:
    # one palette for all frames (sampled from up to 8 of them), so Pillow can store each frame as the pixels that
    # changed (optimize=True makes the unchanged ones transparent): about a third of the size of per-frame palettes
    idx = np.unique(np.linspace(0, len(frames) - 1, min(8, len(frames))).astype(int))
    sample = Image.fromarray(tile_arrays([frames[i] for i in idx], 4, gap=0))
    palette = sample.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    rgb = np.array(palette.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
    rgb[(rgb >= 248).all(axis=1)] = 255  # near-whites become white: the background stays pure white
    palette.putpalette(rgb.ravel().tolist())
    images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    ms = int(round(1000 / fps))
    durations = [ms] * (len(images) - 1) + [ms * hold]
    buf = io.BytesIO()
    images[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
        disposal=1,
        optimize=True,
    )
    return buf.getvalue()


def _write_mp4(path: Path, frames: list[np.ndarray], fps: float, hold: int = 3) -> None:
    try:
        import imageio.v2 as iio  # noqa: PLC0415
        import imageio_ffmpeg  # noqa: F401, PLC0415
    except ImportError:  # pragma: no cover - optional extra
        raise ConfigError("out", str(path), "needs imageio-ffmpeg for .mp4 (pip install 'tconv[video]')") from None
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    H, W = -(-h // 16) * 16, -(-w // 16) * 16  # libx264 + yuv420p want even sizes; 16 avoids rescaling
    padded = []
    for f in frames + [frames[-1]] * (hold - 1):
        p = np.full((H, W, 3), 255, dtype=np.uint8)
        p[: f.shape[0], : f.shape[1]] = f
        padded.append(p)
    with atomic_path(path) as tmp:
        writer = iio.get_writer(
            tmp,
            format="FFMPEG",
            mode="I",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=16,
            ffmpeg_log_level="error",
        )
        try:
            for p in padded:
                writer.append_data(p)
        finally:
            writer.close()


def save_animation(
    sc: Scene,
    path: str | os.PathLike[str],
    numbers: bool = False,
    fps: float = 2.0,
    cell: float | None = None,
    columns: int | None = None,
) -> Path:
    """Write ``sc`` to ``path`` (atomically); the suffix picks the format.

    ``.gif`` (Pillow) and ``.mp4`` (imageio-ffmpeg) play the frames at ``fps`` and hold the last one; ``.png`` and
    ``.svg`` are contact sheets of all frames, ``columns`` wide.

    >>> import tempfile, pathlib
    >>> from tconv.geometry import plan_from_sizes
    >>> p = save_animation(scene(plan_from_sizes(3, 3, stride=2)), pathlib.Path(tempfile.mkdtemp()) / "a.gif")
    >>> p.read_bytes()[:6]
    b'GIF89a'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError("out", str(path), f"must end in one of {FORMATS}")
    if not (isinstance(fps, (int, float)) and 0 < fps <= 60):
        raise ConfigError("fps", fps, "must be a number in (0, 60]")
    canvases = frame_canvases(sc, numbers, cell)
    cols = columns or max(1, math.ceil(math.sqrt(len(canvases))))
    if suffix == ".svg":
        return write_text(path, tile_svg(canvases, cols))
    frames = render_canvases(canvases)
    if suffix == ".gif":
        return write_bytes(path, _gif_bytes(frames, fps))
    if suffix == ".png":
        buf = io.BytesIO()
        Image.fromarray(tile_arrays(frames, cols)).save(buf, format="PNG", optimize=True)
        return write_bytes(path, buf.getvalue())
    _write_mp4(path, frames, fps)
    return path


def animate(
    op: str = "transposed",
    in_size: int | Sequence[int] = 3,
    kernel_size: int | Sequence[int] = 3,
    stride: int | Sequence[int] = 1,
    padding: Any = 0,
    dilation: int | Sequence[int] = 1,
    output_padding: int | Sequence[int] = 0,
    view: str = "equivalent",
    x: Any = None,
    w: Any = None,
    seed: int = 0,
) -> Scene:
    """The scene of a convolution (``op="conv"``) or transposed convolution of ``in_size`` with these parameters.

    Sizes are 1-D for an int and 2-D for a pair; parameters follow PyTorch (``padding`` also takes
    ``(before, after)`` pairs). Render it with :func:`render_frames` or write it with :func:`save_animation`.

    >>> sc = animate("transposed", (2, 3), 3, stride=2, padding=1, output_padding=1, view="scatter")
    >>> sc.output.shape, len(sc.frames)
    ((4, 6), 6)
    """
    plan = animation_plan(op, in_size, kernel_size, stride, padding, dilation, output_padding)
    return scene(plan, op=op, view=view, x=x, w=w, seed=seed)
