"""The interactive explorer: one self-contained HTML page (vanilla JS and SVG, every asset inline, no network).

The page's sources live in ``web/`` at the top of the repository: ``explorer.html`` (the template),
``explorer.css`` and the scripts of :data:`SCRIPTS`; a wheel ships them as ``tconv/explorer/assets/``.
:func:`build_page` inlines the style sheet and the scripts (concatenated, in order, into one ``<script>``), so the
result opens from ``file://`` and can be mailed around as one file.

``web/arith.js`` is the only second copy of tconv's arithmetic (a port of :func:`tconv.geometry.make_plan`,
:func:`tconv.geometry.conv_plan`, the plan's index mapping and :func:`tconv.arith.solve`); ``config.js`` turns the
controls into a plan; the other scripts draw it. ``tests/explorer`` runs the first two under Node and the whole page
in Chromium, and compares every size, padding, error message and contributor set with the Python.

A page opened as ``explorer.html?embed`` (an ``<iframe>`` in the tour) drops its header and footer; its URL hash
holds the whole configuration (see :data:`EXAMPLES`), with commas left readable: ``#m=t&nd=2&i=4,4&k=4,4&s=2,2``.

>>> page = build_page()
>>> page.startswith("<!doctype html>") and "__TCONV_" not in page
True
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from ..files import write_text

__all__ = ["build_page", "write_page", "tour_section", "asset_dir", "ASSETS", "SCRIPTS", "EXAMPLES"]

#: The page's scripts, in the order they run: the arithmetic, the configuration, then the views and the wiring.
SCRIPTS: tuple[str, ...] = (
    "arith.js",
    "config.js",
    "draw.js",
    "result.js",
    "map.js",
    "step.js",
    "matrix.js",
    "graph.js",
    "app.js",
)

#: The page's source files: the template, its style sheet and its scripts.
ASSETS: tuple[str, ...] = ("explorer.html", "explorer.css", *SCRIPTS)

_CSS_MARKER = "/*__TCONV_CSS__*/"
_JS_MARKER = "/*__TCONV_JS__*/"

#: Links into the page (its URL hash holds the whole state) that the tour shows.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("DCGAN's k=4, s=2, p=1 doubles a 4×4 input", "m=t&nd=2&i=4,4&k=4,4&s=2,2&d=1,1&pm=sym&p=1,1&op=0,0"),
    ("A 1-D example with stride 2 and output_padding 1", "m=t&nd=1&i=3&k=3&s=2&d=1&pm=sym&p=0&op=1"),
    ("Which ConvTranspose undoes Conv(i=6, k=3, s=2)?", "m=i&nd=2&i=6,6&k=3,3&s=2,2&d=1,1&pm=sym&p=0,0"),
    ("TensorFlow's padding='same' with stride 2", "m=t&nd=2&i=3,3&k=3,3&s=2,2&d=1,1&pm=same&op=0,0"),
    ("Dilation 2 with stride 2 (output_padding may reach 1)", "m=t&nd=1&i=4&k=3&s=2&d=2&pm=sym&p=1&op=1"),
)


def asset_dir() -> Path:
    """The folder holding the page's sources: the package's ``assets`` (installed) or the repository's ``web/``."""
    here = Path(__file__).resolve().parent
    override = os.environ.get("TCONV_EXPLORER_ASSETS")
    candidates = ([Path(override)] if override else []) + [here / "assets", here.parents[2] / "web"]
    for cand in candidates:
        if all((cand / name).is_file() for name in ASSETS):
            return cand
    raise FileNotFoundError(
        f"the explorer's sources ({', '.join(ASSETS)}) are in neither " + " nor ".join(str(c) for c in candidates)
    )


def build_page(version: str | None = None) -> str:
    """The whole explorer as one HTML string: the template with its CSS and JavaScript inlined."""
    from .. import __version__  # noqa: PLC0415

    folder = asset_dir()
    text = {name: (folder / name).read_text(encoding="utf-8") for name in ASSETS}
    for name, body in text.items():
        if name != "explorer.html" and ("</script" in body.lower() or "</style" in body.lower()):
            raise ValueError(f"{name} contains a closing </script> or </style> tag and cannot be inlined")
    script = "\n".join(f"/* ---- {name} ---- */\n{text[name].rstrip()}\n" for name in SCRIPTS)
    page = text["explorer.html"]
    for marker, body in ((_CSS_MARKER, text["explorer.css"]), (_JS_MARKER, script)):
        if page.count(marker) != 1:
            raise ValueError(f"explorer.html must contain the marker {marker} exactly once")
        page = page.replace(marker, body)
    return page.replace("__TCONV_VERSION__", html.escape(version or __version__))


def write_page(path: str | os.PathLike[str] = "explorer.html") -> Path:
    """Write the explorer page to ``path`` (atomically) and return the path."""
    return write_text(path, build_page())


def tour_section(out_dir: Path, quick: bool = True):
    """The tour's section: writes ``explorer.html`` beside the tour page and links it, with a few deep links."""
    from ..tour import Section  # noqa: PLC0415

    path = write_page(Path(out_dir) / "explorer.html")
    links = "".join(
        f'<li><a href="explorer.html#{html.escape(frag)}">{html.escape(title)}</a></li>' for title, frag in EXAMPLES
    )
    body = (
        f'<p><a href="{path.name}"><b>Open the explorer</b></a>: one self-contained page (no network; '
        f"{path.stat().st_size // 1024} KB) to set a 1-D or 2-D convolution or transposed convolution and watch "
        "every view follow: the output size with its formula filled in, the equivalent direct convolution, the step "
        "animation (equivalent and scatter views), the matrix Cᵀ, the 1-D graph, and the PyTorch and "
        "TensorFlow/Keras code. Hover an output to see the inputs and kernel taps it sums; hover an input to see "
        "the outputs it reaches. Invalid settings show the same message tconv's Python raises. The address holds "
        "the whole configuration, so a link shares it, for example:</p>"
        f"<ul>{links}</ul>"
        '<p class="muted">Also: <code>tconv explore --out explorer.html</code>.</p>'
    )
    return Section("explorer", "Interactive explorer", body)
