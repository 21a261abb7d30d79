"""The formulations on explicit cases: seed 001's worked examples, the matrix C, TF "same"/"valid", NaN/inf,
NumPy/torch boundaries, gradcheck, and the modules' own doctests."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tconv
from tconv.errors import ConfigError
from tconv.geometry import conv_plan, make_plan, plan_from_sizes
from tconv.ops import autotune
from tconv.ops.matrix import conv_matrix
from tconv.ops.registry import get_route

FORMULATIONS = ("scatter", "zero_insert", "matrix", "autograd", "col2im", "polyphase")
ALL = (*FORMULATIONS, "auto")


pytestmark = pytest.mark.usefixtures("small_tensor_speed")  # tests/conftest.py


def _rand(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---- seed 001: the four worked cases ----------------------------------------------------------------------------
# (i, k, s, p) of the direct convolution; its output o = floor((i + 2p - k) / s) + 1; the transposed convolution maps
# o x o back to i x i and is a stride-1 convolution of the input with s - 1 zeros inserted and k - p - 1 padding.
SEED_001 = [(4, 3, 1, 0, 2), (5, 4, 1, 2, 6), (5, 3, 2, 0, 2), (5, 3, 2, 1, 3)]


def _seed_recipe(x: np.ndarray, w: np.ndarray, s: int, p: int) -> np.ndarray:
    """Seed 001's recipe with loops: insert s - 1 zeros, pad k - p - 1, flip, stride-1 valid convolution."""
    o, k = x.shape[0], w.shape[0]
    up = np.zeros(((o - 1) * s + 1,) * 2)
    up[::s, ::s] = x
    q = k - p - 1
    padded = np.pad(up, q)
    flipped = w[::-1, ::-1]
    n = padded.shape[0] - k + 1
    out = np.zeros((n, n))
    for r in range(n):
        for c in range(n):
            out[r, c] = (padded[r : r + k, c : c + k] * flipped).sum()
    return out


@pytest.mark.parametrize(("i", "k", "s", "p", "o"), SEED_001)
def test_seed_001_worked_cases(i, k, s, p, o):
    assert (i + 2 * p - k) // s + 1 == o  # the seed's conv output size
    plan = make_plan((1, 1, o, o), (1, 1, k, k), stride=s, padding=p)
    assert plan.out_size == (i, i)  # the transposed convolution restores i
    assert plan.equivalent_conv.pad == ((k - p - 1, k - p - 1),) * 2  # the seed's padding k - p - 1
    assert plan.equivalent_conv.zeros_between == (s - 1, s - 1)
    x, w = _rand(1, 1, o, o, seed=i + k), _rand(1, 1, k, k, seed=s + p)
    expected = _seed_recipe(x[0, 0].numpy(), w[0, 0].numpy(), s, p)
    assert expected.shape == (i, i)
    torch_ref = F.conv_transpose2d(x, w, stride=s, padding=p)[0, 0].numpy()
    np.testing.assert_allclose(torch_ref, expected, atol=1e-12)
    for method in ALL:
        y = tconv.conv_transpose(x, w, stride=s, padding=p, method=method)
        np.testing.assert_allclose(y[0, 0].detach().numpy(), expected, atol=1e-12, err_msg=method)


def test_seed_001_conv_matrix_i4_k3():
    """Seed 001: i=4, k=3 unrolls into a 4 x 16 sparse matrix whose first row is w00 w01 w02 0 w10 ... ."""
    plan = conv_plan((4, 4), 3)
    c = conv_matrix(plan)
    assert c.shape == (4, 16)
    assert c.toarray()[0].astype(int).tolist() == [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
    assert c.toarray()[3].astype(int).tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9]
    w = _rand(3, 3, seed=1).numpy()
    x = _rand(4, 4, seed=2).numpy()
    cw = conv_matrix(plan, w)
    y_conv = F.conv2d(torch.from_numpy(x)[None, None], torch.from_numpy(w)[None, None])
    np.testing.assert_allclose(cw @ x.ravel(), y_conv.numpy().ravel(), atol=1e-12)  # Y = C X
    g = _rand(2, 2, seed=3).numpy()
    y_t = F.conv_transpose2d(torch.from_numpy(g)[None, None], torch.from_numpy(w)[None, None])
    np.testing.assert_allclose(cw.T @ g.ravel(), y_t.numpy().ravel(), atol=1e-12)  # transposed: Cᵀ


# ---- the matrix C -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cfg",
    [
        dict(x=(2, 4, 3, 2), w=(4, 3, 2, 3), stride=(2, 1), padding=((1, 0), (0, 2)), groups=2, dilation=(1, 2)),
        dict(x=(1, 3, 5), w=(3, 2, 3), stride=3, padding=1, output_padding=2, groups=1),
        dict(x=(1, 2, 2, 2, 2), w=(2, 1, 2, 1, 2), stride=2, groups=2),
    ],
)
def test_conv_matrix_blocks_are_the_transposed_convolution(cfg):
    cfg = dict(cfg)
    xs, ws = cfg.pop("x"), cfg.pop("w")
    plan = make_plan(xs, ws, **cfg)
    x, w = _rand(*xs, seed=5), _rand(*ws, seed=6)
    c = conv_matrix(plan, w)
    assert c.shape == (plan.in_channels * np.prod(plan.in_size), plan.out_channels * np.prod(plan.out_size))
    ref = tconv.conv_transpose(x, w, method="scatter", **cfg)
    got = (c.T @ x.reshape(xs[0], -1).numpy().T).T.reshape(ref.shape)
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-12)
    # single-channel labels: every stored entry is a tap index + 1 and row j holds input j's taps
    labels = conv_matrix(plan).toarray()
    assert labels.shape == (np.prod(plan.in_size), np.prod(plan.out_size))
    for j_flat, row in enumerate(labels):
        j = np.unravel_index(j_flat, plan.in_size)
        expect = {
            np.ravel_multi_index(o, plan.out_size): np.ravel_multi_index(t, plan.kernel_size) + 1
            for o, t in plan.reached(tuple(int(v) for v in j))
        }
        assert {int(c_): int(v) for c_, v in enumerate(row) if v} == expect


def test_conv_matrix_kernel_weight_and_errors():
    plan = plan_from_sizes(3, 2, stride=2)
    c = conv_matrix(plan, torch.tensor([5.0, 7.0]))
    assert c.toarray().tolist() == [[5, 7, 0, 0, 0, 0], [0, 0, 5, 7, 0, 0], [0, 0, 0, 0, 5, 7]]
    with pytest.raises(ConfigError, match=r"weight=\(3,\) must have shape kernel_size=\(2,\)"):
        conv_matrix(plan, np.ones(3))
    with pytest.raises(TypeError, match="plan"):
        conv_matrix("not a plan")


# ---- TensorFlow "same" / "valid" ----------------------------------------------------------------------------------
def _tf_reference(x, w, mode, stride, dilation, output_size):
    """TF's conv2d_transpose by its definition: the gradient of a SAME/VALID conv2d of an output_size input."""
    z = torch.zeros(x.shape[0], w.shape[1], *output_size, dtype=x.dtype, requires_grad=True)
    pads = []
    for n, k, s, d in zip(output_size, w.shape[2:], stride, dilation, strict=True):
        dk = d * (k - 1) + 1
        if mode == "same":  # TF: out = ceil(n / s); total = max((out - 1) * s + dk - n, 0), the odd one at the end
            total = max((-(-n // s) - 1) * s + dk - n, 0)
            pads.append((total // 2, total - total // 2))
        else:
            pads.append((0, 0))
    flat = [v for pair in reversed(pads) for v in pair]
    y = F.conv2d(F.pad(z, flat), w, stride=stride, dilation=dilation)
    assert y.shape[2:] == x.shape[2:], "output_size not reachable by TF's rule"
    (g,) = torch.autograd.grad(y, z, grad_outputs=x)
    return g


@pytest.mark.parametrize("mode", ["same", "valid"])
@pytest.mark.parametrize(
    ("k", "s", "d"), [((3, 2), (2, 3), (1, 1)), ((4, 1), (2, 1), (1, 2)), ((2, 3), (3, 2), (2, 1))]
)
def test_tensorflow_same_and_valid(mode, k, s, d):
    x, w = _rand(2, 2, 3, 2, seed=7), _rand(2, 3, *k, seed=8)
    sizes = []
    for i, kk, ss, dd in zip(x.shape[2:], k, s, d, strict=True):
        dk = dd * (kk - 1) + 1
        lo, hi = ((i - 1) * ss + 1, i * ss) if mode == "same" else ((i - 1) * ss + dk, i * ss + dk - 1)
        sizes.append(range(lo, hi + 1))
    checked = 0
    for n0 in sizes[0]:
        for n1 in sizes[1]:
            ref = _tf_reference(x, w, mode, s, d, (n0, n1))
            for method in ALL:
                y = tconv.conv_transpose(x, w, stride=s, dilation=d, padding=mode, output_size=(n0, n1), method=method)
                torch.testing.assert_close(y, ref, rtol=0, atol=1e-10, msg=lambda m, meth=method: f"{meth}: {m}")
            checked += 1
    assert checked == len(sizes[0]) * len(sizes[1]) >= 2
    # without output_size: TF's default (same: i * s; valid: i * s + max(dk - s, 0))
    y = tconv.conv_transpose(x, w, stride=s, dilation=d, padding=mode)
    dks = [dd * (kk - 1) + 1 for kk, dd in zip(k, d, strict=True)]
    expect = [i * ss + (0 if mode == "same" else max(dk - ss, 0)) for i, ss, dk in zip((3, 2), s, dks, strict=True)]
    assert list(y.shape[2:]) == expect


# ---- asymmetric padding through the lead's native path ------------------------------------------------------------
@pytest.mark.parametrize("method", ["torch", "auto"])
def test_native_asymmetric_padding_with_output_padding(method):
    x, w = _rand(1, 1, 3, seed=9), _rand(1, 1, 2, seed=10)
    kwargs = dict(stride=3, padding=((2, 1),), output_padding=2)
    ref = tconv.conv_transpose(x, w, method="scatter", **kwargs)
    torch.testing.assert_close(tconv.conv_transpose(x, w, method=method, **kwargs), ref)


# ---- NaN and inf follow the definition ------------------------------------------------------------------------
def _definition_2d(x, w, stride, padding, output_padding, dilation):
    """y[o] = sum of x[j] w[t] over the (j, t) that reach o, and nothing else (groups 1): brute force, float64."""
    (n, _, *isz), (co, k) = x.shape, (w.shape[1], w.shape[2:])
    full = [(i - 1) * s + d * (kk - 1) + 1 for i, s, d, kk in zip(isz, stride, dilation, k, strict=True)]
    out = [f - 2 * p + o for f, p, o in zip(full, padding, output_padding, strict=True)]
    y = torch.zeros(n, co, *out, dtype=torch.float64)
    for j0, j1, t0, t1 in itertools.product(range(isz[0]), range(isz[1]), range(k[0]), range(k[1])):
        o0 = j0 * stride[0] + t0 * dilation[0] - padding[0]
        o1 = j1 * stride[1] + t1 * dilation[1] - padding[1]
        if 0 <= o0 < out[0] and 0 <= o1 < out[1]:
            y[:, :, o0, o1] += x[:, :, j0, j1] @ w[:, :, t0, t1]
    return y


NONFINITE_CFGS = [
    dict(ks=(3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0), dilation=(1, 1)),
    dict(ks=(5, 5), stride=(4, 4), padding=(2, 2), output_padding=(0, 0), dilation=(1, 1)),
    dict(ks=(2, 2), stride=(2, 2), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)),  # auto: gemm
]
# Documented departures (README "NaN and inf"): the formulation multiplies padding zeros by every weight, so a
# non-finite weight can also make NaN where the definition has no term (0 * inf). Everywhere else they match.
ZERO_PADDING_MEETS_WEIGHTS = {"zero_insert", "polyphase", "subpixel", "auto"}
# the subpixel route pads sub-kernels with zero taps (unless s divides k), which meet the input; "auto" checks the
# input before it runs that route (test_auto_leaves_the_subpixel_route_for_a_non_finite_input)
ZERO_TAPS_MEET_INPUTS = {"subpixel"}


@pytest.mark.parametrize("which", ["x", "w"])
@pytest.mark.parametrize("cfg", range(len(NONFINITE_CFGS)))
@pytest.mark.parametrize("method", (*ALL, "torch", "subpixel"))
def test_nan_and_inf_follow_the_definition(method, cfg, which):
    kw = dict(NONFINITE_CFGS[cfg])
    ks = kw.pop("ks")
    x, w = _rand(1, 3, 4, 3, seed=11), _rand(3, 2, *ks, seed=12)
    t = x if which == "x" else w
    flat = t.view(-1)
    flat[2], flat[9], flat[16] = float("nan"), float("inf"), -float("inf")
    ref = _definition_2d(x, w, **kw)
    y = tconv.conv_transpose(x, w, method=method, **kw)
    exact = method not in (ZERO_PADDING_MEETS_WEIGHTS if which == "w" else ZERO_TAPS_MEET_INPUTS)
    if exact:
        assert torch.equal(torch.isnan(y), torch.isnan(ref)), int(torch.isnan(y).sum() - torch.isnan(ref).sum())
        assert torch.equal(torch.isposinf(y), torch.isposinf(ref))
        assert torch.equal(torch.isneginf(y), torch.isneginf(ref))
    else:  # honest about the departure: every non-finite value of the definition stays non-finite, no more
        assert torch.equal(torch.isfinite(y) & ~torch.isfinite(ref), torch.zeros_like(y, dtype=torch.bool))
    finite = torch.isfinite(y)
    torch.testing.assert_close(y[finite], ref[finite])


def test_auto_leaves_the_subpixel_route_for_a_non_finite_input():
    x, w = _rand(1, 3, 4, 3, seed=15), _rand(3, 2, 9, 9, seed=16)  # k9 s2: sub-kernels padded 9 -> 10 taps
    kw = dict(stride=(2, 2), padding=(1, 1), output_padding=(1, 1), dilation=(1, 1))
    plan = make_plan(tuple(x.shape), tuple(w.shape), **kw)
    # the heuristic decides (min_work=0: not "tiny", which would run torch): subpixel for this layer
    with autotune.settings(enabled=False, min_work=0):
        assert autotune.choose(plan, x, w).route.name == "subpixel"
        x[0, 1, 2, 1], x[0, 0, 0, 0], x[0, 2, 3, 2] = float("nan"), float("inf"), -float("inf")
        exact = autotune.choose(plan, x, w).route
        y = tconv.conv_transpose(x, w, method="auto", **kw)
    assert exact.name != "subpixel" and exact.nonfinite_exact(plan)
    ref = _definition_2d(x, w, **kw)
    for test in (torch.isnan, torch.isposinf, torch.isneginf):
        assert torch.equal(test(y), test(ref))
    torch.testing.assert_close(y[torch.isfinite(y)], ref[torch.isfinite(ref)])
    sub = tconv.conv_transpose(x, w, method="subpixel", **kw)  # the route itself departs, as documented
    assert bool((sub.isnan() & torch.isfinite(ref)).any())
    assert torch.equal(torch.isfinite(sub) & ~torch.isfinite(ref), torch.zeros_like(ref, dtype=torch.bool))


def test_subpixel_is_exact_for_a_non_finite_input_when_the_stride_divides_the_kernel():
    x, w = _rand(1, 3, 4, 3, seed=17), _rand(3, 2, 4, 6, seed=18)
    x[0, 1, 2, 1], x[0, 0, 0, 0] = float("nan"), float("inf")
    kw = dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 0), dilation=(1, 1))
    assert get_route("subpixel").nonfinite_exact(make_plan(tuple(x.shape), tuple(w.shape), **kw))
    y, ref = tconv.conv_transpose(x, w, method="subpixel", **kw), _definition_2d(x, w, **kw)
    for test in (torch.isnan, torch.isposinf, torch.isneginf):
        assert torch.equal(test(y), test(ref))


def test_zero_insert_spreads_a_non_finite_weight_as_documented():
    """The issue's finding, kept visible: an inf weight meets inserted zeros (0 * inf = NaN) where torch has 0 NaNs."""
    x, w = _rand(1, 1, 4, 4, seed=13), _rand(1, 1, 3, 3, seed=14)
    w[0, 0, 1, 1] = float("inf")
    ref = _definition_2d(x, w, (2, 2), (0, 0), (0, 0), (1, 1))
    y = tconv.conv_transpose(x, w, stride=2, method="zero_insert")
    assert int(torch.isnan(ref).sum()) == 0 < int(torch.isnan(y).sum())
    assert torch.equal(tconv.conv_transpose(x, w, stride=2, method="scatter").isnan(), ref.isnan())


# ---- boundaries: NumPy and torch, dtypes, unbatched ----------------------------------------------------------------
@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_in_numpy_out_unbatched(method, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 2)).astype(dtype)  # unbatched (C_in, H, W)
    w = rng.standard_normal((3, 2, 2, 3)).astype(dtype)
    b = rng.standard_normal(2).astype(dtype)
    y = tconv.conv_transpose(x, w, b, stride=(1, 2), padding=(0, 1), method=method)
    assert isinstance(y, np.ndarray) and y.dtype == dtype and y.shape == (2, 5, 3)
    ref = F.conv_transpose2d(torch.from_numpy(x)[None], torch.from_numpy(w), torch.from_numpy(b), (1, 2), (0, 1))[0]
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-10, atol=1e-5)


def test_one_by_one_spatial_and_batch_one():
    x, w = _rand(1, 2, 1, 1, seed=13), _rand(2, 3, 1, 1, seed=14)
    ref = F.conv_transpose2d(x, w)
    for method in ALL:
        torch.testing.assert_close(tconv.conv_transpose(x, w, method=method), ref)


@pytest.mark.parametrize("method", ["zero_insert", "autograd"])
def test_three_d_only_methods_refuse_four_d(method):
    with pytest.raises(ConfigError, match=rf"method='{method}' supports 1-, 2- and 3-d inputs \(got 4 spatial dims\)"):
        tconv.conv_transpose(_rand(1, 1, 2, 2, 2, 2), _rand(1, 1, 2, 2, 2, 2), method=method)


# ---- gradients --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ALL)
def test_gradcheck(method):
    x = _rand(1, 2, 3, 2, seed=15).requires_grad_()
    w = _rand(2, 2, 2, 3, seed=16).requires_grad_()
    b = _rand(4, seed=17).requires_grad_()

    def f(x, w, b):
        return tconv.conv_transpose(
            x, w, b, stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2, dilation=(1, 2), method=method
        )

    assert torch.autograd.gradcheck(f, (x, w, b))
    assert torch.autograd.gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("method", FORMULATIONS)
def test_gradcheck_asymmetric_1d(method):
    x, w = _rand(2, 1, 4, seed=18).requires_grad_(), _rand(1, 2, 3, seed=19).requires_grad_()

    def f(x, w):
        return tconv.conv_transpose(x, w, stride=3, padding=((2, 0),), output_padding=1, dilation=2, method=method)

    assert torch.autograd.gradcheck(f, (x, w))


def test_autograd_method_without_grad_is_detached():
    x, w = _rand(1, 1, 3).requires_grad_(), _rand(1, 1, 2)
    with torch.no_grad():
        y = tconv.conv_transpose(x, w, stride=2, method="autograd")
    assert not y.requires_grad
    assert tconv.conv_transpose(x, w, stride=2, method="autograd").requires_grad


# ---- half precision on CPU: every method keeps the dtype and the accuracy of its format ------------------------
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    ("wshape", "stride", "padding"),
    [((4, 3, 3, 3), 2, 1), ((4, 3, 2, 2), 2, 0), ((4, 2, 11, 11), 4, 2)],  # torch_cl/torch, gemm, subpixel
)
def test_half_precision_every_method(dtype, wshape, stride, padding):
    g = torch.Generator().manual_seed(7)
    x, w, b = (
        torch.randn(2, 4, 5, 5, generator=g),
        torch.randn(*wshape, generator=g),
        torch.randn(wshape[1], generator=g),
    )
    ref = F.conv_transpose2d(x.double(), w.double(), b.double(), stride=stride, padding=padding)
    tol = {torch.float16: 3e-3, torch.bfloat16: 3e-2}[dtype]  # a few units in the last place, relative to the max
    for method in (*tconv.METHODS, "torch"):
        y = tconv.conv_transpose(x.to(dtype), w.to(dtype), b.to(dtype), stride, padding, method=method)
        assert y.dtype == dtype, method
        assert float((y.double() - ref).abs().max() / ref.abs().max()) < tol, method


# ---- gradients everywhere, inference mode (issue 16) ---------------------------------------------------------------
GRAD_CASES = [
    # the repro: stride 3, padding 1 crops every position an input reaches -> zeros, zero gradients
    dict(x=(1, 1, 2), w=(1, 1, 1), stride=3, padding=1),
    dict(x=(2, 4, 3, 2), w=(4, 1, 2, 3), stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2),
    dict(x=(1, 2, 2, 2, 2), w=(2, 3, 1, 2, 1), stride=2, dilation=(1, 2, 1)),
]


@pytest.mark.parametrize("method", (*ALL, "torch"))
@pytest.mark.parametrize("case", range(len(GRAD_CASES)))
def test_gradients_equal_torch_and_stay_connected(method, case):
    cfg = dict(GRAD_CASES[case])
    xs, ws = cfg.pop("x"), cfg.pop("w")
    x, w = _rand(*xs, seed=30).requires_grad_(), _rand(*ws, seed=31).requires_grad_()
    b = _rand(ws[1] * cfg.get("groups", 1), seed=32).requires_grad_()
    fn = {3: F.conv_transpose1d, 4: F.conv_transpose2d, 5: F.conv_transpose3d}[len(xs)]
    ref = fn(x, w, b, **cfg)
    g = _rand(*ref.shape, seed=33)
    ref_grads = torch.autograd.grad(ref, (x, w, b), g)
    y = tconv.conv_transpose(x, w, b, method=method, **cfg)
    assert y.grad_fn is not None, method
    for got, want in zip(torch.autograd.grad(y, (x, w, b), g), ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", (*ALL, "torch"))
def test_inference_mode_and_inference_tensors(method):
    x, w, b = _rand(1, 2, 3, 3, seed=34), _rand(2, 3, 3, 3, seed=35), _rand(3, seed=36)
    ref = F.conv_transpose2d(x, w, b, stride=2, padding=1)
    with torch.inference_mode():
        y = tconv.conv_transpose(x, w, b, stride=2, padding=1, method=method)
        xi = x.clone()  # an inference tensor
    torch.testing.assert_close(y, ref)
    # an inference tensor outside inference mode, with a weight that wants its gradient (torch itself refuses this)
    wg = w.clone().requires_grad_()
    y = tconv.conv_transpose(xi, wg, b, stride=2, padding=1, method=method)
    (gw,) = torch.autograd.grad(y.sum(), wg)
    (want,) = torch.autograd.grad(F.conv_transpose2d(x, wg, b, stride=2, padding=1).sum(), wg)
    torch.testing.assert_close(gw, want)


def test_polyphase_visits_only_the_phases_a_tap_reaches(monkeypatch):
    """The issue's stride-2**26 case looped over every phase; now the loop is bounded by the kernel (2**20 here)."""
    from tconv.geometry import Plan

    def refuse(self, dim):
        raise AssertionError("polyphase listed every phase of the stride")

    monkeypatch.setattr(Plan, "phases", refuse)
    x, w = _rand(1, 2, 3, seed=40), _rand(2, 1, 3, seed=41)
    y = tconv.conv_transpose(x, w, stride=2**20, padding=1, method="polyphase")
    torch.testing.assert_close(y, F.conv_transpose1d(x, w, stride=2**20, padding=1))
