"""How much memory there is, and a refusal that names the parameter before anything too large is allocated.

One small module so that every place that allocates asks the same question the same way: the formulations' boundary
(:mod:`tconv.ops.boundary`) checks the output and each method's largest temporary, and the route registry of
``method="auto"`` can call :func:`available_bytes` / :func:`check_fits` with its own routes' estimates (their
``memory(plan, itemsize)`` numbers) to skip a route that cannot fit instead of failing in the allocator.

- CPU: the smaller of ``MemAvailable`` (``/proc/meminfo``) and the cgroup limit minus its usage, where readable;
  elsewhere (no ``/proc``) no limit is assumed and the allocator decides.
- CUDA: ``torch.cuda.mem_get_info(device)``'s free bytes plus what torch's caching allocator holds but does not use.
- ``TCONV_MAX_BYTES`` (an int, bytes) caps both, e.g. to keep a service inside a budget or to test the refusal.

>>> check_fits("input", (1, 1, 3), 2**70, "output", "cpu")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tconv.errors.ConfigError: input=(1, 1, 3) needs 1180591620717411303424 bytes (1073741824.0 TiB) for the output, ...
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["available_bytes", "check_fits", "human"]

# (device and TCONV_MAX_BYTES, when, bytes available then): the last reading, for check_fits's fast path
_recent: tuple[tuple[str, str], float, int] | None = None


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cpu_available() -> int | None:
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        avail = None
    limit, usage = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and usage is not None:
        room = max(limit - usage, 0)
        avail = room if avail is None else min(avail, room)
    return avail


def available_bytes(device: Any = "cpu") -> int | None:
    """Bytes that one more allocation on ``device`` can use now, or None when it cannot be known.

    >>> available_bytes("cpu") is None or available_bytes("cpu") > 0
    True
    """
    import torch  # noqa: PLC0415  (tconv.memory is imported by light modules too)

    dev = torch.device(device)
    if dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
        avail: int | None = free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
    elif dev.type == "cpu":
        avail = _cpu_available()
    else:
        avail = None
    cap = os.environ.get("TCONV_MAX_BYTES", "").strip()
    if cap.isdigit():
        avail = int(cap) if avail is None else min(avail, int(cap))
    return avail


def human(nbytes: float) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    >>> human(3 * 2**40)
    '3.0 TiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024:
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"


def check_fits(param: str, value: Any, nbytes: int, what: str, device: Any = "cpu") -> None:
    """Raise :class:`~tconv.errors.ConfigError` naming ``param=value`` when ``nbytes`` for ``what`` cannot fit.

    Nothing is allocated here: call it before the allocation it guards. A request under an eighth of what was
    available less than a second ago passes without reading ``/proc`` again (a few microseconds instead of three file
    reads on every call).
    """
    global _recent
    now = time.monotonic()
    cap = os.environ.get("TCONV_MAX_BYTES", "")
    if _recent is not None and _recent[0] == (str(device), cap) and now - _recent[1] < 1.0 and nbytes * 8 < _recent[2]:
        return
    avail = available_bytes(device)
    if avail is not None:
        _recent = ((str(device), cap), now, avail)
    if avail is not None and nbytes > avail:
        raise ConfigError(
            param,
            value,
            f"needs {nbytes} bytes ({human(nbytes)}) for the {what}, more than the {avail} bytes of memory available "
            f"on {device} ({human(avail)})",
        )
