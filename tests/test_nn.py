"""tconv.nn drop-ins: same parameters, init and state_dict as torch.nn, same forward for every method."""

from __future__ import annotations

import pytest
import torch

import tconv
import tconv.nn as tnn
from tconv.errors import ConfigError, ConfigTypeError
from tconv.geometry import make_plan
from tconv.ops import ALL_METHODS
from tconv.ops.registry import ROUTES, get_route, routes

METHODS = ("scatter", "zero_insert", "matrix", "autograd", "col2im", "polyphase", "auto")
PAIRS = [
    (tnn.ConvTranspose1d, torch.nn.ConvTranspose1d, (2, 4, 5)),
    (tnn.ConvTranspose2d, torch.nn.ConvTranspose2d, (2, 4, 4, 3)),
    (tnn.ConvTranspose3d, torch.nn.ConvTranspose3d, (1, 4, 2, 3, 2)),
]
KW = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)


pytestmark = pytest.mark.usefixtures("small_tensor_speed")  # tests/conftest.py


@pytest.mark.parametrize(("ours", "theirs", "shape"), PAIRS)
def test_same_parameters_init_and_state_dict(ours, theirs, shape):
    torch.manual_seed(0)
    a = ours(4, 6, 3, **KW)
    torch.manual_seed(0)
    b = theirs(4, 6, 3, **KW)
    assert list(a.state_dict()) == list(b.state_dict()) == ["weight", "bias"]
    for key in ("weight", "bias"):
        assert torch.equal(a.state_dict()[key], b.state_dict()[key])  # torch's init, same random stream
    assert (a.in_channels, a.out_channels, a.kernel_size, a.stride) == (
        b.in_channels,
        b.out_channels,
        b.kernel_size,
        b.stride,
    )
    # a state dict moves both ways
    c = theirs(4, 6, 3, **KW)
    c.load_state_dict(a.state_dict())
    a.load_state_dict(theirs(4, 6, 3, **KW).state_dict())
    assert isinstance(a, theirs)  # usable wherever torch's module is expected


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("ours", "theirs", "shape"), PAIRS)
def test_forward_matches_torch(ours, theirs, shape, method):
    torch.manual_seed(1)
    ref = theirs(4, 6, (3, 2, 2)[: len(shape) - 2] or 3, **KW, dtype=torch.float64)
    mod = ours(4, 6, ref.kernel_size, **KW, dtype=torch.float64, method=method)
    mod.load_state_dict(ref.state_dict())
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(mod(x), ref(x), rtol=0, atol=1e-10)
    # forward(x, output_size=...) picks output_padding like torch; both with and without (N, C)
    size = [n - 1 for n in ref(x).shape[2:]]
    torch.testing.assert_close(mod(x, output_size=size), ref(x, output_size=size), rtol=0, atol=1e-10)
    full = [shape[0], 6, *size]
    torch.testing.assert_close(mod(x, output_size=full), ref(x, output_size=full), rtol=0, atol=1e-10)
    # unbatched input
    torch.testing.assert_close(mod(x[0]), ref(x[0]), rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", ["scatter", "polyphase", "autograd", "matrix"])
def test_gradients_match_torch_module(method):
    torch.manual_seed(2)
    ref = torch.nn.ConvTranspose2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), dtype=torch.float64)
    mod = tnn.ConvTranspose2d(
        2, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), dtype=torch.float64, method=method
    )
    mod.load_state_dict(ref.state_dict())
    x = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    ref(x).square().sum().backward()
    mod(x).square().sum().backward()
    torch.testing.assert_close(mod.weight.grad, ref.weight.grad)
    torch.testing.assert_close(mod.bias.grad, ref.bias.grad)


def test_float32_bias_false_device_and_repr():
    m = tnn.ConvTranspose1d(
        3, 2, 4, stride=2, padding=1, bias=False, device="cpu", dtype=torch.float32, method="col2im"
    )
    assert m.bias is None and m.weight.dtype == torch.float32 and m.weight.device.type == "cpu"
    assert "method='col2im'" in repr(m)
    x = torch.randn(1, 3, 5)
    ref = torch.nn.functional.conv_transpose1d(x, m.weight, None, 2, 1)
    torch.testing.assert_close(m(x), ref, rtol=1e-5, atol=1e-6)


def test_tensorflow_padding_and_per_side_pairs():
    torch.manual_seed(3)
    m = tnn.ConvTranspose2d(2, 3, 3, stride=2, padding="same", method="polyphase")
    x = torch.randn(1, 2, 4, 5)
    assert m(x).shape[2:] == (8, 10)  # TF "same": input * stride
    assert m(x, output_size=(7, 9)).shape[2:] == (7, 9)
    y = tconv.conv_transpose(x, m.weight, m.bias, 2, "same", output_size=(7, 9), method="scatter")
    torch.testing.assert_close(m(x, output_size=(7, 9)), y)
    pairs = tnn.ConvTranspose1d(2, 1, 3, stride=2, padding=((2, 0),), method="scatter")
    xx = torch.randn(1, 2, 4)
    ref = torch.nn.functional.conv_transpose1d(xx, pairs.weight, pairs.bias, 2)[..., 2:]
    torch.testing.assert_close(pairs(xx), ref)


@pytest.mark.parametrize("route", [r.name for r in routes() if r.device == "cpu"])
def test_every_registered_cpu_route_runs_through_the_module(route):
    # the module's allowed methods are the registry's: torch_cl, gemm and subpixel included
    torch.manual_seed(4)
    ref = torch.nn.ConvTranspose2d(3, 2, 2, stride=2, dtype=torch.float64)  # non-overlapping: every route applies
    mod = tnn.ConvTranspose2d(3, 2, 2, stride=2, dtype=torch.float64, method=route)
    mod.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    assert get_route(route).applies(make_plan(tuple(x.shape), tuple(ref.weight.shape), stride=2))
    torch.testing.assert_close(mod(x), ref(x), rtol=0, atol=1e-10)
    assert set(ALL_METHODS) == {*METHODS, *ROUTES}


def test_constructor_errors():
    with pytest.raises(ConfigError, match=r"padding_mode='mirror' must be one of \('zeros', 'circular'"):
        tnn.ConvTranspose2d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ConfigError, match="method='fastest' must be one of"):
        tnn.ConvTranspose2d(2, 2, 3, method="fastest")
    m = tnn.ConvTranspose2d(2, 2, 3, stride=2)
    with pytest.raises(ConfigError, match="output_size=.* is not reachable"):
        m(torch.randn(1, 2, 3, 3), output_size=(20, 20))
    # the repro: a fractional output_size was truncated to (6, 6) before
    with pytest.raises(ConfigTypeError, match=r"output_size=\(6.7, 6.2\) must be an int or a sequence of ints"):
        m(torch.randn(1, 2, 3, 3), output_size=(6.7, 6.2))


@pytest.mark.parametrize("method", METHODS)
def test_inference_mode_through_the_module(method):
    torch.manual_seed(4)
    mod = tnn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, method=method)
    ref = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    ref.load_state_dict(mod.state_dict())
    x = torch.randn(1, 2, 4, 4)
    with torch.inference_mode():
        y = mod(x)
    torch.testing.assert_close(y, ref(x).detach())


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate"])
@pytest.mark.parametrize("nd", [1, 2])
def test_inverse_of_a_padded_conv_is_its_adjoint(mode, nd):
    """The issue's repro: inverse_of(Conv1d(..., padding_mode="circular"), 8, copy_weights=True) was zero-padded."""
    torch.manual_seed(5)
    conv_cls = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d}[nd]
    conv = conv_cls(3, 4, 3, stride=2, padding=1, padding_mode=mode, bias=False, dtype=torch.float64)
    size = (8,) * nd
    inv = tconv.inverse_of(conv, size, copy_weights=True)
    assert isinstance(inv, tnn._TconvMixin) and inv.padding_mode == mode
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    y = torch.randn_like(conv(x))
    assert inv(y).shape == x.shape
    torch.testing.assert_close((conv(x) * y).sum(), (inv(y) * x).sum())
    # and it is the gradient of the conv with respect to its input
    xg = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(conv(xg), xg, y)
    torch.testing.assert_close(inv(y).detach(), g)


def test_module_padding_mode_matches_the_functional_one():
    m = tnn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, padding_mode="reflect", method="col2im")
    assert "padding_mode='reflect'" in repr(m) or "reflect" in repr(m)
    x = torch.randn(1, 2, 4, 4)
    y = tconv.conv_transpose(x, m.weight, m.bias, 2, 1, padding_mode="reflect", method="scatter")
    torch.testing.assert_close(m(x), y)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"]


# ---- TorchScript, tracing, torch.compile and torch.export (issue 16) -------------------------------------------
SCRIPT_CASES = [
    (tnn.ConvTranspose2d, dict(stride=2, padding=1, output_padding=1)),
    (tnn.ConvTranspose1d, dict(stride=3, padding=((2, -1),), dilation=2)),  # a pair and a negative pad
    (tnn.ConvTranspose2d, dict(stride=2, padding=1, padding_mode="reflect")),
    (tnn.ConvTranspose3d, dict(stride=2, padding=1, padding_mode="circular", groups=2)),
    (tnn.ConvTranspose1d, dict(stride=2, padding=(1,), padding_mode="replicate", bias=False)),
]


@pytest.mark.parametrize(("cls", "kw"), SCRIPT_CASES)
def test_torch_jit_script_matches_eager(cls, kw):
    torch.manual_seed(6)
    m = cls(2, 4, 3, **kw, dtype=torch.float64)
    x = torch.randn(2, 2, *([4] * m._nd), dtype=torch.float64)
    sm = torch.jit.script(m)
    torch.testing.assert_close(sm(x), m(x))
    torch.testing.assert_close(sm(x[0]), m(x[0]))  # unbatched
    if "output_padding" not in kw:
        size = [n + 1 for n in m(x).shape[2:]]  # output_size picks output_padding, as in eager
        torch.testing.assert_close(sm(x, size), m(x, output_size=size))


def test_scripted_rule_padding_is_refused_at_run_time():
    sm = torch.jit.script(tnn.ConvTranspose2d(2, 2, 3, stride=2, padding="same"))
    with pytest.raises(Exception, match="needs explicit padding"):
        sm(torch.randn(1, 2, 3, 3))


def test_trace_export_and_compile():
    torch.manual_seed(7)
    m = tnn.ConvTranspose2d(2, 3, 3, stride=2, padding=((1, 0), (0, 1)), padding_mode="zeros", method="polyphase")
    x = torch.randn(1, 2, 4, 4)
    ref = m(x)
    torch.testing.assert_close(torch.jit.trace(m, (x,))(x), ref)
    torch.testing.assert_close(torch.export.export(m, (x,)).module()(x), ref)
    # dynamo + AOTAutograd without inductor's C++ toolchain: cheap, and the same graph capture inductor would get
    torch.testing.assert_close(torch.compile(m, backend="aot_eager")(x), ref)
