"""The CPU fast paths "auto" takes: each against torch, on the configurations that route to it."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
from tconv.ops import fastcpu

_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@settings(max_examples=150)
@given(
    nd=st.integers(1, 3),
    k=st.integers(1, 3),
    extra=st.integers(0, 2),
    pad=st.integers(0, 1),
    op=st.integers(0, 2),
    groups=st.sampled_from([1, 2]),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_no_overlap_gemm_matches_torch(nd, k, extra, pad, op, groups, bias, seed):
    s = k + extra
    op = min(op, s - 1)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 2 * groups, *([3] * nd), generator=g, dtype=torch.float64)
    w = torch.randn(2 * groups, 3, *([k] * nd), generator=g, dtype=torch.float64)
    b = torch.randn(3 * groups, generator=g, dtype=torch.float64) if bias else None
    try:
        plan = tconv.make_plan(x.shape, w.shape, s, pad, op, groups)
    except tconv.ConfigError:
        return
    ref = _FN[nd](x, w, b, s, pad, op, groups)
    if fastcpu.gemm_applies(plan):
        torch.testing.assert_close(fastcpu.no_overlap_gemm(plan, x, w, b), ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(tconv.conv_transpose(x, w, b, s, pad, op, groups), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("nd", [2, 3])
def test_channels_last_native_is_contiguous_and_exact(nd):
    x = torch.randn(2, 4, *([5] * nd), dtype=torch.float64)
    w = torch.randn(4, 6, *([3] * nd), dtype=torch.float64)
    plan = tconv.make_plan(x.shape, w.shape, stride=2, padding=1, output_padding=1)
    y = fastcpu.channels_last_native(plan, x, w, None)
    assert y.is_contiguous()
    torch.testing.assert_close(y, _FN[nd](x, w, None, 2, 1, 1), rtol=0, atol=1e-12)


@settings(max_examples=250)
@given(
    nd=st.integers(1, 3),
    k=st.lists(st.integers(1, 7), min_size=3, max_size=3),
    s=st.lists(st.integers(1, 4), min_size=3, max_size=3),
    before=st.lists(st.integers(0, 8), min_size=3, max_size=3),
    after=st.lists(st.integers(0, 8), min_size=3, max_size=3),
    op=st.lists(st.integers(0, 3), min_size=3, max_size=3),
    n=st.lists(st.integers(1, 5), min_size=3, max_size=3),
    groups=st.sampled_from([1, 2]),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_subpixel_matches_cropped_torch(nd, k, s, before, after, op, n, groups, bias, seed):
    """All phases as one convolution: every kernel/stride ratio, (asymmetric) crop, output_padding and group count.

    The reference is torch's uncropped result, cropped by hand (output_padding's margin is zeros plus the bias).
    """
    k, s, n = k[:nd], s[:nd], n[:nd]
    op = [min(o, ss - 1) for o, ss in zip(op[:nd], s, strict=True)]
    padding = tuple(zip(before[:nd], after[:nd], strict=True))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 2 * groups, *n, generator=g, dtype=torch.float64)
    w = torch.randn(2 * groups, 3, *k, generator=g, dtype=torch.float64)
    b = torch.randn(3 * groups, generator=g, dtype=torch.float64) if bias else None
    try:
        plan = tconv.make_plan(x.shape, w.shape, s, padding, op, groups)
    except tconv.ConfigError:
        return
    if 0 in plan.out_size:  # an empty output never reaches a route (tconv.ops.boundary returns it)
        return
    full = _FN[nd](x, w, None, s, 0, 0, groups)
    full = torch.nn.functional.pad(full, [v for o in reversed(op) for v in (0, o)])  # output_padding's margin
    ref = full[
        (slice(None), slice(None), *(slice(pb, pb + m) for (pb, _), m in zip(padding, plan.out_size, strict=True)))
    ]
    if b is not None:
        ref = ref + b.view(1, -1, *([1] * nd))
    y = fastcpu.subpixel(plan, x, w, b)
    assert y.is_contiguous() and y.shape == ref.shape
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-11)


def test_subpixel_asymmetric_padding_and_gradients():
    """TensorFlow's "same" padding (more after than before) and gradcheck through the stacked convolution."""
    x = torch.randn(2, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 5, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    plan = tconv.make_plan(x.shape, w.shape, stride=(3, 2), padding="same", output_size=(15, 8))
    ref = tconv.conv_transpose(x, w, b, (3, 2), "same", output_size=(15, 8), method="scatter")
    torch.testing.assert_close(fastcpu.subpixel(plan, x, w, b), ref, rtol=0, atol=1e-11)
    assert torch.autograd.gradcheck(lambda *t: fastcpu.subpixel(plan, *t), (x, w, b))


def test_subpixel_output_only_in_the_output_padding_margin():
    """k = s = 3 with padding (3, 0) and output_padding 1: the one output element is past every input's reach."""
    x = torch.randn(1, 2, 1, 2, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, 3, 1, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64)
    plan = tconv.make_plan(x.shape, w.shape, stride=3, padding=((3, 0), (0, 0)), output_padding=(1, 0))
    y = fastcpu.subpixel(plan, x, w, b)
    assert y.shape == (1, 3, 1, 4)
    torch.testing.assert_close(y, b.view(1, 3, 1, 1).expand(1, 3, 1, 4), rtol=0, atol=0)
    y.sum().backward()
    assert x.grad.abs().max() == 0 and w.grad.abs().max() == 0


def test_subpixel_weight_layout():
    """Phase r of channel co at lag m holds tap (M - 1 - m) * s + r of the transposed kernel (zero past k)."""
    w = torch.arange(1 * 2 * 5, dtype=torch.float64).reshape(1, 2, 5)  # C_in 1, C_out 2, k 5
    plan = tconv.make_plan((1, 1, 4), w.shape, stride=2)
    v = fastcpu.subpixel_weight(plan, w)  # (C_out * s, 1, M = 3)
    assert v.shape == (4, 1, 3)
    assert v[0, 0].tolist() == [4.0, 2.0, 0.0]  # channel 0, phase 0: taps 4, 2, 0
    assert v[1, 0].tolist() == [0.0, 3.0, 1.0]  # channel 0, phase 1: taps (5 -> 0), 3, 1
    assert v[2, 0].tolist() == [9.0, 7.0, 5.0]  # channel 1, phase 0


def _allocated_peak(fn) -> int:
    """The most bytes torch's allocator held at once during ``fn()``: the benchmark's own measure (bench/run.py's
    ``peak_bytes`` with resident tracking off, as it is when imported)."""
    import importlib.util  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    path = Path(__file__).resolve().parents[2] / "bench" / "run.py"
    spec = importlib.util.spec_from_file_location("tconv_bench_run", path)
    bench = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(bench, "peak_bytes"):
        spec.loader.exec_module(bench)  # dataclasses need the module registered first
    assert not bench.RESIDENT  # the allocator's view, not the process's resident memory
    return bench.peak_bytes(fn)


@pytest.mark.parametrize(("k", "s", "op"), [(1, 2, 0), (1, 2, 1), (2, 3, 2), (2, 2, 1)])
def test_gemm_route_allocates_about_one_output(k, s, op):
    """k < s (and output_padding past the block grid): the output is written in place, no stride-sized copies."""
    x, w = torch.randn(8, 16, 24, 24), torch.randn(16, 3, k, k)
    plan = tconv.make_plan(x.shape, w.shape, stride=s, output_padding=op)
    assert fastcpu.gemm_applies(plan)
    out_bytes = 4 * math.prod(plan.output_shape)
    with torch.no_grad():
        peak = _allocated_peak(lambda: fastcpu.no_overlap_gemm(plan, x, w, None))
    assert peak <= 1.3 * out_bytes, (peak / out_bytes, plan.describe())
