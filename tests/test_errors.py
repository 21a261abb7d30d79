"""Every bad-input rule: the error class, and a message naming the parameter, its value and the rule — raised before
any formulation runs (so before any output is allocated)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import tconv
import tconv.ops.dispatch as dispatch
from tconv.errors import ConfigError, ConfigTypeError


def _x(*shape, dtype=torch.float32):
    return torch.zeros(shape, dtype=dtype)


# (id, kwargs for conv_transpose, expected exception, expected message regex)
CASES = [
    ("stride-zero", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3, 3), stride=0), ConfigError,
     r"stride=(0, 0) must be positive in every dimension"),
    ("stride-negative-one-dim", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3, 3), stride=(2, -1)), ConfigError,
     r"stride=(2, -1) must be positive in every dimension"),
    ("dilation-zero", dict(input=_x(1, 1, 4), weight=_x(1, 1, 3), dilation=0), ConfigError,
     r"dilation=(0,) must be positive in every dimension"),
    ("kernel-size-zero", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 0, 3)), ConfigError,
     r"kernel_size=(0, 3) must be positive in every dimension"),
    ("groups-zero", dict(input=_x(1, 2, 4), weight=_x(2, 1, 3), groups=0), ConfigError, r"groups=0 must be positive"),
    ("groups-negative", dict(input=_x(1, 2, 4), weight=_x(2, 1, 3), groups=-2), ConfigError,
     r"groups=-2 must be positive"),
    ("padding-negative", dict(input=_x(1, 1, 4), weight=_x(1, 1, 3), padding=-1), ConfigError,
     r"padding=-1 must be non-negative in every dimension"),
    ("padding-pair-negative", dict(input=_x(1, 1, 4), weight=_x(1, 1, 3), padding=((1, -1),)), ConfigError,
     r"padding=((1, -1),) must be non-negative in every dimension"),
    ("output-padding-too-large", dict(input=_x(1, 1, 4), weight=_x(1, 1, 3), stride=2, output_padding=2),
     ConfigError, r"output_padding=(2,) must be smaller than max(stride, dilation)=(2,) in every dimension"),
    ("output-padding-dilation", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3, 3), stride=1, dilation=(3, 1),
                                     output_padding=(2, 1)), ConfigError,
     r"output_padding=(2, 1) must be smaller than max(stride, dilation)=(3, 1) in every dimension"),
    ("output-padding-negative", dict(input=_x(1, 1, 4), weight=_x(1, 1, 3), output_padding=-1), ConfigError,
     r"output_padding=(-1,) must be non-negative in every dimension"),
    ("channels-not-divisible", dict(input=_x(1, 3, 4), weight=_x(3, 1, 3), groups=2), ConfigError,
     r"groups=2 must divide in_channels=weight.shape[0]=3"),
    ("channel-mismatch", dict(input=_x(1, 3, 4), weight=_x(2, 1, 3)), ConfigError,
     r"input=(1, 3, 4) has 3 channels but weight.shape[0]=2 (in_channels) must equal it"),
    ("dims-input-vs-weight", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3)), ConfigError,
     r"input=(1, 1, 4, 4) must have 3 dimensions (N, C_in, *spatial) or 2 (unbatched) to match a 1-d weight"),
    ("dims-weight-too-small", dict(input=_x(1, 4), weight=_x(1, 4)), ConfigError,
     r"weight=(1, 4) must have shape (C_in, C_out/groups, *kernel) with at least one spatial dim"),
    ("dims-stride-length", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3, 3), stride=(1, 2, 3)), ConfigError,
     r"stride=(1, 2, 3) must have 2 entries, one per spatial dimension (got 3)"),
    ("dims-output-size-length", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3, 3), output_size=(6,) * 5),
     ConfigError, r"output_size=(6, 6, 6, 6, 6) must have 2 spatial entries (or 4 with N, C)"),
    ("output-smaller-than-one", dict(input=_x(1, 1, 1), weight=_x(1, 1, 1), padding=1), ConfigError,
     r"padding=1 leaves an output of size (-1,): every dimension must be >= 1"),
    ("output-size-unreachable", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=2, output_size=[20]), ConfigError,
     r"output_size=(20,) is not reachable: dimension 0 must be between 7 and 8 (the sizes output_padding 0..stride-1 "
     r"can give), got 20"),
    ("output-size-negative", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), output_size=(-3,)), ConfigError,
     r"output_size=(-3,) must be between 1 and 2147483648 in every dimension"),
    ("output-size-absurd", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), output_size=(1 << 45,)), ConfigError,
     r"output_size=(35184372088832,) must be between 1 and 2147483648 in every dimension"),
    ("output-absurd-elements", dict(input=_x(1, 1, 3, 3), weight=_x(1, 1, 3, 3), stride=10**9), ConfigError,
     r"input=(1, 1, 3, 3) gives an absurd output of 4000000012000000009 elements"),
    ("output-absurd-per-dim", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=2**31), ConfigError,
     r"input=(1, 1, 3) gives an absurd output size (4294967299,)"),
    ("no-input-channels", dict(input=_x(1, 0, 3), weight=_x(0, 1, 3)), ConfigError,
     r"weight=(0, 1, 3) must have at least one input channel (shape[0] >= 1)"),
    ("padding-unknown-string", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), padding="full"), ConfigError,
     r"padding='full' must be an int, per-dimension ints or pairs, 'same' or 'valid'"),
    ("same-with-output-padding", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=2, padding="same",
                                      output_padding=1), ConfigError,
     r"output_padding=(1,) must be 0 with padding='same': give output_size instead"),
    ("same-unreachable", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=2, padding="same", output_size=(9,)),
     ConfigError, r"output_size=(9,) is not reachable with padding='same': ceil(output / stride) must equal the "
     r"input size 3 in dimension 0, so the output must be between 5 and 6, got 9"),
    ("bias-shape", dict(input=_x(1, 2, 3), weight=_x(2, 3, 3), bias=_x(2)), ConfigError,
     r"bias=(2,) must have shape (out_channels,)=(3,)"),
    ("method-unknown", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), method="fft"), ConfigError,
     r"method='fft' must be one of ('scatter', 'zero_insert', 'matrix', 'autograd', 'col2im', 'polyphase', 'auto', "
     r"'torch', 'torch_cl', 'gemm', 'subpixel', 'triton')"),
    # wrong types: TypeError (ConfigTypeError)
    ("stride-float", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=1.5), ConfigTypeError,
     r"stride=1.5 must be an int, a string or a (nested) sequence of ints"),
    ("stride-bool", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=True), ConfigTypeError,
     r"stride=True must be an int, a string or a (nested) sequence of ints"),
    ("groups-float", dict(input=_x(1, 2, 3), weight=_x(2, 1, 3), groups=2.0), ConfigTypeError,
     r"groups=2.0 must be an int"),
    ("output-size-float", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), output_size=(5.0,)), ConfigTypeError,
     r"output_size=5.0 must be an int, a string or a (nested) sequence of ints"),
    ("input-list", dict(input=[[[1.0]]], weight=_x(1, 1, 3)), ConfigTypeError,
     r"input='list' must be a torch.Tensor or a numpy.ndarray"),
    ("input-int-array", dict(input=np.zeros((1, 1, 3), dtype=np.int64), weight=np.zeros((1, 1, 3))), ConfigTypeError,
     r"input='ndarray(dtype=int64)' must be float32 or float64"),
    ("input-int-tensor", dict(input=torch.zeros(1, 1, 3, dtype=torch.int64), weight=_x(1, 1, 3)), ConfigTypeError,
     r"input='tensor(dtype=torch.int64)' must be a floating-point tensor"),
    ("weight-dtype", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3, dtype=torch.float64)), ConfigTypeError,
     r"weight='tensor(dtype=torch.float64)' must have the input's dtype torch.float32"),
    ("bias-dtype", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), bias=_x(1, dtype=torch.float64)), ConfigTypeError,
     r"bias='tensor(dtype=torch.float64)' must have the input's dtype torch.float32"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "exc", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_message(kwargs, exc, message, monkeypatch):
    called = []
    monkeypatch.setattr(dispatch, "get_method", lambda name: called.append(name))  # never reached on bad input
    with pytest.raises(exc, match=re.escape(message)) as info:
        tconv.conv_transpose(**kwargs)
    assert not called, "a formulation was called before validation finished"
    err = info.value
    assert isinstance(err, ValueError if exc is ConfigError else TypeError)
    assert str(err).startswith(f"{err.param}=")  # the message opens with the parameter and its value


def test_cases_cover_the_issue_rules():
    """The issue's list (item 3): each rule has at least one case above."""
    ids = " ".join(c[0] for c in CASES)
    for rule in ("stride", "dilation", "kernel-size", "groups", "padding-negative", "output-padding-too-large",
                 "channels-not-divisible", "channel-mismatch", "dims-", "output-smaller-than-one",
                 "output-size-unreachable", "output-size-negative", "output-size-absurd"):  # fmt: skip
        assert rule in ids, rule


@pytest.mark.parametrize("method", ["scatter", "zero_insert", "matrix", "autograd", "col2im", "polyphase", "auto"])
def test_every_method_refuses_before_work(method):
    with pytest.raises(ConfigError, match=re.escape("output_padding=(2,) must be smaller than")):
        tconv.conv_transpose(_x(1, 1, 4), _x(1, 1, 3), stride=2, output_padding=2, method=method)


def test_nan_and_inf_are_values_not_errors():
    x = torch.tensor([[[float("nan"), 1.0, float("inf")]]])
    y = tconv.conv_transpose(x, torch.ones(1, 1, 2), stride=2, method="polyphase")
    ref = torch.nn.functional.conv_transpose1d(x, torch.ones(1, 1, 2), stride=2)
    assert torch.equal(torch.isnan(y), torch.isnan(ref)) and torch.equal(torch.isinf(y), torch.isinf(ref))


def test_matrix_method_refuses_a_huge_matrix_before_building_it():
    """SD-like 320->320 64^2 k3 s2: C would hold 3.7e9 entries; refused with the number, nothing allocated."""
    x, w = torch.zeros(1, 320, 64, 64), torch.zeros(320, 320, 3, 3)
    with pytest.raises(ConfigError, match=re.escape("method='matrix' needs a sparse matrix with 3735654400 stored")):
        tconv.conv_transpose(x, w, stride=2, padding=1, output_padding=1, method="matrix")
    with pytest.raises(ConfigError, match="needs a sparse matrix with"):
        tconv.conv_matrix(tconv.make_plan((1, 1, 4096, 4096), (1, 1, 9, 9)))
