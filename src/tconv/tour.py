"""The tour: a lesson on transposed convolution (``index.html``) and the pages it links to.

``tconv tour --out DIR`` writes, next to each other in ``DIR``:

- ``index.html``: the lesson (:mod:`tconv.lesson`), read top to bottom, with the explorer embedded;
- ``explorer.html``: the interactive explorer (:func:`tconv.explorer.write_page`), which the lesson shows in a frame;
- one page per application or piece of evidence (:data:`PAGES`): each capability module's
  ``tour_section(out_dir, quick=True)`` returns the :class:`Section` (or list of them) that fills its page;
- ``gallery/index.html``: every picture of :mod:`tconv.viz.gallery`;
- ``img/``: the pictures the pages show, as files (never inlined), so the first screen loads fast.

While a tour is built, :func:`img_tag` writes each picture it is given into ``img/`` and links it; outside a build it
inlines the picture as a data URI, so a section can still be rendered on its own.

>>> s = Section("demo", "Demo", "<p>hi</p><table><tr><td>1</td></tr></table>")
>>> page = render_page("Demo page", [s])
>>> "<h2" in page and "<div class='tw'><table>" in page
True
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import html
import importlib
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import write_bytes, write_text

__all__ = [
    "Section",
    "Page",
    "PAGES",
    "run_tour",
    "render_page",
    "img_tag",
    "table_html",
    "markdown_html",
    "SECTION_MODULES",
]


@dataclass(frozen=True)
class Section:
    """One section of a page: an anchor id, a title and its HTML body."""

    id: str
    title: str
    html: str


@dataclass(frozen=True)
class Page:
    """A page the lesson links to: its file, title, one line saying what it shows, and where its sections come from.

    ``module`` is imported and its ``tour_section(out_dir, quick=...)`` called; ``heavy`` pages (minutes of training
    or of network evaluation) are replaced by a short placeholder in a ``--quick`` tour.
    """

    filename: str
    title: str
    blurb: str
    module: str
    heavy: bool = False


#: The application and evidence pages, in the order the lesson lists them.
PAGES: tuple[Page, ...] = (
    Page(
        "zfnet.html",
        "Seeing what a CNN sees: ZFNet visualization",
        "A unit of VGG16 run backwards to pixels through transposed convolutions and max-unpooling, as Zeiler & "
        "Fergus did; kernel and feature-map grids; the nine strongest patches per channel.",
        "tconv.zfnet",
        heavy=True,
    ),
    Page(
        "upsampling.html",
        "Upsampling experiments and checkerboards, measured",
        "Unpooling, copying, interpolation, resize-convolution, pixel shuffle and transposed convolutions trained "
        "side by side; the overlap pattern counted; checkerboards in the gradients of strided convolutions.",
        "tconv.upsampling",
        heavy=True,
    ),
    Page(
        "bezier.html",
        "A Bezier-curve autoencoder",
        "The blog experiment: a Conv1d encoder and a ConvTranspose1d decoder squeeze pieces of curves into three "
        "numbers; decoding is a weighted sum of three learned filters.",
        "tconv.bezier",
        heavy=True,
    ),
    Page(
        "receptive.html",
        "Receptive fields",
        "Which input pixels each unit of AlexNet- and VGG-like networks depends on, traced exactly.",
        "tconv.receptive",
        heavy=True,
    ),
    Page(
        "formulations.html",
        "Six formulations agree",
        "Scatter, zero insertion, the matrix Cᵀ, autograd, col2im and polyphase compute the same numbers as "
        "PyTorch: the error table.",
        "tconv.ops.tour",
    ),
    Page(
        "arithmetic.html",
        "Sizes, checked against PyTorch",
        "The worked cases of the size formulas, each row run through PyTorch; the positional-argument trap.",
        "tconv.arith",
    ),
    Page(
        "performance.html",
        "Performance",
        "tconv's CPU routes against PyTorch on real decoder layers (DCGAN, U-Net, Stable Diffusion-like, HiFi-GAN).",
        "tconv.tour",
    ),
)

#: Every module that contributes to the tour (kept for callers that list them).
SECTION_MODULES: tuple[str, ...] = tuple(p.module for p in PAGES) + ("tconv.viz", "tconv.explorer")

# where img_tag writes pictures during a build: (the tour's folder, names already written)
_ASSETS: contextvars.ContextVar[tuple[Path, set[str]] | None] = contextvars.ContextVar(
    "tconv_tour_assets", default=None
)

_MIME = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".mp4": "video/mp4"}


@contextmanager
def assets_into(out_dir: Path) -> Iterator[None]:
    """While active, :func:`img_tag` writes pictures into ``out_dir/img/`` and links them instead of inlining."""
    token = _ASSETS.set((Path(out_dir).resolve(), set()))
    try:
        yield
    finally:
        _ASSETS.reset(token)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "picture"


def img_tag(obj: Any, alt: str = "", width: int | None = None, lazy: bool = True) -> str:
    """An ``<img>`` of ``obj``: a matplotlib Figure, PNG/GIF/SVG bytes or a file path.

    During a tour build the picture is a file next to the page (a path already inside the tour's folder is linked
    where it is; anything else is written to ``img/``); otherwise it is inlined as a data URI.

    >>> img_tag(b"GIF89a...", "tiny").startswith('<img alt="tiny" src="data:image/gif;base64,')
    True
    """
    ctx = _ASSETS.get()
    path: Path | None = None
    if isinstance(obj, (str, Path)):
        path = Path(obj)
        data = b""
        suffix = path.suffix.lower()
    elif isinstance(obj, bytes):
        data = obj
        suffix = ".gif" if data[:3] == b"GIF" else (".svg" if data.lstrip()[:1] == b"<" else ".png")
    else:  # a matplotlib Figure
        buf = io.BytesIO()
        obj.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        data, suffix = buf.getvalue(), ".png"
    w = f' width="{width}"' if width else ""
    load = ' loading="lazy"' if lazy else ""
    if ctx is None:
        if path is not None:
            data = path.read_bytes()
        mime = _MIME.get(suffix, "application/octet-stream")
        return f'<img alt="{html.escape(alt)}"{w} src="data:{mime};base64,{base64.b64encode(data).decode()}">'
    root, written = ctx
    if path is not None and path.resolve().is_relative_to(root):
        src = path.resolve().relative_to(root).as_posix()
    else:
        if path is not None:
            data = path.read_bytes()
        name = f"{_slug(alt)}-{hashlib.sha1(data).hexdigest()[:10]}{suffix}"
        if name not in written:
            write_bytes(root / "img" / name, data)
            written.add(name)
        src = f"img/{name}"
    return f'<img alt="{html.escape(alt)}"{w}{load} src="{html.escape(src)}">'


def table_html(header: list[str], rows: list[list[Any]]) -> str:
    """A plain HTML table (values escaped; floats shown with 4 significant digits).

    >>> table_html(["a"], [[0.123456]])
    '<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>0.1235</td></tr></tbody></table>'
    """

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _inline_md(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<i>\1</i>", out)


def markdown_html(md: str, heading_level: int = 3) -> str:
    """Just enough markdown for the benchmark notes: pipe tables, headings, paragraphs, `code`, **bold**, *italic*.

    >>> markdown_html("## T\\n\\n| a | b |\\n|---|--:|\\n| `x` | **2** |")
    '<h3>T</h3>\\n<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td><code>x</code></td><td><b>2</b></td></tr></tbody></table>'
    """
    out: list[str] = []
    table: list[list[str]] = []
    para: list[str] = []

    def flush() -> None:
        if table:
            rows = [r for r in table if not all(c and set(c) <= set("-: ") for c in r)]
            head = "".join(f"<th>{_inline_md(h)}</th>" for h in rows[0])
            body = "".join("<tr>" + "".join(f"<td>{_inline_md(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            table.clear()
        if para:
            out.append(f"<p>{_inline_md(' '.join(para))}</p>")
            para.clear()

    for line in md.splitlines():
        s = line.strip()
        if s.startswith("|"):
            if para:
                flush()
            table.append([c.strip() for c in s.strip("|").split("|")])
        elif s.startswith("#"):
            flush()
            out.append(f"<h{heading_level}>{_inline_md(s.lstrip('#').strip())}</h{heading_level}>")
        elif not s or s.startswith("<!--"):
            flush()
        else:
            if table:
                flush()
            para.append(s)
    flush()
    return "\n".join(out)


CSS = """
:root{--ink:#1f2328;--muted:#667085;--line:#d8dee4;--accent:#0b63c5;--soft:#f6f8fa}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:52rem;margin:0 auto;padding:1.2rem 1rem 3rem;
color:var(--ink);line-height:1.6;font-size:1.04rem;overflow-wrap:anywhere}
h1{font-size:2rem;line-height:1.2;margin:.6rem 0 .3rem} h2{font-size:1.45rem;line-height:1.25;margin:2.6rem 0 .6rem;
border-bottom:1px solid var(--line);padding-bottom:.25rem} h3{font-size:1.1rem;margin:1.6rem 0 .4rem}
a{color:var(--accent)} p,li{max-width:46rem} .lead{font-size:1.15rem;color:#344054}
.muted{color:var(--muted);font-size:.92rem} .small{font-size:.9rem}
code{background:var(--soft);padding:.05em .3em;border-radius:4px;font-size:.92em}
pre{background:var(--soft);padding:.7rem .9rem;border-radius:6px;overflow-x:auto;line-height:1.4}
pre code{background:none;padding:0}
.tw{overflow-x:auto;max-width:100%;margin:.6rem 0}
table{border-collapse:collapse;font-size:.9rem;overflow-wrap:normal} td,th{border:1px solid var(--line);padding:.25rem .55rem;
text-align:right;vertical-align:top} th{background:var(--soft)} td:last-child,td:first-child,th:first-child{text-align:left}
img,video{max-width:100%;height:auto} figure{margin:1.2rem 0} figure img{display:block}
figcaption{font-size:.93rem;color:#344054;margin-bottom:.45rem;max-width:46rem} figcaption b{color:var(--ink)}
.pair{display:flex;flex-wrap:wrap;gap:1rem 1.5rem;align-items:flex-start} .pair figure{margin:.4rem 0;flex:1 1 16rem}
nav.toc ol{list-style:none;padding-left:.2rem;margin:.3rem 0} nav.toc{background:var(--soft);border-radius:8px;padding:.6rem 1rem;
margin:1rem 0} .crumbs{font-size:.92rem}
.eq{font-family:ui-monospace,Menlo,Consolas,monospace;background:var(--soft);padding:.5rem .8rem;border-radius:6px;
overflow-x:auto;white-space:pre;line-height:1.5;font-size:.92rem}
a.try{font-weight:600} a.try::before{content:"▶ "}
.frame-wrap{border:1px solid var(--line);border-radius:8px;overflow:hidden;margin:.8rem 0;
width:min(calc(100vw - 2rem),80rem);position:relative;left:50%;transform:translateX(-50%)}
iframe.explorer{display:block;width:100%;height:min(1000px,88vh);border:0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:.8rem;padding:0;list-style:none}
.cards li{border:1px solid var(--line);border-radius:8px;padding:.6rem .8rem;max-width:none}
.cards a{font-weight:600} .note{background:#fff8e6;border-left:4px solid #f0b429;padding:.5rem .8rem}
.refs li{margin:.35rem 0}
#back{position:sticky;bottom:.6rem;display:none;margin-left:auto;width:max-content;background:#fff;
border:1px solid var(--line);border-radius:20px;padding:.25rem .8rem;box-shadow:0 2px 6px #0002}
"""


_CSS = CSS  # the name other pages (the Bezier report) import


def _wrap_tables(body: str) -> str:
    """Every table scrolls inside its own box, so a wide one never widens the page (390 px phones)."""
    body = re.sub(r"<table(?=[\s>])", "<div class='tw'><table", body)
    return body.replace("</table>", "</table></div>")


def render_page(
    title: str,
    sections: list[Section],
    intro: str = "",
    back: str | None = None,
    toc: bool = False,
    script: str = "",
) -> str:
    """One page of the tour as an HTML string: ``title``, ``intro``, then each section under its ``<h2>``."""
    crumbs = (
        f"<p class='crumbs'><a href='{html.escape(back)}'>← The lesson: transposed convolution</a></p>" if back else ""
    )
    nav = ""
    if toc:
        items = "".join(f"<li><a href='#{s.id}'>{html.escape(s.title)}</a></li>" for s in sections)
        nav = f"<nav class='toc' aria-label='Chapters'><b>Chapters</b><ol>{items}</ol></nav>"
    body = "\n".join(f"<section id='{s.id}'><h2>{html.escape(s.title)}</h2>\n{s.html}\n</section>" for s in sections)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"{crumbs}<h1>{html.escape(title)}</h1>{intro}{nav}{_wrap_tables(body)}{crumbs}"
        f"{f'<script>{script}</script>' if script else ''}</body></html>"
    )


def tour_section(out_dir: Path, quick: bool = True) -> list[Section]:
    """The performance page: the CPU benchmark of ``docs/benchmarks.md``, and its GPU part when it has numbers."""
    from .gpu import gpu_block  # noqa: PLC0415

    docs = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
    try:
        text = docs.read_text(encoding="utf-8")
    except OSError:
        text = ""
    cpu = text.split("<!-- gpu:begin -->", 1)[0].split("## CPU", 1)
    sections = []
    if len(cpu) == 2:
        sections.append(Section("cpu", "CPU", markdown_html(cpu[1])))
    else:
        sections.append(
            Section("cpu", "CPU", "<p>The benchmark table is written by <code>make bench</code> into "
                    "<code>docs/benchmarks.md</code> in the source tree, which this installation does not have.</p>")
        )  # fmt: skip
    block = gpu_block(docs)
    if block and "|" in block:  # a measured table, not the placeholder
        gpu = importlib.import_module("tconv.gpu").tour_section(out_dir, quick=quick)
        sections.append(Section("gpu", gpu.title, gpu.html))
    return sections


# ----------------------------------------------------------------------------------------------------------------
# the build
# ----------------------------------------------------------------------------------------------------------------
def _placeholder(page: Page, reason: str) -> list[Section]:
    return [
        Section(
            "not-built",
            "Not built in this tour",
            f"<p class='note'>{reason} <code>tconv tour --out DIR</code> (or <code>make tour</code>) builds this page "
            "with its experiments.</p>",
        )
    ]


def _page_sections(page: Page, out: Path, quick: bool) -> list[Section]:
    mod = importlib.import_module(page.module)
    result = mod.tour_section(out, quick=quick)
    return list(result) if isinstance(result, (list, tuple)) else [result]


def run_tour(
    out_dir: str | Path = "tour",
    quick: bool = True,
    only: list[str] | None = None,
    sketch: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Build the lesson and every page into ``out_dir``; return the path of ``index.html``.

    ``quick=False`` runs the long versions of the experiments; ``sketch=True`` (``tconv tour --quick``) skips them,
    builds the lesson's pictures only and leaves placeholders on the heavy pages: every page and link is there, in
    seconds. ``only`` builds just the named pages (module or file names, e.g. ``zfnet``; ``gallery`` for the whole
    gallery), the rest as placeholders.
    ``progress`` is called with a description as each step starts (the CLI prints it).
    """
    from . import lesson  # noqa: PLC0415
    from .explorer import write_page  # noqa: PLC0415
    from .viz import CASES, build_gallery  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda desc: None)

    def wanted(page: Page) -> bool:
        if only is None:
            return True
        names = {page.module, page.module.rsplit(".", 1)[-1], page.filename, page.filename.removesuffix(".html")}
        return any(o in names for o in only)

    with assets_into(out):
        step("explorer page")
        write_page(out / "explorer.html")
        whole = not sketch and (only is None or "gallery" in only)
        step("gallery" + (f" ({len(CASES)} pictures)" if whole else " (the lesson's pictures)"))
        lesson_cases = [c for c in CASES if c.name in lesson.GALLERY_CASES]
        build_gallery(out / "gallery", cases=None if whole else lesson_cases, back="../index.html")
        for page in PAGES:
            step(page.title)
            if sketch and page.heavy:
                sections = _placeholder(
                    page, "This is the quick tour (<code>--quick</code>): it skips the experiments."
                )
            elif not wanted(page):
                sections = _placeholder(page, "This tour was built with <code>--only</code> and left this page out.")
            else:
                sections = _page_sections(page, out, quick)
            intro = f"<p class='lead'>{html.escape(page.blurb)}</p>"
            write_text(out / page.filename, render_page(page.title, sections, intro, back="index.html", toc=False))
        step("the lesson")
        text = lesson.render(out, PAGES)
    return write_text(out / "index.html", text)


def page_links(pages: tuple[Page, ...] = PAGES) -> str:
    """The lesson's list of application and evidence pages, with the gallery and the explorer."""
    items = [f"<li><a href='{p.filename}'>{html.escape(p.title)}</a><br><span class='small'>{html.escape(p.blurb)}"
             "</span></li>" for p in pages]  # fmt: skip
    items.append(
        "<li><a href='gallery/index.html'>The full gallery</a><br><span class='small'>Every animation, graph and "
        "matrix picture: Dumoulin &amp; Visin's whole set of convolutions and their transposes, in both views, and "
        "what their set leaves out (dilated transposed, output_padding, rectangular, asymmetric padding).</span></li>"
    )
    items.append(
        "<li><a href='explorer.html'>The explorer on its own page</a><br><span class='small'>The interactive "
        "explorer of chapter 6, full window.</span></li>"
    )
    return f"<ul class='cards'>{''.join(items)}</ul>"
