"""``tconv animate``, ``tconv graph``, ``tconv matrix`` and ``tconv gallery``: thin wrappers over :mod:`tconv.viz`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..errors import ConfigError
from .common import friendly, parse_sizes


def parse_padding(text: str) -> Any:
    """Parse padding: "1", "1x2" (per dimension) or with (before:after) pairs, "1:0" or "1:0x0:2".

    >>> parse_padding("1x2"), parse_padding("1:0x2")
    ((1, 2), ((1, 0), (2, 2)))
    """
    parts = text.replace(",", "x").lower().split("x")
    if not any(":" in p for p in parts):
        return parse_sizes("padding", text)
    pairs = []
    for p in parts:
        bits = p.split(":")
        try:
            vals = [int(b) for b in bits]
        except ValueError:
            raise ConfigError(
                "padding", text, "must be ints, 'x' between dimensions, 'before:after' pairs (e.g. 1:0x2)"
            ) from None
        if len(vals) == 1:
            vals = vals * 2
        if len(vals) != 2:
            raise ConfigError("padding", text, "pairs must be written before:after (e.g. 1:0)")
        pairs.append((vals[0], vals[1]))
    return tuple(pairs)


def _plan(op: str, i: str, k: str, s: str, p: str, d: str, opad: str):  # noqa: ANN202
    from ..viz import animation_plan  # noqa: PLC0415

    size = parse_sizes("input", i)
    nd = len(size)
    if nd not in (1, 2):
        raise ConfigError("input", i, "must be one size (1-D) or two, like 5x7 (2-D)")
    pads = parse_padding(p)
    return animation_plan(
        op,
        size if nd > 1 else size[0],
        parse_sizes("kernel_size", k),
        parse_sizes("stride", s),
        pads,
        parse_sizes("dilation", d),
        parse_sizes("output_padding", opad),
    )


_OP_HELP = "conv (a convolution of the input) or transposed (a transposed convolution of it)"


def register(app: typer.Typer) -> None:
    @app.command("animate")
    @friendly
    def animate(
        op: str = typer.Argument(..., help=_OP_HELP),
        i: str = typer.Option("5", "-i", "--input", help="Input size: 5 (1-D) or 5x7 (2-D)."),
        k: str = typer.Option("3", "-k", "--kernel", help="Kernel size: 3 or 3x2."),
        s: str = typer.Option("1", "-s", "--stride", help="Stride: 2 or 2x1."),
        p: str = typer.Option("0", "-p", "--padding", help="Padding: 1, 1x0, or before:after pairs like 1:0x0:2."),
        d: str = typer.Option("1", "-d", "--dilation", help="Dilation: 2 or 2x1."),
        opad: str = typer.Option("0", "--op", "--output-padding", help="output_padding (transposed only)."),
        view: str = typer.Option("equivalent", "--view", help="equivalent (sliding window) or scatter (transposed)."),
        numbers: bool = typer.Option(
            False, "--numbers", help="Small integers in the cells, arithmetic in the caption."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the example numbers."),
        fps: float = typer.Option(2.0, "--fps", help="Frames per second (GIF, MP4)."),
        out: Path = typer.Option(..., "-o", "--out", help="out.gif, out.mp4, or a contact sheet out.png / out.svg."),
    ) -> None:
        """Animate a convolution or transposed convolution, exactly as the plan computes it.

        Example: tconv animate transposed -i 3x3 -k 3 -s 2 -p 1 --view scatter -o t.gif
        """
        from ..viz import save_animation, scene  # noqa: PLC0415

        plan = _plan(op, i, k, s, p, d, opad)
        sc = scene(plan, op=op, view=view, seed=seed)
        path = save_animation(sc, out, numbers=numbers, fps=fps)
        typer.echo(f"wrote {path} ({len(sc.frames)} frames: {sc.describe()})")

    @app.command("graph")
    @friendly
    def graph(
        op: str = typer.Argument("transposed", help=_OP_HELP + "; parameters as for animate"),
        i: str = typer.Option("3", "-i", "--input", help="Input size (1-D)."),
        k: str = typer.Option("3", "-k", "--kernel", help="Kernel size."),
        s: str = typer.Option("1", "-s", "--stride", help="Stride."),
        p: str = typer.Option("0", "-p", "--padding", help="Padding: 1 or before:after."),
        d: str = typer.Option("1", "-d", "--dilation", help="Dilation."),
        opad: str = typer.Option("0", "--op", "--output-padding", help="output_padding (transposed only)."),
        numbers: bool = typer.Option(
            False, "--numbers", help="Values in the nodes and weights in the legend (as animate --numbers)."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the example numbers."),
        out: Path = typer.Option(..., "-o", "--out", help="Figure file: .png, .svg or .pdf."),
    ) -> None:
        """Seed 000's graph diagram of a 1-D case: convolution, transposed convolution, equivalent convolution.

        Example: tconv graph -i 3 -k 3 -s 2 -o graph.png
        """
        from ..files import save_figure  # noqa: PLC0415
        from ..viz import graph_figure  # noqa: PLC0415

        plan = _plan(op, i, k, s, p, d, opad)
        path = save_figure(graph_figure(plan, numbers=numbers, seed=seed), out)
        typer.echo(f"wrote {path}")

    @app.command("matrix")
    @friendly
    def matrix(
        op: str = typer.Argument("conv", help=_OP_HELP + "; parameters as for animate"),
        i: str = typer.Option("4x4", "-i", "--input", help="Input size: 4 or 4x4."),
        k: str = typer.Option("3", "-k", "--kernel", help="Kernel size."),
        s: str = typer.Option("1", "-s", "--stride", help="Stride."),
        p: str = typer.Option("0", "-p", "--padding", help="Padding."),
        d: str = typer.Option("1", "-d", "--dilation", help="Dilation."),
        opad: str = typer.Option("0", "--op", "--output-padding", help="output_padding (transposed only)."),
        transposed: bool | None = typer.Option(
            None,
            "--transposed/--forward",
            "-T/-F",
            help="Draw Cᵀ (the transposed convolution, y = Cᵀx) or C (the convolution, y = Cx). "
            "Default: Cᵀ for transposed, C for conv, so x and y are the input and output as in animate.",
        ),
        out: Path = typer.Option(..., "-o", "--out", help="Figure file: .png, .svg or .pdf."),
    ) -> None:
        """The matrix view with entries w_ij and the flattening order: Cᵀ for a transposed convolution, C for a conv.

        x is the operation's input and y its output, as in animate: `tconv matrix transposed -i 2x2 -k 3` draws the
        16 × 4 matrix Cᵀ that maps the 2×2 input x to the 4×4 output y; -F draws C (4 × 16) instead.

        Example: tconv matrix transposed -i 2x2 -k 3 -s 2 -o CT.png
        """
        from ..files import save_figure  # noqa: PLC0415
        from ..viz import matrix_figure  # noqa: PLC0415

        plan = _plan(op, i, k, s, p, d, opad)
        draw_t = (op == "transposed") if transposed is None else transposed
        path = save_figure(matrix_figure(plan, transposed=draw_t), out)
        typer.echo(f"wrote {path}")

    @app.command("gallery")
    @friendly
    def gallery(
        out: Path = typer.Option(Path("gallery"), "--out", "-o", help="Folder for the pictures and index.html."),
        only: list[str] = typer.Option(None, "--only", help="Only these cases (names, or name prefixes)."),
        fps: float = typer.Option(2.0, "--fps", help="Frames per second of the GIFs."),
    ) -> None:
        """Regenerate the gallery: conv_arithmetic's full set and more, with an index page.

        Example: tconv gallery --out gallery
        """
        from ..progress import steps  # noqa: PLC0415
        from ..viz import CASES, build_gallery  # noqa: PLC0415

        cases = list(CASES)
        if only:
            cases = [c for c in CASES if any(c.name == o or c.name.startswith(o) for o in only)]
            if not cases:
                raise ConfigError("only", only, "matches no gallery case (see docs/gallery.md for the names)")
        with steps("gallery", len(cases)) as step:
            path = build_gallery(out, cases=cases, fps=fps, progress=lambda case: step(case.name))
        typer.echo(f"wrote {path} ({len(cases)} pictures)")
