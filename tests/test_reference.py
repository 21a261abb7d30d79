"""Seed 000's list-based vector_tconv: exact against torch on integers, the seed's own examples, its errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tconv.errors import ConfigError, ConfigTypeError
from tconv.reference import vector_tconv


def _torch_1d(v, k, padding, stride, dilation, output_padding):
    x = torch.tensor([[v]], dtype=torch.float64)
    w = torch.tensor([[k]], dtype=torch.float64)
    return F.conv_transpose1d(x, w, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)


@st.composite
def cases(draw):
    n, k = draw(st.integers(1, 6)), draw(st.integers(1, 6))  # the vector may be shorter than the kernel
    s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    op = draw(st.integers(0, max(s, d) - 1))
    full = (n - 1) * s + d * (k - 1) + 1
    p = draw(st.integers(0, (full + op - 1) // 2))  # may exceed d * (k - 1): crops into the result
    v = draw(st.lists(st.integers(-9, 9), min_size=n, max_size=n))
    w = draw(st.lists(st.integers(-9, 9), min_size=k, max_size=k))
    return v, w, p, s, d, op


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(cases())
def test_matches_torch_exactly_on_integers(case):
    v, w, p, s, d, op = case
    got = vector_tconv(v, w, padding=p, stride=s, dilation=d, output_padding=op)
    assert all(isinstance(g, int) for g in got)  # plain Python ints in, ints out
    assert got == _torch_1d(v, w, p, s, d, op).flatten().tolist()


def test_per_side_padding_pair():
    v, w = [1, 2, 3], [1, -1, 2]
    full = vector_tconv(v, w, stride=2)
    assert vector_tconv(v, w, padding=(2, 1), stride=2) == full[2:-1]
    assert vector_tconv(v, w, padding=(0, 3), stride=2, output_padding=1) == (full + [0])[: len(full) + 1 - 3]


def test_seed_examples():
    # seed 000 §2.1: basic transposed convolution = full-padding convolution with the flipped kernel
    assert vector_tconv([1, 2], [1, 2, 3]) == [1, 4, 7, 6]
    # §2.3: stride 2 inserts one zero between inputs; output_padding appends at the end (formula 2.8)
    assert vector_tconv([1, 2], [1, 2, 3], stride=2) == [1, 2, 5, 4, 6]
    assert vector_tconv([1, 2], [1, 2, 3], stride=2, output_padding=1) == [1, 2, 5, 4, 6, 0]
    # §2.4: dilation 2 spreads the kernel to 2 * (3 - 1) + 1 = 5 taps
    assert vector_tconv([1], [1, 2, 3], dilation=2) == [1, 0, 2, 0, 3]
    # the seed asserted len(vector) >= len(kernel); a single input is just the scaled kernel
    assert vector_tconv([2.0], [1.0, 0.5]) == [2.0, 1.0]


def test_output_length_is_formula_2_11():
    for n, k, s, d, op, p in [(5, 3, 2, 1, 1, 1), (3, 4, 3, 2, 2, 2), (1, 5, 4, 1, 0, 0)]:
        out = vector_tconv([1] * n, [1] * k, padding=p, stride=s, dilation=d, output_padding=op)
        assert len(out) == (n - 1) * s + op + (d * (k - 1) + 1) - 2 * p


def test_errors_name_the_parameter():
    with pytest.raises(ConfigError, match=r"output_padding=\(2,\) must be smaller than max\(stride, dilation\)=\(2,\)"):
        vector_tconv([1, 2], [1, 2], stride=2, output_padding=2)
    with pytest.raises(ConfigError, match=r"stride=\(0,\) must be positive"):
        vector_tconv([1, 2], [1, 2], stride=0)
    with pytest.raises(ConfigError, match=r"padding=-1 must be non-negative"):
        vector_tconv([1, 2], [1, 2], padding=-1)
    with pytest.raises(ConfigError, match="leaves an output of size"):
        vector_tconv([1], [1], padding=1)
    with pytest.raises(ConfigError, match="kernel_size"):
        vector_tconv([1, 2], [])
    with pytest.raises(ConfigTypeError, match="vector='str' must be a list"):
        vector_tconv("12", [1])
    with pytest.raises(ConfigTypeError, match="kernel=.* must contain only numbers"):
        vector_tconv([1], [1, "a"])
