"""The tour: one self-contained HTML page that every capability adds a section to.

Each capability module exposes ``tour_section(out_dir: Path, quick: bool = True) -> Section``; this module only
collects and renders them (figures are embedded as data URIs, so ``index.html`` stands alone; larger artifacts
such as the explorer page may sit beside it and be linked).

>>> import tempfile, pathlib
>>> s = Section("demo", "Demo", "<p>hi</p>")
>>> "<h2" in render_page([s])
True
"""

from __future__ import annotations

import base64
import html
import importlib
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import write_text

__all__ = ["Section", "SECTION_MODULES", "run_tour", "render_page", "img_tag", "table_html"]

#: Modules that may contribute a section, in page order. A module that does not exist yet is skipped.
SECTION_MODULES: tuple[str, ...] = (
    "tconv.ops.tour",
    "tconv.arith",
    "tconv.receptive",
    "tconv.viz",
    "tconv.explorer",
    "tconv.zfnet",
    "tconv.upsampling",
    "tconv.bezier",
    "tconv.gpu",
)


@dataclass(frozen=True)
class Section:
    """One section of the tour page: an anchor id, a title and its HTML body."""

    id: str
    title: str
    html: str


def img_tag(obj: Any, alt: str = "", width: int | None = None) -> str:
    """An ``<img>`` with the picture inline: ``obj`` is a matplotlib Figure, PNG/GIF/SVG bytes or a file path."""
    if isinstance(obj, (str, Path)):
        path = Path(obj)
        data = path.read_bytes()
        mime = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}.get(
            path.suffix.lower(), "application/octet-stream"
        )
    elif isinstance(obj, bytes):
        data = obj
        mime = "image/gif" if data[:3] == b"GIF" else ("image/svg+xml" if data.lstrip()[:1] == b"<" else "image/png")
    else:  # a matplotlib Figure
        buf = io.BytesIO()
        obj.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        data, mime = buf.getvalue(), "image/png"
    w = f' width="{width}"' if width else ""
    return f'<img alt="{html.escape(alt)}"{w} src="data:{mime};base64,{base64.b64encode(data).decode()}">'


def table_html(header: list[str], rows: list[list[Any]]) -> str:
    """A plain HTML table (values escaped; floats shown with 4 significant digits)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4} img{max-width:100%} code,pre{background:#f6f6f6} pre{padding:.6em;overflow-x:auto}
nav a{margin-right:1em} .muted{color:#777}
"""


def render_page(sections: list[Section], elapsed: float | None = None) -> str:
    """The whole tour page as an HTML string."""
    nav = " ".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>\n{s.html}\n</section>' for s in sections)
    took = f'<p class="muted">Built in {elapsed:.1f} s.</p>' if elapsed is not None else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>tconv tour</title><style>{_CSS}</style></head><body>"
        "<h1>tconv — a tour of transposed convolution</h1>"
        f"<nav>{nav}</nav>{body}{took}</body></html>"
    )


def collect_sections(out_dir: Path, quick: bool = True, only: list[str] | None = None) -> list[Section]:
    """Import each module of :data:`SECTION_MODULES` and call its ``tour_section``, with a progress bar."""
    from rich.progress import Progress  # noqa: PLC0415

    mods = [m for m in SECTION_MODULES if only is None or m.rsplit(".", 1)[-1] in only or m in only]
    sections: list[Section] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("tour", total=len(mods))
        for name in mods:
            progress.update(task, description=f"tour: {name}")
            try:
                mod = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name and name.startswith(exc.name):
                    progress.advance(task)
                    continue  # this capability is not built yet
                raise
            fn = getattr(mod, "tour_section", None)
            if fn is not None:
                result = fn(out_dir, quick=quick)
                sections.extend(result if isinstance(result, list) else [result])
            progress.advance(task)
    return sections


def run_tour(out_dir: str | Path = "tour", quick: bool = True, only: list[str] | None = None) -> Path:
    """Build every section into ``out_dir/index.html`` and return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sections = collect_sections(out, quick=quick, only=only)
    return write_text(out / "index.html", render_page(sections, time.perf_counter() - t0))
