"""``tconv explore``: write the interactive explorer page."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import friendly


def register(app: typer.Typer) -> None:
    @app.command("explore")
    @friendly
    def explore(
        out: Path = typer.Option(Path("explorer.html"), "--out", "-o", help="Where to write the page."),
    ) -> None:
        """Write one self-contained HTML page to explore (transposed) convolution interactively.

        Every asset is inline: open it from disk, no server or network needed.

        Example: tconv explore --out explorer.html
        """
        from ..explorer import write_page  # noqa: PLC0415

        path = write_page(out)
        typer.echo(f"wrote {path} ({path.stat().st_size // 1024} KB); open it in a browser")
