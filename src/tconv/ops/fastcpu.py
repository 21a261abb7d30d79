"""CPU fast paths used by "auto" (measured in ``bench/run.py``; numbers in ``docs/benchmarks.md``).

Two cases beat PyTorch's CPU ``conv_transpose`` by a wide margin:

* **Windows that never overlap** (``kernel <= stride`` and dilation 1, e.g. U-Net's k2 s2 and 3-D k2 s2): every
  output element receives at most one (input, tap) pair, so the whole operator is ONE matrix product
  ``Z = Wᵀ · X`` — ``(C_out · prod(k), C_in) @ (C_in, prod(in))`` per image, straight on the NCHW input, no copy —
  followed by one pass that moves each tap's plane to its place in the output (``depth-to-space``) and adds the bias
  at the same time. There is no col2im accumulation and no multiplication by an inserted zero. Where
  ``kernel < stride`` the gaps are filled with the bias (or zero).

* **Overlapping windows, large 2-D/3-D layers** (SD's k3 s2): torch's own operator on a channels-last copy of the
  input, where oneDNN is fastest, returned in the usual contiguous layout. Layers with very few output channels
  (an RGB output layer) go through col2im; 1-D and small layers stay on torch (see :func:`choose_cpu`).

>>> import torch, tconv
>>> x, w = torch.randn(2, 8, 5, 5), torch.randn(8, 4, 2, 2)
>>> from tconv.geometry import make_plan
>>> p = make_plan(x.shape, w.shape, stride=2)
>>> torch.allclose(no_overlap_gemm(p, x, w, None), torch.nn.functional.conv_transpose2d(x, w, stride=2), atol=1e-5)
True
"""

from __future__ import annotations

import math

import torch

from ..geometry import Plan

__all__ = ["no_overlap_gemm", "gemm_applies", "channels_last_native", "choose_cpu"]


def gemm_applies(plan: Plan) -> bool:
    """True when no two (input, tap) pairs share an output element and the crop stays inside ``in * stride``."""
    if any(d != 1 for d in plan.dilation) or any(k > s for k, s in zip(plan.kernel_size, plan.stride, strict=True)):
        return False
    # the output window [pad_before, pad_before + out) must lie inside the block grid [0, in * stride)
    return all(
        pb + n <= i * s for (pb, _), n, i, s in zip(plan.padding, plan.out_size, plan.in_size, plan.stride, strict=True)
    )


def no_overlap_gemm(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Transposed convolution with non-overlapping windows as one GEMM plus one depth-to-space pass.

    Output element ``o = j * s + t`` (per dimension) is exactly ``sum_ci x[ci, j] * w[ci, co, t]``: entry
    ``(co, t, j)`` of ``Z = Wᵀ · X``. Writing ``Z`` as ``(N, C_out, *k, *in)`` and interleaving each ``in`` axis
    with its ``k`` axis gives the output blocks ``(N, C_out, in_0, s_0, in_1, s_1, ...)``.
    """
    nd, g, n = plan.nd, plan.groups, x.shape[0]
    cin_g, cout_g = plan.in_channels // g, plan.out_channels // g
    k, s, i = plan.kernel_size, plan.stride, plan.in_size
    kk, ii = math.prod(k), math.prod(i)
    # Wᵀ per group: (g, C_out/g * prod(k), C_in/g); X per group: (N, g, C_in/g, prod(in))
    wt = w.reshape(g, cin_g, cout_g * kk).transpose(1, 2)
    xs = x.reshape(n, g, cin_g, ii)
    z = torch.matmul(wt, xs)  # (N, g, C_out/g * prod(k), prod(in))
    z = z.reshape(n, plan.out_channels, *k, *i)
    # (N, C, k0, k1, ..., i0, i1, ...) -> (N, C, i0, k0, i1, k1, ...)
    order = [0, 1] + [a for d in range(nd) for a in (2 + nd + d, 2 + d)]
    zp = z.permute(order)
    blocks = (n, plan.out_channels, *[v for d in range(nd) for v in (i[d], s[d])])
    bias = None if b is None else b.view(1, -1, *([1] * (2 * nd)))
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, w, b))
    if needs_grad:  # out= and in-place writes don't record gradients: the same arithmetic, out of place
        y = zp.contiguous()
        if tuple(k) != tuple(s):
            pads = [v for d in reversed(range(nd)) for v in (0, s[d] - k[d], 0, 0)]
            y = torch.nn.functional.pad(y, pads)
        if bias is not None:
            y = y + bias
    elif tuple(k) == tuple(s):
        y = torch.empty(blocks, dtype=x.dtype, device=x.device)
        if bias is None:
            y.copy_(zp)
        else:
            torch.add(zp, bias, out=y)
    else:  # kernel < stride somewhere: the rest of each block holds only the bias
        y = torch.zeros(blocks, dtype=x.dtype, device=x.device) if bias is None else bias.expand(blocks).clone()
        dst = (slice(None), slice(None)) + tuple(sl for d in range(nd) for sl in (slice(None), slice(0, k[d])))
        y[dst] += zp
    y = y.reshape(n, plan.out_channels, *(i[d] * s[d] for d in range(nd)))
    if any(pb != 0 or out != ii_ * ss for (pb, _), out, ii_, ss in zip(plan.padding, plan.out_size, i, s, strict=True)):
        crop = (slice(None), slice(None)) + tuple(
            slice(pb, pb + out) for (pb, _), out in zip(plan.padding, plan.out_size, strict=True)
        )
        y = y[crop].contiguous()
    return y


def channels_last_native(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """torch's operator on a channels-last copy of the input (oneDNN's fast layout), returned contiguous (NCHW).

    On CPU, oneDNN's transposed convolution runs much faster on channels-last data; the two layout copies cost less
    than they save on large layers.
    """
    from .native import native  # noqa: PLC0415

    fmt = {2: torch.channels_last, 3: torch.channels_last_3d}[plan.nd]
    return native(plan, x.contiguous(memory_format=fmt), w, b).contiguous()


def choose_cpu(plan: Plan) -> str:
    """The CPU path "auto" takes, from the measurements in docs/benchmarks.md.

    - non-overlapping windows: one GEMM + depth-to-space ("gemm");
    - 1-D overlapping: torch (polyphase measured 0.92x torch on HiFi-GAN's k16 s8 layer on an idle machine);
    - 2-D/3-D with very few output channels (e.g. an RGB output layer): col2im;
    - other 2-D/3-D: torch on channels-last data ("torch_cl"), torch itself for tiny problems or grouped layers.
    """
    if gemm_applies(plan):
        return "gemm"
    if plan.nd > 3:
        return "polyphase"
    if plan.nd == 1:
        return "torch"
    if plan.out_channels // plan.groups <= 4 and plan.groups == 1:
        return "col2im"
    if plan.groups == 1 and math.prod(plan.out_size) * plan.out_channels * (plan.batch or 1) >= 1 << 20:
        return "torch_cl"
    return "torch"
