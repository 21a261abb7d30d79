"""The memory budget "auto" keeps to, and the machine's GEMM rate its races use as a floor (:mod:`tconv.ops.autotune`).

A route may use at most ``memory_factor`` (default 1.5) times torch's estimated peak, or torch's peak plus
``memory_slack`` where that is more (:func:`budget_bytes`); over it, a no-grad route may still run on slices of the
batch (:func:`_fit`). No route that needs more than torch may exceed the memory available now (:func:`_limit`).
The GEMM rate (:func:`gemm_rate`) is measured once per machine and thread count and kept in the cache file.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time

import torch

from ..errors import ConfigError
from ..geometry import Plan
from ..memory import available_bytes, human
from .autocache import _lookup, _store, current
from .registry import Route, get_route, memory_bytes, routes

__all__ = ["budget_bytes", "gemm_rate", "measure_gemm_rate"]


def budget_bytes(plan: Plan, dtype: torch.dtype) -> float:
    """The most a route may allocate: ``memory_factor`` x torch's estimated peak, at least that peak plus
    ``memory_slack`` (inf when the factor is None).

    Where torch does not apply (4-D and up) the smallest estimate among the routes that do stands in for it.

    >>> from tconv.geometry import make_plan
    >>> p = make_plan((64, 320, 64, 64), (320, 320, 3, 3), stride=2, padding=1, output_padding=1)
    >>> torch_peak = (64 * 320 * (64 * 64 + 2 * 128 * 128) + 320 * 320 * 9) * 4   # input, 2 outputs, weight
    >>> budget_bytes(p, torch.float32) / torch_peak
    1.5
    """
    factor = current().memory_factor
    if factor is None:
        return math.inf
    base = _reference_bytes(plan, dtype)
    return max(factor * base, base + current().memory_slack)


def _reference_bytes(plan: Plan, dtype: torch.dtype) -> int:
    """torch's estimated peak; where torch does not apply, the smallest estimate of a route that does."""
    torch_route = get_route("torch")
    if torch_route.applies(plan):
        return memory_bytes(torch_route, plan, dtype)
    return min(memory_bytes(r, plan, dtype) for r in routes(tuned=True) if r.applies(plan))


def _fit(route: Route, plan: Plan, dtype: torch.dtype, grad: bool, budget: float) -> int | None:
    """How many batch slices ``route`` needs to stay within ``budget`` (1 = none), or None when it cannot."""
    if memory_bytes(route, plan, dtype) <= budget:
        return 1
    n = plan.batch or 1
    if grad or n == 1:
        return None
    out = math.prod(plan.output_shape) * torch.empty((), dtype=dtype).element_size()
    for chunks in range(2, min(n, 16) + 1):
        sub = dataclasses.replace(plan, batch=-(-n // chunks))
        if out + memory_bytes(route, sub, dtype) <= budget:
            return chunks
    return None


def _limit(plan: Plan, dtype: torch.dtype, device: torch.device, compiling: bool) -> tuple[float, int | None]:
    """The bytes a route may use for this call: the budget, and no more than the memory available now
    (:func:`tconv.memory.available_bytes`; not read while ``torch.compile`` traces) unless it needs no more than
    torch would: "auto" never fails where torch itself might succeed. Also returns what is available."""
    budget = budget_bytes(plan, dtype)
    avail = None if compiling else available_bytes(device)
    if avail is None:
        return budget, None
    return min(budget, max(avail, _reference_bytes(plan, dtype))), avail


def _budget_error(plan: Plan, dtype: torch.dtype, limit: float, avail: int | None) -> ConfigError:
    need = {r.name: memory_bytes(r, plan, dtype) for r in routes(tuned=True) if r.applies(plan)}
    smallest = min(need, key=need.__getitem__)
    factor = current().memory_factor
    budget = budget_bytes(plan, dtype)
    return ConfigError(
        "method",
        "auto",
        f"no route fits in {human(limit)}: the memory budget is {human(budget)} (memory_factor={factor} x torch's "
        f"estimated peak, or that peak + memory_slack) and {'an unknown amount' if avail is None else human(avail)} "
        f"is available; the smallest route, {smallest!r}, needs ~{human(need[smallest])} "
        "(free memory, or raise the budget with tconv.ops.autotune.configure(memory_factor=...); None: no limit)",
    )


# ---- the GEMM rate ---------------------------------------------------------------------------------------------------
def gemm_rate() -> float:
    """This machine's float32 matrix-product rate in flop/s at the current thread count (:func:`measure_gemm_rate`,
    ~40 ms), measured once per machine and thread count, only when a race has a route that is not direct, and kept in
    the cache file (as an entry of its own key, its rate in the entry's ``ms``)."""
    return _gemm_rate(torch.get_num_threads())


@functools.lru_cache(maxsize=8)
def _gemm_rate(threads: int) -> float:
    k = f"gemm rate | threads {threads}"
    hit = _lookup(k)
    if hit is not None and isinstance(hit.get("ms", {}).get("flop/s"), (int, float)):
        return float(hit["ms"]["flop/s"])
    rate = measure_gemm_rate()
    _store(k, {"route": "torch", "ms": {"flop/s": rate}})
    return rate


def measure_gemm_rate(size: int = 1024, repeats: int = 3) -> float:
    """flop/s of ``torch.mm`` on two float32 ``size`` x ``size`` matrices, the best of ``repeats`` after a warm-up
    (also the benchmark's reading, ``bench/run.py``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best


def _floor(plan: Plan, grad: bool) -> float:
    """Seconds a direct route needs at least: the dense sum at 1.5x the measured GEMM rate (a margin for a low
    reading); x3 for a training step."""
    return plan.flops * (3 if grad else 1) / (1.5 * gemm_rate())
