"""Autograd: a transposed convolution *is* the gradient of a convolution with respect to its input.

Seed 000 §2.1 ("转置卷积运算 就是 卷积运算 的反向过程") and seed 001's derivation
``∂L/∂x = Cᵀ ∂L/∂y``: for a convolution ``y = conv(z, w)``, back-propagating a gradient ``g`` through it gives
``∂⟨conv(z, w), g⟩/∂z = Cᵀ g`` — a transposed convolution of ``g`` with the same weight, stride, dilation and groups.
So: make a dummy input ``z`` of the transposed convolution's *output* size, convolve it forward, and ask autograd for
the gradient with ``grad_outputs = x``.

The forward convolution is set up so that its output has exactly the transposed convolution's input size:

- the transposed convolution crops ``p_before`` / ``p_after`` from the "full" output; the convolution sees that as
  zero padding ``p_before`` / ``p_after`` of ``z``;
- ``output_padding`` keeps ``op`` extra positions at the end of the transposed output; the convolution must not read
  them (their gradient is zero), so its after-padding is ``p_after - op`` — negative means those last elements of
  ``z`` are cropped before convolving, which is exactly what a strided convolution does with a remainder that does
  not fill a window.

``create_graph=True`` makes the result differentiable again (w.r.t. ``x`` and ``w``), so this method can sit inside
a model that is trained.

>>> import torch
>>> from tconv.geometry import make_plan
>>> p = make_plan((1, 1, 2), (1, 1, 3), stride=2)
>>> autograd(p, torch.tensor([[[1., 10.]]]), torch.tensor([[[1., 2., 3.]]]), None).flatten().tolist()
[1.0, 2.0, 13.0, 20.0, 30.0]
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from ..geometry import Plan
from . import CONV_BY_NDIM as _CONV
from .zero_insert import pad_or_crop

__all__ = ["autograd"]

_ONEDNN_MAX_STRIDE = 32768


def autograd(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Transposed convolution as ``torch.autograd.grad`` of the forward convolution w.r.t. its input (seed 001).

    >>> import torch
    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 3), (1, 1, 3), stride=2, padding=1, output_padding=1)
    >>> autograd(p, torch.ones(1, 1, 3), torch.ones(1, 1, 3), None).flatten().tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0, 1.0]
    """
    if plan.nd not in _CONV:
        raise ConfigError("method", "autograd", f"supports 1-, 2- and 3-d inputs (got {plan.nd} spatial dims)")
    n = x.shape[0]
    # the forward convolution's padding of z: (p_before, p_after - op) per dimension; negative crops
    pads = tuple((pb, pa - op) for (pb, pa), op in zip(plan.padding, plan.output_padding, strict=True))
    differentiable = torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)
    if torch.is_inference_mode_enabled():
        # autograd records nothing inside inference mode: step out of it for this one gradient, with a normal copy
        # of the weight (the convolution saves it, and inference tensors cannot be saved for backward)
        with torch.inference_mode(False):
            return autograd(plan, x, w.clone(), b)
    if max(plan.stride) > _ONEDNN_MAX_STRIDE and torch.backends.mkldnn.enabled:
        # torch 2.13's oneDNN convolution backward crashes the process (SIGSEGV) for strides of 65535 and more
        # (32768 works); its own slow path is fine
        torch.backends.mkldnn.enabled = False
        try:
            return autograd(plan, x, w, b)
        finally:
            torch.backends.mkldnn.enabled = True
    with torch.enable_grad():
        z = x.new_zeros((n, plan.out_channels, *plan.out_size), requires_grad=True)
        # conv weight (C_out_conv, C_in_conv/g, *k) = (C_in, C_out/g, *k): the transposed conv's weight as stored
        y_conv = _CONV[plan.nd](
            pad_or_crop(z, pads), w, None, stride=plan.stride, padding=0, dilation=plan.dilation, groups=plan.groups
        )
        if tuple(y_conv.shape[2:]) != plan.in_size:  # the plan's equivalent conv must give back the input size
            raise RuntimeError(f"tconv internal error: conv gave {tuple(y_conv.shape)} for {plan.describe()}")
        (y,) = torch.autograd.grad(y_conv, z, grad_outputs=x, create_graph=differentiable)
    if b is not None:
        y = y + b.view(1, -1, *([1] * plan.nd))
    return y
