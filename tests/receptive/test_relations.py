"""The operations receptive fields support (and refuse), each held to back-propagation, and the exact unions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tconv
from tconv.errors import ConfigError
from tconv.receptive import receptive_field, receptive_field_box

from .test_fields import grad_region


def held_to_gradient(model, shape, layer, position):
    """The box's exact mask equals the non-zero gradient region of the unit (positive weights, so nothing cancels)."""
    box = receptive_field_box(model, shape, layer, position)
    import copy

    region = grad_region(copy.deepcopy(model), shape, layer, position)
    np.testing.assert_array_equal(box.mask, region, err_msg=f"{layer} {position}")
    return box


class Lambda(nn.Module):
    def __init__(self, fn, *mods):
        super().__init__()
        self.fn = fn
        self.mods = nn.ModuleList(mods)

    def forward(self, x):
        return self.fn(x, *self.mods)


class Out(nn.Module):
    """Wrap a functional model so that grad_region can hook its final output by module name."""

    def __init__(self, body):
        super().__init__()
        self.body = body
        self.head = nn.Identity()

    def forward(self, x):
        return self.head(self.body(x))


# ----------------------------------------------------------------------------------------------------------------
# exact unions
# ----------------------------------------------------------------------------------------------------------------
def test_parallel_1x7_and_7x1_branches_are_a_13_pixel_cross():
    class Inception(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(1, 1, (1, 7), padding=(0, 3))
            self.b = nn.Conv2d(1, 1, (7, 1), padding=(3, 0))

        def forward(self, x):
            return self.a(x) + self.b(x)

    box = held_to_gradient(Inception(), (1, 1, 15, 15), "add", (7, 7))
    assert box.pixels == 13 and box.size == (7, 7)


# ----------------------------------------------------------------------------------------------------------------
# the operations the issue lists, each against the gradient
# ----------------------------------------------------------------------------------------------------------------
CASES = {
    "pixel_shuffle": (
        lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.PixelShuffle(2), nn.Conv2d(1, 1, 3)),
        (1, 1, 12, 12),
    ),
    "pixel_unshuffle": (lambda: nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(4, 1, 3)), (1, 1, 12, 12)),
    "mean_keepdim": (
        lambda: Out(Lambda(lambda x, c: c(x) * x.mean((2, 3), keepdim=True), nn.Conv2d(1, 1, 3, padding=1))),
        (1, 1, 9, 9),
    ),
    "sum_one_dim": (lambda: Out(Lambda(lambda x, c: c(x).sum(3, keepdim=True), nn.Conv2d(1, 1, 3))), (1, 1, 9, 9)),
    "crop": (lambda: Out(Lambda(lambda x, c: c(x)[:, :, 2:-1, 1::2], nn.Conv2d(1, 1, 3))), (1, 1, 12, 12)),
    "crop_ellipsis": (lambda: Out(Lambda(lambda x, c: c(x)[..., 3:7], nn.Conv1d(1, 1, 3))), (1, 1, 12)),
    "chunk": (lambda: Out(Lambda(lambda x, c: torch.chunk(c(x), 2, dim=3)[1] * 2, nn.Conv2d(1, 1, 3))), (1, 1, 9, 10)),
    "split": (lambda: Out(Lambda(lambda x, c: c(x).split([3, 5], dim=2)[1], nn.Conv2d(1, 1, 3))), (1, 1, 10, 10)),
    "roll": (lambda: Out(Lambda(lambda x, c: torch.roll(c(x), 3, 2), nn.Conv2d(1, 1, 3))), (1, 1, 9, 9)),
    "bicubic": (
        lambda: nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2, mode="bicubic"), nn.Conv2d(1, 1, 1)),
        (1, 1, 7, 7),
    ),
    "bicubic_corners": (
        lambda: nn.Sequential(nn.Upsample(size=(11, 13), mode="bicubic", align_corners=True), nn.Conv2d(1, 1, 1)),
        (1, 1, 6, 7),
    ),
    "area": (lambda: Out(Lambda(lambda x: F.interpolate(x, size=(5, 4), mode="area"))), (1, 1, 11, 9)),
    "nearest_exact": (
        lambda: Out(Lambda(lambda x: F.interpolate(x, scale_factor=1.5, mode="nearest-exact"))),
        (1, 1, 6, 6),
    ),
    "trilinear": (
        lambda: nn.Sequential(nn.Upsample(scale_factor=2, mode="trilinear"), nn.Conv3d(1, 1, 1)),
        (1, 1, 4, 5, 3),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_operations_against_the_gradient(case):
    make, shape = CASES[case]
    model = make()
    rows = receptive_field(model, shape, all_layers=True)
    last = rows[-1]
    layer = "head" if isinstance(model, Out) else str(len(model) - 1)
    for pos in (
        (0,) * len(last.output_size),
        tuple(n // 2 for n in last.output_size),
        tuple(n - 1 for n in last.output_size),
    ):
        held_to_gradient(model, shape, layer, pos)


def test_project_upsamplers():
    for method, kw in (
        ("nearest", {}),
        ("bilinear", {}),
        ("copy", {"pool_kernel": 2}),
        ("tconv", {"kernel_size": 4}),
        ("tconv_bilinear", {}),
        ("resize_conv", {"kernel_size": 3}),
        ("pixel_shuffle", {"kernel_size": 3}),
    ):
        up = tconv.make_upsampler(method, channels=1, factor=2, **kw)
        model = nn.Sequential(nn.Conv2d(1, 1, 3), up, nn.Conv2d(1, 1, 3))
        for pos in ((0, 0), (5, 6), (11, 11)):
            box = held_to_gradient(model, (1, 1, 10, 10), "2", pos)
            assert box.pixels > 0, method

    # a model fx cannot trace (data-dependent branch) with an up-sampler that holds a conv: traced by hooks
    class Untraceable(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3)
            self.up = tconv.make_upsampler("resize_conv", channels=1, factor=2, kernel_size=3)
            self.head = nn.Conv2d(1, 1, 3)

        def forward(self, x):
            y = self.conv(x)
            if y.sum() > -1e9:
                y = self.up(y)
            return self.head(y)

    net = Untraceable()
    for pos in ((0, 0), (7, 7)):
        hooks = receptive_field_box(net, (1, 1, 10, 10), "head", pos)
        traced = receptive_field_box(nn.Sequential(net.conv, net.up, net.head), (1, 1, 10, 10), "2", pos)
        assert (hooks.start, hooks.stop, hooks.pixels) == (traced.start, traced.stop, traced.pixels)
    with pytest.raises(ConfigError, match="method='unpool'"):
        receptive_field(nn.Sequential(tconv.make_upsampler("unpool", channels=1, factor=2)), (1, 1, 4, 4))


def test_max_unpool_and_return_indices_read_the_pool_window():
    class Net(nn.Module):
        def __init__(self, unpool: bool):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3)
            self.unpool = unpool
            self.up = nn.MaxUnpool2d(3, 2) if unpool else nn.ConvTranspose2d(1, 1, 3, 2)
            self.head = nn.Conv2d(1, 1, 1)

        def forward(self, x):
            y, idx = F.max_pool2d(self.conv(x), 3, 2, return_indices=True)
            return self.head(self.up(y, idx) if self.unpool else self.up(y))

    # the switches can point anywhere in the window: the field is the transposed window's (a ConvTranspose of it)
    for pos in ((0, 0), (4, 5), (8, 8)):
        a = receptive_field_box(Net(True), (1, 1, 11, 11), "head", pos)
        b = receptive_field_box(Net(False), (1, 1, 11, 11), "head", pos)
        assert (a.start, a.stop, a.pixels) == (b.start, b.stop, b.pixels)


# ----------------------------------------------------------------------------------------------------------------
# the defects' repros
# ----------------------------------------------------------------------------------------------------------------
def test_unet_concat_of_mismatched_sizes_is_a_config_error():
    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.Conv2d(1, 1, 3, stride=2, padding=1)
            self.up = nn.ConvTranspose2d(1, 1, 2, stride=2)

        def forward(self, x):
            return torch.cat([x, self.up(self.down(x))], dim=1)

    with pytest.raises(ConfigError, match="^input_shape=.*does not fit the model.*Sizes of tensors must match"):
        receptive_field(UNet(), (1, 1, 9, 9))  # 9 -> 5 -> 10: a one-line error, not a TypeError

    class UNetPositional(UNet):
        def forward(self, x):
            return torch.cat([x, self.up(self.down(x))], 1)

    with pytest.raises(ConfigError, match=r"concatenates a feature map of spatial size \(10, 10\) \(up\)"):
        receptive_field(UNetPositional(), (1, 1, 9, 9))
    # sizes that do fit work as before
    receptive_field(UNet(), (1, 1, 8, 8))


def test_module_called_twice_has_one_row_per_call():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.conv(self.relu(self.conv(x))))

    rows = receptive_field(Twice(), (1, 1, 12, 12), all_layers=True)
    assert [r.name for r in rows] == ["input", "conv", "relu", "conv_1", "relu_1"]
    assert [r.rf[0] for r in rows] == [1, 3, 3, 5, 5]
    box = held_to_gradient(Twice(), (1, 1, 12, 12), "conv_1", (5, 5))
    assert box.size == (5, 5)
    assert receptive_field_box(Twice(), (1, 1, 12, 12), "relu_1", (5, 5)).size == (5, 5)  # not the first call's 3
    net = Twice()
    with pytest.raises(ConfigError, match=r"called 2 times; name one call: \['conv', 'conv_1'\]"):
        receptive_field_box(net, (1, 1, 12, 12), net.conv, 0)


def test_untraceable_model_with_trailing_functional_op_is_refused():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3)

        def forward(self, x):
            y = self.conv(x)
            if y.sum() > -1e9:  # data-dependent: fx cannot trace it
                y = F.avg_pool2d(y, 2)
            return y

    with pytest.raises(ConfigError, match="output is not the output of its last layer"):
        receptive_field(Branchy(), (1, 1, 10, 10))


def test_unknown_operations_are_refused_by_name():
    with pytest.raises(ConfigError, match=r"flip.*not supported"):
        receptive_field(Out(Lambda(lambda x: torch.flip(x, (2,)))), (1, 1, 5, 5))
    with pytest.raises(ConfigError, match="only slices"):
        receptive_field(Out(Lambda(lambda x: x[:, :, [0, 2]])), (1, 1, 5, 5))
