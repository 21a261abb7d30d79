"""tconv.upsampling: upsamplers and overlap analysis, checked against independent references.

References: torch's own operators (F.conv_transpose*, nn.MaxUnpool2d, F.interpolate, autograd of max_pool2d),
closed-form counts, brute-force loops and Parseval's identity.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from tconv.errors import ConfigError, ConfigTypeError
from tconv.geometry import conv_plan
from tconv.upsampling import (
    METHODS,
    Layer,
    bilinear_kernel,
    checkerboard_score,
    copy_back,
    count_map,
    interior_pattern,
    make_upsampler,
    max_pool_with_switches,
    overlap_stats,
    overlap_table,
    phase_means,
    ripple,
    tconv_padding,
    unpool,
)


# ----------------------------------------------------------------------------------------------------------------
# overlap maps
# ----------------------------------------------------------------------------------------------------------------
def _torch_counts(layers: list[Layer], n: int, dims: int) -> np.ndarray:
    """Count map by torch's conv_transpose applied to ones with kernels of ones, layer after layer."""
    fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d}[dims]
    x = torch.ones(1, 1, *([n] * dims), dtype=torch.float64)
    for layer in layers:
        w = torch.ones(1, 1, *([layer.kernel_size] * dims), dtype=torch.float64)
        x = fn(x, w, None, layer.stride, layer.padding, layer.output_padding, 1, layer.dilation)
    return x[0, 0].numpy()


layer_st = st.builds(
    lambda k, s, d, p, o: Layer(k, s, min(p, d * (k - 1) // 2), d, min(o, max(s, d) - 1)),
    st.integers(1, 7),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(0, 3),
    st.integers(0, 3),
)


@given(layer=layer_st, n=st.integers(2, 7))
def test_count_map_1d_equals_closed_form(layer: Layer, n: int) -> None:
    c = count_map(layer, n)
    # closed form: output o receives tap t from input j = (o + p - t d) / s when that is an integer in [0, n)
    expected = [
        sum(
            1
            for t in range(layer.kernel_size)
            if (o + layer.padding - t * layer.dilation) % layer.stride == 0
            and 0 <= (o + layer.padding - t * layer.dilation) // layer.stride < n
        )
        for o in range(len(c))
    ]
    assert c.tolist() == expected
    np.testing.assert_array_equal(c, _torch_counts([layer], n, 1))


@given(layer=layer_st, n=st.integers(2, 5))
def test_count_map_2d_and_stacks_equal_torch_on_ones(layer: Layer, n: int) -> None:
    np.testing.assert_array_equal(count_map(layer, n, dims=2), _torch_counts([layer], n, 2))
    two = [layer, Layer(3, 2, 1, 1, 1)]
    np.testing.assert_array_equal(count_map(two, n, dims=2), _torch_counts(two, n, 2))


@given(k=st.integers(1, 9), s=st.integers(1, 5), n=st.integers(1, 6))
def test_uncropped_counts_sum_to_n_times_k(k: int, s: int, n: int) -> None:
    assert int(count_map(Layer(k, s), n).sum()) == n * k  # every (input, tap) pair lands exactly once
    assert int(count_map(Layer(k, s), n, dims=2).sum()) == (n * k) ** 2


@given(k=st.integers(1, 12), s=st.integers(1, 6))
def test_interior_pattern_closed_form(k: int, s: int) -> None:
    # taps t = r, r + s, r + 2s, ... < k reach residue r: floor((k - 1 - r) / s) + 1 of them (0 when r >= k)
    expected = [(k - 1 - r) // s + 1 if r < k else 0 for r in range(s)]
    assert interior_pattern(Layer(k, s)).tolist() == expected
    assert interior_pattern(Layer(k, s), dims=2).tolist() == np.outer(expected, expected).tolist()


@given(m=st.integers(1, 4), s=st.integers(1, 4), extra=st.integers(0, 3))
def test_flat_when_kernel_is_a_multiple_of_stride_and_padding_aligns(m: int, s: int, extra: int) -> None:
    k, n = m * s, m + extra  # n >= m keeps an output after cropping k - s at both ends
    c = count_map(Layer(k, s, padding=k - s), n, dims=2)  # crop the ramps at both borders
    assert c.size > 0 and np.all(c == m * m)
    assert overlap_stats(Layer(k, s, padding=k - s)).ratio_2d == 1.0


@given(k=st.integers(2, 12), s=st.integers(2, 5), p=st.integers(0, 3))
def test_uneven_otherwise(k: int, s: int, p: int) -> None:
    if k % s == 0:
        assert np.ptp(interior_pattern(Layer(k, s, p))) == 0
        return
    pat = interior_pattern(Layer(k, s, p))
    assert pat.max() > pat.min()
    c = count_map(Layer(k, s, 0), 3 * k)
    inner = c[k : len(c) - k]  # far from both borders the whole map shows the same unevenness
    assert inner.max() > inner.min()


def test_seed_002_window_7_stride_4_and_its_halving_fix() -> None:
    assert interior_pattern(Layer(7, 4)).tolist() == [2, 2, 2, 1]
    halved = count_map(Layer(7, 4), 6, weights=[np.array([0.5, 0.5, 0.5, 1, 0.5, 0.5, 0.5])])
    assert np.allclose(halved[3:-3], 1.0)  # flat inside ...
    assert halved[0] == 0.5 and halved[-1] == 0.5  # ... but the borders get half (the seed's boundary problem)


def test_overlap_table_values() -> None:
    rows = {r.layer: r for r in overlap_table()}
    assert rows["k3s2p1o1"].pattern == (2, 1) and rows["k3s2p1o1"].ratio_2d == 4.0
    assert rows["k3s2p1o1"].stack2_ratio_2d == 9.0 and rows["k3s2p1o1"].stack3_ratio_2d == 25.0
    assert rows["k4s2p1"].ratio_2d == 1.0 and rows["k4s2p1"].border_min_2d == 1  # flat inside, not at borders
    assert rows["k4s2p2"].border_min_2d == 4
    assert math.isinf(rows["k1s2"].ratio_1d) and rows["k1s2"].as_dict()["ratio_1d"] is None


def test_layer_parse_and_errors() -> None:
    assert Layer.parse("k3s2d2p1") == Layer(3, 2, 1, 2, 0)
    assert str(Layer.parse("k4s2p1o1")) == "k4s2p1o1"
    for bad in ("s2k3", "k3s2s2", "kxs2", ""):
        with pytest.raises(ConfigError, match="layer="):
            Layer.parse(bad)
    with pytest.raises(ConfigError, match="padding"):
        count_map(Layer(3, 2, padding=9), 1)
    with pytest.raises(ConfigTypeError):
        count_map([], 4)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="weights"):
        count_map(Layer(3, 2), 4, weights=[np.ones(4)])


# ----------------------------------------------------------------------------------------------------------------
# spectral scores
# ----------------------------------------------------------------------------------------------------------------
@given(s=st.integers(2, 4), seed=st.integers(0, 1000))
def test_checkerboard_score_is_the_variance_of_the_phase_means(s: int, seed: int) -> None:
    y = np.random.default_rng(seed).random((4 * s + 1, 3 * s + 1))  # cropped to (4s, 3s)
    crop = y[: 4 * s, : 3 * s]
    tile = np.tile(phase_means(y, s), (4, 3))
    periodic_var = np.mean((tile - crop.mean()) ** 2)  # Parseval: energy at the stride harmonics
    energy = np.mean(crop**2)
    assert checkerboard_score(y, s, of="variance") == pytest.approx(periodic_var / crop.var())
    assert checkerboard_score(y, s) == pytest.approx(periodic_var / energy)
    assert ripple(y, s) == pytest.approx(math.sqrt(periodic_var / energy))
    # defined and equal for zero-mean signals: the mean does not enter the periodic part
    z = crop - crop.mean()
    assert ripple(z, s) == pytest.approx(math.sqrt(periodic_var / crop.var()))


def test_scores_of_count_maps() -> None:
    assert ripple(np.tile(interior_pattern(Layer(3, 2)), 8).astype(float), 2, dims=1) == pytest.approx(
        math.sqrt(0.25 / 2.5)
    )
    cb = np.tile(interior_pattern(Layer(3, 2), 2), (4, 4)).astype(float)
    assert checkerboard_score(cb, 2, of="variance") == pytest.approx(1.0)
    assert checkerboard_score(cb, 2) == pytest.approx(ripple(cb, 2) ** 2)
    assert ripple(np.ones((8, 8)), 2) == 0.0
    assert ripple(np.zeros((8, 8)), 2) == 0.0
    assert ripple(np.tile([[1.0, -1.0], [-1.0, 1.0]], (4, 4)), 2) == pytest.approx(1.0)


def test_checkerboard_score_is_graded_on_a_flat_input() -> None:
    """A faint pattern on a flat image scores little and a strong one more (the variance share is 1 for both)."""
    flat = np.full((16, 16), 0.5)
    pattern = np.tile([[1.0, -1.0], [-1.0, 1.0]], (8, 8))
    scores = [checkerboard_score(flat + a * pattern, 2) for a in (0.0, 1e-3, 1e-2, 1e-1)]
    assert scores[0] == 0.0
    assert scores[1] < scores[2] < scores[3] < 1
    assert scores[1] == pytest.approx(1e-6 / (0.25 + 1e-6))
    for a in (1e-3, 1e-1):
        assert checkerboard_score(flat + a * pattern, 2, of="variance") == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="of="):
        checkerboard_score(flat, 2, of="bogus")
    with pytest.raises(ConfigError, match="stride"):
        checkerboard_score(np.ones((3, 3)), 4)


# ----------------------------------------------------------------------------------------------------------------
# the upsamplers
# ----------------------------------------------------------------------------------------------------------------
def test_unpool_matches_max_unpool2d_when_switches_do_not_collide() -> None:
    x = torch.randn(2, 3, 12, 10, generator=torch.Generator().manual_seed(0))
    v, idx = max_pool_with_switches(x, 2)
    ours = make_upsampler("unpool", channels=3)(v, switches=idx)
    ref = nn.MaxUnpool2d(2)(v, idx, output_size=x.shape[-2:])
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    flat = ours.reshape(2, 3, -1)
    torch.testing.assert_close(flat.gather(2, idx.reshape(2, 3, -1)), v.reshape(2, 3, -1))  # values at switches
    assert int((ours != 0).sum()) == v.numel()  # and zeros everywhere else


def test_unpool_with_overlapping_windows_is_the_max_pool_transpose() -> None:
    x = torch.randn(1, 2, 9, 9, generator=torch.Generator().manual_seed(1), requires_grad=True)
    v, idx = max_pool_with_switches(x, 3, 2)  # overlapping windows: a max can be chosen twice
    g = torch.randn(v.shape, generator=torch.Generator().manual_seed(2))
    (grad,) = torch.autograd.grad(v, x, g)  # the adjoint of the selection, by autograd
    torch.testing.assert_close(unpool(g, idx, (9, 9)), grad)
    ref = nn.MaxUnpool2d(3, 2)(g, idx, output_size=(9, 9))
    counts = torch.zeros(1, 2, 81).scatter_add(2, idx.reshape(1, 2, -1), torch.ones(1, 2, idx[0, 0].numel()))
    single = (counts == 1).reshape(1, 2, 9, 9)
    assert bool((counts > 1).any())  # the case really has collisions
    torch.testing.assert_close(unpool(g, idx, (9, 9))[single], ref[single])  # equal where they do not collide


def test_unpool_shares_one_channel_of_switches_and_needs_them() -> None:
    x = torch.rand(1, 1, 4, 4)
    v, idx = max_pool_with_switches(x, 2)
    feats = torch.rand(1, 5, 2, 2)
    y = make_upsampler("unpool", channels=5)(feats, switches=idx)
    assert y.shape == (1, 5, 4, 4) and torch.equal((y != 0).float().sum(1)[0] > 0, (unpool(v, idx, (4, 4)) != 0)[0, 0])
    with pytest.raises(ConfigError, match="switches"):
        make_upsampler("unpool", channels=5)(feats)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_bilinear_initialised_tconv_equals_interpolate_away_from_the_border(factor: int) -> None:
    x = torch.rand(2, 3, 9, 7, generator=torch.Generator().manual_seed(factor), dtype=torch.float64)
    up = make_upsampler("tconv_bilinear", channels=3, factor=factor).double()
    ours = up(x)
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert ours.shape == ref.shape
    m = factor  # one low-resolution pixel of border
    torch.testing.assert_close(ours[..., m:-m, m:-m], ref[..., m:-m, m:-m])
    assert not torch.allclose(ours, ref)  # at the border, the transposed convolution sees zeros


def test_bilinear_kernel_values() -> None:
    assert bilinear_kernel(2).tolist() == [0.25, 0.75, 0.75, 0.25]
    np.testing.assert_allclose(bilinear_kernel(3), [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3])
    # partition of unity: the polyphase taps of each output phase sum to 1
    for f in (2, 3, 4, 5):
        k = bilinear_kernel(f)
        assert np.allclose([k[r::f].sum() for r in range(f)], 1.0)


def test_nearest_copy_and_nearest_initialised_tconv_agree() -> None:
    x = torch.rand(2, 4, 5, 6)
    ref = F.interpolate(x, scale_factor=3, mode="nearest")
    for method in ("nearest", "copy", "tconv_nearest"):
        torch.testing.assert_close(make_upsampler(method, channels=4, factor=3)(x), ref)


def test_copy_with_overlapping_windows_averages() -> None:
    v = torch.rand(1, 1, 3, 4, generator=torch.Generator().manual_seed(3))
    y = copy_back(v, 3, 2, (7, 9))
    ref = np.zeros((7, 9))
    for r in range(7):
        for c in range(9):  # brute force: mean of the values whose 3x3 window (2 apart) contains (r, c)
            vals = [
                float(v[0, 0, i, j])
                for i in range(3)
                for j in range(4)
                if 2 * i <= r < 2 * i + 3 and 2 * j <= c < 2 * j + 3
            ]
            ref[r, c] = np.mean(vals)
    np.testing.assert_allclose(y[0, 0].numpy(), ref, rtol=1e-6)


def test_pixel_shuffle_icnr_starts_as_nearest() -> None:
    x = torch.rand(1, 3, 6, 6)
    y = make_upsampler("pixel_shuffle", channels=3, factor=2)(x)
    torch.testing.assert_close(y, F.interpolate(y[..., ::2, ::2], scale_factor=2, mode="nearest"))
    z = make_upsampler("pixel_shuffle", channels=3, factor=2, icnr=False)(x)
    assert not torch.allclose(z, F.interpolate(z[..., ::2, ::2], scale_factor=2, mode="nearest"))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_shape_seed_and_rng(method: str) -> None:
    x = torch.rand(2, 3, 5, 4)
    _, idx = max_pool_with_switches(torch.rand(2, 3, 10, 8), 2)
    state = torch.random.get_rng_state()
    a = make_upsampler(method, channels=3, factor=2, seed=7)
    b = make_upsampler(method, channels=3, factor=2, seed=7)
    assert torch.equal(state, torch.random.get_rng_state())  # seeding does not touch the global generator
    ya, yb = a(x, switches=idx), b(x, switches=idx)
    assert ya.shape == (2, 3, 10, 8) and torch.equal(ya, yb)
    assert a.method == method and isinstance(a.description, str)


@pytest.mark.parametrize("k", range(1, 9))
@pytest.mark.parametrize("f", range(2, 5))
def test_tconv_padding_makes_exactly_factor_times(k: int, f: int) -> None:
    p, op = tconv_padding(k, f)
    layer = nn.ConvTranspose2d(1, 1, k, stride=f, padding=p, output_padding=op)
    assert layer(torch.zeros(1, 1, 5, 3)).shape[-2:] == (5 * f, 3 * f)
    up = make_upsampler("tconv", factor=f, kernel_size=k)
    assert up(torch.zeros(1, 1, 5, 3)).shape[-2:] == (5 * f, 3 * f)


def test_configuration_errors_before_work() -> None:
    with pytest.raises(ConfigError, match="method"):
        make_upsampler("deconv")
    with pytest.raises(ConfigError, match="factor"):
        make_upsampler("nearest", factor=1)
    with pytest.raises(ConfigError, match="output_padding"):
        tconv_padding(4, 1)  # the same size with an even kernel needs asymmetric padding
    with pytest.raises(ConfigTypeError, match="channels"):
        make_upsampler("nearest", channels=2.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="kernel_size"):
        make_upsampler("tconv_bilinear", factor=2, kernel_size=3)
    with pytest.raises(ConfigError, match="input"):
        make_upsampler("bilinear", channels=2)(torch.rand(1, 3, 4, 4))
    with pytest.raises(ConfigError, match="kernel_size"):
        max_pool_with_switches(torch.rand(1, 1, 2, 2), 3)


def test_strided_conv_gradient_is_the_count_map() -> None:
    # Distill's last claim, exactly: with all-ones kernels the gradient of sum(conv(x)) w.r.t. x is the count map of
    # the convolution's plan (its transpose applied to ones)
    from tconv.upsampling.experiments import input_gradient, strided_net

    x = torch.rand(1, 1, 32, 32)
    x.requires_grad_(True)
    conv = nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False)
    nn.init.ones_(conv.weight)
    (g,) = torch.autograd.grad(conv(x).sum(), x)
    np.testing.assert_array_equal(g[0, 0].numpy(), conv_plan((32, 32), 3, 2, 1).overlap_counts())
    net = strided_net("k3s2", layers=3, uniform=True)
    g3 = torch.autograd.grad(net(x).sum(), x)[0][0, 0].numpy()
    plans = [conv_plan((n, n), 3, 2, 1) for n in (32, 16, 8)]  # the three convolutions, innermost last
    stack = [Layer(3, 2, 1, 1, p.output_padding[0]) for p in reversed(plans)]
    np.testing.assert_array_equal(g3, count_map(stack, plans[-1].in_size[0], dims=2))
    assert input_gradient(strided_net("k4s2"), torch.rand(1, 1, 16, 16)).shape == (16, 16)


def test_different_layers_can_cancel_in_a_stack() -> None:
    """Stacking the same uneven layer multiplies its unevenness; k3 s2 followed by k4 s2 p1 is flat inside (the
    count map checked against torch's transposed convolutions of ones, applied one after the other)."""
    import torch

    from tconv.upsampling import CANCELLING_STACK

    assert interior_pattern(CANCELLING_STACK).tolist() == [3, 3, 3, 3]
    assert interior_pattern(list(CANCELLING_STACK)[::-1]).tolist() == [4, 2, 4, 2]
    assert interior_pattern([Layer(3, 2, 1, 1, 1)] * 2).tolist() == [3, 2, 3, 1]  # the same layer twice: 3x uneven
    y = torch.ones(1, 1, 6)
    for layer in CANCELLING_STACK:
        y = torch.nn.functional.conv_transpose1d(
            y, torch.ones(1, 1, layer.kernel_size), stride=layer.stride, padding=layer.padding,
            output_padding=layer.output_padding,
        )  # fmt: skip
    assert count_map(CANCELLING_STACK, 6).tolist() == y[0, 0].round().int().tolist()
    assert set(y[0, 0, 4:-4].tolist()) == {3.0}
