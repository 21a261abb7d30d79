"""Per-operation relations: which positions of a layer's input each output position reads, per spatial dimension.

Every supported operation is *separable*: along each spatial dimension, output position ``u`` reads a small set of
input positions that does not depend on the other dimensions. A :class:`Rel` gives that set for an array of output
positions (``taps``) and maps positions outside the input through the padding mode (``resolve``). The windows are
read from :mod:`tconv.window` (forward windows) and the plan's mapping (transposed ones); nothing here re-derives
them. Which operation reads through which relation is :mod:`.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..window import read_positions, transposed_sources

#: One stage of per-dimension relations (one Rel per spatial dim); an operation is one or more stages in a row.
Stage = tuple["Rel", ...]


# ----------------------------------------------------------------------------------------------------------------
# the relations
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Rel:
    """How output position ``u`` reads positions ``0 .. n_in - 1`` of one input along one dimension.

    ``taps(u)`` gives arrays ``(len(u), T)`` of input positions and a validity mask for any integer ``u`` (the
    theoretical view extends past the ends); ``resolve`` then maps positions outside the input through
    ``pad_mode``: dropped for zero padding, mirrored / clamped / wrapped for reflect / replicate / circular.
    ``jump`` scales the distance between neighbouring units.
    """

    n_in: int
    n_out: int
    pad_mode: str = "zeros"

    def taps(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def jump(self, j: Fraction) -> Fraction:
        return j

    def resolve(self, pos: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map positions outside the input through the padding mode (clipped view)."""
        n = self.n_in
        mode = self.pad_mode
        if mode == "reflect" and n > 1:
            period = 2 * (n - 1)
            r = np.mod(pos, period)
            return np.where(r < n, r, period - r), valid
        if mode in ("replicate", "reflect"):
            return np.clip(pos, 0, n - 1), valid
        if mode == "circular":
            return np.mod(pos, n), valid
        return pos, valid & (pos >= 0) & (pos < n)


def _col(u: np.ndarray) -> np.ndarray:
    return np.asarray(u, dtype=np.int64).reshape(-1, 1)


def _all_valid(pos: np.ndarray) -> np.ndarray:
    return np.ones(pos.shape, dtype=bool)


@dataclass(frozen=True, kw_only=True)
class Identity(Rel):
    """Position kept (activations, normalization, channel concatenation)."""

    def taps(self, u):
        u = _col(u)
        return u, _all_valid(u)


@dataclass(frozen=True, kw_only=True)
class Broadcast(Rel):
    """A size-1 dimension broadcast against a larger one: every output reads position 0."""

    def taps(self, u):
        z = np.zeros_like(_col(u))
        return z, _all_valid(z)


@dataclass(frozen=True, kw_only=True)
class Everything(Rel):
    """A reduction over the dimension (``x.mean(dim, keepdim=True)``): every output reads every input."""

    def taps(self, u):
        pos = np.broadcast_to(np.arange(self.n_in, dtype=np.int64)[None, :], (len(_col(u)), self.n_in))
        return pos, _all_valid(pos)


@dataclass(frozen=True, kw_only=True)
class Window(Rel):
    """A forward convolution / pooling window (also a crop by slicing and PixelUnshuffle): :mod:`tconv.window`."""

    k: int
    s: int
    d: int = 1
    p: int = 0  # padding before (negative: a crop's start)

    def taps(self, u):
        pos = read_positions(u, self.k, self.s, self.d, self.p)
        return pos, _all_valid(pos)

    def jump(self, j):
        return j * self.s


@dataclass(frozen=True, kw_only=True)
class Transposed(Rel):
    """A transposed convolution (also max-unpooling and copy-unpooling): the plan's mapping solved for the input."""

    k: int
    s: int
    d: int = 1
    p: int = 0

    def taps(self, u):
        return transposed_sources(u, self.k, self.s, self.d, self.p)

    def jump(self, j):
        return j / self.s


@dataclass(frozen=True, kw_only=True)
class Adaptive(Rel):
    """Adaptive pooling and ``interpolate(mode="area")``: ``floor(u n_in / n_out) .. ceil((u + 1) n_in / n_out)``."""

    def taps(self, u):
        u = _col(u)
        start = (u * self.n_in) // self.n_out
        end = -((-(u + 1) * self.n_in) // self.n_out)
        width = -(-self.n_in // self.n_out) + 1
        pos = start + np.arange(width, dtype=np.int64)[None, :]
        return pos, pos < end

    def jump(self, j):
        return j * Fraction(self.n_in, self.n_out)


@dataclass(frozen=True, kw_only=True)
class Nearest(Rel):
    """Nearest up-sampling (``floor(u n_in / n_out)``, or ``floor((u + 1/2) n_in / n_out)`` for nearest-exact) and
    PixelShuffle (``u // factor``)."""

    exact: bool = False

    def taps(self, u):
        u = _col(u)
        src = ((2 * u + 1) * self.n_in) // (2 * self.n_out) if self.exact else (u * self.n_in) // self.n_out
        return src, _all_valid(src)

    def jump(self, j):
        return j * Fraction(self.n_in, self.n_out)


def _source(u: np.ndarray, n_in: int, n_out: int, align_corners: bool) -> tuple[np.ndarray, np.ndarray]:
    """``interpolate``'s source coordinate as a fraction ``num / den`` (exact, no floats)."""
    if align_corners:
        return u * (n_in - 1), np.full_like(u, max(n_out - 1, 1))
    return (2 * u + 1) * n_in - n_out, np.full_like(u, 2 * n_out)


@dataclass(frozen=True, kw_only=True)
class Linear(Rel):
    """(Bi/tri)linear interpolation: taps ``floor(src)`` and ``floor(src) + 1``, the second only where its weight is
    non-zero (the source is clamped at 0 without align_corners, as PyTorch does)."""

    align_corners: bool = False

    def taps(self, u):
        num, den = _source(_col(u), self.n_in, self.n_out, self.align_corners)
        num = np.maximum(num, 0)
        x0 = num // den
        frac = num % den != 0
        return np.concatenate([x0, x0 + 1], axis=1), np.concatenate([np.ones_like(frac), frac], axis=1)

    def jump(self, j):
        return j * Fraction(self.n_in, self.n_out)


@dataclass(frozen=True, kw_only=True)
class Cubic(Rel):
    """Bicubic interpolation: taps ``floor(src) - 1 .. floor(src) + 2`` (clamped to the input), only ``floor(src)``
    where the source falls on a pixel (the cubic kernel is 0 at the other integers)."""

    align_corners: bool = False

    def taps(self, u):
        num, den = _source(_col(u), self.n_in, self.n_out, self.align_corners)
        x0 = num // den
        frac = num % den != 0
        pos = x0 + np.arange(-1, 3, dtype=np.int64)[None, :]
        return pos, np.concatenate([frac, np.ones_like(frac), frac, frac], axis=1)

    def jump(self, j):
        return j * Fraction(self.n_in, self.n_out)


@dataclass(frozen=True, kw_only=True)
class Shift(Rel):
    """Output ``u`` reads ``u - p`` (padding, a piece of a concatenation, roll); valid for ``lo <= u < hi``."""

    p: int = 0
    lo: int | None = None
    hi: int | None = None

    def taps(self, u):
        u = _col(u)
        valid = np.ones(u.shape, dtype=bool)
        if self.lo is not None:
            valid &= u >= self.lo
        if self.hi is not None:
            valid &= u < self.hi
        return u - self.p, valid
