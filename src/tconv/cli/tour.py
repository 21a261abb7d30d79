"""``tconv tour``: build the tour page."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import friendly


def register(app: typer.Typer) -> None:
    @app.command("tour")
    @friendly
    def tour(
        out: Path = typer.Option(Path("tour"), "--out", "-o", help="Folder for index.html and its assets."),
        full: bool = typer.Option(False, "--full", help="Run the long versions of the experiments."),
        only: list[str] = typer.Option(None, "--only", help="Only these sections (module names, e.g. arith)."),
    ) -> None:
        """Write OUT/index.html: one page with every capability's section.

        Example: tconv tour --out tour
        """
        from ..tour import run_tour  # noqa: PLC0415

        path = run_tour(out, quick=not full, only=only or None)
        typer.echo(f"wrote {path}")
