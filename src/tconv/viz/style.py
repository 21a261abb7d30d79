"""One palette for every picture, so a colour means the same thing in the animations, graphs and matrix view.

- input cells are blue, output cells green (darker = more contributions), zeros and padding white with a dashed
  border (seed 000 draws them as dashed "auxiliary" nodes), cropped positions grey with a cross;
- kernel tap ``t`` (flat, row-major) has colour ``tap_color(t, n_taps)``, sampled in order from a purple-to-orange
  ramp, so a flipped kernel shows up as a reversed ramp, and an edge, a cell outline and a matrix entry drawn for the
  same weight always share a colour.

>>> tap_color(0, 3), tap_color(2, 3)
('#0d0887', '#fdae32')
>>> text_color_on("#0d0887")
'#ffffff'
"""

from __future__ import annotations

import functools

__all__ = [
    "INPUT",
    "INPUT_DARK",
    "OUTPUT",
    "OUTPUT_DARK",
    "ZERO",
    "PAD",
    "CROPPED",
    "GRID",
    "TEXT",
    "MUTED",
    "tap_color",
    "tap_colors",
    "count_color",
    "blend",
    "text_color_on",
    "font_path",
]

INPUT = "#a9cbe8"  # an input cell
INPUT_DARK = "#2f6fa8"  # its outline / the input currently scattered
OUTPUT = "#b9e3c1"  # an output cell that has been written
OUTPUT_DARK = "#1f7a3a"  # the output cell being written
ZERO = "#ffffff"  # an inserted zero (between inputs)
PAD = "#f3f3f3"  # a padding zero
CROPPED = "#d9d9d9"  # an output position that padding crops away
GRID = "#555555"  # cell borders
TEXT = "#222222"
MUTED = "#777777"

# a purple -> magenta -> orange ramp (matplotlib's "plasma" between 0 and 0.82), sampled at the taps
_RAMP = ("#0d0887", "#48039f", "#7701a8", "#a11b9b", "#c33d80", "#de5f65", "#f2844b", "#fdae32")


def _hex_to_rgb(c: str) -> tuple[int, int, int]:
    c = c.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _rgb_to_hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(v))):02x}" for v in rgb)


@functools.lru_cache(maxsize=1024)
def tap_color(tap: int, n_taps: int) -> str:
    """The colour of flat kernel tap ``tap`` out of ``n_taps`` (interpolated along one fixed ramp)."""
    if n_taps <= 1:
        return _RAMP[0]
    pos = tap / (n_taps - 1) * (len(_RAMP) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(_RAMP) - 1)
    a, b = _hex_to_rgb(_RAMP[lo]), _hex_to_rgb(_RAMP[hi])
    f = pos - lo
    return _rgb_to_hex(tuple(a[i] + (b[i] - a[i]) * f for i in range(3)))


def tap_colors(n_taps: int) -> list[str]:
    """All tap colours for a kernel with ``n_taps`` taps."""
    return [tap_color(t, n_taps) for t in range(n_taps)]


@functools.lru_cache(maxsize=4096)
def blend(c1: str, c2: str, f: float) -> str:
    """Mix ``f`` of colour ``c2`` into ``c1``."""
    a, b = _hex_to_rgb(c1), _hex_to_rgb(c2)
    return _rgb_to_hex(tuple(a[i] * (1 - f) + b[i] * f for i in range(3)))


@functools.lru_cache(maxsize=1024)
def count_color(count: int, max_count: int) -> str:
    """Fill of an output cell that has received ``count`` contributions (white for none, darker green for more)."""
    if count <= 0:
        return ZERO
    if max_count <= 1:
        return OUTPUT
    return blend(OUTPUT, "#3a9d57", (count - 1) / (max_count - 1) * 0.85)


def text_color_on(fill: str) -> str:
    """Black or white, whichever reads better on ``fill``."""
    r, g, b = _hex_to_rgb(fill)
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 140 else TEXT


@functools.lru_cache(maxsize=2)
def font_path(bold: bool = False) -> str:
    """Path of the DejaVu Sans font that matplotlib ships (used by the Pillow renderer)."""
    from matplotlib import font_manager  # noqa: PLC0415

    props = font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal")
    return font_manager.findfont(props, fallback_to_default=True)
