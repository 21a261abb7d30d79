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
  (an RGB output layer) become ONE stride-1 convolution with ``C_out * prod(s)`` channels, every output phase at
  once, then a depth-to-space (:func:`subpixel`); 1-D and small layers stay on torch (see :func:`choose_cpu`).

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
from . import CONV_BY_NDIM

_CHANNELS_LAST = {2: torch.channels_last, 3: torch.channels_last_3d}

__all__ = ["no_overlap_gemm", "gemm_applies", "channels_last_native", "subpixel", "subpixel_weight", "choose_cpu"]


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

    return native(plan, x.contiguous(memory_format=_CHANNELS_LAST[plan.nd]), w, b).contiguous()


def subpixel_weight(plan: Plan, w: torch.Tensor) -> torch.Tensor:
    """The weight of the one stride-1 convolution that computes all ``prod(s)`` output phases at once.

    Tap ``t = m * s + r`` of the transposed kernel (padded with zeros to ``M * s`` taps, ``M = ceil(k / s)``) serves
    phase ``r`` at lag ``m``; as a correlation the lag is flipped. Output channel ``(co, r_0, r_1, ...)`` of the
    result, in that order (group-major, as grouped convolutions want), holds phase ``r`` of channel ``co``:
    shape ``(C_out * prod(s), C_in / groups, *M)``.
    """
    nd, g = plan.nd, plan.groups
    k, s = plan.kernel_size, plan.stride
    cin_g, cout_g = plan.in_channels // g, plan.out_channels // g
    m = [-(-kk // ss) for kk, ss in zip(k, s, strict=True)]
    pads = [v for d in reversed(range(nd)) for v in (0, m[d] * s[d] - k[d])]
    wp = torch.nn.functional.pad(w, pads) if any(pads) else w
    wp = wp.reshape(g, cin_g, cout_g, *[v for d in range(nd) for v in (m[d], s[d])]).flip(
        [3 + 2 * d for d in range(nd)]
    )
    order = [0, 2, *[4 + 2 * d for d in range(nd)], 1, *[3 + 2 * d for d in range(nd)]]
    return wp.permute(order).reshape(plan.out_channels * math.prod(s), cin_g, *m)


def subpixel(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Transposed convolution as ONE stride-1 convolution with ``C_out * prod(s)`` channels + depth-to-space.

    The polyphase identity (``tconv.ops.polyphase``) with every phase stacked along the channels: output position
    ``f = q * s + r`` of the uncropped result is ``sum_m x[q - m] * w[m * s + r]``, a correlation of the input with
    the phase-``r`` sub-kernel. All sub-kernels are padded to ``M = ceil(k / s)`` taps so that they share one
    convolution (a layer with ``k`` a multiple of ``s`` wastes nothing; AlexNet's k11 s4 does 19% more products).
    Only the blocks ``q`` that meet the cropped output are computed; the convolution runs on channels-last data
    (oneDNN's fastest layout), and one permuting copy interleaves the phases (the depth-to-space), a second one
    only where the output starts or ends inside a block. Dilation must be 1.

    >>> import torch
    >>> from tconv.geometry import make_plan
    >>> x, w = torch.randn(2, 8, 5, 5), torch.randn(8, 3, 11, 11)
    >>> p = make_plan(x.shape, w.shape, stride=4, padding=2)
    >>> ref = torch.nn.functional.conv_transpose2d(x, w, stride=4, padding=2)
    >>> torch.allclose(subpixel(p, x, w, None), ref, atol=1e-4)
    True
    """
    nd, n_img = plan.nd, x.shape[0]
    s, n, out = plan.stride, plan.in_size, plan.out_size
    if any(d != 1 for d in plan.dilation):
        raise ValueError("subpixel needs dilation 1")
    m = [-(-kk // ss) for kk, ss in zip(plan.kernel_size, s, strict=True)]
    phases = math.prod(s)
    v = subpixel_weight(plan, w)
    bias = None if b is None else b.repeat_interleave(phases)
    # blocks q0 <= q < q1 meet the output [pad_before, pad_before + out); the input is padded by L before, R after
    q0 = [pb // ss for (pb, _), ss in zip(plan.padding, s, strict=True)]
    q1 = [-(-(pb + o) // ss) for (pb, _), o, ss in zip(plan.padding, out, s, strict=True)]
    lo = [mm - 1 - q for mm, q in zip(m, q0, strict=True)]
    hi = [q - nn for q, nn in zip(q1, n, strict=True)]
    if any(max(-a, 0) + max(-e, 0) >= nn for a, e, nn in zip(lo, hi, n, strict=True)):
        # the output lies wholly in the output_padding margin: no input reaches it, only the bias. (Empty sums keep
        # the result connected to the graph, with zero gradients.)
        y = x.new_zeros((n_img, plan.out_channels, *out)) + x.flatten()[:0].sum() + w.flatten()[:0].sum()
        return y if b is None else y + b.view(1, -1, *([1] * nd))
    # negative padding is a crop of the input (a view); positive padding goes to the convolution (symmetric) and
    # the surplus block is skipped below
    for d in range(nd):
        a, e = max(-lo[d], 0), max(-hi[d], 0)
        if a or e:
            x = x.narrow(d + 2, a, x.shape[d + 2] - a - e)
            lo[d], hi[d] = max(lo[d], 0), max(hi[d], 0)
    conv_pad = [max(a, e) for a, e in zip(lo, hi, strict=True)]
    if nd in _CHANNELS_LAST:
        x = x.contiguous(memory_format=_CHANNELS_LAST[nd])
    z = CONV_BY_NDIM[nd](x, v, bias, padding=conv_pad, groups=plan.groups)  # (N, C_out * prod(s), *Q)
    # blocks q0 .. q1 - 1 of every phase, then (N, C, *s, *Q) -> (N, C, Q_0, s_0, Q_1, s_1, ...): ONE copy that
    # reads the channels-last result in order, and a crop of the first (pad_before - q0 * s) positions
    z = z.view(n_img, plan.out_channels, *s, *z.shape[2:])
    for d in range(nd):
        z = z.narrow(2 + nd + d, conv_pad[d] - lo[d], q1[d] - q0[d])
    order = [0, 1, *[a for d in range(nd) for a in (2 + nd + d, 2 + d)]]
    y = z.permute(order).reshape(n_img, plan.out_channels, *((q1[d] - q0[d]) * s[d] for d in range(nd)))
    first = [pb - q * ss for (pb, _), q, ss in zip(plan.padding, q0, s, strict=True)]
    if any(f or y.shape[2 + d] != out[d] for d, f in enumerate(first)):
        y = y[(slice(None), slice(None), *(slice(f, f + o) for f, o in zip(first, out, strict=True)))]
    return y.contiguous()


def choose_cpu(plan: Plan) -> str:
    """The CPU path "auto" takes, from the measurements in docs/benchmarks.md.

    - non-overlapping windows: one GEMM + depth-to-space ("gemm");
    - 1-D overlapping: torch (polyphase measured 0.92x torch on HiFi-GAN's k16 s8 layer on an idle machine);
    - 2-D/3-D with very few output channels (e.g. an RGB output layer): all phases as one convolution
      ("subpixel"), or col2im when that convolution would have fewer than 8 channels;
    - other large strided 2-D/3-D: torch on channels-last data ("torch_cl"); torch itself for small problems,
      stride 1 and grouped layers.
    """
    if gemm_applies(plan):
        return "gemm"
    if plan.nd > 3:
        return "polyphase"
    if plan.nd == 1:
        return "torch"
    if plan.out_channels // plan.groups <= 4 and plan.groups == 1:
        # few output channels: the phases stacked into one convolution, when that convolution has enough channels
        # to keep oneDNN busy (AlexNet's k11 s4 64->3 layer 2.3x torch; a 1-channel k3 s2 layer stays on col2im)
        if all(d == 1 for d in plan.dilation) and plan.out_channels * math.prod(plan.stride) >= 8:
            return "subpixel"
        return "col2im"
    big = math.prod(plan.out_size) * plan.out_channels * (plan.batch or 1) >= 1 << 20
    if plan.groups == 1 and big and all(s > 1 for s in plan.stride):
        # measured idle: 1.06-1.2x on SD's k3 s2 layer, 1.3x on DCGAN 128->64 at N=64; stride-1 layers (ZFNet's
        # mirror, 0.75-0.9x) stay on torch's own layout
        return "torch_cl"
    return "torch"
