"""Convolution arithmetic: the seeds' worked cases, PyTorch as the reference, and property tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import tconv
from tconv.arith import (
    SEED000_FORMULAS,
    SEED_CASES,
    _eval_formula,
    conv_output_size,
    conv_transpose_output_size,
    equivalent_conv,
    inverse_of,
    parse_module,
    solve,
)
from tconv.errors import ConfigError, ConfigTypeError

FAST = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------------------------------------
# seed 001: four worked cases, and the Conv2d / ConvTranspose2d positional trap
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", SEED_CASES, ids=lambda c: f"i{c['i']}k{c['k']}s{c['s']}p{c['p']}")
def test_seed001_worked_cases(case):
    i, k, s, p, o = case["i"], case["k"], case["s"], case["p"], case["o"]
    assert conv_output_size(i, k, s, p) == o == math.floor((i + 2 * p - k) / s) + 1  # seed 001's formula
    assert F.conv1d(torch.ones(1, 1, i), torch.ones(1, 1, k), stride=s, padding=p).shape[-1] == o
    # the transpose: i' = o, o' = i; as a direct conv: s-1 zeros between inputs, padding k - p - 1, flipped kernel
    inv = inverse_of(nn.Conv1d(1, 1, k, stride=s, padding=p), i)
    e = equivalent_conv(o, k, s, p, op=inv.output_padding)
    assert e.zeros_between == (case["zeros"],)
    assert e.padding[0][0] == case["p_equiv"] == k - p - 1
    assert e.output_size == (i,)
    # seed 001's o' = floor((i' + 2p' - k') / s') + 1 on the zero-inserted input, s' = 1
    up = (o - 1) * s + 1
    assert math.floor((up + 2 * case["p_equiv"] - k) / 1) + 1 == i


def test_seed001_positional_trap():
    conv = parse_module("Conv2d(16,32,3,2,0,1)")
    tconv_ = parse_module("ConvTranspose2d(32,16,3,2,0,1)")
    assert conv.dilation == (1, 1) and conv.padding == (0, 0)
    assert tconv_.output_padding == (1, 1) and tconv_.dilation == (1, 1)
    # the seed's pair is an inverse only for even inputs: 6 -> 2 -> 6, but 5 -> 2 -> 6
    assert inverse_of(conv, 6).output_padding == (1, 1)
    assert inverse_of(conv, 5).output_padding == (0, 0)
    x = torch.zeros(1, 16, 5, 5)
    assert tconv_.to_empty(device="cpu")(conv.to_empty(device="cpu")(x)).shape[-2:] == (6, 6)
    assert inverse_of(conv, (5, 5))(conv(x)).shape == x.shape


def test_alexnet_conv1_needs_output_padding_one():
    conv = nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2)
    assert conv_output_size(224, 11, 4, 2) == 55
    assert conv_transpose_output_size(55, 11, 4, 2) == 223  # seed 000's ZFNet code loses a pixel
    t = inverse_of(conv, (224, 224))
    assert isinstance(t, nn.ConvTranspose2d)
    assert t.output_padding == (1, 1) and t.in_channels == 64 and t.out_channels == 3
    assert t(conv(torch.zeros(1, 3, 224, 224))).shape == (1, 3, 224, 224)


# ----------------------------------------------------------------------------------------------------------------
# seed 000: formulas (2.1)-(2.11), checked against the formula written out independently
# ----------------------------------------------------------------------------------------------------------------
def test_seed000_formulas_table():
    for label, _formula, call, expected in SEED000_FORMULAS:
        assert _eval_formula(call) == expected, label
    nx, nw = 7, 3
    assert conv_output_size(nx, nw) == nx - nw + 1  # (2.1)
    assert conv_transpose_output_size(nx - nw + 1, nw) == nx  # (2.2)
    for p in range(3):
        assert conv_output_size(nx, nw, p=p) == nx + 2 * p - nw + 1  # (2.3)
        no = nx + 2 * p - nw + 1
        assert conv_transpose_output_size(no, nw, p=p) == no + nw - 1 - 2 * p  # (2.4)
    for nx_ in range(3, 20):
        for s in range(1, 5):
            no = (nx_ - nw) // s + 1
            assert conv_output_size(nx_, nw, s=s) == no  # (2.5)
            op = (nx_ - nw) % s  # (2.7)
            assert inverse_of(nn.Conv1d(1, 1, nw, stride=s), nx_).output_padding == (op,)
            assert conv_transpose_output_size(no, nw, s=s, op=op) == (no - 1) * s + op + nw == nx_  # (2.8)
    for d in range(1, 4):
        assert conv_output_size(11, nw, d=d) == 11 - d * (nw - 1)  # (2.9)
        assert conv_transpose_output_size(5, nw, d=d) == 5 + d * (nw - 1)  # (2.10)
    for no, s, p, d, op in [(3, 2, 1, 2, 1), (5, 3, 2, 1, 2), (4, 1, 0, 3, 2)]:
        want = (no - 1) * s + op + d * (nw - 1) + 1 - 2 * p  # (2.11)
        assert conv_transpose_output_size(no, nw, s, p, d, op) == want
        assert nn.ConvTranspose1d(1, 1, nw, s, p, op, dilation=d)(torch.zeros(1, 1, no)).shape[-1] == want


def test_seed000_reference_vector_tconv_and_padding_duality():
    """Seed 000: an n_p-padded transposed conv is a flipped-kernel conv with n_w - 1 - n_p padding."""
    x, w = [1.0, 2.0, -1.0, 3.0, 0.5], [1.0, -2.0, 4.0]
    for p in range(3):
        e = equivalent_conv(len(x), len(w), p=p)
        assert e.padding == ((len(w) - 1 - p, len(w) - 1 - p),)
        via_conv = F.conv1d(F.pad(torch.tensor([[x]]), (e.padding[0][0],) * 2), torch.tensor([[w[::-1]]]))
        via_t = F.conv_transpose1d(torch.tensor([[x]]), torch.tensor([[w]]), padding=p)
        torch.testing.assert_close(via_conv, via_t)
        if hasattr(tconv, "reference"):
            ref = tconv.reference.vector_tconv(x, w, padding=p)
            np.testing.assert_allclose(ref, via_t.ravel().numpy())
    # "valid <-> full, same <-> same, full <-> valid"
    k = 5
    assert equivalent_conv(9, k, p=0).padding == ((k - 1, k - 1),)  # valid conv's backward: full padding
    assert equivalent_conv(9, k, p=(k - 1) // 2).padding == (((k - 1) // 2,) * 2,)  # same <-> same
    assert equivalent_conv(9, k, p=k - 1).padding == ((0, 0),)  # full <-> valid


# ----------------------------------------------------------------------------------------------------------------
# sizes against PyTorch, including the padding forms
# ----------------------------------------------------------------------------------------------------------------
@FAST
@given(
    i=st.integers(1, 40),
    k=st.integers(1, 7),
    s=st.integers(1, 4),
    p=st.integers(0, 4),
    d=st.integers(1, 3),
    ceil=st.booleans(),
)
def test_conv_and_pool_output_size_match_torch(i, k, s, p, d, ceil):
    span = d * (k - 1) + 1
    if span > i + 2 * p:
        with pytest.raises(ConfigError, match="^k="):
            conv_output_size(i, k, s, p, d)
        return
    assert (
        conv_output_size(i, k, s, p, d) == F.conv1d(torch.zeros(1, 1, i), torch.zeros(1, 1, k), None, s, p, d).shape[-1]
    )
    if p <= k // 2:  # torch's pooling rule
        pooled = F.max_pool1d(torch.zeros(1, 1, i), k, s, p, d, ceil_mode=ceil).shape[-1]
        assert conv_output_size(i, k, s, p, d, ceil_mode=ceil) == pooled


@FAST
@given(
    i=st.integers(1, 30),
    k=st.integers(1, 6),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    data=st.data(),
)
def test_conv_transpose_output_size_matches_torch(i, k, s, d, data):
    p = data.draw(st.integers(0, d * (k - 1) + (i - 1) * s))
    op = data.draw(st.integers(0, max(s, d) - 1))
    want = (i - 1) * s - 2 * p + d * (k - 1) + op + 1
    if want < 1:
        with pytest.raises(ConfigError):
            conv_transpose_output_size(i, k, s, p, d, op)
        return
    assert conv_transpose_output_size(i, k, s, p, d, op) == want
    assert F.conv_transpose1d(torch.zeros(1, 1, i), torch.zeros(1, 1, k), None, s, p, op, 1, d).shape[-1] == want


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
def test_padding_forms():
    # per-dimension tuples and (before, after) pairs
    assert conv_output_size((10, 9), (3, 2), s=(2, 1), p=((1, 0), (0, 1))) == (5, 9)
    assert conv_transpose_output_size(5, 3, s=2, p=((1, 0),)) == (11 - 1,)  # full 11, crop one before
    assert conv_transpose_output_size((5, 5), 3, s=2, p=((0, 1), (1, 1))) == (10, 9)
    # 'same'/'valid' conv: TensorFlow's ceil(i / s) and ceil((i - d(k-1)) / s); torch's 'same' for stride 1
    for i in range(5, 20):
        for s in (1, 2, 3):
            assert conv_output_size(i, 4, s=s, p="same") == math.ceil(i / s)
            assert conv_output_size(i, 3, s=s, p="valid", d=2) == math.ceil((i - 4) / s)
        assert (
            conv_output_size(i, 4, p="same")
            == F.conv1d(torch.zeros(1, 1, i), torch.zeros(1, 1, 4), padding="same").shape[-1]
        )
    # transposed 'same'/'valid' (TF conv2d_transpose): i*s and i*s + max(k - s, 0); output_size picks among reachable
    assert conv_transpose_output_size(5, 3, s=2, p="same") == 10
    assert conv_transpose_output_size(5, 3, s=2, p="same", output_size=9) == 9
    assert conv_transpose_output_size(5, 3, s=2, p="valid") == 11
    assert conv_transpose_output_size(5, 1, s=3, p="valid") == 15
    # tuple in -> tuple out, int in -> int out
    assert isinstance(conv_output_size(5, 3), int) and conv_output_size((5,), 3) == (3,)
    assert conv_output_size(5, (3, 1)) == (3, 5)


def test_negative_padding_pairs_follow_the_plan():
    # (before, after) pairs may be negative in a transposed convolution: zeros before / after the full output
    x, w = torch.randn(1, 1, 3, 4, dtype=torch.float64), torch.randn(1, 1, 3, 2, dtype=torch.float64)
    pads = ((-1, -2), (1, -3))
    size = conv_transpose_output_size((3, 4), (3, 2), s=2, p=pads)
    assert size == (7 + 3, 8 - 1 + 3) == tconv.conv_transpose(x, w, stride=2, padding=pads).shape[2:]
    y = tconv.conv_transpose(x, w, stride=2, padding=pads, method="scatter")
    full = F.conv_transpose2d(x, w, stride=2)  # torch's full output: 7 x 8
    torch.testing.assert_close(y[..., 1:8, :7], full[..., :, 1:])
    assert float(y[..., 0, :].abs().sum() + y[..., 8:, :].abs().sum() + y[..., 7:].abs().sum()) == 0.0
    e = equivalent_conv((3, 4), (3, 2), s=2, p=pads)  # its equivalent conv pads d(k-1) - p: more than k - 1
    assert e.padding == ((3, 4), (0, 4)) and e.output_size == size
    with pytest.raises(ConfigError, match=r"^p=-1 must be non-negative"):  # plain ints: torch's rule, as the plan
        conv_transpose_output_size(5, 3, p=-1)
    with pytest.raises(ConfigError, match=r"^p=\(\(-1, 0\),\) must be non-negative"):  # a forward window only pads
        conv_output_size(5, 3, p=((-1, 0),))
    with pytest.raises(ConfigError, match=r"^p=\(\(4, 4\),\) leaves an output of size \(-1,\)"):
        conv_transpose_output_size(3, 3, s=2, p=((4, 4),))


def test_bad_input_names_the_parameter():
    with pytest.raises(ConfigError, match="^s="):
        conv_output_size(5, 3, s=0)
    with pytest.raises(ConfigError, match="^i="):
        conv_output_size(0, 3)
    with pytest.raises(ConfigError, match="^p="):
        conv_output_size(5, 3, p=-1)
    with pytest.raises(ConfigError, match="^p="):
        conv_output_size(5, 3, p="half")
    with pytest.raises(ConfigTypeError, match="^s="):
        conv_output_size(5, 3, s=1.5)
    with pytest.raises(ConfigError, match="^output_padding="):
        conv_transpose_output_size(5, 3, s=2, op=2)
    with pytest.raises(ConfigError, match="^k="):
        conv_output_size((5, 5, 5), (3, 3))
    with pytest.raises(ConfigTypeError, match="^conv_module="):
        inverse_of(nn.ConvTranspose2d(1, 1, 3), 5)
    with pytest.raises(ConfigError, match="^conv_module="):
        inverse_of(nn.Conv1d(1, 1, 4, padding="same"), 9)  # asymmetric: torch pads (1, 2)
    with pytest.raises(ConfigError, match="^input_size="):
        inverse_of(nn.Conv2d(1, 1, 3), (5, 5, 5, 5, 5))
    with pytest.raises(ConfigError, match="^s="):
        equivalent_conv(5, 3, s=2, transposed=False)
    with pytest.raises(ConfigError, match="^module="):
        parse_module("__import__('os').system('true')")
    with pytest.raises(ConfigError, match="^output_size="):
        solve(8, 0)


# ----------------------------------------------------------------------------------------------------------------
# property tests: inverse_of restores the size exactly and is the adjoint; equivalent_conv reproduces conv_transpose
# ----------------------------------------------------------------------------------------------------------------
@st.composite
def conv_configs(draw):
    nd = draw(st.sampled_from([1, 2, 3]))
    groups = draw(st.sampled_from([1, 1, 2]))
    k = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    p = tuple(draw(st.integers(0, di * (ki - 1) // 2 + 1)) for ki, di in zip(k, d, strict=True))
    size = tuple(
        draw(st.integers(max(1, di * (ki - 1) + 1 - 2 * pi), 12 if nd == 3 else 30))
        for ki, di, pi in zip(k, d, p, strict=True)
    )
    return nd, groups, k, s, p, d, size


@FAST
@given(conv_configs())
def test_inverse_of_restores_the_size_and_is_the_adjoint(cfg):
    nd, groups, k, s, p, d, size = cfg
    torch.manual_seed(0)
    conv = getattr(nn, f"Conv{nd}d")(2 * groups, 3 * groups, k, stride=s, padding=p, dilation=d, groups=groups).double()
    x = torch.randn(1, 2 * groups, *size, dtype=torch.float64, requires_grad=True)
    y = conv(x)
    t = inverse_of(conv, size, copy_weights=True)
    assert type(t).__name__ == f"ConvTranspose{nd}d"
    assert (t.in_channels, t.out_channels, t.groups) == (conv.out_channels, conv.in_channels, groups)
    assert (t.kernel_size, t.stride, t.padding, t.dilation) == (k, s, p, d)
    back = t(y.detach())
    assert back.shape == x.shape  # exactly the input size
    # the output_padding is seed 000's (2.7): the input the strided windows left unread
    for dim in range(nd):
        assert t.output_padding[dim] == (size[dim] + 2 * p[dim] - d[dim] * (k[dim] - 1) - 1) % s[dim]
    # with the conv's weight it is the adjoint C^T: the gradient of <conv(x), g> with respect to x
    g = torch.randn_like(y)
    (grad,) = torch.autograd.grad((y * g).sum(), x)
    torch.testing.assert_close(t(g), grad)


def _zero_insert_reference(x, s, pads):
    """Independent zero insertion + pad/crop (negative = crop), dimension by dimension, with plain slicing."""
    nd = len(s)
    up_shape = [(n - 1) * si + 1 for n, si in zip(x.shape[2:], s, strict=True)]
    up = x.new_zeros(*x.shape[:2], *up_shape)
    up[(Ellipsis, *[slice(None, None, si) for si in s])] = x
    for dim, (b, a) in enumerate(pads):
        ax = 2 + dim
        if b < 0:
            up = up.narrow(ax, -b, up.shape[ax] + b)
        if a < 0:
            up = up.narrow(ax, 0, up.shape[ax] + a)
        shape = list(up.shape)
        if b > 0:
            shape[ax] = b
            up = torch.cat([up.new_zeros(shape), up], ax)
        if a > 0:
            shape[ax] = a
            up = torch.cat([up, up.new_zeros(shape)], ax)
    assert up.dim() == nd + 2
    return up


@FAST
@given(data=st.data())
def test_equivalent_conv_reproduces_conv_transpose(data):
    nd = data.draw(st.sampled_from([1, 2]))
    k = tuple(data.draw(st.integers(1, 5)) for _ in range(nd))
    s = tuple(data.draw(st.integers(1, 4)) for _ in range(nd))
    d = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    i = tuple(data.draw(st.integers(1, 8)) for _ in range(nd))
    op = tuple(data.draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d, strict=True))
    full = [(ii - 1) * si + di * (ki - 1) + 1 for ii, si, di, ki in zip(i, s, d, k, strict=True)]
    pads = tuple(
        (data.draw(st.integers(0, f // 2)), data.draw(st.integers(0, f // 2))) for f in full
    )  # asymmetric, may crop more than d(k-1): then the equivalent padding is negative
    if any(f - a - b + o < 1 for f, (a, b), o in zip(full, pads, op, strict=True)):
        return
    e = equivalent_conv(i, k, s, pads, d, op)
    x = torch.randn(1, 2, *i, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    w = torch.randn(2, 3, *k, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    want = tconv.conv_transpose(x, w, stride=s, padding=pads, output_padding=op, dilation=d, method="scatter")
    xin = _zero_insert_reference(x, s, e.padding)
    assert tuple(xin.shape[2:]) == tuple(u + a + b for u, (a, b) in zip(e.upsampled_size, e.padding, strict=True))
    wf = w.flip(list(range(2, 2 + nd))).transpose(0, 1)  # flipped, (C_out, C_in, k)
    got = getattr(F, f"conv{nd}d")(xin, wf, dilation=e.dilation)
    assert tuple(got.shape[2:]) == e.output_size
    torch.testing.assert_close(got, want)
    if all(a == b for a, b in pads):  # torch agrees too where it can express the padding
        ref = getattr(F, f"conv_transpose{nd}d")(x, w, None, s, [a for a, _ in pads], op, 1, d)
        torch.testing.assert_close(got, ref)


@FAST
@given(i=st.integers(1, 12), k=st.integers(1, 5), d=st.integers(1, 3), p=st.integers(0, 6))
def test_equivalent_conv_reverse(i, k, d, p):
    if d * (k - 1) + 1 > i + 2 * p:
        return
    e = equivalent_conv(i, k, 1, p, d, transposed=False)
    x = torch.randn(1, 1, i, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    w = torch.randn(1, 1, k, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    direct = F.conv1d(x, w, padding=p, dilation=d)
    assert e.output_size == (direct.shape[-1],)
    (pb, pa), wf = e.padding[0], w.flip(-1)
    if pb >= 0:
        via_t = F.conv_transpose1d(x, wf, padding=pb, dilation=d)
    else:  # negative transposed padding: the output extends with zeros (outputs that only see padding)
        via_t = F.pad(F.conv_transpose1d(x, wf, dilation=d), (-pb, -pa))
    torch.testing.assert_close(via_t, direct)


def test_top_level_reexports():
    for name in ("conv_output_size", "conv_transpose_output_size", "equivalent_conv", "inverse_of", "solve"):
        assert getattr(tconv, name) is globals()[name]
    for name in ("solve", "Solution", "describe_counts", "SOLVE_LIMIT"):  # the solver's names, from tconv.arith too
        assert getattr(tconv.arith, name) is getattr(tconv.solver, name)
