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
    ("padding-negative-per-dim", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3, 3), padding=(1, -1)), ConfigError,
     r"padding=(1, -1) must be non-negative in every dimension (for zeros outside the full output, JAX/ONNX style, "
     r"give (before, after) pairs"),
    ("padding-pair-negative-beyond-output", dict(input=_x(1, 1, 2), weight=_x(1, 1, 1), padding=((4, -1),)),
     ConfigError, r"padding=((4, -1),) leaves an output of size (-1,): every dimension must be >= 0"),
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
     ConfigError, r"output_size=(6, 6, 6, 6, 6) must have 2 spatial entries (or 4: (N, C, *spatial) of this input)"),
    # torch refuses a 3-entry output_size for a batched 2-D input (C, H, W is only for unbatched ones)
    ("dims-output-size-three-for-2d", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3, 3), output_size=(1, 6, 6)),
     ConfigError, r"output_size=(1, 6, 6) must have 2 spatial entries (or 4: (N, C, *spatial) of this input)"),
    ("dims-output-size-four-unbatched", dict(input=_x(1, 4, 4), weight=_x(1, 1, 3, 3), output_size=(1, 1, 6, 6)),
     ConfigError, r"output_size=(1, 1, 6, 6) must have 2 spatial entries (or 3: (C, *spatial) of this input)"),
    ("dims-padding-length", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3, 3), padding=(1, 1, 1)), ConfigError,
     r"padding=(1, 1, 1) must have 2 entries, one per spatial dimension (got 3)"),
    ("dims-dilation-length", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3, 3), dilation=(1, 1, 1)), ConfigError,
     r"dilation=(1, 1, 1) must have 2 entries, one per spatial dimension (got 3)"),
    ("dims-output-padding-length", dict(input=_x(1, 1, 4, 4), weight=_x(1, 1, 3, 3), stride=2,
                                        output_padding=(1, 1, 1)), ConfigError,
     r"output_padding=(1, 1, 1) must have 2 entries, one per spatial dimension (got 3)"),
    ("output-smaller-than-one", dict(input=_x(1, 1, 1), weight=_x(1, 1, 1), padding=1), ConfigError,
     r"padding=1 leaves an output of size (-1,): every dimension must be >= 0"),
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
     r"padding='full' must be an int, per-dimension ints or pairs, 'same', 'same_lower' or 'valid'"),
    ("padding-mode-unknown", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), padding_mode="mirror"), ConfigError,
     r"padding_mode='mirror' must be one of ('zeros', 'circular', 'reflect', 'replicate')"),
    ("padding-mode-negative-pads", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), padding=((-1, 1),),
                                        padding_mode="circular"), ConfigError,
     r"padding=((-1, 1),) must be non-negative with padding_mode='circular' (dimension 0)"),
    ("padding-mode-reflect-too-wide", dict(input=_x(1, 1, 2), weight=_x(1, 1, 5), padding=2, padding_mode="reflect"),
     ConfigError, r"padding=((2, 2),) must be smaller than the output size 2 with padding_mode='reflect' (dimension 0)"),
    ("padding-mode-circular-too-wide", dict(input=_x(1, 1, 1), weight=_x(1, 1, 5), padding=2,
                                            padding_mode="circular"), ConfigError,
     r"padding=((2, 2),) must be at most the output size 1 with padding_mode='circular' (dimension 0)"),
    ("same-with-output-padding", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=2, padding="same",
                                      output_padding=1), ConfigError,
     r"output_padding=(1,) must be 0 with padding='same': give output_size instead"),
    ("same-unreachable", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=2, padding="same", output_size=(9,)),
     ConfigError, r"output_size=(9,) is not reachable with padding='same': ceil(output / stride) must equal the "
     r"input size 3 in dimension 0, so the output must be between 5 and 6, got 9"),
    ("bias-shape", dict(input=_x(1, 2, 3), weight=_x(2, 3, 3), bias=_x(2)), ConfigError,
     r"bias=(2,) must have shape (out_channels,)=(3,)"),
    ("method-unknown", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), method="fourier"), ConfigError,
     r"method='fourier' must be one of ('scatter', 'zero_insert', 'matrix', 'autograd', 'col2im', 'polyphase', 'auto', "
     r"'torch', 'torch_cl', 'gemm', 'subpixel', 'fft', 'triton')"),
    # wrong types: TypeError (ConfigTypeError)
    ("stride-float", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=1.5), ConfigTypeError,
     r"stride=1.5 must be an int or a sequence of ints (1.5 is a float)"),
    ("stride-integral-float", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=2.0), ConfigTypeError,
     r"stride=2.0 must be an int or a sequence of ints (2.0 is a float)"),
    ("stride-bool", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=True), ConfigTypeError,
     r"stride=True must be an int or a sequence of ints (True is a bool)"),
    ("stride-tensor", dict(input=_x(1, 1, 3, 3), weight=_x(1, 1, 3, 3), stride=torch.tensor([2, 2])),
     ConfigTypeError, r"stride=tensor([2, 2]) must be an int or a sequence of ints, not a tensor of shape (2,) and "
     r"dtype torch.int64 (pass tuple(t.tolist()); 0-d integer tensors are accepted)"),
    ("stride-float-tensor-0d", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=torch.tensor(2.0)),
     ConfigTypeError, r"stride=tensor(2.) must be an int or a sequence of ints, not a tensor of shape ()"),
    ("stride-string", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride="2"), ConfigTypeError,
     r"stride='2' must be an int or a sequence of 1 ints"),
    ("stride-nan", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=float("nan")), ConfigTypeError,
     r"stride=nan must be an int or a sequence of ints (nan is a float)"),
    ("padding-bool-in-tuple", dict(input=_x(1, 1, 3, 3), weight=_x(1, 1, 3, 3), padding=(True, 1)), ConfigTypeError,
     r"padding=(True, 1) must be an int, one int or (before, after) pair of ints per dimension, 'same', "
     r"'same_lower' or 'valid' (True is a bool)"),
    ("padding-float-in-pair", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), padding=((1, 0.5),)), ConfigTypeError,
     r"padding=((1, 0.5),) must be an int, one int or (before, after) pair"),
    ("padding-triple", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), padding=((1, 0, 1),)), ConfigTypeError,
     r"padding=((1, 0, 1),) entries must be ints or (before, after) pairs of ints"),
    ("dilation-float", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), dilation=(2.5,)), ConfigTypeError,
     r"dilation=(2.5,) must be an int or a sequence of ints (2.5 is a float)"),
    ("output-padding-bool", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), stride=2, output_padding=False),
     ConfigTypeError, r"output_padding=False must be an int or a sequence of ints (False is a bool)"),
    ("groups-bool", dict(input=_x(1, 2, 3), weight=_x(2, 1, 3), groups=True), ConfigTypeError,
     r"groups=True must be an int (True is a bool)"),
    ("groups-tensor", dict(input=_x(1, 2, 3), weight=_x(2, 1, 3), groups=torch.tensor([2])), ConfigTypeError,
     r"groups=tensor([2]) must be an int, not a tensor of shape (1,)"),
    ("groups-float", dict(input=_x(1, 2, 3), weight=_x(2, 1, 3), groups=2.0), ConfigTypeError,
     r"groups=2.0 must be an int"),
    ("output-size-float", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), output_size=(5.0,)), ConfigTypeError,
     r"output_size=(5.0,) must be an int or a sequence of ints (5.0 is a float)"),
    # the issue's repro: silently truncated to (10, 10) before
    ("output-size-fractional", dict(input=_x(1, 1, 5, 5), weight=_x(1, 1, 3, 3), stride=2, output_size=(10.7, 10.2)),
     ConfigTypeError, r"output_size=(10.7, 10.2) must be an int or a sequence of ints (10.7 is a float)"),
    ("output-size-string", dict(input=_x(1, 1, 3), weight=_x(1, 1, 3), output_size="5"), ConfigTypeError,
     r"output_size='5' must be an int or a sequence of ints"),
    ("input-list", dict(input=[[[1.0]]], weight=_x(1, 1, 3)), ConfigTypeError,
     r"input='list' must be a torch.Tensor or a numpy.ndarray"),
    ("input-int-array", dict(input=np.zeros((1, 1, 3), dtype=np.int64), weight=np.zeros((1, 1, 3))), ConfigTypeError,
     r"input='ndarray(dtype=int64)' must be float32 or float64"),
    ("input-int-tensor", dict(input=torch.zeros(1, 1, 3, dtype=torch.int64), weight=_x(1, 1, 3)), ConfigTypeError,
     r"input='tensor(dtype=torch.int64)' must be float16, bfloat16, float32 or float64: integer tensors have no "
     r"convolution on CPU in torch"),
    ("input-complex-tensor", dict(input=torch.zeros(1, 1, 3, dtype=torch.complex64),
                                  weight=torch.zeros(1, 1, 3, dtype=torch.complex64)), ConfigTypeError,
     r"input='tensor(dtype=torch.complex64)' must be float16, bfloat16, float32 or float64"),
    ("input-bool-tensor", dict(input=torch.zeros(1, 1, 3, dtype=torch.bool), weight=_x(1, 1, 3)), ConfigTypeError,
     r"input='tensor(dtype=torch.bool)' must be float16"),
    ("input-complex-array", dict(input=np.zeros((1, 1, 3), dtype=np.complex128), weight=np.zeros((1, 1, 3))),
     ConfigTypeError, r"input='ndarray(dtype=complex128)' must be float32 or float64"),
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


# ---- strict inputs that are accepted (issue 16) ---------------------------------------------------------------
def test_zero_d_integer_tensors_and_numpy_ints_are_ints():
    x, w = torch.randn(1, 1, 3, 3), torch.randn(1, 1, 3, 3)
    ref = tconv.conv_transpose(x, w, stride=2, padding=1, method="scatter")
    for stride, padding in ((torch.tensor(2), torch.tensor(1)), (np.int64(2), np.int32(1)), ([2, 2], [1, 1])):
        y = tconv.conv_transpose(x, w, stride=stride, padding=padding, method="scatter")
        torch.testing.assert_close(y, ref)
    y = tconv.conv_transpose(x, w, stride=2, padding=1, output_size=torch.Size([5, 5]), method="scatter")
    assert y.shape[2:] == (5, 5)


def test_sizes_blame_the_parameter_the_caller_passed():
    """The issue's repro: conv_output_size(10**30, 3) blamed output_size, which the caller never passed."""
    for fn in (tconv.conv_output_size, tconv.conv_transpose_output_size):
        with pytest.raises(ConfigError, match=re.escape(f"i={10**30} must be between 1 and 2147483648")):
            fn(10**30, 3)
    with pytest.raises(ConfigError, match=re.escape(f"in_size={10**30} must be between 1 and")):
        tconv.conv_plan(10**30, 3)


# ---- memory: refused before allocating, with the bytes (issue 16) ------------------------------------------------
def test_a_one_tib_output_is_refused_before_the_allocator():
    """Below the 2**40-element sanity limit, but no machine here has 1 TiB: refused with the bytes it needs."""
    x, w = torch.zeros(1, 1, 2, 2), torch.zeros(1, 4096, 1, 1)  # stride 2**13 -> 4096 x 8193 x 8193 floats
    with pytest.raises(ConfigError, match=r"input=\(1, 1, 2, 2\) needs 1099780079616 bytes \(1.0 TiB\) for the output"):
        tconv.conv_transpose(x, w, stride=2**13, method="scatter")


@pytest.mark.parametrize("method", ["scatter", "zero_insert", "matrix", "autograd", "col2im", "polyphase", "auto"])
def test_memory_cap_refuses_the_output(method, monkeypatch):
    monkeypatch.setenv("TCONV_MAX_BYTES", "4000")
    x, w = torch.zeros(1, 1, 8, 8), torch.zeros(1, 4, 3, 3)  # output 4 x 17 x 17 floats = 4624 bytes
    with pytest.raises(ConfigError, match=r"input=\(1, 1, 8, 8\) needs 4624 bytes \(4.5 KiB\) for the output "
                       r"\(1, 4, 17, 17\), more than the 4000 bytes of memory available on cpu"):  # fmt: skip
        tconv.conv_transpose(x, w, stride=2, method=method)


def test_memory_cap_names_the_method_whose_temporary_cannot_fit(monkeypatch):
    x, w = torch.zeros(1, 1, 8, 8), torch.zeros(1, 4, 3, 3)
    monkeypatch.setenv("TCONV_MAX_BYTES", "8000")  # the output fits; col2im's columns (+ full output) do not
    with pytest.raises(ConfigError, match=r"method='col2im' needs \d+ bytes .* for the output and its columns"):
        tconv.conv_transpose(x, w, stride=2, method="col2im")
    assert tconv.conv_transpose(x, w, stride=2, method="polyphase").shape == (1, 4, 17, 17)
