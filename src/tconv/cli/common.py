"""Shared helpers for the CLI modules: friendly errors, size parsing and JSON/rich output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from ..errors import ConfigError, ConfigTypeError

F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """Decorate a command so that bad input exits with code 2 and one line on stderr instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, ConfigTypeError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def parse_sizes(name: str, text: str) -> tuple[int, ...]:
    """Parse "5", "5x7" or "5,7" into a tuple of ints, or raise ConfigError naming ``name``.

    >>> parse_sizes("input", "5x7")
    (5, 7)
    """
    parts = text.replace(",", "x").lower().split("x")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(name, text, "must be an int or ints separated by 'x' (e.g. 5 or 5x7)") from None


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout."""
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
