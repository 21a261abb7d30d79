"""The :class:`Plan` of a transposed convolution and what it derives: the equivalent stride-1 convolution, the
polyphase components, the index maps, contributors and overlap counts. Plans are built and validated by
:func:`tconv.geometry.make_plan` (:mod:`tconv.geometry.build`).

>>> from tconv.geometry import make_plan
>>> make_plan((1, 1, 3), (1, 1, 2), stride=2).full_size
(6,)
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from ..params import _check_index

__all__ = ["Plan", "Phase", "EquivalentConv", "PaddingSpec"]

PaddingSpec = Union[int, str, Sequence[int | Sequence[int]]]


# ----------------------------------------------------------------------------------------------------------------
# derived objects
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Phase:
    """One polyphase component along one dimension.

    The outputs ``o = residue + m * stride`` for ``m in range(count)`` only receive the taps ``taps``; tap
    ``taps[n]`` reads input element ``m + offsets[n]``. So each phase is a stride-1 correlation with the
    sub-kernel ``w[taps]`` and no multiplication by an inserted zero::

        y[residue + m * s] = sum_n  x[m + offsets[n]] * w[taps[n]]     (terms with x out of range are zero)
    """

    residue: int
    count: int
    taps: tuple[int, ...]
    offsets: tuple[int, ...]


@dataclass(frozen=True)
class EquivalentConv:
    """The stride-1 direct convolution that computes a transposed one (seed 000 §2, seed 001).

    Insert ``zeros_between`` zeros between neighbouring inputs (``upsampled_size`` elements result), pad ``pad[d]``
    = (before, after) zeros (a negative amount crops), flip the kernel, dilate it by ``kernel_dilation`` and
    correlate with stride 1.
    """

    zeros_between: tuple[int, ...]
    upsampled_size: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    kernel_dilation: tuple[int, ...]
    flip: bool = True
    stride: tuple[int, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Everything about the geometry of one transposed convolution; hashable, immutable and cached.

    ``padding`` holds (before, after) amounts cropped from the "full" output of length
    ``(in - 1) * stride + dilation * (kernel - 1) + 1``; ``output_padding`` extra positions are then kept at the end.

    >>> from tconv.geometry import make_plan
    >>> p = make_plan((2, 4, 3, 3), (4, 2, 3, 3), stride=2, groups=2)
    >>> p.output_shape
    (2, 4, 7, 7)
    """

    nd: int
    batch: int | None
    in_channels: int
    out_channels: int
    groups: int
    in_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    output_padding: tuple[int, ...]
    out_size: tuple[int, ...]
    padding_rule: str = "explicit"
    padding_mode: str = "zeros"

    # -- shapes ----------------------------------------------------------------------------------------------
    @property
    def batched(self) -> bool:
        return self.batch is not None

    @property
    def input_shape(self) -> tuple[int, ...]:
        lead = (self.batch,) if self.batch is not None else ()
        return (*lead, self.in_channels, *self.in_size)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.in_channels, self.out_channels // self.groups, *self.kernel_size)

    @property
    def output_shape(self) -> tuple[int, ...]:
        lead = (self.batch,) if self.batch is not None else ()
        return (*lead, self.out_channels, *self.out_size)

    @property
    def full_size(self) -> tuple[int, ...]:
        """Output size before any cropping: ``(i - 1) * s + d * (k - 1) + 1``."""
        return tuple(
            (i - 1) * s + d * (k - 1) + 1
            for i, s, d, k in zip(self.in_size, self.stride, self.dilation, self.kernel_size, strict=True)
        )

    @property
    def upsampled_size(self) -> tuple[int, ...]:
        """The input's length with ``s - 1`` zeros inserted between neighbours: ``(i - 1) * s + 1``."""
        return tuple((i - 1) * s + 1 for i, s in zip(self.in_size, self.stride, strict=True))

    @property
    def dilated_kernel_size(self) -> tuple[int, ...]:
        """The kernel's extent with ``d - 1`` zeros between taps: ``d * (k - 1) + 1``."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation, strict=True))

    @property
    def pad_before(self) -> tuple[int, ...]:
        return tuple(p[0] for p in self.padding)

    @property
    def pad_after(self) -> tuple[int, ...]:
        return tuple(p[1] for p in self.padding)

    @property
    def symmetric_padding(self) -> tuple[int, ...] | None:
        """PyTorch-style per-dimension padding when before == after everywhere, else None."""
        if all(a == b for a, b in self.padding):
            return self.pad_before
        return None

    @property
    def flops(self) -> int:
        """Multiply-adds x 2 of the dense definition: ``2 * N * C_in * C_out/groups * prod(in) * prod(k)``."""
        n = self.batch or 1
        return (
            2
            * n
            * self.in_channels
            * (self.out_channels // self.groups)
            * math.prod(self.in_size)
            * math.prod(self.kernel_size)
        )

    # -- the equivalent direct convolution ----------------------------------------------------------------------
    @functools.cached_property
    def equivalent_conv(self) -> EquivalentConv:
        pads = tuple(
            (d * (k - 1) - pb, d * (k - 1) - pa + op)
            for d, k, (pb, pa), op in zip(
                self.dilation, self.kernel_size, self.padding, self.output_padding, strict=True
            )
        )
        return EquivalentConv(
            zeros_between=tuple(s - 1 for s in self.stride),
            upsampled_size=tuple((i - 1) * s + 1 for i, s in zip(self.in_size, self.stride, strict=True)),
            pad=pads,
            kernel_dilation=self.dilation,
            flip=True,
            stride=(1,) * self.nd,
        )

    # -- what lies outside the full output: negative padding and the padding modes ------------------------------
    @functools.cached_property
    def full_plan(self) -> Plan:
        """This plan without any crop: padding 0, output_padding 0, ``out_size == full_size``, zeros mode."""
        return dataclasses.replace(
            self,
            padding=((0, 0),) * self.nd,
            output_padding=(0,) * self.nd,
            out_size=self.full_size,
            padding_rule="explicit",
            padding_mode="zeros",
        )

    @functools.cached_property
    def inner(self) -> tuple[Plan | None, tuple[tuple[int, int], ...]]:
        """The part of the output that lies inside the full output, as a plan with non-negative padding, and the
        (before, after) zeros around it; ``(None, ...)`` when the whole output lies outside (all zeros).

        Output position ``o`` is full-output position ``o + pad_before``; anything outside ``[0, full)`` is zero.
        This is how negative padding (JAX, ONNX) is computed by every method.

        >>> from tconv.geometry import make_plan
        >>> p = make_plan((1, 1, 3), (1, 1, 2), padding=((-2, -1),))     # full output 4, 2 zeros before, 1 after
        >>> core, zeros = p.inner
        >>> core.out_size, zeros
        ((4,), ((2, 1),))
        """
        pads, around = [], []
        for (pb, _), n, f in zip(self.padding, self.out_size, self.full_size, strict=True):
            lo, hi = max(pb, 0), min(pb + n, f)
            if hi <= lo:
                return None, tuple((n, 0) for n in self.out_size)
            pads.append((lo, f - hi))
            around.append((lo - pb, pb + n - hi))
        core = dataclasses.replace(
            self,
            padding=tuple(pads),
            output_padding=(0,) * self.nd,
            out_size=tuple(f - a - b for f, (a, b) in zip(self.full_size, pads, strict=True)),
            padding_rule="explicit",
        )
        return core, tuple(around)

    def fold_index(self, dim: int) -> np.ndarray:
        """For a non-"zeros" ``padding_mode``: the output index that each full-output position along ``dim`` adds into.

        Full position ``q`` is position ``q - pad_before`` of the output; outside ``[0, out)`` it folds back the way
        ``F.pad(mode=...)`` read it (wrap-around, mirror without repeating the edge, or clamp), so adding every full
        position into its index is the exact adjoint of padding then convolving.

        >>> from tconv.geometry import make_plan
        >>> make_plan((1, 1, 2), (1, 1, 3), padding=1, padding_mode="circular").fold_index(0)
        array([1, 0, 1, 0])
        >>> make_plan((1, 1, 3), (1, 1, 3), padding=1, padding_mode="reflect").fold_index(0)
        array([1, 0, 1, 2, 1])
        """
        n, i = self.out_size[dim], np.arange(self.full_size[dim]) - self.padding[dim][0]
        if self.padding_mode == "circular":
            return np.mod(i, n)
        if self.padding_mode == "reflect":
            return np.where(i < 0, -i, np.where(i >= n, 2 * (n - 1) - i, i))
        if self.padding_mode == "replicate":
            return np.clip(i, 0, n - 1)
        return np.where((i >= 0) & (i < n), i, -1)

    # -- the index mapping --------------------------------------------------------------------------------------
    def index_map(self, dim: int) -> np.ndarray:
        """Array ``(in_size[dim], kernel_size[dim])`` of the output index each (input, tap) pair reaches; -1 if cropped.

        >>> from tconv.geometry import make_plan
        >>> make_plan((1, 1, 3), (1, 1, 2), stride=2, padding=1).index_map(0)
        array([[-1,  0],
               [ 1,  2],
               [ 3, -1]])
        """
        s, d, pb, out = self.stride[dim], self.dilation[dim], self.padding[dim][0], self.out_size[dim]
        j = np.arange(self.in_size[dim])[:, None]
        t = np.arange(self.kernel_size[dim])[None, :]
        o = j * s + t * d - pb
        return np.where((o >= 0) & (o < out), o, -1)

    def phases(self, dim: int) -> tuple[Phase, ...]:
        """The polyphase split along ``dim``: one :class:`Phase` per output residue modulo the stride.

        There are ``min(stride, out_size)`` of them, most without taps when the stride exceeds the kernel; code that
        computes should iterate :meth:`reached_phases` instead, whose length is bounded by the kernel.
        """
        return self._phases[dim]

    def reached_phases(self, dim: int) -> tuple[Phase, ...]:
        """The phases along ``dim`` that at least one tap reaches (at most ``kernel_size[dim]``), by residue.

        Found from the taps (tap ``t`` lands on residue ``(t * d - pad_before) mod s``), never by scanning the
        ``stride`` residues, so a stride of 2**26 costs what a stride of 2 does.

        >>> from tconv.geometry import make_plan
        >>> p = make_plan((1, 1, 2), (1, 1, 3), stride=2**26)
        >>> [(ph.residue, ph.taps) for ph in p.reached_phases(0)]
        [(0, (0,)), (1, (1,)), (2, (2,))]
        """
        return self._reached_phases[dim]

    @functools.cached_property
    def _reached_phases(self) -> tuple[tuple[Phase, ...], ...]:
        result = []
        for dim in range(self.nd):
            s, d, k = self.stride[dim], self.dilation[dim], self.kernel_size[dim]
            pb, out = self.padding[dim][0], self.out_size[dim]
            by_residue: dict[int, list[int]] = {}
            for t in range(k):
                r = (t * d - pb) % s
                if r < out:
                    by_residue.setdefault(r, []).append(t)
            result.append(
                tuple(
                    Phase(
                        residue=r,
                        count=(out - r + s - 1) // s,
                        taps=tuple(taps),
                        offsets=tuple((r + pb - t * d) // s for t in taps),
                    )
                    for r, taps in sorted(by_residue.items())
                )
            )
        return tuple(result)

    @functools.cached_property
    def _phases(self) -> tuple[tuple[Phase, ...], ...]:
        result = []
        for dim in range(self.nd):
            s, d, k = self.stride[dim], self.dilation[dim], self.kernel_size[dim]
            pb, out = self.padding[dim][0], self.out_size[dim]
            phs = []
            for r in range(min(s, out)):
                count = (out - r + s - 1) // s
                taps = tuple(t for t in range(k) if (r + pb - t * d) % s == 0)
                offsets = tuple((r + pb - t * d) // s for t in taps)
                phs.append(Phase(residue=r, count=count, taps=taps, offsets=offsets))
            result.append(tuple(phs))
        return tuple(result)

    def contributors(self, out_index: Sequence[int]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """All (input index, kernel tap) pairs that reach output position ``out_index`` (spatial only).

        >>> from tconv.geometry import make_plan
        >>> make_plan((1, 1, 3), (1, 1, 3), stride=2).contributors((2,))
        [((0,), (2,)), ((1,), (0,))]
        """
        out_index = _check_index("out_index", out_index, self.out_size)
        per_dim = []
        for dim, o in enumerate(out_index):
            s, d, pb = self.stride[dim], self.dilation[dim], self.padding[dim][0]
            pairs = []
            for t in range(self.kernel_size[dim]):
                num = o + pb - t * d
                if num % s == 0 and 0 <= num // s < self.in_size[dim]:
                    pairs.append((num // s, t))
            per_dim.append(pairs)
        out = []
        for combo in itertools.product(*per_dim):
            out.append((tuple(c[0] for c in combo), tuple(c[1] for c in combo)))
        return sorted(out)

    def reached(self, in_index: Sequence[int]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """All (output index, kernel tap) pairs that input position ``in_index`` reaches (cropped ones omitted)."""
        in_index = _check_index("in_index", in_index, self.in_size)
        per_dim = []
        for dim, j in enumerate(in_index):
            row = self.index_map(dim)[j]
            per_dim.append([(int(o), t) for t, o in enumerate(row) if o >= 0])
        return sorted((tuple(c[0] for c in combo), tuple(c[1] for c in combo)) for combo in itertools.product(*per_dim))

    def overlap_counts(self) -> np.ndarray:
        """How many (input, tap) pairs land on each output position: the transposed convolution of ones."""
        counts = None
        for dim in range(self.nd):
            m = self.index_map(dim)
            c = np.bincount(m[m >= 0].ravel(), minlength=self.out_size[dim])
            counts = c if counts is None else np.multiply.outer(counts, c)
        return np.asarray(counts)

    def iter_pairs(self) -> Iterator[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
        """Every (input index, tap, output index) triple of the mapping, in input-major order."""
        maps = [self.index_map(d) for d in range(self.nd)]
        for j in itertools.product(*(range(i) for i in self.in_size)):
            for t in itertools.product(*(range(k) for k in self.kernel_size)):
                o = tuple(int(maps[d][j[d], t[d]]) for d in range(self.nd))
                if min(o) >= 0:
                    yield j, t, o

    def describe(self) -> str:
        """One line a person can read: sizes and every parameter."""
        return (
            f"ConvTranspose{self.nd}d in={self.in_size} kernel={self.kernel_size} stride={self.stride} "
            f"padding={self.padding} dilation={self.dilation} output_padding={self.output_padding} "
            f"groups={self.groups} -> out={self.out_size}"
        )
