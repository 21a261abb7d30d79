"""A tiny vector canvas: rectangles, lines and text, rendered to a raster (Pillow) or to SVG from the same list.

Animation frames are drawn with this instead of matplotlib because a frame is a few hundred axis-aligned boxes and
labels: Pillow draws one in a few milliseconds (matplotlib needs tens), and the SVG contact sheet comes from the very
same primitives. Rasters are drawn at ``scale`` times the size and reduced, which anti-aliases lines and text.

>>> c = Canvas(60, 30)
>>> c.rect(5, 5, 25, 25, fill="#a9cbe8", outline="#555555")
>>> c.text(45, 15, "x₀", size=12)
>>> c.to_array().shape
(30, 60, 3)
>>> c.to_svg().startswith("<svg")
True
"""

from __future__ import annotations

import functools
import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .style import TEXT, font_path

__all__ = ["Canvas", "text_width", "tile_svg", "tile_arrays", "render_canvases"]

_DASH = (4.0, 3.0)  # dash on, off (in canvas units)
_DOT = (1.2, 2.2)  # dash="dot": a dotted line (the explorer's output_padding cells)


def _pattern(dash: bool | str) -> tuple[float, float]:
    return _DOT if dash == "dot" else _DASH


@functools.lru_cache(maxsize=64)
def _font(size: float, bold: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(bold), max(1, round(size)))


def text_width(s: str, size: float, bold: bool = False) -> float:
    """Width of ``s`` in canvas units at font ``size`` (measured with the same font the raster uses)."""
    return _font(size * 4, bold).getlength(s) / 4


@dataclass
class Canvas:
    """A list of drawing primitives in canvas units (1 unit = 1 output pixel at ``scale=1``)."""

    width: float
    height: float
    background: str = "#ffffff"
    ops: list[tuple[Any, ...]] = field(default_factory=list)
    static: int = 0

    # -- primitives --------------------------------------------------------------------------------------------
    def rect(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        fill: str | None = None,
        outline: str | None = None,
        width: float = 1.0,
        dash: bool | str = False,
    ) -> None:
        """An axis-aligned rectangle; the outline is drawn inside the box (``dash=True`` dashed, ``"dot"`` dotted)."""
        self.ops.append(("rect", x0, y0, x1, y1, fill, outline, width, dash))

    def line(
        self, x0: float, y0: float, x1: float, y1: float, color: str, width: float = 1.0, dash: bool | str = False
    ) -> None:
        """A straight line segment (optionally dashed)."""
        self.ops.append(("line", x0, y0, x1, y1, color, width, dash))

    def circle(
        self, cx: float, cy: float, r: float, fill: str | None = None, outline: str | None = None, width: float = 1.0
    ) -> None:
        """A circle (used for arrow heads and markers)."""
        self.ops.append(("circle", cx, cy, r, fill, outline, width))

    def polygon(self, points: list[tuple[float, float]], fill: str) -> None:
        """A filled polygon (arrow heads)."""
        self.ops.append(("polygon", tuple(points), fill))

    def text(
        self, x: float, y: float, s: str, size: float = 12, color: str = TEXT, anchor: str = "mm", bold: bool = False
    ) -> None:
        """Text at (x, y); ``anchor`` is Pillow's two letters: l/m/r horizontally, a(top)/m(middle)/s(baseline)."""
        self.ops.append(("text", x, y, s, size, color, anchor, bold))

    def cross(self, x0: float, y0: float, x1: float, y1: float, color: str, width: float = 1.0) -> None:
        """Both diagonals of a box (a cropped cell)."""
        self.line(x0, y0, x1, y1, color, width)
        self.line(x0, y1, x1, y0, color, width)

    def arrow(self, x0: float, y0: float, x1: float, y1: float, color: str, width: float = 2.0) -> None:
        """A line with a triangular head at (x1, y1)."""
        ang = math.atan2(y1 - y0, x1 - x0)
        h = 4 + 2.5 * width
        bx, by = x1 - h * math.cos(ang), y1 - h * math.sin(ang)
        self.line(x0, y0, bx, by, color, width)
        px, py = -math.sin(ang) * h * 0.5, math.cos(ang) * h * 0.5
        self.polygon([(x1, y1), (bx + px, by + py), (bx - px, by - py)], color)

    # -- raster ------------------------------------------------------------------------------------------------
    def mark_static(self) -> None:
        """Everything drawn so far is the same in every frame of an animation (rendered once by
        :func:`render_canvases`)."""
        self.static = len(self.ops)

    def to_image(self, scale: int = 2) -> Image.Image:
        """Render with Pillow at ``scale`` x, then reduce: an anti-aliased RGB image of ``width x height`` pixels."""
        img = self._blank(scale)
        _draw_ops(img, self.ops, scale)
        return img.reduce(scale) if scale > 1 else img

    def _blank(self, scale: int) -> Image.Image:
        w, h = max(1, math.ceil(self.width)), max(1, math.ceil(self.height))
        return Image.new("RGB", (w * scale, h * scale), self.background)

    def to_array(self, scale: int = 2) -> np.ndarray:
        """The rendered frame as an ``(height, width, 3)`` uint8 array."""
        return np.asarray(self.to_image(scale))

    # -- vector --------------------------------------------------------------------------------------------
    def svg_body(self) -> str:
        """The primitives as SVG elements (no enclosing ``<svg>``)."""
        out = [f'<rect x="0" y="0" width="{self.width:.1f}" height="{self.height:.1f}" fill="{self.background}"/>']
        for op in self.ops:
            kind = op[0]
            if kind == "rect":
                _, x0, y0, x1, y1, fill, outline, width, dash = op
                if fill is not None:
                    out.append(
                        f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" fill="{fill}"/>'
                    )
                if outline is not None:
                    i = width / 2
                    da = f' stroke-dasharray="{_pattern(dash)[0]},{_pattern(dash)[1]}"' if dash else ""
                    out.append(
                        f'<rect x="{x0 + i:.1f}" y="{y0 + i:.1f}" width="{x1 - x0 - width:.1f}" '
                        f'height="{y1 - y0 - width:.1f}" fill="none" stroke="{outline}" stroke-width="{width:.1f}"{da}/>'
                    )
            elif kind == "line":
                _, x0, y0, x1, y1, color, width, dash = op
                da = f' stroke-dasharray="{_pattern(dash)[0]},{_pattern(dash)[1]}"' if dash else ""
                out.append(
                    f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{color}" '
                    f'stroke-width="{width:.1f}"{da}/>'
                )
            elif kind == "circle":
                _, cx, cy, r, fill, outline, width = op
                st = f' stroke="{outline}" stroke-width="{width:.1f}"' if outline else ""
                out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{fill or "none"}"{st}/>')
            elif kind == "polygon":
                _, pts, fill = op
                p = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
                out.append(f'<polygon points="{p}" fill="{fill}"/>')
            elif kind == "text":
                _, x, y, s, size, color, anchor, bold = op
                ta = {"l": "start", "m": "middle", "r": "end"}[anchor[0]]
                bl = {"a": "hanging", "m": "central", "s": "alphabetic"}[anchor[1]]
                fw = ' font-weight="bold"' if bold else ""
                out.append(
                    f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:.1f}" fill="{color}" text-anchor="{ta}" '
                    f'dominant-baseline="{bl}"{fw}>{html.escape(s)}</text>'
                )
        return "\n".join(out)

    def to_svg(self) -> str:
        """A standalone SVG document."""
        return _svg_doc(self.width, self.height, self.svg_body())


def _svg_doc(width: float, height: float, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="DejaVu Sans, Verdana, sans-serif">\n{body}\n</svg>\n'
    )


def render_canvases(canvases: list[Canvas], scale: int = 2) -> list[np.ndarray]:
    """Rasterize frames, drawing each distinct static prefix (see :meth:`Canvas.mark_static`) only once."""
    out = []
    key: tuple[Any, ...] | None = None
    base: Image.Image | None = None
    for c in canvases:
        static = (c.width, c.height, c.background, tuple(c.ops[: c.static]))
        if base is None or static != key:
            base = c._blank(scale)
            _draw_ops(base, c.ops[: c.static], scale)
            key = static
        img = base.copy()
        _draw_ops(img, c.ops[c.static :], scale)
        out.append(np.asarray(img.reduce(scale) if scale > 1 else img))
    return out


@functools.lru_cache(maxsize=4096)
def _text_mask(s: str, size_px: int, bold: bool, anchor: str) -> tuple[Image.Image, int, int]:
    """A text's alpha mask and its offset from the anchor point (rendered once, pasted many times)."""
    font = _font(size_px, bold)
    left, top, right, bottom = font.getbbox(s, anchor=anchor)
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(mask).text((-left, -top), s, fill=255, font=font, anchor=anchor)
    return mask, left, top


@functools.lru_cache(maxsize=256)
def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _draw_ops(img: Image.Image, ops: list[tuple[Any, ...]], k: int) -> None:
    dr = ImageDraw.Draw(img)
    for op in ops:
        kind = op[0]
        if kind == "rect":
            _, x0, y0, x1, y1, fill, outline, width, dash = op
            box = [x0 * k, y0 * k, x1 * k - 1, y1 * k - 1]
            if fill is not None:
                dr.rectangle(box, fill=fill)
            if outline is not None:
                lw = max(1, round(width * k))
                if dash:
                    inset = lw / 2
                    bx0, by0, bx1, by1 = box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset
                    for a, b, c, d in (
                        (bx0, by0, bx1, by0),
                        (bx1, by0, bx1, by1),
                        (bx1, by1, bx0, by1),
                        (bx0, by1, bx0, by0),
                    ):
                        _dashed(dr, a, b, c, d, outline, lw, k, _pattern(dash))
                else:
                    dr.rectangle(box, outline=outline, width=lw)
        elif kind == "line":
            _, x0, y0, x1, y1, color, width, dash = op
            lw = max(1, round(width * k))
            if dash:
                _dashed(dr, x0 * k, y0 * k, x1 * k, y1 * k, color, lw, k, _pattern(dash))
            else:
                dr.line([x0 * k, y0 * k, x1 * k, y1 * k], fill=color, width=lw)
        elif kind == "circle":
            _, cx, cy, r, fill, outline, width = op
            dr.ellipse(
                [(cx - r) * k, (cy - r) * k, (cx + r) * k, (cy + r) * k],
                fill=fill,
                outline=outline,
                width=max(1, round(width * k)),
            )
        elif kind == "polygon":
            _, pts, fill = op
            dr.polygon([(px * k, py * k) for px, py in pts], fill=fill)
        elif kind == "text":
            _, x, y, s, size, color, anchor, bold = op
            if not s:
                continue
            mask, dx, dy = _text_mask(s, max(1, round(size * k)), bold, anchor)
            px, py = round(x * k) + dx, round(y * k) + dy
            img.paste(_rgb(color), (px, py, px + mask.width, py + mask.height), mask)


def _dashed(
    dr: ImageDraw.ImageDraw,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    color: str,
    lw: int,
    k: int,
    pattern: tuple[float, float] = _DASH,
) -> None:
    length = math.hypot(x1 - x0, y1 - y0)
    if length == 0:
        return
    on, off = pattern[0] * k, pattern[1] * k
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    pos = 0.0
    while pos < length:
        end = min(pos + on, length)
        dr.line([x0 + ux * pos, y0 + uy * pos, x0 + ux * end, y0 + uy * end], fill=color, width=lw)
        pos = end + off


def tile_svg(canvases: list[Canvas], columns: int, gap: float = 8) -> str:
    """Canvases of equal size laid out in a grid, as one SVG document."""
    cw = max(c.width for c in canvases)
    ch = max(c.height for c in canvases)
    rows = math.ceil(len(canvases) / columns)
    parts = []
    for i, c in enumerate(canvases):
        x, y = (i % columns) * (cw + gap), (i // columns) * (ch + gap)
        parts.append(f'<g transform="translate({x:.1f},{y:.1f})">\n{c.svg_body()}\n</g>')
    return _svg_doc(columns * (cw + gap) - gap, rows * (ch + gap) - gap, "\n".join(parts))


def tile_arrays(frames: list[np.ndarray], columns: int, gap: int = 8, background: int = 255) -> np.ndarray:
    """Frames (H, W, 3) laid out in a grid with ``gap`` pixels between them."""
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    rows = math.ceil(len(frames) / columns)
    sheet = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, 3), background, dtype=np.uint8)
    for i, f in enumerate(frames):
        y, x = (i // columns) * (h + gap), (i % columns) * (w + gap)
        sheet[y : y + f.shape[0], x : x + f.shape[1]] = f
    return sheet
