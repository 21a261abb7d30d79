"""Polyphase: ``s^d`` small stride-1 convolutions, one per output phase, and not one multiplication by zero.

Seed 000 §2.3 computes a stride-``s`` transposed convolution by inserting ``s - 1`` zeros between the inputs and
running a stride-1 convolution (the "zero_insert" method). Look at which taps meet a *non-inserted* element: an
output at position ``o`` only ever meets real inputs through the taps ``t`` with ``o + p_before - t * d ≡ 0 (mod s)``
(seed 001's pictures: "输出特征图的第二个节点的生成应该包含且仅包含输入特征图的开始两个节点"). That set depends only on
``o mod s`` — the output's *phase* ``r``. So split the output into its ``s`` phases per dimension; phase ``r`` is

    y[r + m * s] = sum_n  x[m + offsets[n]] * w[taps[n]]

a stride-1 correlation of the *original* input with the sub-kernel ``w[taps]`` (``w[r::s]``-like; with dilation the
taps step by ``s / gcd(s, d)``). ``plan.phases(dim)`` lists the taps and offsets (the geometry lives there). In
``nd`` dimensions the phases combine, ``prod(s)`` sub-convolutions in all, each written into the strided slice
``y[..., r::s, ...]``. A phase that no tap reaches is all zeros (plus bias), and is never visited:
``plan.reached_phases`` lists the others from the taps, so the loop is bounded by the kernel, not by the stride.

Non-finite weights: each phase correlates a zero-extended window of the input, so at the borders a weight meets
padding zeros that the definition does not have; an inf or NaN weight can then give NaN there (0 * inf). Non-finite
*inputs* propagate exactly as the definition says. (``scatter``, ``matrix`` and ``col2im`` are exact for both.)

Each sub-correlation uses ``F.conv{1,2,3}d`` (stride 1); for more than three spatial dimensions the same correlation
is written out as a loop over the sub-kernel's taps, so the method is N-d.

>>> import torch
>>> from tconv.geometry import make_plan
>>> p = make_plan((1, 1, 2), (1, 1, 3), stride=2)
>>> [(ph.residue, ph.taps, ph.offsets) for ph in p.phases(0)]   # even outputs: taps 0, 2; odd outputs: tap 1
[(0, (0, 2), (0, -1)), (1, (1,), (0,))]
>>> polyphase(p, torch.tensor([[[1., 10.]]]), torch.tensor([[[1., 2., 3.]]]), None).flatten().tolist()
[1.0, 2.0, 13.0, 20.0, 30.0]
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from ..geometry import Phase, Plan
from . import CONV_BY_NDIM as _CONV
from .boundary import connect

__all__ = ["polyphase", "sub_correlation"]


def _window(x: torch.Tensor, dim: int, start: int, stop: int) -> torch.Tensor:
    """``x[start:stop]`` along spatial ``dim``, zero-filled where the range runs outside the input."""
    axis = dim + 2
    n = x.shape[axis]
    lo, hi = max(start, 0), min(stop, n)
    if hi <= lo:  # nothing of the input is inside the window
        shape = list(x.shape)
        shape[axis] = stop - start
        return connect(x.new_zeros(shape), x)  # zeros that keep x in the graph (its gradient here is zero)
    part = x.narrow(axis, lo, hi - lo)
    before, after = lo - start, stop - hi
    if before or after:
        pads = [0, 0] * (x.ndim - 1 - axis) + [before, after]
        part = F.pad(part, pads)
    return part


def sub_correlation(x: torch.Tensor, v: torch.Tensor, dilation: tuple[int, ...], groups: int) -> torch.Tensor:
    """Stride-1, unpadded grouped correlation: ``x`` ``(N, C_in, *n)``, ``v`` ``(C_out, C_in/g, *k)``.

    ``F.conv{1,2,3}d`` up to three spatial dimensions; beyond, one channel contraction per tap.

    >>> sub_correlation(torch.tensor([[[1., 2., 3., 4.]]]), torch.tensor([[[1., 10.]]]), (2,), 1).flatten().tolist()
    [31.0, 42.0]
    """
    nd = x.ndim - 2
    if nd in _CONV:
        return _CONV[nd](x, v, None, stride=1, padding=0, dilation=dilation, groups=groups)
    n, c_in = x.shape[:2]
    c_out, k = v.shape[0], v.shape[2:]
    size = tuple(m - d * (kk - 1) for m, d, kk in zip(x.shape[2:], dilation, k, strict=True))
    xg = x.reshape(n, groups, c_in // groups, *x.shape[2:])
    vg = v.reshape(groups, c_out // groups, c_in // groups, *k)
    y = x.new_zeros((n, groups, c_out // groups, *size))
    for tap in itertools.product(*(range(kk) for kk in k)):
        src = (slice(None),) * 3 + tuple(slice(t * d, t * d + m) for t, d, m in zip(tap, dilation, size, strict=True))
        y = y + torch.einsum("ngc...,goc->ngo...", xg[src], vg[(slice(None),) * 3 + tap])
    return y.reshape(n, c_out, *size)


def _phase_geometry(ph: Phase) -> tuple[list[int], int, int]:
    """For one phase along one dimension: the taps in correlation order, the first input offset and the tap step.

    Offsets fall as taps rise, so the correlation reads the taps reversed: ``v[q] = w[taps[-1 - q]]`` meets input
    ``m + offsets[-1] + q * step``.
    """
    taps = list(reversed(ph.taps))
    step = (ph.offsets[0] - ph.offsets[-1]) // (len(ph.taps) - 1) if len(ph.taps) > 1 else 1
    return taps, ph.offsets[-1], step


def polyphase(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Transposed convolution as ``prod(stride)`` stride-1 sub-convolutions, one per output phase (seed 000 §2.3).

    >>> import torch
    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 3), (1, 1, 3), stride=2, padding=1, output_padding=1)
    >>> polyphase(p, torch.ones(1, 1, 3), torch.ones(1, 1, 3), None).flatten().tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0, 1.0]
    """
    n, g = x.shape[0], plan.groups
    cin_g, cout_g = plan.in_channels // g, plan.out_channels // g
    # the weight as a convolution's (C_out, C_in/g, *k): swap the channel axes inside each group (no flip here:
    # the phase's tap order does that)
    wc = (
        w.reshape(g, cin_g, cout_g, *plan.kernel_size)
        .transpose(1, 2)
        .reshape(plan.out_channels, cin_g, *plan.kernel_size)
    )
    y = x.new_zeros((n, plan.out_channels, *plan.out_size))
    # only the phases some tap reaches (at most prod(kernel) of them, however large the stride): the others stay zero
    for combo in itertools.product(*(plan.reached_phases(dim) for dim in range(plan.nd))):
        v, xs, dil = wc, x, []
        for dim, ph in enumerate(combo):
            taps, first, step = _phase_geometry(ph)
            # the sub-kernel along this dimension, in correlation order
            v = v.index_select(dim + 2, torch.tensor(taps, device=w.device))
            # the inputs this phase reads: m + first + q * step for m < count, q < len(taps)
            xs = _window(xs, dim, first, first + ph.count + (len(taps) - 1) * step)
            dil.append(step)
        out = sub_correlation(xs, v, tuple(dil), g)  # (N, C_out, *counts)
        dst = (
            slice(None),
            slice(None),
            *(slice(ph.residue, None, s) for ph, s in zip(combo, plan.stride, strict=True)),
        )
        y[dst] = out
    y = connect(y, x, w)  # no phase reached: an exact 0 that still holds x and w in the graph (as torch's does)
    if b is not None:
        y = y + b.view(1, -1, *([1] * plan.nd))
    return y
