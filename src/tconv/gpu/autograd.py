"""Autograd for the Triton forward: the backward of a transposed convolution is made of convolutions.

For ``y = conv_transpose(x, w)`` along one dimension, ``y[j * s + t * d - pad_before] += x[j] * w[t]``. Pad the
output gradient with ``pad_before`` zeros in front (``gy_p[q] = gy[q - pad_before]``) and crop or pad its end to the
full length ``(in - 1) * s + d * (k - 1) + 1``; then

* the input gradient ``gx[j] = sum_t gy_p[j * s + t * d] * w[t]`` is an ordinary strided, dilated convolution of
  ``gy_p`` with the same weight (seed 000: a transposed convolution is the backward pass of a convolution, and the
  other way round);
* the weight gradient ``gw[t] = sum_j x[j] * gy_p[j * s + t * d]`` is that convolution's weight gradient, with ``x``
  playing the output gradient: a GEMM, done by torch;
* the bias gradient is ``gy`` summed over the batch and every position.

These are torch's own convolutions (cuDNN on a GPU), so the backward is differentiable again (double backward works).

>>> import torch, tconv
>>> from tconv.ops.native import native
>>> p = tconv.make_plan((1, 2, 4), (2, 3, 3), stride=2, padding=1)
>>> x = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
>>> w = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
>>> torch.autograd.gradcheck(lambda x, w: conv_transpose_autograd(p, x, w, None, forward=native), (x, w))
True
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..geometry import Plan
from ..ops import CONV_BY_NDIM as _CONV

__all__ = ["conv_transpose_autograd", "input_grad", "weight_grad", "padded_grad"]

Forward = Callable[[Plan, torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]

_CONV_WEIGHT = {1: torch.nn.grad.conv1d_weight, 2: torch.nn.grad.conv2d_weight, 3: torch.nn.grad.conv3d_weight}


def padded_grad(plan: Plan, gy: torch.Tensor) -> torch.Tensor:
    """``gy`` with ``pad_before`` zeros in front and its end cropped/padded to the full length, in every dimension."""
    pads: list[int] = []
    for (pb, pa), op in zip(reversed(plan.padding), reversed(plan.output_padding), strict=True):
        pads += [pb, pa - op]  # F.pad lists the last dimension first; a negative amount crops
    return F.pad(gy, pads)


def input_grad(plan: Plan, gy: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The gradient with respect to the input: a convolution of the padded output gradient with ``w``."""
    return _CONV[plan.nd](padded_grad(plan, gy), w, None, plan.stride, 0, plan.dilation, plan.groups)


def weight_grad(plan: Plan, gy: torch.Tensor, x: torch.Tensor, weight_shape: tuple[int, ...]) -> torch.Tensor:
    """The gradient with respect to the weight: the weight gradient of that convolution, ``x`` as its output grad."""
    return _CONV_WEIGHT[plan.nd](padded_grad(plan, gy), weight_shape, x, plan.stride, 0, plan.dilation, plan.groups)


class _ConvTransposeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, plan, forward):  # type: ignore[override]
        ctx.save_for_backward(x, w)
        ctx.plan = plan
        ctx.has_bias = b is not None
        return forward(plan, x, w, b)

    @staticmethod
    def backward(ctx, gy):  # type: ignore[override]
        x, w = ctx.saved_tensors
        plan: Plan = ctx.plan
        gy = gy.to(x.dtype)
        gx = input_grad(plan, gy, w) if ctx.needs_input_grad[0] else None
        gw = weight_grad(plan, gy, x, tuple(w.shape)) if ctx.needs_input_grad[1] else None
        gb = None
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = gy.sum(dim=(0, *range(2, gy.dim())))
        return gx, gw, gb, None, None


def conv_transpose_autograd(
    plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, *, forward: Forward
) -> torch.Tensor:
    """``forward(plan, x, w, b)`` made differentiable with the convolution backward above.

    ``forward`` is the Triton kernel in :func:`tconv.gpu.triton_method`; any formulation with the same result
    works, which is how the backward is tested on machines without Triton.
    """
    return _ConvTransposeFn.apply(x, w, b, plan, forward)
