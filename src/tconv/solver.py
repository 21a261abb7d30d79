"""The solver: every (kernel, stride, padding, output_padding, dilation) that maps one size to another, ranked.

Conv: ``floor((i + 2p - d(k-1) - 1) / s) + 1 == o``; transposed: ``(i - 1) s - 2p + d(k-1) + op + 1 == o``. Padding
is solved, not searched, and every solution's count map comes from its plan (:meth:`tconv.geometry.Plan.overlap_counts`).
Re-exported by :mod:`tconv.arith` (and :func:`solve` by :mod:`tconv`).

>>> solve(16, 32, transposed=True)[0].describe()
'even overlap (flat count map: 1 everywhere)'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from torch import nn

from .errors import ConfigError, ConfigTypeError
from .geometry import Plan, conv_plan, plan_from_sizes
from .params import _is_int

__all__ = ["Solution", "solve", "describe_counts", "SOLVE_LIMIT"]


@dataclass(frozen=True)
class Solution:
    """One (kernel, stride, padding, output_padding, dilation) that maps ``input_size`` to ``output_size``.

    The count map says how many (input, tap) pairs land on each output of a transposed convolution (for a
    convolution: how many (window, tap) pairs read each input). ``holes``: positions it never reaches (a transposed
    convolution leaves them at the bias; a convolution ignores those inputs). ``even_overlap``: the count map is flat
    and has no holes (every output gets the same number of taps: no checkerboard). ``min_count`` / ``max_count``:
    its extremes. ``exact``: no output_padding (transposed) / no input left unread at the end (conv). ``rank`` is the
    position in the ranking (0 = best).
    """

    kind: str
    input_size: int
    output_size: int
    kernel: int
    stride: int
    padding: int
    output_padding: int
    dilation: int
    exact: bool
    even_overlap: bool
    holes: int = 0
    min_count: int = 0
    max_count: int = 0
    rank: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def plan(self) -> Plan:
        """The transposed plan (for a conv: the plan of the conv seen as its transpose)."""
        if self.kind == "conv":
            return conv_plan(self.input_size, self.kernel, self.stride, self.padding, self.dilation)
        return plan_from_sizes(
            self.input_size, self.kernel, self.stride, self.padding, self.output_padding, self.dilation
        )

    def count_map(self) -> np.ndarray:
        """How many (input, tap) pairs land on each position (of the output; of a conv's input)."""
        return self.plan.overlap_counts()

    def module(self, in_channels: int = 1, out_channels: int = 1, nd: int = 2) -> nn.Module:
        """The matching ``nn.Conv{nd}d`` / ``nn.ConvTranspose{nd}d`` (built by keyword)."""
        kw = dict(kernel_size=self.kernel, stride=self.stride, padding=self.padding, dilation=self.dilation)
        if self.kind == "conv":
            return getattr(nn, f"Conv{nd}d")(in_channels, out_channels, **kw)
        return getattr(nn, f"ConvTranspose{nd}d")(in_channels, out_channels, output_padding=self.output_padding, **kw)

    def describe(self) -> str:
        """The count map in words (what the CLI shows)."""
        return describe_counts(self.holes, self.even_overlap, self.min_count, self.max_count)


def describe_counts(holes: int, even: bool, lo: int, hi: int) -> str:
    """A count map in words; "even overlap" only where it is flat and hole-free."""
    if holes:
        return f"{holes} hole(s) (count map min 0, max {hi})"
    if even:
        return f"even overlap (flat count map: {hi} everywhere)"
    return f"uneven overlap (count map {lo}..{hi})"


def _bound(name: str, v: Any, lo: int) -> int:
    if not _is_int(v):
        raise ConfigTypeError(name, v, "must be an int")
    if v < lo:
        raise ConfigError(name, v, f"must be >= {lo}")
    return int(v)


#: solve tries every (kernel, dilation, stride) triple within the bounds; more than this is refused up front.
SOLVE_LIMIT = 2_000


def _rank_key(sol: Solution) -> tuple:
    """No holes first, then flat count maps, then max/min of the map; then exact, no dilation, near-"same" padding,
    small kernel, stride, padding (dilation and output_padding make the key total)."""
    ratio = sol.max_count / sol.min_count if sol.min_count else float(sol.max_count)
    span = sol.dilation * (sol.kernel - 1)
    return (
        sol.holes > 0,
        sol.holes,
        not sol.even_overlap,
        ratio,
        not sol.exact,
        sol.dilation > 1,
        abs(2 * sol.padding - span),
        sol.kernel,
        sol.stride,
        sol.padding,
        sol.dilation,
        sol.output_padding,
    )


def _with_counts(kind: str, i: int, o: int, k: int, s: int, p: int, op: int, d: int, exact: bool) -> Solution:
    sol = Solution(kind, i, o, k, s, p, op, d, exact, False)
    counts = sol.count_map()
    holes, lo, hi = int((counts == 0).sum()), int(counts.min()), int(counts.max())
    return replace(sol, even_overlap=holes == 0 and lo == hi, holes=holes, min_count=lo, max_count=hi)


def _candidates(
    i: int, o: int, transposed: bool, kmax: int, smax: int, dmax: int, pmax: int | None, allow_op: bool
) -> Iterator[tuple[int, int, int, int, int, bool]]:
    """Every (k, s, p, op, d, exact) within the bounds with the right size; p solved, not searched."""
    for k in range(1, kmax + 1):
        for d in range(1, (dmax if k > 1 else 1) + 1):
            span = d * (k - 1)  # the size formulas below, solved for p (Plan.out_size and tconv.window's rule)
            top = span if pmax is None else pmax
            for s in range(1, smax + 1):
                if transposed:  # (i - 1) s - 2p + span + op + 1 == o
                    for op in range(max(s, d) if allow_op else 1):
                        twice = (i - 1) * s + span + op + 1 - o
                        if twice % 2 == 0 and 0 <= twice // 2 <= top:
                            yield k, s, twice // 2, op, d, op == 0
                else:  # (o - 1) s <= i + 2p - span - 1 <= (o - 1) s + s - 1
                    lo = -(-((o - 1) * s + span + 1 - i) // 2)
                    hi = ((o - 1) * s + s - 1 + span + 1 - i) // 2
                    for p in range(max(lo, 0), min(hi, top) + 1):
                        yield k, s, p, 0, d, (i + 2 * p - span - 1) % s == 0


def solve(
    input_size: int,
    output_size: int,
    transposed: bool = False,
    max_kernel: int = 7,
    max_stride: int = 4,
    max_dilation: int = 1,
    max_padding: int | None = None,
    allow_output_padding: bool = True,
) -> list[Solution]:
    """Every configuration within the bounds that maps ``input_size`` to ``output_size`` (one dimension), ranked.

    Conv: ``floor((i + 2p - d(k-1) - 1) / s) + 1 == o``. Transposed (``transposed=True``):
    ``(i - 1) s - 2p + d(k-1) + op + 1 == o`` with ``op < max(s, d)``. Padding runs from 0 to ``max_padding``
    (default ``d (k - 1)``: more would only add outputs that see no input). Ranked by the count map
    (:attr:`Solution.holes`, :attr:`Solution.even_overlap`): no holes first, then a flat map, then the smallest
    max/min; then exact, no dilation, padding closest to "same", smaller kernel, stride and padding. The search tries
    at most ``SOLVE_LIMIT`` (kernel, dilation, stride) triples (a ConfigError says so before any work).

    >>> [(x.kernel, x.stride, x.padding, x.output_padding) for x in solve(16, 32, transposed=True)[:3]]
    [(2, 2, 0, 0), (6, 2, 2, 0), (4, 2, 1, 0)]
    >>> solve(7, 28, transposed=True)[0].describe()
    'even overlap (flat count map: 1 everywhere)'
    >>> solve(224, 112, max_kernel=3)[0]
    Solution(kind='conv', input_size=224, output_size=112, kernel=2, stride=2, padding=0, output_padding=0, dilation=1, exact=True, even_overlap=True, holes=0, min_count=1, max_count=1, rank=0)
    """
    i = _bound("input_size", input_size, 1)
    o = _bound("output_size", output_size, 1)
    kmax = _bound("max_kernel", max_kernel, 1)
    smax = _bound("max_stride", max_stride, 1)
    dmax = _bound("max_dilation", max_dilation, 1)
    pmax = None if max_padding is None else _bound("max_padding", max_padding, 0)
    tries = kmax * smax * dmax
    if tries > SOLVE_LIMIT:
        raise ConfigError(
            "max_kernel",
            max_kernel,
            f"with max_stride={smax} and max_dilation={dmax} asks for {tries} (kernel, stride, dilation) triples; "
            f"the limit is {SOLVE_LIMIT}: lower the bounds (a kernel longer than the output only adds cropped taps)",
        )
    kind = "conv_transpose" if transposed else "conv"
    found = [
        _with_counts(kind, i, o, k, s, p, op, d, exact)
        for k, s, p, op, d, exact in _candidates(i, o, transposed, kmax, smax, dmax, pmax, allow_output_padding)
    ]
    found.sort(key=_rank_key)
    return [replace(sol, rank=r) for r, sol in enumerate(found)]
