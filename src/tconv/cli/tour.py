"""``tconv tour``: build the lesson (index.html) and the pages it links to."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import friendly


def register(app: typer.Typer) -> None:
    @app.command("tour")
    @friendly
    def tour(
        out: Path = typer.Option(Path("tour"), "--out", "-o", help="Folder for index.html and its pages and pictures."),
        full: bool = typer.Option(False, "--full", help="Run the long versions of the experiments."),
        quick: bool = typer.Option(
            False, "--quick", help="Skip the experiments: the lesson and every page, with placeholders, in seconds."
        ),
        only: list[str] = typer.Option(None, "--only", help="Build only these pages (e.g. zfnet, bezier, gallery)."),
    ) -> None:
        """Write OUT/index.html, a lesson on transposed convolution, and the pages it links to.

        Prints one line per step when its output is not a terminal (a progress bar when it is).

        Example: tconv tour --out tour
        """
        from ..errors import ConfigError  # noqa: PLC0415
        from ..progress import steps  # noqa: PLC0415
        from ..tour import PAGES, run_tour  # noqa: PLC0415

        if quick and full:
            raise ConfigError("quick", quick, "cannot be combined with --full")
        with steps("tour", len(PAGES) + 3) as step:
            path = run_tour(out, quick=not full, only=only or None, sketch=quick, progress=step)
        typer.echo(f"wrote {path}")
