"""CPU fast paths that "auto" measures against torch (registered in :mod:`tconv.ops.registry`; ``bench/run.py``).

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
  once, then a depth-to-space (:func:`subpixel`). Which one wins on a layer is measured (:mod:`tconv.ops.autotune`).

>>> import torch, tconv
>>> x, w = torch.randn(2, 8, 5, 5), torch.randn(8, 4, 2, 2)
>>> from tconv.geometry import make_plan
>>> p = make_plan(x.shape, w.shape, stride=2)
>>> torch.allclose(no_overlap_gemm(p, x, w, None), torch.nn.functional.conv_transpose2d(x, w, stride=2), atol=1e-5)
True
"""

from __future__ import annotations

import itertools
import math

import torch

from ..geometry import Plan
from . import CONV_BY_NDIM

_CHANNELS_LAST = {2: torch.channels_last, 3: torch.channels_last_3d}

#: The GEMM route computes ``Z`` for this many slices of the batch in turn (its memory: output + output / chunks).
GEMM_CHUNKS = 4

__all__ = [
    "no_overlap_gemm",
    "gemm_applies",
    "gemm_grad_input",
    "gemm_grad_weight",
    "channels_last_native",
    "subpixel",
    "subpixel_weight",
    "GEMM_CHUNKS",
]


def gemm_applies(plan: Plan) -> bool:
    """True when no two (input, tap) pairs share an output element: ``kernel <= stride`` and dilation 1.

    The crop, and output_padding past the last block, are applied tap by tap, so any padding is fine.
    """
    return all(d == 1 for d in plan.dilation) and all(
        k <= s for k, s in zip(plan.kernel_size, plan.stride, strict=True)
    )


def _gemm_blocks(plan: Plan, n: int) -> tuple[int, ...]:
    """The uncropped block grid ``(N, C_out, in_0, s_0, in_1, s_1, ...)`` that the GEMM route writes into."""
    i, s = plan.in_size, plan.stride
    return (n, plan.out_channels, *[v for d in range(plan.nd) for v in (i[d], s[d])])


def _is_block_grid(plan: Plan) -> bool:
    """Whether the output is exactly the ``in * stride`` block grid with every cell reached: kernel == stride, no crop."""
    return tuple(plan.kernel_size) == tuple(plan.stride) and all(
        pb == 0 and out == i * s
        for (pb, _), out, i, s in zip(plan.padding, plan.out_size, plan.in_size, plan.stride, strict=True)
    )


def _tap_slices(plan: Plan, tap: tuple[int, ...]) -> tuple[tuple[slice, ...], tuple[slice, ...]] | None:
    """Where tap ``t`` of every input lands in the cropped output, ``o = j * s + t - pad_before``, as strided slices
    (destination in the output, source in the input grid); None when the crop removes all of it."""
    dst, src = [], []
    for t, (pb, _), o, i, s in zip(tap, plan.padding, plan.out_size, plan.in_size, plan.stride, strict=True):
        lo = max(0, -(-(pb - t) // s))  # first input j with j * s + t - pb >= 0
        hi = min(i, (o - 1 + pb - t) // s + 1)  # one past the last with j * s + t - pb < o
        if hi <= lo:
            return None
        first = lo * s + t - pb
        dst.append(slice(first, first + (hi - lo - 1) * s + 1, s))
        src.append(slice(lo, hi))
    return tuple(dst), tuple(src)


def _gemm_channels_last(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """The GEMM route on a channels-last input, kernel == stride, one group: no copy of the input at all.

    A channels-last ``x`` is already the matrix ``X`` as ``(N · prod(in), C_in)`` rows, so ``Z = X · W`` is
    ``(N, *in, C_out, *k)``; one permuting copy writes it as the channels-last output ``(N, in0, k0, in1, k1, ...,
    C_out)``, returned with channels-last strides as torch's own operator returns it for such an input.
    """
    nd, n, co = plan.nd, x.shape[0], plan.out_channels
    k, i = plan.kernel_size, plan.in_size
    xm = x.permute(0, *range(2, 2 + nd), 1).reshape(n, math.prod(i), plan.in_channels)  # a view
    wm = w.reshape(plan.in_channels, co * math.prod(k))
    y = torch.empty((n, *plan.out_size, co), dtype=x.dtype, device=x.device)
    blocks = y.view(n, *[v for d in range(nd) for v in (i[d], k[d])], co)
    order = [0, *[a for d in range(nd) for a in (1 + d, 2 + nd + d)], 1 + nd]  # (N, *in, C, *k) -> (N, i0, k0, .., C)
    step = max(1, n // GEMM_CHUNKS)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        z = torch.matmul(xm[lo:hi], wm).view(hi - lo, *i, co, *k).permute(order)
        if b is None:
            blocks[lo:hi].copy_(z)
        else:
            torch.add(z, b, out=blocks[lo:hi])
    return y.permute(0, nd + 1, *range(1, nd + 1))


def _gemm_forward(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """The no-grad arithmetic of :func:`no_overlap_gemm`: GEMMs, each followed by one pass that places its taps."""
    fmt = _CHANNELS_LAST.get(plan.nd)
    if (
        fmt is not None
        and _is_block_grid(plan)
        and plan.groups == 1
        and not x.is_contiguous()
        and x.is_contiguous(memory_format=fmt)
    ):
        return _gemm_channels_last(plan, x, w, b)
    nd, g, n = plan.nd, plan.groups, x.shape[0]
    cin_g, cout_g = plan.in_channels // g, plan.out_channels // g
    k, i = plan.kernel_size, plan.in_size
    kk, ii = math.prod(k), math.prod(i)
    # Wᵀ per group: (g, C_out/g * prod(k), C_in/g); X per group: (N, g, C_in/g, prod(in))
    wt = w.reshape(g, cin_g, cout_g * kk).transpose(1, 2)
    xs = x.reshape(n, g, cin_g, ii)
    exact = _is_block_grid(plan)  # the output IS the block grid, every cell one tap
    if exact:
        y = torch.empty(_gemm_blocks(plan, n), dtype=x.dtype, device=x.device)
    else:  # cells no tap reaches hold the bias (or zero); the crop is applied tap by tap, never as a copy
        shape = (n, plan.out_channels, *plan.out_size)
        y = x.new_zeros(shape) if b is None else b.view(1, -1, *([1] * nd)).expand(shape).clone()
    bias = None if b is None else b.view(1, -1, *([1] * (2 * nd)))
    # (N, C, k0, k1, ..., i0, i1, ...) -> (N, C, i0, k0, i1, k1, ...), a few images at a time so that the GEMM's
    # result Z never needs more than a quarter of the output's memory besides the output itself
    order = [0, 1] + [a for d in range(nd) for a in (2 + nd + d, 2 + d)]
    taps = [(t, _tap_slices(plan, t)) for t in itertools.product(*(range(kd) for kd in k))] if not exact else []
    step = max(1, n // GEMM_CHUNKS)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        z = torch.matmul(wt, xs[lo:hi]).reshape(hi - lo, plan.out_channels, *k, *i)
        if exact:  # ONE permuting copy interleaves the taps (the bias added in the same pass)
            if bias is None:
                y[lo:hi].copy_(z.permute(order))
            else:
                torch.add(z.permute(order), bias, out=y[lo:hi])
        else:  # one strided add per tap
            for tap, where in taps:
                if where is not None:
                    dst, src = where
                    y[(slice(lo, hi), slice(None), *dst)] += z[(slice(None), slice(None), *tap, *src)]
        del z
    return y.reshape(n, plan.out_channels, *plan.out_size)


class _NoOverlapGemm(torch.autograd.Function):
    """The GEMM route with a backward made of GEMMs too (no col2im, no convolution, no zero multiplication).

    With ``Z = Wᵀ X`` (per group) and ``gZ`` the output gradient read back through the depth-to-space (the inverse
    permutation, restricted to the ``k`` taps of each ``s`` block), ``∂L/∂X = W gZ`` and ``∂L/∂W = X gZᵀ`` summed
    over the batch, which is folded into the GEMMs' inner dimension so each is ONE matrix product.
    """

    @staticmethod
    def forward(ctx, x, w, b, plan):  # type: ignore[override]
        ctx.plan = plan
        ctx.has_bias = b is not None
        ctx.save_for_backward(x, w)
        return _gemm_forward(plan, x, w, b)

    @staticmethod
    def backward(ctx, gy):  # type: ignore[override]
        plan: Plan = ctx.plan
        x, w = ctx.saved_tensors
        gz = _gemm_gz(plan, gy, x.shape[0])
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _gemm_gx(plan, gz, x, w)
        if ctx.needs_input_grad[1]:
            gw = _gemm_gw(plan, gz, x, w)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = gy.sum(dim=[0, *range(2, 2 + plan.nd)])
        return gx, gw, gb, None


def _gemm_gz(plan: Plan, gy: torch.Tensor, n: int) -> torch.Tensor:
    """The output gradient read back through the depth-to-space: ``(g, C_out/g * prod(k), N * prod(in))``."""
    nd, g = plan.nd, plan.groups
    cout_g = plan.out_channels // g
    k, i = plan.kernel_size, plan.in_size
    kk, ii = math.prod(k), math.prod(i)
    order = [1, 2, *[4 + 2 * d for d in range(nd)], 0, *[3 + 2 * d for d in range(nd)]]
    if _is_block_grid(plan):  # the output is the block grid: a view
        taps = gy.reshape(n, g, cout_g, *[v for d in range(nd) for v in (i[d], k[d])])
        return taps.permute(order).reshape(g, cout_g * kk, n * ii)  # ONE copy
    # each tap reads back the strided slice of the output it was written to (zero where cropped)
    gz = gy.new_zeros((g, cout_g, *k, n, *i))
    gyg = gy.reshape(n, g, cout_g, *plan.out_size).permute(1, 2, 0, *range(3, 3 + nd))
    for tap in itertools.product(*(range(kd) for kd in k)):
        where = _tap_slices(plan, tap)
        if where is not None:
            dst, src = where
            gz[(slice(None), slice(None), *tap, slice(None), *src)] = gyg[(slice(None),) * 3 + dst]
    return gz.reshape(g, cout_g * kk, n * ii)


def _gemm_gx(plan: Plan, gz: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    g, n = plan.groups, x.shape[0]
    cin_g = plan.in_channels // g
    wg = w.reshape(g, cin_g, -1)
    return torch.matmul(wg, gz).reshape(g, cin_g, n, -1).permute(2, 0, 1, 3).reshape(x.shape)


def _gemm_gw(plan: Plan, gz: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    g, n = plan.groups, x.shape[0]
    cin_g = plan.in_channels // g
    xg = x.reshape(n, g, cin_g, -1).permute(1, 2, 0, 3).reshape(g, cin_g, -1)
    return torch.matmul(xg, gz.transpose(1, 2)).reshape(w.shape)


def gemm_grad_input(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``∂L/∂x`` of the GEMM route (non-overlapping windows): ``W · gZ`` (:mod:`tconv.ops.training`)."""
    return _gemm_gx(plan, _gemm_gz(plan, gy.contiguous(), x.shape[0]), x, w)


def gemm_grad_weight(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``∂L/∂w`` of the GEMM route: ``X · gZᵀ`` with the batch folded into the inner dimension."""
    return _gemm_gw(plan, _gemm_gz(plan, gy.contiguous(), x.shape[0]), x.contiguous(), w)


def no_overlap_gemm(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Transposed convolution with non-overlapping windows as one GEMM plus one depth-to-space pass.

    Output element ``o = j * s + t`` (per dimension) is exactly ``sum_ci x[ci, j] * w[ci, co, t]``: entry
    ``(co, t, j)`` of ``Z = Wᵀ · X``. Writing ``Z`` as ``(N, C_out, *k, *in)`` and interleaving each ``in`` axis
    with its ``k`` axis gives the output blocks ``(N, C_out, in_0, s_0, in_1, s_1, ...)``. Gradients, where
    needed, are GEMMs as well (:class:`_NoOverlapGemm`).
    """
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, w, b)):
        return _NoOverlapGemm.apply(x, w, b, plan)
    return _gemm_forward(plan, x, w, b)


def channels_last_native(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """torch's operator on channels-last data (oneDNN's fast layout), returned in the input's own layout.

    On CPU, oneDNN's transposed convolution runs much faster on channels-last data; the two layout copies cost less
    than they save on large layers. An input that is already channels-last needs neither copy (its result stays
    channels-last, as torch's own would).
    """
    from .native import native  # noqa: PLC0415

    fmt = _CHANNELS_LAST[plan.nd]
    if x.is_contiguous(memory_format=fmt):
        return native(plan, x, w, b)
    return native(plan, x.contiguous(memory_format=fmt), w, b).contiguous()


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
    xc = x.contiguous(memory_format=_CHANNELS_LAST[nd]) if nd in _CHANNELS_LAST else x
    z = CONV_BY_NDIM[nd](xc, v, bias, padding=conv_pad, groups=plan.groups)  # (N, C_out * prod(s), *Q)
    del xc  # each temporary is released as soon as the next one exists: peak ~ two of them, not four
    # blocks q0 .. q1 - 1 of every phase, then (N, C, *s, *Q) -> (N, C, Q_0, s_0, Q_1, s_1, ...): ONE copy that
    # reads the channels-last result in order, and a crop of the first (pad_before - q0 * s) positions
    z = z.view(n_img, plan.out_channels, *s, *z.shape[2:])
    for d in range(nd):
        z = z.narrow(2 + nd + d, conv_pad[d] - lo[d], q1[d] - q0[d])
    order = [0, 1, *[a for d in range(nd) for a in (2 + nd + d, 2 + d)]]
    y = z.permute(order).reshape(n_img, plan.out_channels, *((q1[d] - q0[d]) * s[d] for d in range(nd)))
    del z
    first = [pb - q * ss for (pb, _), q, ss in zip(plan.padding, q0, s, strict=True)]
    if any(f or y.shape[2 + d] != out[d] for d, f in enumerate(first)):
        y = y[(slice(None), slice(None), *(slice(f, f + o) for f, o in zip(first, out, strict=True)))]
    return y.contiguous()
