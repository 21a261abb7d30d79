"""Transposed convolution through the FFT: the full output is a linear convolution, a product of spectra.

Per spatial dimension, the uncropped transposed convolution is the *linear convolution* of the zero-inserted input
(length ``(n - 1) * s + 1``) with the dilated kernel (length ``d * (k - 1) + 1``): seed 000 §2.3's picture with the
kernel not flipped, because the transposed operator scatters where the forward one gathers. Its length is the full
output ``(n - 1) * s + d * (k - 1) + 1``, so with transforms at least that long nothing wraps around, and

    Y[n, co] = sum_ci  X[n, ci] * W[ci, co]        (spectra, elementwise)

followed by the crop (``padding``) and zeros past the full output (``output_padding``). The cost grows with the
output's area times its logarithm, not with the kernel's area: on a 400² image with a 64x64 kernel it is two orders
of magnitude faster than the direct sum (torch's operator), a training step too (``docs/benchmarks.md`` has the
measured ratios, idle AMD EPYC, 2 threads). It loses wherever the kernel is small or
there are many channels, so "auto" only measures it where :func:`promising` says the transform's work is well under
the direct sum's. Both gradients are correlations and go the same way (:func:`fft_grad_input`,
:func:`fft_grad_weight`).

Rounding: every output carries an error relative to the *largest* output (~1e-7 in float32, ~1e-16 in float64),
not relative to itself as a direct sum's does. Half-precision inputs are transformed in float32 (CPU FFTs have no
float16) and the result is cast back. A NaN or inf anywhere spreads over the whole output (``nonfinite_exact`` is
False: "auto" checks the input and takes an exact route for such inputs).

>>> import torch
>>> from tconv.geometry import make_plan
>>> x, w = torch.randn(2, 3, 9, 9, dtype=torch.float64), torch.randn(3, 2, 5, 5, dtype=torch.float64)
>>> p = make_plan(x.shape, w.shape, stride=2, padding=1, output_padding=1)
>>> ref = torch.nn.functional.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
>>> float((fft(p, x, w, None) - ref).abs().max()) < 1e-12
True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..geometry import Plan

__all__ = ["fft", "fft_grad_input", "fft_grad_weight", "promising", "fft_sizes", "work"]


def _smooth(n: int) -> int:
    """The smallest 2-3-5-smooth number >= n (sizes pocketfft transforms fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            v = p35
            while v < n:
                v *= 2
            best = min(best, v)
            p35 *= 3
        p5 *= 5
    return best


def fft_sizes(plan: Plan) -> tuple[int, ...]:
    """The transform length per dimension: the full output length rounded up to a 2-3-5-smooth size.

    >>> from tconv.geometry import make_plan
    >>> fft_sizes(make_plan((1, 1, 400, 400), (1, 1, 64, 64)))
    (480, 480)
    """
    return tuple(_smooth(f) for f in plan.full_size)


def work(plan: Plan) -> tuple[float, float]:
    """(the FFT route's flops, the direct sum's flops), roughly: transforms ~2.5 n log2 n each, products 8 per
    complex multiply-add over half the spectrum."""
    n, cin, cout, g = plan.batch or 1, plan.in_channels, plan.out_channels, plan.groups
    size = math.prod(fft_sizes(plan))
    transforms = (n * cin + cin * cout // g + n * cout) * 2.5 * size * math.log2(max(size, 2))
    products = 8 * n * cin * (cout // g) * size / 2
    return transforms + products, float(plan.flops)


def promising(plan: Plan) -> bool:
    """Whether the FFT route can plausibly win: its work under a quarter of the direct sum's (large kernels, few
    channels). "auto" does not spend a first call timing it anywhere else.

    >>> from tconv.geometry import make_plan
    >>> promising(make_plan((1, 1, 400, 400), (1, 1, 64, 64))), promising(make_plan((16, 256, 8, 8), (256, 128, 4, 4), stride=2))
    (True, False)
    """
    fft_work, direct = work(plan)
    return fft_work * 4 < direct


def memory_elements(plan: Plan) -> int:
    """Peak elements (real), the output included: the three spectra at once (complex: 2 reals per entry, half the
    last axis), then the output's spectrum with the inverse transform's full result, then that with the output;
    plus the zero-inserted input where the stride is above 1.

    >>> from tconv.geometry import make_plan
    >>> memory_elements(make_plan((1, 1, 400, 400), (1, 1, 64, 64))) * 4 / 2**20 < 3.5   # MiB; torch's budget 3.4
    True
    """
    n, cin, cout, g = plan.batch or 1, plan.in_channels, plan.out_channels, plan.groups
    size = fft_sizes(plan)
    half = math.prod(size[:-1]) * (size[-1] // 2 + 1) * 2
    out = n * cout * math.prod(plan.out_size)
    full = n * cout * math.prod(size)
    spectra = (n * cin + cin * cout // g + n * cout) * half
    upsampled = 0
    if any(s > 1 for s in plan.stride):
        upsampled = n * cin * math.prod(plan.upsampled_size)
    return max(spectra + upsampled, n * cout * half + full, full + out)


def _spread(t: torch.Tensor, step: tuple[int, ...], size: tuple[int, ...]) -> torch.Tensor:
    """``t``'s samples ``step`` apart along its last dimensions, zeros between, ``size`` long (zero insertion: the
    input by the stride to ``plan.upsampled_size``, the kernel by the dilation to ``plan.dilated_kernel_size``)."""
    if all(v == 1 for v in step):
        return t
    out = t.new_zeros((*t.shape[: -len(size)], *size))
    out[(..., *(slice(None, None, v) for v in step))] = t
    return out


def _keep(plan: Plan) -> list[int]:
    """Per dimension, how many outputs come from the full output (the rest, from output_padding, are zeros)."""
    return [max(0, min(o, f - pb)) for (pb, _), o, f in zip(plan.padding, plan.out_size, plan.full_size, strict=True)]


def _float(*ts: torch.Tensor) -> list[torch.Tensor]:
    """Half-precision tensors in float32 (CPU FFTs have no float16)."""
    return [t.float() if t.dtype in (torch.float16, torch.bfloat16) else t for t in ts]


def fft(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Transposed convolution as a product of spectra (see the module docstring). Differentiable (torch's FFTs have
    gradients); N-d."""
    nd, g, n = plan.nd, plan.groups, x.shape[0]
    cin_g, cout_g = plan.in_channels // g, plan.out_channels // g
    dtype = x.dtype
    x, w = _float(x, w)
    dims = tuple(range(-nd, 0))
    size = fft_sizes(plan)
    xf = torch.fft.rfftn(_spread(x, plan.stride, plan.upsampled_size), s=size, dim=dims)
    wf = torch.fft.rfftn(_spread(w, plan.dilation, plan.dilated_kernel_size), s=size, dim=dims)
    spec = xf.shape[2:]
    yf = torch.einsum("ngcf,gcof->ngof", xf.reshape(n, g, cin_g, -1), wf.reshape(g, cin_g, cout_g, -1)).reshape(
        n, plan.out_channels, *spec
    )
    del xf, wf
    full = torch.fft.irfftn(yf, s=size, dim=dims)
    del yf
    # crop [pad_before, pad_before + out) of the full output; past its end (output_padding) the output is zero
    keep = _keep(plan)
    y = full[(slice(None), slice(None), *(slice(pb, pb + k) for (pb, _), k in zip(plan.padding, keep, strict=True)))]
    pads = [v for o, k in zip(reversed(plan.out_size), reversed(keep), strict=True) for v in (0, o - k)]
    y = F.pad(y, pads) if any(pads) else y.contiguous()
    if b is not None:
        y = y + b.to(y.dtype).view(1, -1, *([1] * nd))
    return y.to(dtype)


def _gy_spectrum(plan: Plan, gy: torch.Tensor) -> torch.Tensor:
    """The spectrum of the output gradient placed back in the full output (zeros where the crop cut, the
    output_padding's positions dropped: no full output reaches them)."""
    keep = _keep(plan)
    gy = gy[(slice(None), slice(None), *(slice(0, k) for k in keep))]
    pads = [
        v
        for (pb, _), k, f in zip(reversed(plan.padding), reversed(keep), reversed(plan.full_size), strict=True)
        for v in (pb, f - pb - k)
    ]
    return torch.fft.rfftn(F.pad(gy, pads), s=fft_sizes(plan), dim=tuple(range(-plan.nd, 0)))


def fft_grad_input(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``∂L/∂x`` through the FFT: the output gradient, back in the full output, *correlated* with the dilated
    kernel (the adjoint of the convolution above: a product with the kernel's conjugate spectrum), read at the
    input's samples (every ``stride``-th position). Correlation lags up to the zero-inserted input's length reach
    no further than the full output, so nothing wraps around. Rounding as the forward's (relative to the largest
    gradient); a NaN or inf in ``gy`` spreads over the whole gradient.

    >>> from tconv.geometry import make_plan
    >>> x, w = torch.randn(2, 3, 9, 9, dtype=torch.float64), torch.randn(3, 2, 5, 5, dtype=torch.float64)
    >>> p = make_plan(x.shape, w.shape, stride=2, padding=1, dilation=2)
    >>> gy = torch.randn(p.output_shape, dtype=torch.float64)
    >>> xr = x.clone().requires_grad_()
    >>> ref = torch.autograd.grad(F.conv_transpose2d(xr, w, stride=2, padding=1, dilation=2), xr, gy)[0]
    >>> float((fft_grad_input(p, gy, x, w) - ref).abs().max()) < 1e-12
    True
    """
    corr = _correlate(plan, gy, w, weight=True)
    reads = (slice(0, u, s) for u, s in zip(plan.upsampled_size, plan.stride, strict=True))
    return corr[(slice(None), slice(None), *reads)].contiguous().to(gy.dtype)


def fft_grad_weight(plan: Plan, gy: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``∂L/∂w`` through the FFT: the output gradient, back in the full output, correlated with the zero-inserted
    input and summed over the batch (one product of spectra per channel pair), read at the dilated kernel's taps.

    >>> from tconv.geometry import make_plan
    >>> x, w = torch.randn(2, 4, 9, 9, dtype=torch.float64), torch.randn(4, 1, 5, 5, dtype=torch.float64)
    >>> p = make_plan(x.shape, w.shape, stride=3, padding=2, output_padding=1, groups=2)
    >>> gy = torch.randn(p.output_shape, dtype=torch.float64)
    >>> wr = w.clone().requires_grad_()
    >>> y = F.conv_transpose2d(x, wr, stride=3, padding=2, output_padding=1, groups=2)
    >>> float((fft_grad_weight(p, gy, x, w) - torch.autograd.grad(y, wr, gy)[0]).abs().max()) < 1e-12
    True
    """
    corr = _correlate(plan, gy, x, weight=False)
    taps = (slice(0, e, d) for e, d in zip(plan.dilated_kernel_size, plan.dilation, strict=True))
    return corr[(slice(None), slice(None), *taps)].contiguous().to(gy.dtype)


def _correlate(plan: Plan, gy: torch.Tensor, other: torch.Tensor, weight: bool) -> torch.Tensor:
    """The output gradient (back in the full output) correlated with ``other``: the weight spread by the dilation
    (``weight=True``: summed over output channels, one result per sample and input channel) or the input spread by
    the stride (summed over the batch, one result per weight entry). One product of spectra, ``other``'s conjugated;
    lags from 0 up to the full output's length less ``other``'s spread length do not wrap around."""
    nd, g = plan.nd, plan.groups
    gy, other = _float(gy, other)
    dims, size = tuple(range(-nd, 0)), fft_sizes(plan)
    gf = _gy_spectrum(plan, gy)
    shape = gf.shape[2:]
    f = math.prod(shape)
    if weight:
        spread = _spread(other, plan.dilation, plan.dilated_kernel_size)
    else:
        spread = _spread(other, plan.stride, plan.upsampled_size)
    of = torch.fft.rfftn(spread, s=size, dim=dims).conj()
    gf = gf.reshape(gf.shape[0], g, -1, f)  # (batch, group, output channel in group, frequency)
    if weight:  # (group, input channel in group, output channel in group, frequency)
        prod = torch.einsum("ngof,gcof->ngcf", gf, of.reshape(g, -1, of.shape[1], f))
        lead = (gy.shape[0], plan.in_channels)
    else:  # the input: (batch, group, input channel in group, frequency)
        prod = torch.einsum("ngof,ngcf->gcof", gf, of.reshape(of.shape[0], g, -1, f))
        lead = (plan.in_channels, plan.out_channels // g)
    del gf, of
    return torch.fft.irfftn(prod.reshape(*lead, *shape), s=size, dim=dims)
