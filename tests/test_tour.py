"""The tour: the lesson's chapters in order, its pages and links, its pictures as files, and the page in Chromium.

One quick tour (``tconv tour --quick``: the lesson, the gallery's lesson pictures, every page with placeholders for
the experiments) is built once for the module through the CLI, so its progress lines are checked too.
"""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from typer.testing import CliRunner

from tconv.cli import app
from tconv.lesson import CHAPTERS, GALLERY_CASES, explorer_hash
from tconv.tour import PAGES, Section, img_tag, markdown_html, render_page

CHROMIUM = os.environ.get("TCONV_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    res = CliRunner().invoke(app, ["tour", "--quick", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out, res.output


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key):
                self.refs.append(a[key])


def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_progress_lines_one_per_step(tour):
    _, output = tour
    steps = re.findall(r"^tour \[(\d+)/(\d+)\] (.+)$", output, re.M)
    assert [int(n) for n, _, _ in steps] == list(range(1, len(PAGES) + 4))
    assert steps[-1][2] == "the lesson"
    assert "wrote " in output.splitlines()[-1]


def test_lesson_has_its_chapters_in_order_and_no_internal_labels(tour):
    out, _ = tour
    text = (out / "index.html").read_text(encoding="utf-8")
    ids = re.findall(r"<section id='([^']+)'>", text)
    assert ids == [cid for cid, _ in CHAPTERS]
    for ref in ("Dumoulin", "Visin", "Zeiler", "Fergus", "Odena", "Bezier"):
        assert ref in text
    assert not re.search(r"seed 00\d|§\d", text)  # the project's source documents stay out of the lesson
    assert not re.search(r"built in \d|took \d", text, re.I)  # no build times
    assert "data:image" not in text  # pictures are files next to the page
    assert len(text.encode()) < 150_000
    assert "<iframe" in text and "explorer.html#" in text


def test_every_page_is_written_and_every_local_link_resolves(tour):
    out, _ = tour
    pages = [out / "index.html", out / "gallery" / "index.html"] + [out / p.filename for p in PAGES]
    lesson_refs = set(_parse(out / "index.html").refs)
    for p in PAGES:
        assert p.filename in lesson_refs, f"the lesson does not link {p.filename}"
    assert "gallery/index.html" in lesson_refs and "explorer.html" in lesson_refs
    checked = 0
    for page in pages:
        parsed = _parse(page)
        for ref in parsed.refs:
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith("//"):
                continue  # external (references), never fetched
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_file(), f"{page.name}: {ref} does not resolve"
            if parts.fragment and target.suffix == ".html" and target.name != "explorer.html":
                assert parts.fragment in _parse(target).ids, f"{page.name}: #{parts.fragment} is not an anchor"
            checked += 1
    assert checked > 40
    for case in GALLERY_CASES:
        assert any((out / "gallery").glob(case + ".*")), case


def test_heavy_pages_say_how_to_build_them(tour):
    out, _ = tour
    for page in PAGES:
        text = (out / page.filename).read_text(encoding="utf-8")
        assert "index.html" in text  # the way back to the lesson
        assert ("Not built in this tour" in text) == page.heavy


_INTERNAL = re.compile(r"seeds? 00\d|§\d|took \d|took \{|built in \d|timings? \(s\)", re.I)


def _page_strings(module: str) -> list[str]:
    """The string literals of a module that builds page text: constants and f-string parts, without docstrings."""
    import ast  # noqa: PLC0415
    import importlib  # noqa: PLC0415

    tree = ast.parse(Path(importlib.import_module(module).__file__).read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node) is not None:
            docs.add(id(node.body[0].value))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            out.append("".join(v.value if isinstance(v, ast.Constant) else "{" for v in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            out.append(node.value)
    return out


@pytest.mark.parametrize(
    "module",
    [
        "tconv.zfnet.tour",
        "tconv.zfnet.classifier_tour",
        "tconv.explorer",
        "tconv.bezier",
        "tconv.bezier.report",
        "tconv.bezier.seedfigs",
        "tconv.bezier.claims",
        "tconv.upsampling",
        "tconv.upsampling.upsamplers",
        "tconv.upsampling.overlap",
        "tconv.upsampling.experiments",
        "tconv.upsampling.photos",
        "tconv.upsampling.superres",
        "tconv.upsampling.gradients",
    ],
)
def test_page_text_has_no_internal_labels_or_build_times(module):
    """The application pages and the explorer cite original works by name; no seed labels, no build times."""
    found = [t for t in _page_strings(module) if _INTERNAL.search(t)]
    assert not found, found
    assert _INTERNAL.search("seed 000 §2") and _INTERNAL.search(f"This section took {3} s.")  # the check can fail


def test_explorer_page_has_no_internal_labels(tour):
    out, _ = tour
    text = (out / "explorer.html").read_text(encoding="utf-8")
    assert not _INTERNAL.search(text), _INTERNAL.search(text)
    assert "Dumoulin" in text


def test_building_blocks():
    assert explorer_hash(m="i", nd=1, i=6, k=3, s=2) == "m=i&nd=1&i=6&k=3&s=2&d=1&pm=sym&p=0"
    page = render_page("T", [Section("a", "A", "<table><tr><td>1</td></tr></table>")], back="index.html")
    assert page.count("<div class='tw'><table>") == 1 and "index.html" in page
    assert img_tag(b"\x89PNG....", "x").startswith('<img alt="x" src="data:image/png;base64,')
    assert "<i>x</i>" in markdown_html("an *x* here") and "<b>y</b>" in markdown_html("**y**")


# ----------------------------------------------------------------------------------------------------------------
# in Chromium
# ----------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser, path: Path, width: int):
    page = browser.new_page(viewport={"width": width, "height": 844})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, errors


@pytest.mark.browser
def test_lesson_in_chromium(tour, browser):
    out, _ = tour
    page, errors = _open(browser, out / "index.html", 1280)
    titles = page.eval_on_selector_all("section > h2", "els => els.map(e => e.textContent)")
    assert titles == [t for _, t in CHAPTERS]
    # every picture of the lesson loads (scrolled into view, lazy ones included)
    page.evaluate("() => document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    broken = page.evaluate("() => [...document.images].filter(i => !i.naturalWidth).map(i => i.src)")
    assert not broken
    # a "try it" link loads its setting into the embedded explorer and offers the way back
    link = page.locator("a.try[href*='i=4,4&k=4,4']").first  # DCGAN's layer: not the frame's first setting
    href = link.get_attribute("href")
    link.click()
    assert page.locator("#explorer-frame").get_attribute("src") == href.replace("#", "?embed#")
    assert page.locator("#back").is_visible()
    frame = page.frame(name="explorer-frame")
    frame.wait_for_function("decodeURIComponent(location.hash).includes('nd=2&i=4,4&k=4,4&s=2,2')", timeout=10_000)
    page.locator("#back").click()
    assert not page.locator("#back").is_visible()
    page.close()
    assert not errors, errors


@pytest.mark.browser
def test_no_horizontal_overflow_at_390px(tour, browser):
    out, _ = tour
    for path in [out / "index.html", out / "gallery" / "index.html"] + [out / p.filename for p in PAGES]:
        page, errors = _open(browser, path, 390)
        width = page.evaluate("document.documentElement.scrollWidth")
        page.close()
        assert width <= 390, f"{path.name} is {width} px wide at 390 px"
        assert not errors, (path.name, errors)
