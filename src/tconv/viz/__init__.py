"""Pictures of (transposed) convolution, drawn exactly from the plan: animations, graph diagrams, the matrix view.

- :func:`scene` computes the geometry and the numbers behind every frame (the only place pictures read the index
  mapping); :func:`animate` builds one from sizes and parameters.
- :func:`render_frames` draws the frames as arrays, :func:`save_animation` writes GIF, MP4 or a PNG/SVG contact sheet.
- :func:`graph_figure` draws seed 000's 1-D graph diagrams; :func:`matrix_figure` draws C / Cᵀ (seeds 001, 003).
- :func:`build_gallery` regenerates conv_arithmetic's set and more (``tconv gallery --out DIR``).

>>> import tconv.viz as viz
>>> sc = viz.animate("transposed", 3, 3, stride=2, padding=1)
>>> len(sc.frames), sc.output.shape       # one frame per output element
(5, (5,))
>>> len(viz.animate("transposed", 3, 3, stride=2, view="scatter").frames)   # ... or per input element
3
"""

from __future__ import annotations

import time
from pathlib import Path

from .animate import FORMATS, animate, contact_sheet, frame_canvas, render_frames, save_animation
from .frames import OPS, VIEWS, Frame, Grid, Scene, animation_plan, example_values, scene
from .gallery import CASES, Case, _params, build_gallery, render_case
from .graph import PANELS, graph_edges, graph_figure
from .matrix import matrix_figure

__all__ = [
    "OPS",
    "VIEWS",
    "FORMATS",
    "PANELS",
    "Scene",
    "Frame",
    "Grid",
    "scene",
    "animate",
    "animation_plan",
    "example_values",
    "frame_canvas",
    "render_frames",
    "contact_sheet",
    "save_animation",
    "graph_figure",
    "graph_edges",
    "matrix_figure",
    "Case",
    "CASES",
    "build_gallery",
    "render_case",
    "tour_section",
]

#: The gallery cases the tour embeds.
TOUR_CASES: tuple[str, ...] = (
    "padding_strides_transposed",
    "padding_strides_transposed_scatter",
    "seed000_strided",
    "dilation_transposed",
    "output_padding_scatter",
    "seed000_strided_graph",
    "matrix_seed001_C",
)


def tour_section(out_dir: Path, quick: bool = True):  # noqa: ANN201 - returns tconv.tour.Section
    """The tour's pictures section: a selection of the gallery, embedded (the full gallery too when not quick)."""
    import html  # noqa: PLC0415

    from ..tour import Section, img_tag, table_html  # noqa: PLC0415

    t0 = time.perf_counter()
    folder = Path(out_dir) / "gallery"
    by_name = {c.name: c for c in CASES}
    chosen = [by_name[n] for n in TOUR_CASES]
    if quick:
        build_gallery(folder, cases=chosen)
    else:
        build_gallery(folder)
    parts = [
        "<p>Every picture below is drawn from the plan the operator uses (<code>tconv.viz.scene</code>), so the "
        "highlighted cells, the output written and the numbers cannot disagree with <code>tconv.conv_transpose</code>. "
        "Blue: input; green: output (the number counts contributions, darker = more); dashed: inserted zeros and "
        "padding; grey with a cross: positions that padding crops; each kernel tap keeps its colour in every view.</p>"
    ]
    for case in chosen:
        path = folder / case.filename
        # at natural size (the page caps it at its width): the frames' text is drawn for 1:1 pixels
        parts.append(
            f"<figure style='display:inline-block;vertical-align:top;margin:.4em;max-width:100%'>"
            f"{img_tag(path, case.title)}<figcaption><b>{html.escape(case.title)}</b> — "
            f"{html.escape(_params(case))}</figcaption></figure>"
        )
    rows = [[c.title, c.kind, c.view if c.kind == "animation" else "", "yes" if c.numbers else ""] for c in CASES]
    link = "gallery/index.html"
    parts.append(
        f"<p>The full gallery ({len(CASES)} pictures: conv_arithmetic's whole set, its transposed cases in both "
        f"views, dilated-transposed, output_padding, rectangular, asymmetric padding, the seeds' worked cases and "
        f"the matrix view) is written by <code>tconv gallery --out DIR</code>"
        + (f"; it is <a href='{link}'>here</a>." if not quick else " (the full tour builds it beside this page).")
        + "</p>"
    )
    parts.append(
        f"<details><summary>All gallery cases</summary>{table_html(['case', 'kind', 'view', 'numbers'], rows)}</details>"
    )
    parts.append(f"<p class='muted'>Pictures section built in {time.perf_counter() - t0:.1f} s.</p>")
    return Section("viz", "Pictures: animations, graph diagrams, the matrix view", "\n".join(parts))
