"""Every formulation against torch's F.conv_transpose{1,2,3}d over random configurations (hypothesis).

Each test runs its hypothesis search inside a plain test function and then asserts how many *distinct*
configurations it checked, so the per-run total (>= 2,000, see ``MIN_CONFIGS``) holds whichever worker of
``pytest -n 2`` runs which test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tconv

METHODS = ("scatter", "zero_insert", "matrix", "autograd", "col2im", "polyphase", "auto")
TORCH_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}

# distinct configurations each test must have checked; they add up to the floor of 2,000 per run
MIN_CONFIGS = {"1d": 640, "2d": 640, "3d": 320, "asym": 400, "4d": 100, "grad": 240, "modes": 60, "neg": 60}
assert sum(MIN_CONFIGS.values()) >= 2000


pytestmark = pytest.mark.usefixtures("small_tensor_speed")  # tests/conftest.py


def _settings(max_examples: int) -> settings:
    return settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@st.composite
def configs(draw, nd: int, max_in: int = 4, max_k: int = 4, symmetric: bool = True):
    """A valid transposed-convolution configuration: sizes, parameters, layout and dtype."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin_g = draw(st.integers(1, 2))
    cout_g = draw(st.integers(1, 2))
    i = tuple(draw(st.integers(1, max_in)) for _ in range(nd))  # includes 1x1 spatial
    k = tuple(draw(st.integers(1, max_k)) for _ in range(nd))  # rectangular kernels
    s = tuple(draw(st.integers(1, 4)) for _ in range(nd))  # rectangular strides
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))  # dilation together with stride
    op = tuple(draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d, strict=True))  # up to max(s, d) - 1
    pads = []
    for ii, ss, dd, kk, oo in zip(i, s, d, k, op, strict=True):
        full = (ii - 1) * ss + dd * (kk - 1) + 1
        if symmetric:
            # up to the largest padding that leaves one output: often larger than d * (k - 1)
            pads.append(draw(st.integers(0, (full + oo - 1) // 2)))
        else:
            pb = draw(st.integers(0, full + oo - 1))
            pads.append((pb, draw(st.integers(0, full + oo - 1 - pb))))
    batch = draw(st.sampled_from([None, 1, 2]))  # unbatched, batch 1, batch 2
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    as_numpy = draw(st.booleans())
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return dict(
        nd=nd,
        groups=groups,
        cin=cin_g * groups,
        cout_g=cout_g,
        i=i,
        k=k,
        stride=s,
        dilation=d,
        output_padding=op,
        padding=tuple(pads),
        batch=batch,
        dtype=dtype,
        as_numpy=as_numpy,
        bias=bias,
        seed=seed,
    )


def _tensors(cfg):
    g = torch.Generator().manual_seed(cfg["seed"])
    lead = () if cfg["batch"] is None else (cfg["batch"],)
    dt = cfg["dtype"]
    x = torch.randn(*lead, cfg["cin"], *cfg["i"], generator=g, dtype=torch.float64).to(dt)
    w = torch.randn(cfg["cin"], cfg["cout_g"], *cfg["k"], generator=g, dtype=torch.float64).to(dt)
    b = torch.randn(cfg["cout_g"] * cfg["groups"], generator=g, dtype=torch.float64).to(dt) if cfg["bias"] else None
    return x, w, b


def _key(cfg) -> tuple:
    return tuple((k, str(v)) for k, v in sorted(cfg.items()) if k != "seed")


def _check_close(name: str, y, ref: torch.Tensor, dtype: torch.dtype, cfg) -> None:
    y = torch.as_tensor(y)
    assert tuple(y.shape) == tuple(ref.shape), (name, cfg)
    scale = max(1.0, ref.abs().max().item()) if ref.numel() else 1.0
    err = (y.to(torch.float64) - ref.to(torch.float64)).abs().max().item() if ref.numel() else 0.0
    assert err <= TOL[dtype] * scale, f"{name}: max error {err:.3g} (scale {scale:.3g}) for {cfg}"


def _run_all_methods(cfg) -> None:
    x, w, b = _tensors(cfg)
    nd = cfg["nd"]
    ref = TORCH_FN[nd](x, w, b, cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"], cfg["dilation"])
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"], cfg["dilation"])
    if cfg["as_numpy"]:
        xn, wn, bn = x.numpy(), w.numpy(), None if b is None else b.numpy()
    for method in METHODS:
        if cfg["as_numpy"]:
            y = tconv.conv_transpose(xn, wn, bn, *args, method=method)
            assert isinstance(y, np.ndarray) and y.dtype == xn.dtype, (method, type(y))
        else:
            y = tconv.conv_transpose(x, w, b, *args, method=method)
            assert isinstance(y, torch.Tensor) and y.dtype == x.dtype, method
        _check_close(method, y, ref, cfg["dtype"], cfg)


def _search(strategy, max_examples: int, check) -> set:
    seen: set = set()

    @_settings(max_examples)
    @given(cfg=strategy)
    def run(cfg):
        check(cfg)
        seen.add(_key(cfg))

    run()
    return seen


@pytest.mark.parametrize(
    ("nd", "label", "examples", "max_in", "max_k"),
    [(1, "1d", 800, 5, 5), (2, "2d", 800, 4, 4), (3, "3d", 400, 3, 3)],
)
def test_every_method_matches_torch(nd, label, examples, max_in, max_k):
    seen = _search(configs(nd, max_in=max_in, max_k=max_k), examples, _run_all_methods)
    print(f"{label}: {len(seen)} distinct configurations x {len(METHODS)} methods")
    assert len(seen) >= MIN_CONFIGS[label]


# ---- asymmetric padding: torch's full output (padding 0) cropped by hand is the reference -----------------------
def _cropped_reference(x, w, b, cfg):
    """Independent of tconv: torch's full transposed convolution, then crop p_before and keep out_size."""
    nd = cfg["nd"]
    full = TORCH_FN[nd](x, w, None, cfg["stride"], 0, 0, cfg["groups"], cfg["dilation"])
    idx = [slice(None)] * (full.ndim - nd)
    out = []
    for dim, ((pb, pa), o) in enumerate(zip(cfg["padding"], cfg["output_padding"], strict=True)):
        n = full.shape[full.ndim - nd + dim] - pb - pa + o
        out.append(n)
        idx.append(slice(pb, pb + n))
    y = full[tuple(idx)]
    pads = []
    for dim in reversed(range(nd)):
        pads += [0, out[dim] - y.shape[y.ndim - nd + dim]]  # output_padding beyond the full size: zeros
    y = F.pad(y, pads)
    if b is not None:
        y = y + b.view(-1, *([1] * nd))
    return y


def _run_asymmetric(cfg) -> None:
    x, w, b = _tensors(cfg)
    ref = _cropped_reference(x, w, b, cfg)
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"], cfg["dilation"])
    for method in (*METHODS, "torch"):
        _check_close(method, tconv.conv_transpose(x, w, b, *args, method=method), ref, cfg["dtype"], cfg)


def test_asymmetric_padding_matches_cropped_torch():
    strategy = st.integers(1, 3).flatmap(lambda nd: configs(nd, max_in=3, max_k=3, symmetric=False))
    seen = _search(strategy, 500, _run_asymmetric)
    print(f"asymmetric: {len(seen)} distinct configurations")
    assert len(seen) >= MIN_CONFIGS["asym"]


# ---- 4-d (N-d methods) against a sum of torch 3-d transposed convolutions ---------------------------------------
def _reference_4d(x, w, b, cfg):
    """Split the first spatial dimension by hand: out[j*s + t*d - pb] += conv_transpose3d(x[:, :, j], w[..., t])."""
    s0, d0, (pb0, _), op0 = cfg["stride"][0], cfg["dilation"][0], cfg["padding"][0], cfg["output_padding"][0]
    cfg3 = dict(
        cfg,
        nd=3,
        stride=cfg["stride"][1:],
        dilation=cfg["dilation"][1:],
        padding=cfg["padding"][1:],
        output_padding=cfg["output_padding"][1:],
    )
    full0 = (cfg["i"][0] - 1) * s0 + d0 * (cfg["k"][0] - 1) + 1
    out0 = full0 - pb0 - cfg["padding"][0][1] + op0
    slabs = [None] * out0
    for j in range(cfg["i"][0]):
        for t in range(cfg["k"][0]):
            o = j * s0 + t * d0 - pb0
            if 0 <= o < out0:
                part = _cropped_reference(x[:, :, j], w[:, :, t], None, cfg3)
                slabs[o] = part if slabs[o] is None else slabs[o] + part
    template = _cropped_reference(x[:, :, 0], w[:, :, 0], None, cfg3)
    y = torch.stack([torch.zeros_like(template) if sl is None else sl for sl in slabs], dim=2)
    if b is not None:
        y = y + b.view(-1, 1, 1, 1, 1)
    return y


def _run_4d(cfg) -> None:
    cfg = dict(cfg, batch=cfg["batch"] or 1)
    x, w, b = _tensors(cfg)
    ref = _reference_4d(x, w, b, cfg)
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"], cfg["dilation"])
    for method in ("scatter", "matrix", "col2im", "polyphase", "auto"):
        _check_close(method, tconv.conv_transpose(x, w, b, *args, method=method), ref, cfg["dtype"], cfg)


def test_nd_methods_in_four_dimensions():
    seen = _search(configs(4, max_in=2, max_k=2, symmetric=False), 150, _run_4d)
    print(f"4-d: {len(seen)} distinct configurations")
    assert len(seen) >= MIN_CONFIGS["4d"]


# ---- gradients of the differentiable methods against torch's ----------------------------------------------------
def _run_gradients(cfg) -> None:
    cfg = dict(cfg, dtype=torch.float64, bias=True)
    x0, w0, b0 = _tensors(cfg)
    nd = cfg["nd"]
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"], cfg["dilation"])
    g = torch.Generator().manual_seed(cfg["seed"] + 1)

    def grads(fn):
        x, w, b = (t.clone().requires_grad_(True) for t in (x0, w0, b0))
        y = fn(x, w, b)
        gy = torch.randn(y.shape, generator=g.manual_seed(cfg["seed"] + 1), dtype=y.dtype)
        got = torch.autograd.grad((y * gy).sum(), (x, w, b), allow_unused=True)
        # torch's graph always holds x, w and b; so must every method's, even where all of them are cropped
        assert all(d is not None for d in got), "a method returned a result disconnected from an input"
        return got

    ref = grads(lambda x, w, b: TORCH_FN[nd](x, w, b, *args))
    for method in tconv.ops.METHODS:
        got = grads(lambda x, w, b, m=method: tconv.conv_transpose(x, w, b, *args, method=m))
        for name, a, r in zip(("input", "weight", "bias"), got, ref, strict=True):
            _check_close(f"{method} d/d{name}", a, r, torch.float64, cfg)


def test_gradients_match_torch():
    strategy = st.integers(1, 3).flatmap(lambda nd: configs(nd, max_in=3, max_k=3))
    seen = _search(strategy, 300, _run_gradients)
    print(f"gradients: {len(seen)} distinct configurations")
    assert len(seen) >= MIN_CONFIGS["grad"]


def test_min_configs_add_up():
    assert math.fsum(MIN_CONFIGS.values()) >= 2000


# ---- padding_mode: the exact adjoint of nn.Conv with that mode (issue 16) -----------------------------------------
CONV_FN = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@st.composite
def mode_configs(draw, nd: int):
    """A Conv with padding_mode on an input of size n, seen from its transpose (which maps back to n)."""
    mode = draw(st.sampled_from(["circular", "reflect", "replicate", "zeros"]))
    n = tuple(draw(st.integers(2, 5)) for _ in range(nd))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    cap = {"circular": 0, "reflect": 1}.get(mode, 0)
    pads = tuple((draw(st.integers(0, min(3, nn - cap))), draw(st.integers(0, min(3, nn - cap)))) for nn in n)
    groups = draw(st.sampled_from([1, 2]))
    return dict(mode=mode, n=n, k=k, s=s, d=d, pads=pads, groups=groups, seed=draw(st.integers(0, 2**31 - 1)))


def _run_adjoint(cfg) -> None:
    nd, g = len(cfg["n"]), cfg["groups"]
    if any(
        nn + pb + pa < dd * (kk - 1) + 1
        for nn, (pb, pa), kk, dd in zip(cfg["n"], cfg["pads"], cfg["k"], cfg["d"], strict=True)
    ):
        return  # the convolution has no output
    gen = torch.Generator().manual_seed(cfg["seed"])
    x = torch.randn(2, 2 * g, *cfg["n"], generator=gen, dtype=torch.float64)
    w = torch.randn(3 * g, 2, *cfg["k"], generator=gen, dtype=torch.float64)  # conv: (C_out, C_in/g, *k)
    flat = [v for pair in reversed(cfg["pads"]) for v in pair]
    padded = F.pad(x, flat, mode="constant" if cfg["mode"] == "zeros" else cfg["mode"])
    y_conv = CONV_FN[nd](padded, w, None, cfg["s"], 0, cfg["d"], g)
    y = torch.randn(y_conv.shape, generator=gen, dtype=torch.float64)
    lhs = (y_conv * y).sum()
    for method in (*METHODS, "torch"):
        z = tconv.conv_transpose(
            y, w, stride=cfg["s"], padding=cfg["pads"], groups=g, dilation=cfg["d"], output_size=cfg["n"],
            padding_mode=cfg["mode"], method=method,
        )  # fmt: skip
        assert z.shape == x.shape, (method, cfg)
        rhs = (z * x).sum()
        assert abs(float(lhs - rhs)) <= 1e-9 * max(1.0, float(lhs.abs())), (method, cfg, float(lhs), float(rhs))


def test_padding_modes_are_exact_adjoints():
    """<Conv x, y> = <ConvT y, x> for Conv(padding_mode=...) and tconv's ConvT with the same mode, 1-, 2-, 3-D."""
    strategy = st.integers(1, 3).flatmap(mode_configs)
    seen = _search(strategy, 120, _run_adjoint)
    assert len(seen) >= MIN_CONFIGS["modes"]


# ---- negative padding (zeros outside the full output) with every method --------------------------------------------
def _run_negative(cfg) -> None:
    x, w, b = _tensors(cfg)
    nd = cfg["nd"]
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"], cfg["dilation"])
    try:
        plan = tconv.make_plan(x.shape, w.shape, *args)
    except tconv.ConfigError:
        return
    # reference: torch's full output placed at offset -pad_before in a zero canvas of out_size (then the bias)
    full = TORCH_FN[nd](x, w, None, cfg["stride"], 0, 0, cfg["groups"], cfg["dilation"])
    ref = torch.zeros(*full.shape[: full.ndim - nd], *plan.out_size, dtype=full.dtype)
    dst, src = [slice(None)] * (full.ndim - nd), [slice(None)] * (full.ndim - nd)
    for (pb, _), n, f in zip(plan.padding, plan.out_size, plan.full_size, strict=True):
        lo, hi = max(pb, 0), min(pb + n, f)
        dst.append(slice(lo - pb, max(hi - pb, lo - pb)))
        src.append(slice(lo, max(hi, lo)))
    ref[tuple(dst)] = full[tuple(src)]
    if b is not None:
        ref = ref + b.view(-1, *([1] * nd))
    for method in (*METHODS, "torch"):
        _check_close(method, tconv.conv_transpose(x, w, b, *args, method=method), ref, cfg["dtype"], cfg)


@st.composite
def negative_configs(draw, nd: int):
    cfg = draw(configs(nd, max_in=3, max_k=3, symmetric=False))
    pads = tuple((pb - draw(st.integers(0, 4)), pa - draw(st.integers(0, 4))) for pb, pa in cfg["padding"])
    return dict(cfg, padding=pads)


def test_negative_padding_every_method():
    strategy = st.integers(1, 3).flatmap(negative_configs)
    seen = _search(strategy, 120, _run_negative)
    assert len(seen) >= MIN_CONFIGS["neg"]
