"""The FFT route against torch on random configurations, and where "auto" considers it."""

import math

import pytest
import torch
from hypothesis import given, settings

import tconv
from tconv.ops import autotune
from tconv.ops import fft as fft_mod

from .configs import TORCH_FN, configs


@settings(max_examples=60, deadline=None)
@given(configs())
def test_fft_equals_torch_in_float64(cfg):
    nd, g, cin, cout, k, s, d, n, p, op = cfg
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, cin, *n, generator=gen, dtype=torch.float64)
    w = torch.randn(cin, cout // g, *k, generator=gen, dtype=torch.float64)
    b = torch.randn(cout, generator=gen, dtype=torch.float64)
    try:
        ref = TORCH_FN[nd](x, w, b, s, p, op, g, d)
    except RuntimeError:  # torch refuses some output_padding/dilation pairs
        return
    y = tconv.conv_transpose(x, w, b, s, p, op, g, d, method="fft")
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-10)


def test_fft_big_kernel_is_accurate_in_float32():
    """Rounding relative to the largest output, as good as torch's own float32 sum (both against float64)."""
    gen = torch.Generator().manual_seed(1)
    x, w = torch.randn(1, 1, 120, 120, generator=gen), torch.randn(1, 1, 33, 33, generator=gen)
    exact = torch.nn.functional.conv_transpose2d(x.double(), w.double())
    err = (tconv.conv_transpose(x, w, method="fft").double() - exact).abs().max() / exact.abs().max()
    err_torch = (torch.nn.functional.conv_transpose2d(x, w).double() - exact).abs().max() / exact.abs().max()
    assert err < 1e-6 and err < 4 * err_torch + 1e-7


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fft_half_precision_keeps_the_dtype(dtype):
    x, w = torch.randn(1, 2, 8, 8), torch.randn(2, 3, 5, 5)
    y = tconv.conv_transpose(x.to(dtype), w.to(dtype), stride=2, method="fft")
    assert y.dtype == dtype
    ref = torch.nn.functional.conv_transpose2d(x, w, stride=2)
    assert float((y.float() - ref).abs().max() / ref.abs().max()) < 3e-2


def test_smooth_sizes_and_cost_model():
    assert [fft_mod._smooth(v) for v in (1, 7, 97, 463, 1025)] == [1, 8, 100, 480, 1080]
    for v in range(1, 300):
        m = fft_mod._smooth(v)
        assert m >= v and all(f in (2, 3, 5) for f in _factors(m))
    big = tconv.make_plan((1, 1, 400, 400), (1, 1, 64, 64))
    small = tconv.make_plan((16, 64, 32, 32), (64, 64, 4, 4), stride=2, padding=1)
    assert fft_mod.promising(big) and not fft_mod.promising(small)
    assert fft_mod.memory_elements(big) < 1.5 * (400 * 400 + 2 * 463 * 463 + 64 * 64)  # within torch's budget


def _factors(m):
    out = []
    for f in (2, 3, 5, 7, 11, 13):
        while m % f == 0:
            out.append(f)
            m //= f
    return out + ([m] if m > 1 else [])


def test_fft_nonfinite_input_goes_to_an_exact_route():
    """A NaN spreads over the whole FFT result; "auto" checks the input when it chose the FFT route."""
    x, w = torch.randn(1, 1, 400, 400), torch.randn(1, 1, 64, 64)
    x[0, 0, 0, 0] = math.nan
    with autotune.settings(enabled=False):  # the heuristic picks the FFT route here
        assert autotune.choose(tconv.make_plan(x.shape, w.shape), x.nan_to_num(), w).route.name == "fft"
        y = tconv.conv_transpose(x, w)
    assert torch.isnan(y).sum() == 64 * 64  # exactly the outputs the NaN reaches, as in the definition


def test_fft_nonfinite_weight_goes_to_an_exact_route_too():
    x, w = torch.randn(1, 1, 400, 400), torch.randn(1, 1, 64, 64)
    w[0, 0, 5, 5] = math.inf
    with autotune.settings(enabled=False):
        y = tconv.conv_transpose(x, w)
    assert torch.isfinite(y).sum() > 0  # the FFT would make every output NaN
    assert not torch.isfinite(y[0, 0, 5:405, 5:405]).any()  # the inf tap meets every input once


@settings(max_examples=60, deadline=None)
@given(configs())
def test_fft_gradients_equal_torchs_in_float64(cfg):
    """The FFT ways of the input and weight gradients (tconv.ops.training's "fft" parts) against torch's autograd,
    on every configuration (not only where auto would consider them): cropping, output_padding, dilation, groups."""
    nd, g, cin, cout, k, s, d, n, p, op = cfg
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, cin, *n, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(cin, cout // g, *k, generator=gen, dtype=torch.float64, requires_grad=True)
    try:
        ref = TORCH_FN[nd](x, w, None, s, p, op, g, d)
    except RuntimeError:
        return
    gy = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    rx, rw = torch.autograd.grad(ref, (x, w), gy)
    plan = tconv.make_plan(x.shape, w.shape, s, p, op, g, d)
    xd, wd = x.detach(), w.detach()
    torch.testing.assert_close(fft_mod.fft_grad_input(plan, gy, xd, wd), rx, rtol=0, atol=1e-10)
    torch.testing.assert_close(fft_mod.fft_grad_weight(plan, gy, xd, wd), rw, rtol=0, atol=1e-10)


def test_fft_training_step_on_a_big_kernel_is_torchs():
    """A big-kernel training step assembled from the FFT forward and FFT gradients gives torch's gradients
    (float32, relative to the largest value), and "auto" offers the fft ways only where the FFT is promising."""
    from tconv.ops import training

    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 1, 60, 60, generator=gen, requires_grad=True)
    w = torch.randn(1, 2, 31, 31, generator=gen, requires_grad=True)
    b = torch.randn(2, generator=gen, requires_grad=True)
    plan = tconv.make_plan(x.shape, w.shape, stride=2, padding=3)
    assert training.GRAD_INPUT["fft"][1](plan) and training.GRAD_WEIGHT["fft"][1](plan)
    small = tconv.make_plan((16, 64, 32, 32), (64, 64, 4, 4), stride=2, padding=1)
    assert not training.GRAD_INPUT["fft"][1](small)
    y = training.split_step(plan, x, w, b, "fft", "fft", "fft")
    gy = torch.randn(y.shape, generator=gen)
    got = torch.autograd.grad(y, (x, w, b), gy)
    xr, wr, br = (t.detach().double().requires_grad_() for t in (x, w, b))
    exact = torch.autograd.grad(torch.nn.functional.conv_transpose2d(xr, wr, br, 2, 3), (xr, wr, br), gy.double())
    for a, e in zip(got, exact, strict=True):
        assert float((a.double() - e).abs().max() / e.abs().max()) < 1e-5
