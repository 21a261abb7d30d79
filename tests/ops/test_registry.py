"""The registry of routes: every route against torch, its applicability, memory estimate and heuristic score."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

import tconv
from tconv.ops import registry

_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}

pytestmark = pytest.mark.usefixtures("small_tensor_speed")  # tests/conftest.py

CASES = [  # (input shape, weight shape, keyword arguments): overlapping, non-overlapping, k < s, dilated, grouped
    ((2, 4, 5, 6), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 5, 5), (4, 6, 2, 2), dict(stride=2)),
    ((2, 4, 5, 5), (4, 3, 1, 2), dict(stride=(2, 3))),
    ((2, 4, 6, 5), (4, 2, 3, 3), dict(stride=2, dilation=2, groups=2)),
    ((2, 4, 7), (4, 3, 4), dict(stride=2, padding=1)),
    ((1, 2, 3, 4, 3), (2, 2, 3, 2, 2), dict(stride=2, padding=1)),
]


@pytest.mark.parametrize("route", [r.name for r in registry.routes() if r.device == "cpu"])
@pytest.mark.parametrize(("xs", "ws", "kw"), CASES)
def test_every_route_matches_torch_where_it_applies(route, xs, ws, kw):
    g = torch.Generator().manual_seed(1)
    x, w = torch.randn(xs, generator=g, dtype=torch.float64), torch.randn(ws, generator=g, dtype=torch.float64)
    b = torch.randn(ws[1] * kw.get("groups", 1), generator=g, dtype=torch.float64)
    plan = tconv.make_plan(x.shape, w.shape, **kw)
    r = registry.get_route(route)
    if not r.applies(plan):
        assert route in ("gemm", "subpixel", "torch_cl")
        return
    ref = _FN[plan.nd](x, w, b, **kw)
    torch.testing.assert_close(r(plan, x, w, b), ref, rtol=0, atol=1e-11)
    torch.testing.assert_close(tconv.conv_transpose(x, w, b, **kw, method=route), ref, rtol=0, atol=1e-11)


def test_applicability():
    overlap = tconv.make_plan((1, 2, 4, 4), (2, 2, 3, 3), stride=2)
    dilated = tconv.make_plan((1, 2, 4, 4), (2, 2, 2, 2), stride=2, dilation=2)
    four_d = tconv.make_plan((1, 1, 2, 2, 2, 2), (1, 1, 3, 3, 3, 3), stride=2)
    assert not registry.get_route("gemm").applies(overlap)
    assert not registry.get_route("gemm").applies(dilated) and not registry.get_route("subpixel").applies(dilated)
    assert [r.name for r in registry.routes(tuned=True) if r.applies(four_d)] == ["fft", "col2im", "polyphase"]
    assert registry.heuristic(four_d).name == "polyphase"


def test_heuristic_routes():
    """Each shape class goes where the idle measurements say (docs/benchmarks.md, issue 15's table)."""
    route = lambda xs, ws, **kw: registry.heuristic(tconv.make_plan(xs, ws, **kw)).name  # noqa: E731
    assert route((16, 128, 64, 64), (128, 64, 2, 2), stride=2) == "gemm"
    assert route((16, 64, 8, 8, 8), (64, 32, 2, 2, 2), stride=2) == "gemm"
    assert route((16, 512, 256), (512, 256, 16), stride=8, padding=4) == "torch"
    assert route((16, 64, 32, 32), (64, 3, 4, 4), stride=2, padding=1) == "subpixel"
    assert route((16, 64, 39, 39), (64, 3, 11, 11), stride=4) == "subpixel"
    assert route((16, 128, 64, 64), (128, 3, 3, 3), stride=2, padding=1, output_padding=1) == "torch"  # VAE output
    assert route((16, 64, 64, 64), (64, 1, 3, 3), stride=2, padding=1) == "col2im"
    assert route((16, 64, 32, 32), (64, 64, 3, 3), stride=2, dilation=2) == "torch"  # dilated: not channels-last
    assert route((16, 320, 64, 64), (320, 320, 3, 3), stride=2, padding=1, output_padding=1) == "torch_cl"
    assert route((16, 64, 32, 32), (64, 8, 3, 3), stride=2, groups=8) == "torch"
    assert route((1, 2, 3, 3), (2, 8, 3, 3), stride=2) == "torch"
    assert route((128, 192, 19, 19), (192, 64, 5, 5), stride=1) == "torch"  # ZFNet's conv2 mirror


def test_memory_estimates_bound_what_the_routes_allocate():
    """The k64 kernel on a 400² image: col2im's columns are ~2.6 GB where torch needs the 0.9 MB output."""
    p = tconv.make_plan((1, 1, 400, 400), (1, 1, 64, 64))
    est = {r.name: registry.memory_bytes(r, p, torch.float32) for r in registry.routes(tuned=True) if r.applies(p)}
    assert est["col2im"] > 2.6e9
    assert est["torch"] == (400 * 400 + 2 * 463 * 463 + 64 * 64) * 4  # input, output twice, weight: oneDNN's copies
    # k < s: the GEMM route writes the output grid once (no stride-sized copies of it)
    q = tconv.make_plan((8, 16, 32, 32), (16, 3, 1, 1), stride=2)
    out = 8 * 3 * 64 * 64
    assert registry.get_route("gemm").memory(q) <= 1.25 * out + 16 * 3


def test_plan_batch_slices_are_plans():
    """The budget runs a route on slices of the batch: a replaced batch gives the slice's own plan."""
    p = tconv.make_plan((6, 2, 4, 4), (2, 3, 3, 3), stride=2)
    assert dataclasses.replace(p, batch=2) == tconv.make_plan((2, 2, 4, 4), (2, 3, 3, 3), stride=2)


_CL = {2: torch.channels_last, 3: torch.channels_last_3d}
EVERY_METHOD = [
    *tconv.METHODS,
    *(r.name for r in registry.routes() if r.name not in tconv.METHODS and r.device == "cpu"),
]


@pytest.mark.parametrize("method", EVERY_METHOD)
@pytest.mark.parametrize("layout", ["x", "w", "xw"])
@pytest.mark.parametrize(
    ("xs", "ws", "kw"),
    [
        ((2, 4, 5, 6), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
        ((2, 4, 5, 5), (4, 3, 2, 2), dict(stride=2)),
        ((2, 4, 3, 4, 3), (4, 2, 3, 2, 2), dict(stride=2, padding=1, groups=2)),
    ],
)
def test_channels_last_inputs_and_weights_give_torchs_values(method, layout, xs, ws, kw):
    """channels_last strides (a silent-garbage bug class, pytorch #99519) give the contiguous result, every method."""
    g = torch.Generator().manual_seed(3)
    x, w = torch.randn(xs, generator=g, dtype=torch.float64), torch.randn(ws, generator=g, dtype=torch.float64)
    b = torch.randn(ws[1] * kw.get("groups", 1), generator=g, dtype=torch.float64)
    plan = tconv.make_plan(x.shape, w.shape, **kw)
    if method in registry.ROUTES and not registry.get_route(method).applies(plan):
        return
    ref = _FN[plan.nd](x, w, b, **kw)
    fmt = _CL[plan.nd]
    xc = x.contiguous(memory_format=fmt) if "x" in layout else x
    wc = w.contiguous(memory_format=fmt) if "w" in layout else w
    assert not xc.is_contiguous() or not wc.is_contiguous()
    torch.testing.assert_close(tconv.conv_transpose(xc, wc, b, **kw, method=method), ref, rtol=0, atol=1e-11)


@pytest.mark.parametrize("route", [r.name for r in registry.routes(tuned=True)])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize(("xs", "ws", "kw"), CASES)
def test_every_tuned_route_has_torchs_gradients(route, layout, xs, ws, kw):
    """What "auto" may run in training: gradients for input, weight and bias equal torch's."""
    g = torch.Generator().manual_seed(5)
    x0, w0 = torch.randn(xs, generator=g, dtype=torch.float64), torch.randn(ws, generator=g, dtype=torch.float64)
    b0 = torch.randn(ws[1] * kw.get("groups", 1), generator=g, dtype=torch.float64)
    plan = tconv.make_plan(x0.shape, w0.shape, **kw)
    r = registry.get_route(route)
    if not r.applies(plan):
        return
    if layout == "channels_last":
        if plan.nd not in _CL:
            return
        x0 = x0.contiguous(memory_format=_CL[plan.nd])

    def grads(fn):
        x, w, b = (t.detach().clone().requires_grad_() for t in (x0, w0, b0))
        y = fn(x, w, b)
        gy = torch.randn(y.shape, generator=torch.Generator().manual_seed(9), dtype=y.dtype)
        return (y, *torch.autograd.grad(y, (x, w, b), gy))

    got = grads(lambda x, w, b: r(plan, x, w, b))
    ref = grads(lambda x, w, b: _FN[plan.nd](x, w, b, **kw))
    for name, a, e in zip(("output", "input grad", "weight grad", "bias grad"), got, ref, strict=True):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-10, msg=f"{route} {name}")
