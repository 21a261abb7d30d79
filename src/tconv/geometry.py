"""The plan: the one place where the geometry of a transposed convolution lives.

A transposed convolution is an index mapping. Along each spatial dimension, input element ``j`` reaches output
element ``o`` through kernel tap ``t`` exactly when::

    o = j * stride + t * dilation - pad_before          and   0 <= o < out_size

(seed 000 §2: every input element scatters its scaled, dilated kernel into the output, the first ``pad_before``
outputs are cropped, and ``output_padding`` extra positions are kept at the end). Everything in tconv — the six
formulations, the fast kernels, the pictures, the explorer, receptive fields, the ZFNet mirror network and the
overlap maps — reads that mapping from a :class:`Plan`.

:func:`make_plan` normalizes and validates every parameter (raising :class:`~tconv.errors.ConfigError` before any
work is done) and caches the result, so calling it on every forward pass costs a dictionary look-up::

    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 5), (1, 1, 3), stride=2, padding=1)
    >>> p.out_size                      # (5 - 1) * 2 - 2 * 1 + 1 * (3 - 1) + 0 + 1
    (9,)
    >>> p.equivalent_conv.pad           # seed 001: pad k - p - 1 = 1 on each side after inserting s - 1 zeros
    ((1, 1),)
    >>> [(ph.residue, ph.taps) for ph in p.phases(0)]   # polyphase: even outputs use tap 1, odd ones taps 0 and 2
    [(0, (1,)), (1, (0, 2))]
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from .errors import ConfigError, ConfigTypeError
from .padding import (
    PADDING_MODES,
    PADDING_RULES,
    _check_padding_mode,
    _check_plain_padding,
    _normalize_padding,
    _output_padding_for_size,
    _tf_padding,
)
from .params import (
    MAX_DIM,
    MAX_ELEMENTS,
    _check_index,
    _freeze,
    _is_int,
    check_sizes,
    is_int,
    normalize_tuple,
)

__all__ = [
    "Plan",
    "Phase",
    "EquivalentConv",
    "make_plan",
    "plan_from_sizes",
    "conv_plan",
    "normalize_tuple",
    "check_sizes",
    "PADDING_MODES",
    "PADDING_RULES",
    "is_int",
    "PaddingSpec",
]

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


# ----------------------------------------------------------------------------------------------------------------
# building plans
# ----------------------------------------------------------------------------------------------------------------
def make_plan(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: PaddingSpec = 0,
    output_padding: int | Sequence[int] = 0,
    groups: int = 1,
    dilation: int | Sequence[int] = 1,
    output_size: Sequence[int] | int | None = None,
    padding_mode: str = "zeros",
) -> Plan:
    """Validate a transposed-convolution configuration and return its (cached) :class:`Plan`.

    Shapes follow PyTorch: input ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``; weight
    ``(C_in, C_out / groups, *kernel)``. ``padding`` may be

    - an int or one int per dimension (torch: crop that many from each side of the full output);
    - one ``(before, after)`` pair per dimension; a *negative* amount adds that many zeros outside the full output
      instead (JAX's ``lax.conv_transpose`` / ONNX ``pads`` meaning), which also extends the end beyond what
      ``output_padding < max(stride, dilation)`` allows;
    - ``"same"`` / ``"valid"`` with TensorFlow's ``conv2d_transpose`` semantics, or ``"same_lower"`` (ONNX
      ``SAME_LOWER``: as "same", the odd pixel cropped at the start).

    ``output_size`` picks ``output_padding`` as ``nn.ConvTranspose2d.forward(output_size=...)`` does.
    ``padding_mode`` ("zeros", "circular", "reflect", "replicate") makes the operator the exact adjoint of the
    ``nn.Conv`` with that mode: what the crop would drop folds back by wrap-around, mirror or clamp.

    >>> make_plan((1, 3, 4, 4), (3, 8, 4, 4), stride=2, padding=1).output_shape
    (1, 8, 8, 8)
    >>> make_plan((1, 1, 5), (1, 1, 3), stride=2, padding="same", output_size=(10,)).padding
    ((0, 1),)
    >>> make_plan((1, 1, 3), (1, 1, 3), padding=((-2, 1),)).out_size      # 2 zeros before the full output of 5
    (6,)
    """
    args = (
        _freeze("input", input_shape),
        _freeze("weight", weight_shape),
        _freeze("stride", stride),
        _freeze("padding", padding),
        _freeze("output_padding", output_padding),
        _freeze("groups", groups),
        _freeze("dilation", dilation),
        _freeze("output_size", output_size),
        padding_mode,
    )
    return _make_plan_cached(*args)


@functools.lru_cache(maxsize=8192)
def _make_plan_cached(
    input_shape, weight_shape, stride, padding, output_padding, groups, dilation, output_size, padding_mode
):
    # ---- shapes -------------------------------------------------------------------------------------------
    if not isinstance(weight_shape, tuple) or len(weight_shape) < 3:
        raise ConfigError(
            "weight", weight_shape, "must have shape (C_in, C_out/groups, *kernel) with at least one spatial dim"
        )
    nd = len(weight_shape) - 2
    if not isinstance(input_shape, tuple) or len(input_shape) not in (nd + 1, nd + 2):
        raise ConfigError(
            "input",
            input_shape,
            f"must have {nd + 2} dimensions (N, C_in, *spatial) or {nd + 1} (unbatched) to match a {nd}-d weight "
            f"of shape {weight_shape}",
        )
    if not all(_is_int(v) for v in (*input_shape, *weight_shape)):
        raise ConfigTypeError("input/weight shape", (input_shape, weight_shape), "must contain only ints")
    batch = input_shape[0] if len(input_shape) == nd + 2 else None
    c_in = input_shape[-nd - 1]
    in_size = tuple(input_shape[-nd:])
    kernel = tuple(weight_shape[2:])
    if batch is not None and batch < 0:
        raise ConfigError("input", input_shape, "must have a non-negative batch size")
    if any(v < 1 for v in in_size):
        raise ConfigError("input", input_shape, "must have every spatial size >= 1")
    if any(v < 1 for v in kernel):
        raise ConfigError("kernel_size", kernel, "must be positive in every dimension")
    if weight_shape[1] < 1:
        raise ConfigError("weight", weight_shape, "must have at least one output channel per group (shape[1] >= 1)")
    if weight_shape[0] < 1:
        raise ConfigError("weight", weight_shape, "must have at least one input channel (shape[0] >= 1)")

    # ---- groups and channels -------------------------------------------------------------------------------
    if not _is_int(groups):
        raise ConfigTypeError("groups", groups, "must be an int")
    if groups < 1:
        raise ConfigError("groups", groups, "must be positive")
    if weight_shape[0] % groups != 0:
        raise ConfigError("groups", groups, f"must divide in_channels=weight.shape[0]={weight_shape[0]}")
    if c_in != weight_shape[0]:
        raise ConfigError(
            "input",
            input_shape,
            f"has {c_in} channels but weight.shape[0]={weight_shape[0]} (in_channels) must equal it",
        )
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ConfigError("padding_mode", padding_mode, f"must be one of {PADDING_MODES}")

    # ---- per-dimension parameters --------------------------------------------------------------------------
    stride_t = normalize_tuple("stride", stride, nd)
    dil_t = normalize_tuple("dilation", dilation, nd)
    if any(v < 1 for v in stride_t):
        raise ConfigError("stride", stride_t, "must be positive in every dimension")
    if any(v < 1 for v in dil_t):
        raise ConfigError("dilation", dil_t, "must be positive in every dimension")
    op_t = normalize_tuple("output_padding", output_padding, nd)
    if any(v < 0 for v in op_t):
        raise ConfigError("output_padding", op_t, "must be non-negative in every dimension")
    full = tuple((i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(in_size, stride_t, dil_t, kernel, strict=True))
    size_t = _spatial_output_size(output_size, nd, batch is not None)

    rule = "explicit"
    if isinstance(padding, str):
        rule = padding.lower()
        if rule not in PADDING_RULES:
            raise ConfigError(
                "padding", padding, "must be an int, per-dimension ints or pairs, 'same', 'same_lower' or 'valid'"
            )
        pads, op_t = _tf_padding(rule, in_size, kernel, stride_t, dil_t, full, size_t, op_t)
    else:
        pads = _normalize_padding(padding, nd)
        _check_plain_padding(padding)
        if size_t is not None:
            op_t = _output_padding_for_size(size_t, full, pads, stride_t, output_size)

    limit = tuple(max(s, d) for s, d in zip(stride_t, dil_t, strict=True))
    if any(o >= m for o, m in zip(op_t, limit, strict=True)):
        raise ConfigError(
            "output_padding",
            op_t,
            f"must be smaller than max(stride, dilation)={limit} in every dimension (to add more zeros at the end, "
            "give a negative padding after: padding=((before, -extra), ...))",
        )
    out = tuple(f - pb - pa + o for f, (pb, pa), o in zip(full, pads, op_t, strict=True))
    if any(o < 0 for o in out):
        raise ConfigError(
            "padding",
            padding,
            f"leaves an output of size {out}: every dimension must be >= 0 "
            f"(output = (in - 1) * stride - pad_before - pad_after + dilation * (kernel - 1) + output_padding + 1)",
        )
    if any(o > MAX_DIM for o in out):
        raise ConfigError("input", input_shape, f"gives an absurd output size {out} (limit {MAX_DIM} per dimension)")
    if padding_mode != "zeros":
        _check_padding_mode(padding_mode, pads, out)
    elements = (batch or 1) * weight_shape[1] * groups * math.prod(out)
    if elements > MAX_ELEMENTS:
        raise ConfigError(
            "output_size" if size_t is not None else "input",
            output_size if size_t is not None else input_shape,
            f"gives an absurd output of {elements} elements (shape {out}; limit {MAX_ELEMENTS}), refused before "
            "allocating",
        )
    return Plan(
        nd=nd,
        batch=batch,
        in_channels=c_in,
        out_channels=weight_shape[1] * groups,
        groups=groups,
        in_size=in_size,
        kernel_size=kernel,
        stride=stride_t,
        dilation=dil_t,
        padding=pads,
        output_padding=op_t,
        out_size=out,
        padding_rule=rule,
        padding_mode=padding_mode,
    )


def _spatial_output_size(output_size: Any, nd: int, batched: bool) -> tuple[int, ...] | None:
    """``output_size`` as ``nd`` spatial ints; ``(N, C, *spatial)`` (batched) or ``(C, *spatial)`` allowed, as torch."""
    if output_size is None:
        return None
    osz = (output_size,) if _is_int(output_size) else output_size
    if not isinstance(osz, tuple) or not all(_is_int(v) for v in osz):
        raise ConfigTypeError("output_size", output_size, "must be an int or a sequence of ints")
    lead = 2 if batched else 1
    if len(osz) == nd + lead:
        osz = osz[lead:]
    if len(osz) != nd:
        shape = "(N, C, *spatial)" if batched else "(C, *spatial)"
        raise ConfigError(
            "output_size", output_size, f"must have {nd} spatial entries (or {nd + lead}: {shape} of this input)"
        )
    if any(v < 1 or v > MAX_DIM for v in osz):
        raise ConfigError("output_size", output_size, f"must be between 1 and {MAX_DIM} in every dimension")
    return tuple(int(v) for v in osz)


def plan_from_sizes(
    in_size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: PaddingSpec = 0,
    output_padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    output_size: Sequence[int] | int | None = None,
) -> Plan:
    """A single-channel, unbatched plan from spatial sizes alone (for arithmetic and pictures).

    >>> plan_from_sizes(4, 3).out_size
    (6,)
    >>> plan_from_sizes((5, 7), (3, 3), stride=2, padding=1).out_size
    (9, 13)
    """
    in_t = (in_size,) if _is_int(in_size) else tuple(_freeze("in_size", in_size))
    nd = len(in_t)
    k_t = normalize_tuple("kernel_size", kernel_size, nd)
    return make_plan((1, *in_t), (1, 1, *k_t), stride, padding, output_padding, 1, dilation, output_size)


def conv_plan(
    in_size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] | Sequence[Sequence[int]] = 0,
    dilation: int | Sequence[int] = 1,
) -> Plan:
    """The plan of a *forward convolution* of an input of ``in_size``, seen as its transpose.

    A convolution and its transposed convolution share one index mapping (seed 001: C and Cᵀ). The returned plan's
    ``out_size`` is the convolution's input size and its ``in_size`` the convolution's output size
    ``floor((n + pb + pa - d(k-1) - 1) / s) + 1``; ``output_padding`` is whatever restores ``n`` exactly.

    >>> p = conv_plan(5, 3, stride=2)      # seed 001: i=5, k=3, s=2, p=0 -> o=2
    >>> p.in_size, p.out_size, p.output_padding
    ((2,), (5,), (0,))
    >>> conv_plan(6, 3, stride=2).output_padding      # 6 and 5 both convolve to 2: the transpose needs op=1
    (1,)
    """
    n_t = (in_size,) if _is_int(in_size) else tuple(_freeze("in_size", in_size))
    nd = len(n_t)
    if not nd or not all(_is_int(v) for v in n_t):
        raise ConfigTypeError("in_size", in_size, "must be an int or a sequence of ints")
    if any(v > MAX_DIM for v in n_t):  # absurd: say so about in_size, not about the plan's output_size
        check_sizes("in_size", n_t)
    k_t = normalize_tuple("kernel_size", kernel_size, nd)
    s_t = normalize_tuple("stride", stride, nd)
    d_t = normalize_tuple("dilation", dilation, nd)
    if any(v < 1 for v in s_t):
        raise ConfigError("stride", s_t, "must be positive in every dimension")
    if any(v < 1 for v in d_t):
        raise ConfigError("dilation", d_t, "must be positive in every dimension")
    if any(v < 1 for v in k_t):
        raise ConfigError("kernel_size", k_t, "must be positive in every dimension")
    pads = _normalize_padding(_freeze("padding", padding), nd)
    if any(p < 0 for pair in pads for p in pair):
        raise ConfigError("padding", padding, "must be non-negative in every dimension")
    outs = []
    for n, k, s, d, (pb, pa) in zip(n_t, k_t, s_t, d_t, pads, strict=True):
        span = n + pb + pa - d * (k - 1) - 1
        if span < 0:
            raise ConfigError(
                "kernel_size",
                k_t,
                f"with dilation {d_t} spans more than the padded input {n + pb + pa}: the convolution has no output",
            )
        outs.append(span // s + 1)
    return make_plan((1, *outs), (1, 1, *k_t), s_t, pads, 0, 1, d_t, n_t)
