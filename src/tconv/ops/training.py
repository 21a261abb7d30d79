"""Training steps assembled from the fastest part of each: forward, input gradient and weight gradient chosen apart.

A training step of a transposed convolution ``y = ConvT(x, w) + b`` is three computations of about equal cost:

- the **forward**, by any registered route (:mod:`tconv.ops.registry`);
- the **input gradient** ``∂L/∂x``: the *forward* convolution of ``gy`` with the same weight, stride, padding,
  dilation and groups (the transposed operator's adjoint), cropped to the input's size;
- the **weight gradient** ``∂L/∂w``: the correlation of ``x`` with ``gy``, which is also the weight gradient of that
  forward convolution with the roles of input and output swapped;
- and ``∂L/∂b``, the sum of ``gy`` over batch and space.

Both gradients are correlations, so where the forward is fastest as a product of spectra (a large kernel, few
channels: :mod:`tconv.ops.fft`) they are too (the ``fft`` ways).

torch computes all three its own way. Which formulation is fastest differs *per part*: on an RGB output layer the
forward is fastest as col2im but the gradients as torch's own (the VAE 128→3 row of ``docs/benchmarks.md``); on a
depthwise layer the weight gradient on channels-last data won in some runs (1.7x the whole step) and tied in others. "auto" therefore measures the parts apart (:mod:`tconv.ops.autotune`) and runs the best of each through one
:class:`torch.autograd.Function` (:func:`split_step`). Asked for a gradient of the gradient (``create_graph=True``),
the backward recomputes through torch's own operator instead, so higher derivatives stay exact.

>>> import torch
>>> from tconv.geometry import make_plan
>>> x, w = torch.randn(2, 4, 5, 5, requires_grad=True), torch.randn(4, 3, 3, 3, requires_grad=True)
>>> p = make_plan(x.shape, w.shape, stride=2, padding=1, output_padding=1)
>>> y = split_step(p, x, w, None, "torch", "conv", "torch_cl")
>>> gx, gw = torch.autograd.grad(y.square().sum(), (x, w))
>>> y2 = torch.nn.functional.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
>>> rx, rw = torch.autograd.grad(y2.square().sum(), (x, w))
>>> bool(torch.allclose(gx, rx, atol=1e-4) and torch.allclose(gw, rw, atol=1e-4))
True
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..geometry import Plan
from . import CONV_BY_NDIM

__all__ = ["GRAD_INPUT", "GRAD_WEIGHT", "split_applies", "split_step", "grad_input", "grad_weight"]

_CL = {2: torch.channels_last, 3: torch.channels_last_3d}


def split_applies(plan: Plan) -> bool:
    """Where the parts can be chosen apart: torch's dimensions (1-3), torch-style (symmetric) padding."""
    return plan.nd in CONV_BY_NDIM and plan.symmetric_padding is not None and plan.padding_mode == "zeros"


def _like(t: torch.Tensor, ref: torch.Tensor, nd: int) -> torch.Tensor:
    """``t`` in ``ref``'s memory layout (a channels-last input gets a channels-last gradient, as torch gives)."""
    fmt = _CL.get(nd)
    if fmt is not None and not ref.is_contiguous() and ref.is_contiguous(memory_format=fmt):
        return t.contiguous(memory_format=fmt)
    return t.contiguous()


def _usual_layout(t: torch.Tensor, nd: int) -> bool:
    return t.is_contiguous() or (nd in _CL and t.is_contiguous(memory_format=_CL[nd]))


def _cl(t: torch.Tensor, nd: int) -> torch.Tensor:
    return t.contiguous(memory_format=_CL[nd]) if nd in _CL else t


def _aten(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, mask: list[bool]) -> tuple:
    p = plan
    return torch.ops.aten.convolution_backward(
        gy, x, w, None, list(p.stride), list(p.symmetric_padding), list(p.dilation), True, list(p.output_padding),
        p.groups, mask,
    )  # fmt: skip


# ---- the input gradient -----------------------------------------------------------------------------------------
def _gx_torch(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return _aten(plan, gy, x, w, [True, False, False])[0]


def _gx_conv(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, channels_last: bool = False):
    p = plan
    src = _cl(gy, p.nd) if channels_last else gy
    g = CONV_BY_NDIM[p.nd](src, w, None, p.stride, p.symmetric_padding, p.dilation, p.groups)
    # output_padding >= stride (possible with dilation) leaves extra positions at the end: they belong to no input
    if tuple(g.shape[2:]) != tuple(p.in_size):
        g = g[(slice(None), slice(None), *(slice(0, n) for n in p.in_size))]
    return _like(g, x, p.nd)


def _gx_conv_cl(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return _gx_conv(plan, gy, x, w, channels_last=True)


def _gx_gemm(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    from .fastcpu import gemm_grad_input  # noqa: PLC0415

    return gemm_grad_input(plan, gy, x, w)


# ---- the weight gradient ----------------------------------------------------------------------------------------
def _gw_torch(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return _aten(plan, gy, x, w, [False, True, False])[1]


def _gw_torch_cl(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return _aten(plan, _cl(gy, plan.nd), _cl(x, plan.nd), w, [False, True, False])[1].contiguous()


def _gw_conv(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The weight gradient of ``conv(gy, w)`` whose output gradient is ``x``: the same correlation."""
    p = plan
    return torch.ops.aten.convolution_backward(
        x, gy, w, None, list(p.stride), list(p.symmetric_padding), list(p.dilation), False, [0] * p.nd, p.groups,
        [False, True, False],
    )[1]  # fmt: skip


def _gw_gemm(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    from .fastcpu import gemm_grad_weight  # noqa: PLC0415

    return gemm_grad_weight(plan, gy, x, w)


def _gx_fft(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    from .fft import fft_grad_input  # noqa: PLC0415

    return _like(fft_grad_input(plan, gy, x, w), x, plan.nd)


def _gw_fft(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    from .fft import fft_grad_weight  # noqa: PLC0415

    return fft_grad_weight(plan, gy, x, w)


def _fft(plan: Plan) -> bool:
    """Where the FFT's work is well under the direct sum's (large kernels, few channels: :func:`tconv.ops.fft.promising`)."""
    from .fft import promising  # noqa: PLC0415

    return promising(plan)


def _conv_fits(plan: Plan) -> bool:
    """The forward convolution of ``gy`` gives exactly the input's size (output_padding < stride everywhere)."""
    return all(op < s for op, s in zip(plan.output_padding, plan.stride, strict=True))


def _gemm(plan: Plan) -> bool:
    from .fastcpu import gemm_applies  # noqa: PLC0415

    return gemm_applies(plan)


def _always(plan: Plan) -> bool:
    return True


def _nd23(plan: Plan) -> bool:
    return plan.nd in _CL


Part = Callable[[Plan, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

#: name -> (function(plan, gy, x, w), applies(plan)): the ways to compute the input gradient
GRAD_INPUT: dict[str, tuple[Part, Callable[[Plan], bool]]] = {
    "torch": (_gx_torch, _always),
    "conv": (_gx_conv, _always),
    "conv_cl": (_gx_conv_cl, _nd23),
    "gemm": (_gx_gemm, _gemm),
    "fft": (_gx_fft, _fft),
}
#: name -> (function(plan, gy, x, w), applies(plan)): the ways to compute the weight gradient
GRAD_WEIGHT: dict[str, tuple[Part, Callable[[Plan], bool]]] = {
    "torch": (_gw_torch, _always),
    "torch_cl": (_gw_torch_cl, _nd23),
    "conv": (_gw_conv, _conv_fits),
    "gemm": (_gw_gemm, _gemm),
    "fft": (_gw_fft, _fft),
}


def grad_input(name: str, plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``∂L/∂x`` for output gradient ``gy`` by the named way (:data:`GRAD_INPUT`)."""
    return GRAD_INPUT[name][0](plan, gy, x, w)


def grad_weight(name: str, plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``∂L/∂w`` for output gradient ``gy`` by the named way (:data:`GRAD_WEIGHT`)."""
    return GRAD_WEIGHT[name][0](plan, gy, x, w)


def grad_bias(plan: Plan, gy: torch.Tensor) -> torch.Tensor:
    return gy.sum(dim=[0, *range(2, 2 + plan.nd)])


class _Split(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, plan, forward, gx_name, gw_name):  # type: ignore[override]
        ctx.plan, ctx.names, ctx.has_bias = plan, (gx_name, gw_name), b is not None
        ctx.save_for_backward(x, w, b)
        return forward(plan, x, w, b)

    @staticmethod
    def backward(ctx, gy):  # type: ignore[override]
        plan: Plan = ctx.plan
        x, w, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        if (
            torch.is_grad_enabled()
        ):  # create_graph=True: differentiate torch's operator, so that higher derivatives exist
            from .native import native  # noqa: PLC0415

            with torch.enable_grad():  # the saved inputs keep their own graph: second derivatives reach them
                y = native(plan, x, w, b)
                wanted = [t for t, n in zip((x, w, b), need[:3], strict=True) if n and t is not None]
                grads = iter(torch.autograd.grad(y, wanted, gy, create_graph=True))
            out = [next(grads) if n and t is not None else None for t, n in zip((x, w, b), need[:3], strict=True)]
            return (*out, None, None, None, None)
        if not _usual_layout(gy, plan.nd):
            gy = gy.contiguous()
        gx = grad_input(ctx.names[0], plan, gy, x, w) if need[0] else None
        gw = grad_weight(ctx.names[1], plan, gy, x, w) if need[1] else None
        gb = grad_bias(plan, gy) if ctx.has_bias and need[2] else None
        return gx, gw, gb, None, None, None, None


def split_step(
    plan: Plan,
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None,
    forward: str | Callable,
    gx: str,
    gw: str,
) -> torch.Tensor:
    """The forward by route ``forward`` (a registered route's name or a formulation), the gradients by the named
    ways of :data:`GRAD_INPUT` and :data:`GRAD_WEIGHT` (see the module docstring)."""
    if isinstance(forward, str):
        from .registry import get_route  # noqa: PLC0415

        forward = get_route(forward).fn
    return _Split.apply(x, w, b, plan, forward, gx, gw)
