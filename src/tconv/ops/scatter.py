"""The definition: every input element adds its scaled, dilated kernel into its output window.

Seed 000 §2 ("vector" transposed convolution): input element ``x[j]`` contributes ``x[j] * w[t]`` to output
``o = j * stride + t * dilation - pad_before`` for every tap ``t``; outputs outside ``[0, out_size)`` are cropped
(padding) and ``output_padding`` keeps extra positions at the end. Summing over ``j`` one input at a time would be a
Python loop over every pixel, so the loop below runs over the *taps* instead (there are only ``prod(kernel)``):
for a fixed tap, the inputs that land inside the output form one contiguous range, and their targets one strided
slice of the output, so the whole tap is a single channel contraction added in with strided-slice ``+=``.
Same sum, order of summation swapped.
"""

from __future__ import annotations

import itertools

import torch

from ..geometry import Plan
from .boundary import connect


def _tap_ranges(plan: Plan, dim: int, t: int) -> tuple[slice, slice] | None:
    """For tap ``t`` along ``dim``: the input slice whose targets are in range, and the output slice they hit."""
    s, d, pb = plan.stride[dim], plan.dilation[dim], plan.padding[dim][0]
    n_in, n_out = plan.in_size[dim], plan.out_size[dim]
    shift = t * d - pb  # o = j * s + shift: the mapping spelled out on purpose (teaching form, seed 000 §2)
    j0 = max(0, -(shift // s))  # smallest j with j * s + shift >= 0, i.e. ceil(-shift / s)
    j1 = min(n_in, (n_out - 1 - shift) // s + 1)  # one past the largest j with j * s + shift < n_out
    if j1 <= j0:
        return None
    o0 = j0 * s + shift
    return slice(j0, j1), slice(o0, o0 + (j1 - j0 - 1) * s + 1, s)


def scatter(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Transposed convolution by its definition (scatter-add of scaled kernels).

    >>> import torch
    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 2), (1, 1, 3), stride=2)
    >>> scatter(p, torch.tensor([[[1., 10.]]]), torch.tensor([[[1., 2., 3.]]]), None).flatten().tolist()
    [1.0, 2.0, 13.0, 20.0, 30.0]
    """
    n, g = x.shape[0], plan.groups
    cin_g, cout_g = plan.in_channels // g, plan.out_channels // g
    xg = x.reshape(n, g, cin_g, *plan.in_size)
    wg = w.reshape(g, cin_g, cout_g, *plan.kernel_size)
    y = x.new_zeros((n, g, cout_g, *plan.out_size))
    for tap in itertools.product(*(range(k) for k in plan.kernel_size)):
        ranges = [_tap_ranges(plan, dim, t) for dim, t in enumerate(tap)]
        if any(r is None for r in ranges):
            continue  # this tap only ever lands in the cropped border
        src = (slice(None), slice(None), slice(None), *(r[0] for r in ranges))
        dst = (slice(None), slice(None), slice(None), *(r[1] for r in ranges))
        # (n, g, ci, *sp) x (g, ci, co) -> (n, g, co, *sp): every input in range scaled by this tap's weights
        contrib = torch.einsum("ngc...,gcd->ngd...", xg[src], wg[(slice(None), slice(None), slice(None), *tap)])
        y[dst] = y[dst] + contrib
    y = connect(y, x, w)  # every tap cropped: an exact 0 that still holds x and w in the graph (as torch's does)
    y = y.reshape(n, plan.out_channels, *plan.out_size)
    if b is not None:
        y = y + b.view(1, -1, *([1] * plan.nd))
    return y
