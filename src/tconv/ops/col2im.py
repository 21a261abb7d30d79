"""col2im: one matrix product makes every scaled kernel copy at once, then they are added into place.

Seed 000 §2.1 places the "transpose" in im2col + GEMM (formula 1.2): a convolution unfolds its input into columns
(im2col) and multiplies by the weight matrix ``W``; its transpose multiplies by ``Wᵀ`` and folds the columns back
(col2im). In two steps:

1. **GEMM** — ``columns = Wᵀ · X``. Per group, ``W`` is ``(C_in/g, C_out/g · prod(k))`` and ``X`` is the input as
   ``(C_in/g, prod(in_size))``; column ``j`` of the result holds input element ``j``'s contribution to every
   (output channel, tap): the scaled kernel that the definition scatters (the "scatter" method), for all inputs at
   once.
2. **fold** (col2im) — add each column's taps into the output positions they reach,
   ``o = j * stride + t * dilation`` in the *full* (uncropped) output, where overlapping windows sum.
   Then crop ``p_before`` at the start and keep ``out_size`` elements (``output_padding`` beyond the full size are
   zeros). For 2-D this is ``F.fold``; for any other dimensionality the loop below runs over the taps, each one a
   strided-slice ``+=`` (never ``index_add`` per element).

>>> import torch
>>> from tconv.geometry import make_plan
>>> p = make_plan((1, 1, 2), (1, 1, 3), stride=2)
>>> col2im(p, torch.tensor([[[1., 10.]]]), torch.tensor([[[1., 2., 3.]]]), None).flatten().tolist()
[1.0, 2.0, 13.0, 20.0, 30.0]
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F

from ..geometry import Plan

__all__ = ["col2im", "fold"]


def fold(
    columns: torch.Tensor,
    in_size: tuple[int, ...],
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> torch.Tensor:
    """col2im into the full output: ``columns`` ``(N, C, prod(k), prod(in))`` -> ``(N, C, *full_size)``.

    Column entry ``(t, j)`` is added at ``o = j * stride + t * dilation`` (per dimension).

    >>> cols = torch.ones(1, 1, 2, 3)                        # k = 2 taps, 3 inputs, stride 2
    >>> fold(cols, (3,), (2,), (2,), (1,)).flatten().tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    >>> fold(cols, (3,), (2,), (1,), (1,)).flatten().tolist()   # stride 1: windows overlap and sum
    [1.0, 2.0, 2.0, 1.0]
    """
    n, c = columns.shape[:2]
    # the full size spelled out on purpose (teaching form; Plan.full_size is the same number)
    full = tuple(
        (i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(in_size, stride, dilation, kernel_size, strict=True)
    )
    if len(in_size) == 2:
        # torch's own col2im: (N, C * prod(k), L) with channels major, taps minor
        return F.fold(
            columns.reshape(n, c * math.prod(kernel_size), math.prod(in_size)),
            output_size=full,
            kernel_size=kernel_size,
            dilation=dilation,
            stride=stride,
        )
    cols = columns.reshape(n, c, *kernel_size, *in_size)
    out = columns.new_zeros((n, c, *full))
    for tap in itertools.product(*(range(k) for k in kernel_size)):
        # tap t of every input j lands at t * d + j * s: one strided slice of the full output
        dst = (slice(None), slice(None)) + tuple(
            slice(t * d, t * d + (i - 1) * s + 1, s) for t, d, i, s in zip(tap, dilation, in_size, stride, strict=True)
        )
        out[dst] = out[dst] + cols[(slice(None), slice(None), *tap)]
    return out


def col2im(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Transposed convolution as one GEMM (``Wᵀ · X``) followed by col2im (seed 000 §2.1, formula 1.2).

    >>> import torch
    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 3), (1, 1, 3), stride=2, padding=1, output_padding=1)
    >>> col2im(p, torch.ones(1, 1, 3), torch.ones(1, 1, 3), None).flatten().tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0, 1.0]
    """
    n, g = x.shape[0], plan.groups
    cin_g, cout_g = plan.in_channels // g, plan.out_channels // g
    taps, pixels = math.prod(plan.kernel_size), math.prod(plan.in_size)
    # step 1, the GEMM: (g, C_out/g * taps, C_in/g) @ (N, g, C_in/g, pixels) -> (N, g, C_out/g * taps, pixels)
    w_t = w.reshape(g, cin_g, cout_g * taps).transpose(1, 2)
    columns = torch.matmul(w_t, x.reshape(n, g, cin_g, pixels))
    # step 2, col2im into the full output, then crop the padding and keep out_size (zeros past the full size)
    full = fold(
        columns.reshape(n, plan.out_channels, taps, pixels), plan.in_size, plan.kernel_size, plan.stride, plan.dilation
    )
    y = _crop(full, plan.pad_before, plan.out_size)
    if b is not None:
        y = y + b.view(1, -1, *([1] * plan.nd))
    return y


def _crop(full: torch.Tensor, start: tuple[int, ...], size: tuple[int, ...]) -> torch.Tensor:
    """``full[..., start : start + size]`` per spatial dimension, zero-filled where it runs past the end."""
    have = full.shape[2:]
    keep = tuple(max(0, min(n, h - s)) for s, n, h in zip(start, size, have, strict=True))
    y = full[(slice(None), slice(None), *(slice(s, s + k) for s, k in zip(start, keep, strict=True)))]
    if keep != tuple(size):
        pads: list[int] = []
        for k, n in zip(reversed(keep), reversed(size), strict=True):
            pads += [0, n - k]
        y = F.pad(y, pads)
    return y
