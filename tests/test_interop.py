"""Other frameworks' arguments (tconv.interop): ONNX node cases replayed from the spec, JAX/TF-style random cases
against definitions written here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
from tconv.errors import ConfigError
from tconv.interop import from_jax, from_onnx

pytestmark = pytest.mark.usefixtures("small_tensor_speed")  # tests/conftest.py
METHODS = ("scatter", "zero_insert", "matrix", "autograd", "col2im", "polyphase", "auto")


def onnx_definition(x, w, strides, pads, dilations, out_shape):
    """ONNX ConvTranspose (group 1) by its definition: every input scatters its kernel into the *full* output at
    j * s + t * d; the output is that, cropped by pads[begin] (negative: zeros first), out_shape long."""
    n, _, *isz = x.shape
    k = w.shape[2:]
    nd = len(isz)
    y = np.zeros((n, w.shape[1], *out_shape))
    for j in np.ndindex(*isz):
        for t in np.ndindex(*k):
            o = tuple(
                jj * s + tt * d - pads[i] for i, (jj, tt, s, d) in enumerate(zip(j, t, strides, dilations, strict=True))
            )
            if all(0 <= oo < m for oo, m in zip(o, out_shape, strict=True)):
                y[(slice(None), slice(None), *o)] += np.einsum("nc,cd->nd", x[(slice(None), slice(None), *j)],
                                                              w[(slice(None), slice(None), *t)])  # fmt: skip
    assert len(pads) == 2 * nd
    return y


X33 = np.arange(9.0).reshape(1, 1, 3, 3)
W2 = np.ones((1, 2, 3, 3))
# The published ONNX backend node cases for ConvTranspose (onnx/backend/test/case/node/convtranspose.py):
# (name, attributes, X, W, expected output shape)
ONNX_NODES = [
    ("convtranspose", {}, X33, W2, (5, 5)),
    ("convtranspose_1d", {}, np.arange(3.0).reshape(1, 1, 3), np.ones((1, 2, 3)), (5,)),
    ("convtranspose_3d", {}, np.arange(60.0).reshape(1, 1, 3, 4, 5), np.ones((1, 2, 3, 3, 3)), (5, 6, 7)),
    ("convtranspose_attributes", {"strides": [3, 2], "output_shape": [10, 8]}, X33, W2, (10, 8)),
    ("convtranspose_output_shape", {"strides": [3, 2], "output_shape": [1, 2, 10, 8]}, X33, W2, (10, 8)),
    ("convtranspose_kernel_shape", {"strides": [3, 2], "output_shape": [10, 8], "kernel_shape": [3, 3],
                                    "output_padding": [1, 1]}, X33, W2, (10, 8)),
    ("convtranspose_pad", {"strides": [3, 2], "output_padding": [1, 1]}, X33, W2, (10, 8)),
    ("convtranspose_pads", {"strides": [3, 2], "pads": [1, 2, 1, 2]}, X33, W2, (7, 3)),
    ("convtranspose_dilations", {"dilations": [2, 2]}, np.array([[[[3.0, 8, 1], [9, 5, 7], [3, 2, 6]]]]),
     np.array([[[[7.0, 2], [1, 9]]]]), (5, 5)),
    ("convtranspose_autopad_same", {"auto_pad": "SAME_UPPER", "strides": [2, 2]}, X33, W2, (6, 6)),
    ("convtranspose_autopad_same_lower", {"auto_pad": "SAME_LOWER", "strides": [2, 2]}, X33, W2, (6, 6)),
    ("convtranspose_group_2", {"group": 2}, np.arange(18.0).reshape(1, 2, 3, 3), np.ones((2, 1, 3, 3)), (5, 5)),
    ("convtranspose_valid", {"auto_pad": "VALID", "strides": [2, 2]}, X33, W2, (7, 7)),
    ("convtranspose_negative_total", {"strides": [1], "output_shape": [8]}, np.arange(3.0).reshape(1, 1, 3),
     np.ones((1, 1, 3)), (8,)),
]  # fmt: skip


@pytest.mark.parametrize(("attrs", "x", "w", "shape"), [c[1:] for c in ONNX_NODES], ids=[c[0] for c in ONNX_NODES])
def test_onnx_node_cases(attrs, x, w, shape):
    kw = from_onnx(attrs, x.shape, w.shape)
    y = tconv.conv_transpose(x, w, **kw, method="scatter")
    assert y.shape[2:] == shape
    g = kw["groups"]
    if g == 1:
        pads = [p for p, _ in kw["padding"]] + [p for _, p in kw["padding"]]
        ref = onnx_definition(x, w, kw["stride"], pads, kw["dilation"], shape)
        np.testing.assert_allclose(y, ref)
    for method in METHODS:
        np.testing.assert_allclose(tconv.conv_transpose(x, w, **kw, method=method), y, atol=1e-12, err_msg=method)


def test_onnx_published_pads_case_values():
    """test_convtranspose_pads' published output (strides [3, 2], pads [1, 2, 1, 2]), first channel."""
    y = tconv.conv_transpose(X33, W2, **from_onnx({"strides": [3, 2], "pads": [1, 2, 1, 2]}, X33.shape, W2.shape))
    want = [[1, 1, 3], [1, 1, 3], [7, 4, 9], [7, 4, 9], [7, 4, 9], [13, 7, 15], [13, 7, 15]]
    np.testing.assert_array_equal(y[0, 0], want)
    np.testing.assert_array_equal(y[0, 1], want)


def test_onnxruntime_and_the_spec_differ_only_where_the_total_is_negative():
    x, w = np.arange(3.0).reshape(1, 1, 3), np.ones((1, 1, 3))
    spec = tconv.conv_transpose(x, w, **from_onnx({"output_shape": [8]}, x.shape, w.shape))
    ort = tconv.conv_transpose(x, w, **from_onnx({"output_shape": [8]}, x.shape, w.shape, onnxruntime=True))
    full = [0, 1, 3, 3, 2]
    assert spec.ravel().tolist() == [0, *full, 0, 0]  # the spec: one zero before, two after
    assert ort.ravel().tolist() == [*full, 0, 0, 0]  # onnxruntime: all after
    same = from_onnx({"output_shape": [4]}, x.shape, w.shape)  # total 1 >= 0: the same crop either way, odd one...
    assert same["padding"] == ((1, 0),)  # ... first (NOTSET), and onnxruntime puts it last
    assert from_onnx({"output_shape": [4]}, x.shape, w.shape, onnxruntime=True)["padding"] == ((0, 1),)
    with pytest.raises(ConfigError, match="auto_pad='SAME'"):
        from_onnx({"auto_pad": "SAME"}, x.shape, w.shape)


def _jax_definition(x, w, stride, pads, dilation):
    """jax.lax.conv_transpose(x, w, stride, pads, rhs_dilation, transpose_kernel=True) by its definition, 1-D:
    insert s - 1 zeros, pad (lo, hi) (negative crops), correlate with the flipped kernel dilated by d."""
    n, _, i = x.shape
    k = w.shape[2]
    up = np.zeros((n, x.shape[1], (i - 1) * stride + 1))
    up[..., ::stride] = x
    lo, hi = pads
    up = np.pad(up, ((0, 0), (0, 0), (max(lo, 0), max(hi, 0))))
    up = up[..., max(-lo, 0) : max(up.shape[-1] - max(-hi, 0), 0)]
    span = dilation * (k - 1) + 1
    out = max(up.shape[-1] - span + 1, 0)
    wf = w[..., ::-1]
    y = np.zeros((n, w.shape[1], out))
    for o in range(out):
        for t in range(k):
            y[..., o] += np.einsum("nc,cd->nd", up[..., o + t * dilation], wf[..., t])
    return y


@settings(max_examples=60, deadline=None)
@given(
    i=st.integers(1, 5),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    d=st.integers(1, 2),
    lo=st.integers(-3, 8),
    hi=st.integers(-3, 8),
    seed=st.integers(0, 2**16),
)
def test_jax_style_padding_against_its_definition(i, k, s, d, lo, hi, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((2, 2, i)), rng.standard_normal((2, 3, k))
    kw = from_jax([(lo, hi)], (k,), d)
    if (i - 1) * s + 1 + lo + hi - d * (k - 1) < 0:  # JAX refuses a negative output size too
        with pytest.raises(ConfigError, match="leaves an output of size"):
            tconv.conv_transpose(x, w, stride=s, dilation=d, **kw)
        return
    ref = _jax_definition(x, w, s, (lo, hi), d)
    for method in METHODS:
        y = tconv.conv_transpose(x, w, stride=s, dilation=d, **kw, method=method)
        np.testing.assert_allclose(y, ref, atol=1e-12, err_msg=method)


@settings(max_examples=25, deadline=None)
@given(
    i=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    pb=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    extra=st.tuples(st.integers(0, 5), st.integers(0, 5)),
    seed=st.integers(0, 2**16),
)
def test_trailing_extension_beyond_output_padding_is_zeros(i, k, s, pb, extra, seed):
    """TF/Keras/ONNX outputs longer than output_padding < stride allows: a negative end crop adds zeros at the end."""
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((1, 2, *i)), rng.standard_normal((2, 2, *k))
    full = [(ii - 1) * ss + kk for ii, ss, kk in zip(i, s, k, strict=True)]
    if any(f - p < 1 for f, p in zip(full, pb, strict=True)):
        return
    base = tconv.conv_transpose(x, w, stride=s, padding=tuple((p, 0) for p in pb), method="scatter")
    pads = tuple((p, -e) for p, e in zip(pb, extra, strict=True))
    n0, n1 = base.shape[2:]
    for method in ("scatter", "polyphase", "col2im", "auto"):
        y = tconv.conv_transpose(x, w, stride=s, padding=pads, method=method)
        assert y.shape[2:] == (n0 + extra[0], n1 + extra[1])
        np.testing.assert_allclose(y[..., :n0, :n1], base, atol=1e-12)
        assert not y[..., n0:, :].any() and not y[..., :, n1:].any()


def test_jax_empty_outputs():
    x, w = torch.randn(1, 1, 2, requires_grad=True), torch.randn(1, 1, 3)
    y = tconv.conv_transpose(x, w, padding=((2, 2),))  # full 4 - 4 = 0, as JAX gives
    assert y.shape == (1, 1, 0)
    y.sum().backward()
    assert x.grad.tolist() == [[[0.0, 0.0]]]
