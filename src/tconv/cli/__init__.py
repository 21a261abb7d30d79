"""The ``tconv`` command line: thin typer wrappers over the library, one module per command group.

Each module in :data:`COMMAND_MODULES` defines ``register(app)``. Configuration errors exit with code 2 and one line
naming the parameter (see :func:`tconv.cli.common.friendly`), never a traceback.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="tconv",
    help="Transposed convolution computed every way, explained with exact pictures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Transposed convolution computed every way, explained with exact pictures."""


#: Command modules under tconv.cli, each with ``register(app)``; missing ones are skipped.
COMMAND_MODULES: tuple[str, ...] = ("tour", "arith", "viz", "explorer", "zfnet", "upsampling", "bezier", "gpu")

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name == f"{__name__}.{_name}":
            continue
        raise
    _mod.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
