"""conv_transpose's repeated-call path (tconv.ops.dispatch): a call seen before skips validation, and where auto chose
torch itself it goes straight to torch's function, but only while the state of that choice holds."""

import pytest
import torch
import torch.nn.functional as F

import tconv
from tconv.ops import autotune, dispatch, race


@pytest.fixture(autouse=True)
def fresh(tmp_path, monkeypatch):
    """Measuring on, a private cache, a fake clock on which torch always wins (nothing timed for real)."""
    autotune.clear_memory_cache()
    dispatch._SEEN.clear()
    monkeypatch.setattr(race, "_clock", lambda label, fn: (1.0 if label == "torch" else 100.0) / 1e3)
    with autotune.settings(enabled=True, cache_dir=tmp_path, min_work=0, memory_factor=1.5, memory_slack=0):
        yield
    autotune.clear_memory_cache()
    dispatch._SEEN.clear()


def _direct_slot():
    """The direct list of the one call seen (None where the call has no direct path)."""
    (entry,) = dispatch._SEEN.values()
    return entry[3]


def _settle(x, w, b, **kw):
    """Call until auto's choice is made and the direct path is armed (a few measuring calls on the fake clock)."""
    for _ in range(20):
        tconv.conv_transpose(x, w, b, **kw)
        direct = _direct_slot()
        if direct is not None and direct[0] is not None:
            return direct
    raise AssertionError("auto never armed its direct call to torch")


def test_direct_path_follows_threads_oneDNN_and_settings(monkeypatch):
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(2, 4, 5, 5, generator=g), torch.randn(4, 3, 3, 3, generator=g), torch.randn(3, generator=g)
    kw = dict(stride=2, padding=1)
    direct = _settle(x, w, b, **kw)
    ref = F.conv_transpose2d(x, w, b, **kw)
    taken = []
    real = direct[1]
    direct[1] = lambda *a: taken.append(1) or real(*a)

    def direct_call(exact: bool = True) -> bool:
        """One call, checked (exact where oneDNN computes both); whether it went straight to torch."""
        before = len(taken)
        tol = dict(rtol=0, atol=0) if exact else {}
        torch.testing.assert_close(tconv.conv_transpose(x, w, b, **kw), ref, **tol)
        return len(taken) > before

    assert direct_call()  # the state holds: straight to torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads != 1 else 2)
    try:
        assert not direct_call()  # another thread count: auto decides again (it re-arms for this state)
        assert direct_call()
    finally:
        torch.set_num_threads(threads)
    assert not direct_call()  # the slot holds the state of the last choice: back at the old count, decided again
    assert direct_call()

    mkldnn = torch._C._get_mkldnn_enabled()
    torch._C._set_mkldnn_enabled(not mkldnn)  # torch.backends.mkldnn.flags warns about TF32 on CPU builds
    try:
        assert not direct_call(exact=False)  # oneDNN switched: torch's other kernel, and auto decides again
    finally:
        torch._C._set_mkldnn_enabled(mkldnn)
    assert not direct_call() and direct_call()

    with autotune.settings(memory_factor=2.0):  # new settings: the choice is the new settings' own
        assert not direct_call()


def test_direct_path_keeps_training_and_inference_apart():
    g = torch.Generator().manual_seed(1)
    x, w = torch.randn(2, 4, 5, 5, generator=g), torch.randn(4, 3, 3, 3, generator=g)
    with torch.no_grad():
        direct = _settle(x, w, None, stride=2)
    assert direct[3] is None  # chosen without gradients only
    xg, wg = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    y = tconv.conv_transpose(xg, wg, None, stride=2)
    y.square().sum().backward()
    xr, wr = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    F.conv_transpose2d(xr, wr, None, stride=2).square().sum().backward()
    torch.testing.assert_close(xg.grad, xr.grad)
    torch.testing.assert_close(wg.grad, wr.grad)


@pytest.mark.parametrize(
    "args",
    [
        dict(stride=[2, 2]),  # a list: never a repeated-call key (it could change in place)
        dict(stride=(2, 2.0)),
        dict(stride=2, groups=True),
        dict(stride=2, output_size=[4, 4]),
    ],
)
def test_repeated_call_key_only_for_plain_parameters(args):
    x, w = torch.ones(1, 2, 2, 2), torch.ones(2, 1, 2, 2)
    if "groups" in args or args["stride"] == (2, 2.0):  # not ints: the boundary refuses them, every time
        with pytest.raises(tconv.ConfigTypeError):
            tconv.conv_transpose(x, w, **args)
    else:
        torch.testing.assert_close(tconv.conv_transpose(x, w, **args), F.conv_transpose2d(x, w, stride=2))
    assert dispatch._SEEN == {}
    tconv.conv_transpose(x, w, stride=(2, 2))
    assert len(dispatch._SEEN) == 1


def test_repeated_call_checks_contiguity():
    """A channels_last input on a seen key does not take the direct path (torch's garbage class, pytorch #99519): the
    result is still exact."""
    g = torch.Generator().manual_seed(2)
    x, w = torch.randn(2, 4, 5, 5, generator=g), torch.randn(4, 3, 3, 3, generator=g)
    direct = _settle(x, w, None, stride=2)
    taken = []
    real = direct[1]
    direct[1] = lambda *a: taken.append(1) or real(*a)
    xc = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(tconv.conv_transpose(xc, w, None, stride=2), F.conv_transpose2d(x, w, None, stride=2))
    assert taken == []
