"""Training steps assembled from parts (tconv.ops.training): every way of every part gives torch's gradients."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
from tconv.ops import training

from .configs import TORCH_FN, configs


@settings(max_examples=40, deadline=None)
@given(configs(max_k=4, max_d=2, sizes=(2, 5)), st.sampled_from(["torch", "col2im", "polyphase"]))
def test_every_pair_of_parts_gives_torchs_gradients(cfg, forward):
    nd, g, cin, cout, k, s, d, n, p, op = cfg
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, cin, *n, generator=gen, dtype=torch.float64)
    w0 = torch.randn(cin, cout // g, *k, generator=gen, dtype=torch.float64)
    b0 = torch.randn(cout, generator=gen, dtype=torch.float64)
    ins = [t.clone().requires_grad_() for t in (x0, w0, b0)]
    try:
        ref = TORCH_FN[nd](*ins, s, p, op, g, d)
    except RuntimeError:
        return
    gy = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    expect = torch.autograd.grad(ref, ins, gy)
    plan = tconv.make_plan(x0.shape, w0.shape, s, p, op, g, d)
    assert training.split_applies(plan)
    for gx, (_, ok_x) in training.GRAD_INPUT.items():
        for gw, (_, ok_w) in training.GRAD_WEIGHT.items():
            if not (ok_x(plan) and ok_w(plan)):
                continue
            ins = [t.clone().requires_grad_() for t in (x0, w0, b0)]
            y = training.split_step(plan, *ins, forward, gx, gw)
            torch.testing.assert_close(y, ref, rtol=0, atol=1e-10)
            for a, e in zip(torch.autograd.grad(y, ins, gy), expect, strict=True):
                torch.testing.assert_close(a, e, rtol=0, atol=1e-10)


def test_only_the_needed_gradients_are_computed(monkeypatch):
    plan = tconv.make_plan((2, 4, 5, 5), (4, 3, 3, 3), stride=2, padding=1)
    x, w = torch.randn(2, 4, 5, 5), torch.randn(4, 3, 3, 3, requires_grad=True)
    called = []
    monkeypatch.setitem(training.GRAD_INPUT, "conv", (lambda *a: called.append("gx"), lambda p: True))
    y = training.split_step(plan, x, w, None, "torch", "conv", "torch")
    (gw,) = torch.autograd.grad(y.sum(), (w,))
    assert called == [] and gw.shape == w.shape


def test_second_derivatives_exist():
    plan = tconv.make_plan((1, 2, 4, 4), (2, 2, 3, 3), stride=2, padding=1, output_padding=1)
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(
        lambda *t: training.split_step(plan, *t, "col2im", "conv", "torch_cl"), (x, w, b)
    )


@pytest.mark.parametrize("nd", [2, 3])
def test_channels_last_input_gets_a_channels_last_gradient(nd):
    fmt = {2: torch.channels_last, 3: torch.channels_last_3d}[nd]
    shape = (2, 4) + (5,) * nd
    x = torch.randn(shape).contiguous(memory_format=fmt).requires_grad_()
    w = torch.randn((4, 3) + (3,) * nd, requires_grad=True)
    plan = tconv.make_plan(x.shape, w.shape, stride=2, padding=1)
    y = training.split_step(plan, x, w, None, "torch", "conv_cl", "torch_cl")
    gx, gw = torch.autograd.grad(y.square().sum(), (x, w))
    assert gx.is_contiguous(memory_format=fmt)
    ref_in = [x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()]
    ref = TORCH_FN[nd](*ref_in, stride=2, padding=1)
    rx, rw = torch.autograd.grad(ref.square().sum(), ref_in)
    torch.testing.assert_close(gx, rx, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gw, rw, rtol=1e-4, atol=1e-4)


def test_asymmetric_padding_is_not_split():
    plan = tconv.make_plan((1, 1, 4, 4), (1, 1, 3, 3), padding=((0, 1), (1, 0)))
    assert not training.split_applies(plan)
