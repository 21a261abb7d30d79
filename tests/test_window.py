"""tconv.window against PyTorch: conv and pooling sizes, ceil_mode, "same", and the positions each window reads."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tconv.errors import ConfigError
from tconv.window import forward_window, reach, same_pads

FAST = settings(max_examples=80, deadline=None)


def _torch_or_none(fn):
    try:
        return fn()
    except RuntimeError:
        return None


@FAST
@given(
    n=st.integers(1, 30),
    k=st.integers(1, 7),
    s=st.integers(1, 5),
    pb=st.integers(0, 4),
    pa=st.integers(0, 4),
    d=st.integers(1, 3),
)
def test_conv_window_matches_torch_and_reads_what_torch_reads(n, k, s, pb, pa, d):
    x = torch.arange(1, n + 1, dtype=torch.float64).view(1, 1, n)
    want = _torch_or_none(lambda: F.conv1d(F.pad(x, (pb, pa)), torch.ones(1, 1, k, dtype=x.dtype), None, s, 0, d))
    if want is None:
        with pytest.raises(ConfigError, match="^kernel_size="):
            forward_window(n, k, s, ((pb, pa),), d)
        return
    w = forward_window(n, k, s, ((pb, pa),), d)
    assert w.out_size == (want.shape[-1],)
    # every tap: a one-hot kernel picks the input the window reads (index + 1; 0 where it reads padding)
    m = w.index_map(0)
    for t in range(k):
        onehot = torch.zeros(1, 1, k, dtype=x.dtype)
        onehot[..., t] = 1
        got = F.conv1d(F.pad(x, (pb, pa)), onehot, None, s, 0, d)[0, 0].long().tolist()
        assert got == (m[:, t] + 1).tolist()
    # the transpose restores the input size (adjoint: the gradient of the conv)
    plan = w.transpose
    assert plan.in_size == w.out_size and plan.out_size == (n,)
    assert reach(w.out_size[0], k, s, d) <= n + pb + pa < reach(w.out_size[0], k, s, d) + s


@FAST
@given(
    n=st.integers(1, 25),
    k=st.integers(1, 6),
    s=st.integers(1, 5),
    p=st.integers(0, 3),
    d=st.integers(1, 3),
    ceil=st.booleans(),
)
def test_pool_windows_match_torch_incl_ceil_mode(n, k, s, p, d, ceil):
    if p > k // 2 or 2 * p > d * (k - 1) + 1:
        return  # torch refuses the padding of these pools outright
    x = torch.zeros(1, 1, n)
    want = _torch_or_none(lambda: F.max_pool1d(x, k, s, p, d, ceil_mode=ceil).shape[-1])
    if want is None:
        with pytest.raises(ConfigError):
            forward_window(n, k, s, p, d, ceil_mode=ceil)
        return
    w = forward_window(n, k, s, p, d, ceil_mode=ceil)
    assert w.out_size == (want,)
    if d == 1:
        assert w.out_size[0] == F.avg_pool1d(x, k, s, p, ceil_mode=ceil).shape[-1]
    # the last window starts inside the input or the left padding; the overhang is what ceil_mode adds
    assert (w.out_size[0] - 1) * s < n + p
    assert w.overhang[0] < s or not ceil
    assert w.transpose.out_size == (n,) and w.transpose.in_size == w.out_size


def test_ceil_mode_window_larger_than_the_input():
    # tconv shape 3 4 -s 4 --ceil-mode: torch gives one window
    assert F.max_pool1d(torch.zeros(1, 1, 3), 4, 4, ceil_mode=True).shape[-1] == 1
    assert forward_window(3, 4, 4, ceil_mode=True).out_size == (1,)
    assert forward_window(3, 4, 4, ceil_mode=True).overhang == (1,)
    with pytest.raises(ConfigError, match="^kernel_size=.*spans 4 > the padded input 3"):
        forward_window(3, 4, 4)


@FAST
@given(n=st.integers(1, 30), k=st.integers(1, 7), s=st.integers(1, 4), d=st.integers(1, 3))
@pytest.mark.filterwarnings("ignore:Using padding=.same.")
def test_same_is_one_rule(n, k, s, d):
    pads = same_pads(n, k, s, d)
    (pb, pa) = pads[0]
    assert 0 <= pa - pb <= 1
    x = torch.zeros(1, 1, n)
    y = F.conv1d(F.pad(x, (pb, pa)), torch.zeros(1, 1, k), None, s, 0, d)
    assert y.shape[-1] == math.ceil(n / s)  # TensorFlow's SAME
    assert forward_window(n, k, s, "same", d).padding == pads
    if s == 1:  # PyTorch's padding="same" pads exactly this (it checks the sizes; the values check the side)
        xr = torch.randn(1, 1, n, dtype=torch.float64)
        wr = torch.randn(1, 1, k, dtype=torch.float64)
        torch_same = F.conv1d(xr, wr, None, 1, "same", d)
        assert torch.allclose(torch_same, F.conv1d(F.pad(xr, (pb, pa)), wr, None, 1, 0, d))


def test_windows_in_2d_and_errors():
    w = forward_window((224, 200), (11, 3), stride=(4, 2), padding=((2, 2), (1, 0)))
    y = F.conv2d(F.pad(torch.zeros(1, 1, 224, 200), (1, 0, 2, 2)), torch.zeros(1, 1, 11, 3), None, (4, 2))
    assert w.out_size == tuple(y.shape[-2:])
    assert forward_window(7, 3, stride=None).stride == (3,)  # pooling's default stride: the kernel
    with pytest.raises(ConfigError, match="^padding="):
        forward_window(7, 3, padding=-1)
    with pytest.raises(ConfigError, match="^stride="):
        forward_window(7, 3, stride=0)
    with pytest.raises(ConfigError, match="^padding="):
        forward_window(7, 3, padding="full")
