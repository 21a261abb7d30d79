"""Progress for long jobs (the tour, the gallery): a rich bar on a terminal, one plain line per step otherwise.

A log file or a CI console gets ``tour [3/9] upsampling experiments`` lines it can show as they come (flushed at
once), instead of minutes of silence; a terminal gets a transient rich bar.

>>> import io
>>> buf = io.StringIO()
>>> with steps("demo", 2, stream=buf) as step:
...     step("first")
...     step("second")
>>> print(buf.getvalue(), end="")
demo [1/2] first
demo [2/2] second
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["steps"]


@contextmanager
def steps(label: str, total: int, stream: TextIO | None = None) -> Iterator[Callable[[str], None]]:
    """Yield ``step(description)``: call it as each of ``total`` steps starts.

    On a terminal (``stream`` is a tty) a transient rich bar shows the step and advances; otherwise each call writes
    one line ``label [n/total] description`` to ``stream`` (default: standard error) and flushes it.
    """
    out = sys.stderr if stream is None else stream
    if not getattr(out, "isatty", lambda: False)():
        count = 0
        t0 = time.perf_counter()

        def line(desc: str) -> None:
            nonlocal count
            count += 1
            out.write(f"{label} [{count}/{total}] {desc}\n")
            out.flush()

        yield line
        if count and stream is None:
            out.write(f"{label}: done in {time.perf_counter() - t0:.0f} s\n")
            out.flush()
        return

    from rich.console import Console  # noqa: PLC0415
    from rich.progress import Progress  # noqa: PLC0415

    with Progress(transient=True, console=Console(file=out)) as bar:
        task = bar.add_task(label, total=total)
        started = False

        def advance(desc: str) -> None:
            nonlocal started
            if started:
                bar.advance(task)
            started = True
            bar.update(task, description=f"{label}: {desc}")

        yield advance
