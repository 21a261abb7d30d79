"""The cache behind "auto"'s measured choice: its settings, the key of a call, and the per-machine file.

The settings (``TCONV_AUTOTUNE``, ``TCONV_MEMORY_FACTOR``, ``TCONV_CACHE_DIR``, :func:`configure`), the key a choice
is stored under (plan, dtype, layouts, threads, oneDNN, gradients), and the JSON file, one per machine and
:data:`FORMAT`: corrupt, stale or foreign files are ignored and rewritten atomically under a lock, and each writer
merges what others wrote. :mod:`tconv.ops.autotune` measures and chooses; it re-exports these names.

>>> from tconv.geometry import make_plan
>>> p = make_plan((2, 8, 16, 16), (8, 4, 2, 2), stride=2)
>>> key(p, torch.zeros(2, 8, 16, 16), torch.zeros(8, 4, 2, 2), False).split(" | ")[1]
'float32 x:c w:c'
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import math
import os
import platform
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError
from ..files import write_json
from ..geometry import Plan
from .registry import routes

__all__ = ["FORMAT", "Settings", "current", "configure", "settings", "key", "cache_path"]

#: Version of the cache file's format and of the routes' meaning; bump it when a route changes, so old winners are
#: measured again. 3: the race's rules changed (torch timed until warm, decisive leads, training parts must promise
#: the margin), so winners chosen under format 2 are measured again. 4: an assembled training step that wins its duel
#: of whole steps by less than DECISIVE must win a second duel (autotune.CONFIRM).
FORMAT = 4

#: Below this much work (flop + 16 x the elements moved) "auto" does not measure (see :mod:`tconv.ops.autotune`).
MIN_WORK = 1 << 25

_CHANNELS_LAST = {2: torch.channels_last, 3: torch.channels_last_3d}


# ---- settings -------------------------------------------------------------------------------------------------------
def _env_factor() -> float | None:
    raw = os.environ.get("TCONV_MEMORY_FACTOR", "1.5").strip().lower()
    if raw in ("none", "inf", "off"):
        return None
    return float(raw)


def _default_cache_dir() -> Path:
    if os.environ.get("TCONV_CACHE_DIR"):
        return Path(os.environ["TCONV_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tconv"


@dataclass(frozen=True)
class Settings:
    """What :func:`configure` sets; defaults from ``TCONV_AUTOTUNE``, ``TCONV_MEMORY_FACTOR``, ``TCONV_CACHE_DIR``."""

    enabled: bool = field(default_factory=lambda: os.environ.get("TCONV_AUTOTUNE", "1").strip() not in ("0", ""))
    memory_factor: float | None = field(default_factory=_env_factor)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    min_work: int = MIN_WORK
    memory_slack: int = 1 << 20


_settings: Settings | None = None


def current() -> Settings:
    """The settings in force (read from the environment on first use)."""
    global _settings
    if _settings is None:
        _settings = Settings()
    return _settings


def configure(**changes: Any) -> Settings:
    """Change the settings (``enabled``, ``memory_factor``, ``memory_slack``, ``cache_dir``, ``min_work``); returns
    the previous ones.

    >>> old = configure(enabled=False)
    >>> current().enabled
    False
    >>> _ = configure(**dataclasses.asdict(old))
    """
    global _settings
    old = current()
    if "memory_factor" in changes and changes["memory_factor"] is not None:
        f = changes["memory_factor"]
        if not isinstance(f, (int, float)) or isinstance(f, bool) or not f >= 1:
            raise ConfigError("memory_factor", f, "must be a number >= 1 (torch's own peak is 1), or None for no limit")
        if math.isinf(f):
            changes["memory_factor"] = None
    if "cache_dir" in changes:
        changes["cache_dir"] = Path(changes["cache_dir"])
    _settings = dataclasses.replace(old, **changes)
    return old


@contextlib.contextmanager
def settings(**changes: Any) -> Iterator[Settings]:
    """:func:`configure` for a ``with`` block; the previous settings come back afterwards."""
    old = configure(**changes)
    try:
        yield current()
    finally:
        configure(**dataclasses.asdict(old))


# ---- the key ---------------------------------------------------------------------------------------------------------
def _layout(t: torch.Tensor, nd: int) -> str:
    if nd in _CHANNELS_LAST and not t.is_contiguous() and t.is_contiguous(memory_format=_CHANNELS_LAST[nd]):
        return "cl"
    return "c" if t.is_contiguous() else "strided"


def key(plan: Plan, x: torch.Tensor, w: torch.Tensor, grad: bool) -> str:
    """The cache key: plan, dtype, memory layout, thread count, oneDNN switch and whether gradients are needed.

    >>> from tconv.geometry import make_plan
    >>> p = make_plan((2, 8, 16, 16), (8, 4, 2, 2), stride=2)
    >>> key(p, torch.zeros(2, 8, 16, 16), torch.zeros(8, 4, 2, 2), False).split(" | ")[1:]
    ['float32 x:c w:c', 'threads ... onednn ... grad 0']
    """
    p = plan
    return (
        f"x{p.input_shape} w{p.weight_shape} s{p.stride} p{p.padding} op{p.output_padding} d{p.dilation} g{p.groups}"
        f" | {str(x.dtype).removeprefix('torch.')} x:{_layout(x, p.nd)} w:{_layout(w, p.nd)}"
        f" | threads {torch.get_num_threads()} onednn {int(torch.backends.mkldnn.enabled)} grad {int(grad)}"
    )


# ---- the cache file ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}; {os.cpu_count()} cores; torch {torch.__version__}"


def cache_path() -> Path:
    """This machine's cache file under the configured directory (it may not exist yet)."""
    digest = hashlib.sha1(_machine().encode()).hexdigest()[:12]
    return current().cache_dir / f"autotune-v{FORMAT}-{digest}.json"


def _read_file(path: Path) -> dict[str, dict]:
    """The entries of a valid cache file; ``{}`` for a missing, corrupt, stale or foreign one."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("machine") != _machine():
        return {}
    entries = data.get("entries")
    if not isinstance(entries, dict):
        return {}
    from .training import GRAD_INPUT, GRAD_WEIGHT  # noqa: PLC0415

    def valid(v: Any) -> bool:
        return (
            isinstance(v, dict)
            and v.get("route") in _route_names()
            and v.get("gx", "torch") in GRAD_INPUT
            and v.get("gw", "torch") in GRAD_WEIGHT
        )

    return {k: v for k, v in entries.items() if valid(v)}


def _route_names() -> set[str]:
    return {r.name for r in routes(tuned=True)}


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` + ".lock" across processes (POSIX ``flock``; a no-op where there is none)."""
    try:
        import fcntl  # noqa: PLC0415
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_memory: dict[tuple[Path, str], dict] = {}
_warned = False


def _store(k: str, entry: dict) -> None:
    """Add one entry: merged with whatever the file holds now, written atomically, under the lock."""
    global _warned
    path = cache_path()
    _memory[(path, k)] = entry
    try:
        with _file_lock(path):
            entries = _read_file(path)
            entries[k] = entry
            write_json(path, {"format": FORMAT, "machine": _machine(), "entries": entries})
    except OSError as exc:  # a read-only or full disk: keep the choice in memory only
        if not _warned:
            warnings.warn(f"tconv autotune: cannot write {path} ({exc}); choices are kept in memory", stacklevel=3)
            _warned = True


def _lookup(k: str) -> dict | None:
    path = cache_path()
    hit = _memory.get((path, k))
    if hit is None:
        hit = _read_file(path).get(k)  # another process may have measured it
        if hit is not None:
            _memory[(path, k)] = hit
    return hit
