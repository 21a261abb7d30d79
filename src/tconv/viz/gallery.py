"""The gallery: conv_arithmetic's full set of animations regenerated from the plan, and what it lacks.

:data:`CASES` lists every picture: the eight convolution animations of conv_arithmetic (no padding / arbitrary /
half / full padding, strides, strides with padding, the odd case, dilation), their transposed convolutions in the
equivalent-convolution view, the scatter view of each, then the cases conv_arithmetic does not draw (dilated
transposed, output_padding, rectangular, asymmetric padding), the seeds' worked cases with numbers (seed 001's four
2-D cases, seed 000's four 1-D cases with their graph diagrams) and the matrix view. :func:`build_gallery` writes
them all with an ``index.html``.

>>> [c.name for c in CASES[:3]]
['no_padding_no_strides', 'arbitrary_padding_no_strides', 'same_padding_no_strides']
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import ConfigError
from ..files import save_figure, write_text
from ..geometry import Plan, conv_plan, plan_from_sizes
from .animate import save_animation
from .frames import _fmt_pad, _fmt_param, _fmt_size, scene
from .graph import graph_figure
from .matrix import matrix_figure

__all__ = ["Case", "CASES", "GROUPS", "build_gallery", "render_case"]


@dataclass(frozen=True)
class Case:
    """One gallery picture: an animation (``kind="animation"``), a graph diagram or a matrix view of a plan.

    ``conv`` holds the parameters of the *convolution* the plan is the transpose of (conv_arithmetic's way of
    naming cases); ``transposed`` holds a transposed convolution's own parameters (PyTorch's way). Exactly one is set.
    """

    name: str
    group: str
    title: str
    kind: str = "animation"
    op: str = "transposed"
    view: str = "equivalent"
    numbers: bool = False
    conv: dict[str, Any] | None = None
    transposed: dict[str, Any] | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def plan(self) -> Plan:
        """The plan this case draws."""
        if self.conv is not None:
            return conv_plan(**self.conv)
        if self.transposed is None:
            raise ValueError("a gallery case needs conv or transposed parameters")
        return plan_from_sizes(**self.transposed)

    @property
    def filename(self) -> str:
        return self.name + (".gif" if self.kind == "animation" else ".png")


def _conv(i: Any, k: Any, s: Any = 1, p: Any = 0, d: Any = 1) -> dict[str, Any]:
    return {"in_size": i, "kernel_size": k, "stride": s, "padding": p, "dilation": d}


def _tr(i: Any, k: Any, s: Any = 1, p: Any = 0, op: Any = 0, d: Any = 1) -> dict[str, Any]:
    return {"in_size": i, "kernel_size": k, "stride": s, "padding": p, "output_padding": op, "dilation": d}


# conv_arithmetic's convolution cases (README of vdumoulin/conv_arithmetic), as convolution parameters
_ARITH: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("no_padding_no_strides", "No padding, no strides", _conv((4, 4), 3)),
    ("arbitrary_padding_no_strides", "Arbitrary padding, no strides", _conv((5, 5), 4, 1, 2)),
    ("same_padding_no_strides", "Half (same) padding, no strides", _conv((5, 5), 3, 1, 1)),
    ("full_padding_no_strides", "Full padding, no strides", _conv((5, 5), 3, 1, 2)),
    ("no_padding_strides", "No padding, strides", _conv((5, 5), 3, 2)),
    ("padding_strides", "Padding, strides", _conv((5, 5), 3, 2, 1)),
    ("padding_strides_odd", "Padding, strides (odd)", _conv((6, 6), 3, 2, 1)),
    ("dilation", "Dilation", _conv((7, 7), 3, 1, 0, 2)),
)

GROUPS: tuple[tuple[str, str], ...] = (
    ("arith_conv", "conv_arithmetic: convolution"),
    ("arith_transposed", "conv_arithmetic: transposed convolution (equivalent-convolution view)"),
    ("scatter", "The same transposed convolutions, scatter view (each input paints its kernel; counts show overlap)"),
    ("beyond", "What conv_arithmetic does not draw"),
    ("seed001", "Seed 001's worked cases, with numbers"),
    ("seed000", "Seed 000's 1-D cases: graph diagrams (figures 1–4) and animations"),
    ("matrix", "The matrix view: C and Cᵀ (seeds 001 and 003)"),
)


def _cases() -> tuple[Case, ...]:
    cases: list[Case] = []
    for name, title, conv in _ARITH:
        cases.append(Case(name, "arith_conv", title, op="conv", conv=conv))
    for name, title, conv in _ARITH:
        note = "dilated transposed: not in conv_arithmetic" if name == "dilation" else ""
        cases.append(Case(f"{name}_transposed", "arith_transposed", title + ", transposed", conv=conv, note=note))
    for name, title, conv in _ARITH:
        cases.append(Case(f"{name}_transposed_scatter", "scatter", title + ", transposed", view="scatter", conv=conv))
    beyond = (
        ("output_padding", "output_padding = 1", _tr((3, 3), 3, 2, 1, 1), "stride 2 loses one size; op restores it"),
        ("rectangular", "Rectangular input, kernel and stride", _tr((3, 4), (2, 3), (2, 1), (0, 1)), ""),
        ("asymmetric_padding", "Asymmetric padding", _tr((3, 3), 3, 2, ((1, 0), (0, 2))), "padding ((1,0),(0,2))"),
        ("dilated_strided", "Dilation and stride together", _tr((3, 3), 2, 2, 0, 1, 2), "output_padding < max(s, d)"),
    )
    for name, title, tr, note in beyond:
        cases.append(Case(name, "beyond", title, transposed=tr, note=note))
        cases.append(Case(f"{name}_scatter", "beyond", title + " (scatter)", view="scatter", transposed=tr, note=note))
    cases.append(
        Case(
            "output_padding_graph",
            "beyond",
            "output_padding = 1 in 1-D: graph",
            kind="graph",
            numbers=True,
            transposed=_tr(4, 3, 2, 1, 1),
            note="padding crops one output at each end; output_padding gives the last one back",
        )
    )
    seed001 = (
        ("seed001_i4_k3_s1_p0", _conv((4, 4), 3)),
        ("seed001_i5_k4_s1_p2", _conv((5, 5), 4, 1, 2)),
        ("seed001_i5_k3_s2_p0", _conv((5, 5), 3, 2)),
        ("seed001_i5_k3_s2_p1", _conv((5, 5), 3, 2, 1)),
    )
    for name, conv in seed001:
        i, k, s, p = conv["in_size"][0], conv["kernel_size"], conv["stride"], conv["padding"]
        t = f"i={i} k={k} s={s} p={p}"
        cases.append(Case(name + "_conv", "seed001", f"{t}: convolution", op="conv", numbers=True, conv=conv))
        cases.append(Case(name + "_transposed", "seed001", f"{t}: transposed", numbers=True, conv=conv))
    seed000 = (
        ("basic", "Basic (fig. 1)", _tr(3, 3)),
        ("padded", "Padding p = 1 (fig. 2)", _tr(5, 3, 1, 1)),
        ("strided", "Stride s = 2 (fig. 3)", _tr(3, 3, 2)),
        ("dilated", "Dilation d = 2 (fig. 4)", _tr(3, 3, 1, 0, 0, 2)),
    )
    for name, title, tr in seed000:
        cases.append(
            Case(f"seed000_{name}_graph", "seed000", title + ": graph", kind="graph", numbers=True, transposed=tr)
        )
        cases.append(Case(f"seed000_{name}", "seed000", title, numbers=True, transposed=tr))
        cases.append(
            Case(
                f"seed000_{name}_scatter", "seed000", title + " (scatter)", view="scatter", numbers=True, transposed=tr
            )
        )
    cases.append(
        Case(
            "seed000_all_graph",
            "seed000",
            "Any parameters: s=2, p=(1,0), op=1",
            kind="graph",
            transposed=_tr(3, 3, 2, ((1, 0),), 1),
        )
    )
    cases.append(
        Case("matrix_seed001_C", "matrix", "Seed 001: C for i=4, k=3 (4 × 16)", kind="matrix", conv=_conv((4, 4), 3))
    )
    cases.append(
        Case(
            "matrix_seed001_CT",
            "matrix",
            "… and Cᵀ (16 × 4)",
            kind="matrix",
            conv=_conv((4, 4), 3),
            extra={"transposed": True},
        )
    )
    cases.append(
        Case(
            "matrix_padding_strides_C", "matrix", "C for i=5, k=3, s=2, p=1", kind="matrix", conv=_conv((5, 5), 3, 2, 1)
        )
    )
    cases.append(
        Case(
            "matrix_1d_strided_C",
            "matrix",
            "C of the convolution behind seed 000's strided 1-D case",
            kind="matrix",
            transposed=_tr(3, 3, 2),
        )
    )
    cases.append(
        Case(
            "matrix_1d_strided_CT",
            "matrix",
            "Cᵀ of seed 000's strided 1-D case",
            kind="matrix",
            transposed=_tr(3, 3, 2),
            extra={"transposed": True},
        )
    )
    return tuple(cases)


#: Every gallery picture, in page order.
CASES: tuple[Case, ...] = _cases()


def render_case(case: Case, out_dir: str | Path, fps: float = 2.0) -> Path:
    """Write one case into ``out_dir`` and return its path."""
    path = Path(out_dir) / case.filename
    if case.kind == "animation":
        sc = scene(case.plan, op=case.op, view=case.view)
        return save_animation(sc, path, numbers=case.numbers, fps=fps)
    if case.kind == "graph":
        fig = graph_figure(case.plan, numbers=case.numbers)
    elif case.kind == "matrix":
        fig = matrix_figure(case.plan, transposed=bool(case.extra.get("transposed", False)))
    else:
        raise ConfigError("kind", case.kind, "must be 'animation', 'graph' or 'matrix'")
    return save_figure(fig, path, dpi=100)


def _params(case: Case) -> str:
    """Sizes and parameters, conv_arithmetic-style for convolution cases, PyTorch-style for transposed ones."""
    p = case.plan
    size, par, pad = _fmt_size, _fmt_param, _fmt_pad
    opts = []
    if any(v != 1 for v in p.stride):
        opts.append(f"s={par(p.stride)}")
    if any(a or b for a, b in p.padding):
        opts.append(f"p={pad(p.padding)}")
    if any(v != 1 for v in p.dilation):
        opts.append(f"d={par(p.dilation)}")
    k = f"k={size(p.kernel_size)}"
    if case.conv is not None:
        head = " ".join([f"convolution i={size(p.out_size)}", k, *opts, f"→ o={size(p.in_size)}"])
        tail = f"; transposed: {size(p.in_size)} → {size(p.out_size)}"
        if any(p.output_padding):
            tail += f" (output_padding={par(p.output_padding)})"
        return head + tail
    if any(p.output_padding):
        opts.append(f"op={par(p.output_padding)}")
    return " ".join([f"transposed i={size(p.in_size)}", k, *opts, f"→ o={size(p.out_size)}"])


def _cli(case: Case) -> str:
    """The ``tconv animate`` command that redraws one animation case."""
    if case.kind != "animation":
        return ""
    p = case.plan
    # a convolution is drawn from its transpose's plan: its input is the plan's output
    size = p.out_size if case.op == "conv" else p.in_size
    args = [f"tconv animate {'conv' if case.op == 'conv' else 'transposed'} -i {'x'.join(map(str, size))}"]
    args.append(f"-k {_xs(p.kernel_size)}")
    if any(v != 1 for v in p.stride):
        args.append(f"-s {_xs(p.stride)}")
    if any(a or b for a, b in p.padding):
        args.append(f"-p {_pad_arg(p.padding)}")
    if any(v != 1 for v in p.dilation):
        args.append(f"-d {_xs(p.dilation)}")
    if case.op != "conv":
        if any(p.output_padding):
            args.append(f"--op {_xs(p.output_padding)}")
        if case.view != "equivalent":
            args.append(f"--view {case.view}")
    if case.numbers:
        args.append("--numbers")
    args.append(f"-o {case.filename}")
    return " ".join(args)


def _xs(t: Sequence[int]) -> str:
    return str(t[0]) if len(set(t)) == 1 else "x".join(map(str, t))


def _pad_arg(pads: Sequence[tuple[int, int]]) -> str:
    if all(a == b for a, b in pads):
        return _xs([a for a, _ in pads])
    return "x".join(f"{a}:{b}" if a != b else str(a) for a, b in pads)


_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;max-width:1400px;margin:1.5em auto;padding:0 1em;color:#222}
h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
.grid{display:flex;flex-wrap:wrap;gap:18px}
figure{margin:0;width:min(100%,var(--w));background:#fafafa;border:1px solid #e4e4e4;padding:8px;border-radius:6px}
figure img{width:100%} figcaption{font-size:.86em;line-height:1.35;margin-bottom:6px} .view{color:#666} code{font-size:.82em;color:#555;word-break:break-all}
.note{color:#a05a00}
"""


_VIEW_NAMES = {
    "equivalent": "zero-insertion view",
    "scatter": "scatter view",
    "graph": "graph view",
    "matrix": "matrix view",
}


def _index_html(cases: Sequence[Case], widths: dict[str, int], back: str | None = None) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tconv gallery</title>",
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{_CSS}</style></head><body>",
        (f"<p><a href='{html.escape(back)}'>← The lesson: transposed convolution</a></p>" if back else "")
        + "<h1>tconv gallery</h1>",
        "<p>Every picture is drawn from the same <code>Plan</code> that the operator uses, so it cannot disagree with "
        "the numbers. Blue: input; green: output (the number in a cell counts its contributions, darker = more); "
        "dashed: inserted zeros and padding; grey with a cross: positions that padding crops; kernel taps keep one "
        "colour (purple → orange) in every view. Rebuild with <code>tconv gallery --out DIR</code>; "
        "each animation's caption gives the <code>tconv animate</code> command that redraws it.</p>",
    ]
    present = {c.group for c in cases}
    nav = " · ".join(f"<a href='#{g}'>{html.escape(t.split(':')[0])}</a>" for g, t in GROUPS if g in present)
    parts.append(f"<p>{nav}</p>")
    for gid, gtitle in GROUPS:
        members = [c for c in cases if c.group == gid]
        if not members:
            continue
        parts.append(f"<h2 id='{gid}'>{html.escape(gtitle)}</h2><div class='grid'>")
        for c in members:
            width = widths.get(c.name, 600)  # shown at its natural size: the pictures are drawn for it
            note = f"<br><span class='note'>{html.escape(c.note)}</span>" if c.note else ""
            cmd = _cli(c)
            cmd_html = f"<br><code>{html.escape(cmd)}</code>" if cmd else ""
            view = _VIEW_NAMES[c.kind if c.kind != "animation" else c.view]
            parts.append(
                f"<figure style='--w:{width}px' id='{c.name}'><figcaption><b>{html.escape(c.title)}</b> "
                f"<span class='view'>({view})</span><br>{html.escape(_params(c))}{note}{cmd_html}</figcaption>"
                f"<a href='{c.filename}'><img loading='lazy' src='{c.filename}' alt='{html.escape(c.title)}'></a>"
                "</figure>"
            )
        parts.append("</div>")
    parts.append(f"<p style='color:#777'>{len(cases)} pictures.</p></body></html>")
    return "\n".join(parts)


def build_gallery(
    out_dir: str | Path = "gallery",
    cases: Sequence[Case] | None = None,
    fps: float = 2.0,
    progress: Callable[[Case], None] | None = None,
    back: str | None = None,
) -> Path:
    """Write every case of :data:`CASES` (or ``cases``) into ``out_dir`` plus ``index.html``; return the index path.

    ``back``: a link the index shows above its title (the tour links its lesson there).

    >>> import tempfile
    >>> p = build_gallery(tempfile.mkdtemp(), cases=[c for c in CASES if c.name == "no_padding_strides"])
    >>> sorted(f.name for f in p.parent.iterdir())
    ['index.html', 'no_padding_strides.gif']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chosen = tuple(CASES if cases is None else cases)
    widths = {}
    for case in chosen:
        if progress is not None:
            progress(case)
        with Image.open(render_case(case, out, fps=fps)) as im:
            widths[case.name] = im.size[0]
    return write_text(out / "index.html", _index_html(chosen, widths, back))
