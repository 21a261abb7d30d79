"""Receptive fields: checked against back-propagation from single units, the plan's index map and seed 000."""

from __future__ import annotations

import operator
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import tconv
from tconv.errors import ConfigError
from tconv.geometry import conv_plan, make_plan
from tconv.receptive import receptive_field, receptive_field_box
from tconv.zoo import alexnet_like, small_cnn, vgg16_like


# ----------------------------------------------------------------------------------------------------------------
# the independent reference: which input positions get a non-zero gradient from one unit
# ----------------------------------------------------------------------------------------------------------------
def _positive(model: nn.Module) -> nn.Module:
    """Same geometry, all weights/biases positive, max-pools swapped for average pools (max routes to one input)."""
    model = _swap_pools(model)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand(p.shape, generator=g, dtype=p.dtype) * 0.9 + 0.1)
    return model.float().eval()


def _swap_pools(model: nn.Module) -> nn.Module:
    for name, child in list(model.named_children()):
        if isinstance(child, nn.modules.pooling._MaxPoolNd):
            nd = int(type(child).__name__[-2])
            k = child.kernel_size
            if child.dilation in (1, (1,) * nd):
                new = getattr(nn, f"AvgPool{nd}d")(k, child.stride, child.padding, ceil_mode=child.ceil_mode)
            else:
                assert not child.ceil_mode
                new = getattr(nn, f"Conv{nd}d")(1, 1, k, child.stride, child.padding, child.dilation, bias=False)
                new = _Depthwise(new)
            setattr(model, name, new)
        else:
            _swap_pools(child)
    return model


class _Depthwise(nn.Module):
    """A one-channel positive conv applied to every channel alike: a pooling window with dilation."""

    def __init__(self, conv: nn.Module) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        y = self.conv(x.reshape(n * c, 1, *x.shape[2:]))
        return y.reshape(n, c, *y.shape[2:])


def grad_region(model: nn.Module, input_shape, module: nn.Module, position) -> np.ndarray:
    """Boolean mask over the input's spatial dims: where d(sum over channels of unit `position`)/d input != 0."""
    model = _positive(model)
    x = (
        torch.rand(input_shape, generator=torch.Generator().manual_seed(1), dtype=torch.float32) + 0.5
    ).requires_grad_()
    mods = dict(model.named_modules())
    if isinstance(module, str) and module not in mods:  # a functional graph node (add, cat): run the fx graph
        got = {}

        class Keep(torch.fx.Interpreter):
            def run_node(self, n):
                out = super().run_node(n)
                if n.name == module:
                    got["y"] = out
                return out

        Keep(torch.fx.symbolic_trace(model)).run(x)
    else:
        target = mods[module] if isinstance(module, str) else module
        got = {}
        h = target.register_forward_hook(lambda m, i, o: got.setdefault("y", o))
        try:
            model(x)
        finally:
            h.remove()
    y = got["y"]
    y[(0, slice(None), *position)].sum().backward()
    return (x.grad[0].abs().sum(0) > 0).numpy()


def bbox(mask: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    idx = np.argwhere(mask)
    return tuple(int(v) for v in idx.min(0)), tuple(int(v) + 1 for v in idx.max(0))


def check_unit(model, input_shape, layer_name, position, exact=True):
    box = receptive_field_box(model, input_shape, layer_name, position)
    # grad_region modifies a copy: the swapped/positive model must keep the module names
    import copy

    m2 = copy.deepcopy(model)
    region = grad_region(m2, input_shape, layer_name, position)
    assert (box.start, box.stop) == bbox(region), (layer_name, position)
    for d, ix in enumerate(box.indices):  # exact per-dimension projections
        proj = np.flatnonzero(region.any(axis=tuple(a for a in range(region.ndim) if a != d)))
        assert tuple(proj) == ix
    if exact:  # a product of per-dimension sets (true for chains of layers)
        want = np.zeros_like(region)
        want[np.ix_(*[list(ix) for ix in box.indices])] = True
        np.testing.assert_array_equal(region, want)
    return box


# ----------------------------------------------------------------------------------------------------------------
# seed 000 §3.3 and the classic numbers
# ----------------------------------------------------------------------------------------------------------------
def test_seed000_two_same_padding_convs():
    net = nn.Sequential(nn.Conv1d(1, 1, 3, padding=1), nn.Conv1d(1, 1, 5, padding=2))
    rows = receptive_field(net, (1, 1, 16))
    assert [r.rf for r in rows] == [(1,), (3,), (7,)]  # "z has field 3, h has field 7"
    box = check_unit(net, (1, 1, 16), "1", (7,))  # h_8 (1-based) sees x_5 .. x_11
    assert (box.start, box.stop) == ((4,), (11,))
    assert box.size == (7,)


def test_alexnet_like_table_matches_the_recurrence():
    rows = receptive_field(alexnet_like(seed=0, width=0.0625), (1, 3, 224, 224))
    # classic AlexNet numbers: rf 11, 19, 51, 67, 99, 131, 163, 195; jump 4, 8, 8, 16, 16, 16, 16, 32
    assert [r.rf[0] for r in rows] == [1, 11, 19, 51, 67, 99, 131, 163, 195]
    assert [int(r.jump[0]) for r in rows] == [1, 4, 8, 8, 16, 16, 16, 16, 32]
    assert [r.output_size[0] for r in rows] == [224, 55, 27, 27, 13, 13, 13, 13, 6]
    # independent recurrence: jump *= s, rf += d(k-1) jump, start -= p jump
    rf, jump, start = 1, 1, 0
    for r, (k, s, p) in zip(
        rows[1:], [(11, 4, 2), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 0)], strict=True
    ):
        rf, start, jump = rf + (k - 1) * jump, start - p * jump, jump * s
        assert (r.rf[0], r.start[0], r.jump[0]) == (rf, start, jump)


def test_vgg16_like_table():
    rows = receptive_field(vgg16_like(seed=0, width=1 / 32), (1, 3, 224, 224))
    assert len(rows) == 1 + 13 + 5
    assert rows[-1].rf == (212, 212) and rows[-1].jump == (32, 32) and rows[-1].output_size == (7, 7)
    assert rows[-2].rf == (196, 196)  # conv5_3
    all_rows = receptive_field(vgg16_like(seed=0, width=1 / 32), (1, 3, 224, 224), all_layers=True)
    assert len(all_rows) == 1 + 31


@pytest.mark.parametrize(("layer", "pos"), [(0, (0, 38)), (2, (18, 0)), (5, (4, 5)), (7, (8, 8)), (12, (3, 2))])
def test_alexnet_like_box_equals_gradient_region(layer, pos):
    model = alexnet_like(seed=0, width=0.0625)
    check_unit(model, (1, 3, 160, 160), f"features.{layer}", pos)
    # the integer index into .features names the same layer
    assert receptive_field_box(model, (1, 3, 160, 160), layer, pos) == receptive_field_box(
        model, (1, 3, 160, 160), f"features.{layer}", pos
    )


@pytest.mark.parametrize(("layer", "pos"), [(4, (0, 31)), (16, (3, 0)), (30, (1, 0))])
def test_vgg16_like_box_equals_gradient_region(layer, pos):
    check_unit(vgg16_like(seed=0, width=1 / 16), (1, 3, 64, 64), f"features.{layer}", pos)


def test_box_agrees_with_the_plan_index_map():
    for n, k, s, p, d in [(9, 3, 2, 1, 1), (10, 4, 3, 2, 2), (7, 2, 1, 0, 3)]:
        net = nn.Conv1d(1, 1, k, s, p, d)
        plan = conv_plan(n, k, s, p, d)  # the convolution seen as its transpose: in_size = conv output
        for u in range(plan.in_size[0]):
            row = plan.index_map(0)[u]
            box = receptive_field_box(nn.Sequential(net), (1, 1, n), 0, u)
            assert box.indices[0] == tuple(sorted(int(v) for v in row if v >= 0))
    for i, k, s, p, d, op in [(4, 3, 2, 1, 1, 1), (5, 2, 3, 0, 1, 0), (3, 3, 2, 2, 2, 1)]:
        net = nn.ConvTranspose1d(1, 1, k, s, p, op, dilation=d)
        plan = make_plan((1, 1, i), (1, 1, k), s, p, op, 1, d)
        for o in range(plan.out_size[0]):
            box = receptive_field_box(nn.Sequential(net), (1, 1, i), 0, o)
            assert box.indices[0] == tuple(sorted({j[0] for j, _ in plan.contributors((o,))}))


# ----------------------------------------------------------------------------------------------------------------
# random stacks, 1-D/2-D/3-D, anisotropic, ceil_mode, dilation, transposed
# ----------------------------------------------------------------------------------------------------------------
@st.composite
def stacks(draw):
    nd = draw(st.sampled_from([1, 2, 2, 3]))
    size = [draw(st.integers(6, 14 if nd == 3 else 24)) for _ in range(nd)]
    layers, c, cur = [], 1, list(size)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "tconv"]))
        k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
        s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
        if kind == "conv":
            p = tuple(draw(st.integers(0, (di * (ki - 1)) // 2 + 1)) for ki, di in zip(k, d, strict=True))
            mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "circular", "replicate"]))
            if mode != "zeros":
                p = tuple(min(pi, n - 1) for pi, n in zip(p, cur, strict=True))
            m = getattr(nn, f"Conv{nd}d")(c, 2, k, s, p, d, groups=1, padding_mode=mode)
            c = 2
        elif kind == "pool":
            p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
            ceil = draw(st.booleans()) and all(di == 1 for di in d)
            m = getattr(nn, f"MaxPool{nd}d")(k, s, p, d, ceil_mode=ceil)
        else:
            p = tuple(draw(st.integers(0, di * (ki - 1))) for ki, di in zip(k, d, strict=True))
            op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d, strict=True))
            m = getattr(nn, f"ConvTranspose{nd}d")(c, 2, k, s, p, op, dilation=d)
            c = 2
        trial = nn.Sequential(*[x for x, _ in layers], m)
        try:
            out = trial(torch.zeros(1, 1, *size))
        except RuntimeError:
            continue
        if min(out.shape[2:]) < 1 or out.numel() > 20000:
            continue
        layers.append((m, tuple(out.shape[2:])))
        layers.append((nn.ReLU(), tuple(out.shape[2:])))
        cur = list(out.shape[2:])
    if not layers:
        layers = [(getattr(nn, f"Conv{nd}d")(1, 1, 1), tuple(size)), (nn.ReLU(), tuple(size))]
    net = nn.Sequential(*[x for x, _ in layers])
    li = draw(st.integers(0, len(layers) - 1))
    pos = tuple(draw(st.integers(0, n - 1)) for n in layers[li][1])
    return net, (1, 1, *size), li, pos


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(stacks())
def test_random_stacks_box_equals_gradient_region(case):
    net, shape, li, pos = case
    box = receptive_field_box(net, shape, li, pos)
    region = grad_region(_clone(net), shape, str(li), pos)
    if not region.any():  # a transposed conv with k < s: some outputs are bias only
        assert box.empty
        return
    assert (box.start, box.stop) == bbox(region)
    want = np.zeros_like(region)
    want[np.ix_(*[list(ix) for ix in box.indices])] = True
    np.testing.assert_array_equal(region, want)


def _clone(net):
    import copy

    return copy.deepcopy(net)


# ----------------------------------------------------------------------------------------------------------------
# branching models, traced with torch.fx
# ----------------------------------------------------------------------------------------------------------------
def _branchy():
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(1, 3, 3, padding=1)
            self.a = nn.Conv2d(3, 3, (5, 1), padding=(2, 0))  # paths with different shapes: the union is a cross
            self.b = nn.Conv2d(3, 3, (1, 3), padding=(0, 2), dilation=(1, 2))
            self.down = nn.Conv2d(3, 4, 3, stride=2)
            self.left = nn.Conv2d(3, 2, 3, stride=2, padding_mode="reflect", padding=0)
            self.up = nn.ConvTranspose2d(6, 2, 3, stride=2, padding=1, output_padding=1)

        def forward(self, x):
            h = torch.relu(self.stem(x))
            h = h + self.a(h) + self.b(h)
            y = torch.cat([self.down(h), self.left(h)], dim=1)
            return self.up(y)

    return Net()


def test_branching_residual_add_and_concat():
    net = _branchy()
    shape = (1, 1, 19, 17)
    rows = receptive_field(net, shape)
    names = [r.name for r in rows]
    assert "add_1" in names and "cat" in names and names[-1] == "up"
    add = rows[names.index("add_1")]
    assert add.rf == (7, 7)  # stem 3 then the union of (5, 1) and (1, 5 dilated): 3+4 in both dimensions
    for layer, pos in [
        ("add_1", (0, 0)),
        ("add_1", (9, 8)),
        ("down", (4, 3)),
        ("cat", (8, 7)),
        ("up", (5, 6)),
        ("up", (17, 15)),
    ]:
        check_unit(net, shape, layer, pos, exact=False)
    # the cross: row and column projections are exact but the region is not their product
    region = grad_region(_branchy(), shape, "add_1", (9, 8))
    assert region.sum() < np.prod(np.array(bbox(region)[1]) - np.array(bbox(region)[0]))


def test_concat_along_a_spatial_dimension_and_upsample():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(1, 2, 3)
            self.c2 = nn.Conv2d(1, 2, (3, 5), stride=(1, 2))
            self.up = nn.Upsample(scale_factor=2, mode="nearest")

        def forward(self, x):
            return self.up(torch.cat([self.c1(x), self.c2(x)], dim=3))

    net = Net()
    shape = (1, 1, 13, 13)
    for layer, pos in [("cat", (3, 2)), ("cat", (3, 14)), ("up", (7, 29)), ("up", (0, 0))]:
        check_unit(net, shape, layer, pos)


def test_functional_ops_are_traced():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(2, 1, 3, 3))

        def forward(self, x):
            x = torch.nn.functional.conv2d(x, self.w, stride=2, padding=1)
            x = torch.nn.functional.avg_pool2d(x, 2)
            x = torch.nn.functional.pad(x, (1, 0, 0, 2))
            return torch.nn.functional.adaptive_avg_pool2d(x, 3)

    rows = receptive_field(Net(), (1, 1, 20, 20))
    assert [r.kind for r in rows] == ["input", "conv2d", "avg_pool2d", "pad", "adaptive_avg_pool2d"]
    assert rows[1].rf == (3, 3) and rows[2].rf == (5, 5) and rows[2].jump == (4, 4)
    check_unit(Net(), (1, 1, 20, 20), "adaptive_avg_pool2d", (1, 2))


def test_hooks_fallback_for_untraceable_chain():
    class Chain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 1, 3, stride=2)
            self.p = nn.MaxPool2d(2)

        def forward(self, x):
            if x.sum() > 0:  # data-dependent control flow: fx cannot trace this
                x = self.c(x)
            else:
                x = self.c(x)
            return self.p(x)

    rows = receptive_field(Chain(), (1, 1, 17, 17))
    assert [(r.name, r.rf) for r in rows] == [("input", (1, 1)), ("c", (3, 3)), ("p", (5, 5))]
    assert receptive_field_box(Chain(), (1, 1, 17, 17), "p", (3, 3)).start_stop == ((12, 17), (12, 17))


def test_transposed_fractional_jump():
    net = nn.Sequential(nn.ConvTranspose1d(1, 1, 4, stride=2, padding=1), nn.Conv1d(1, 1, 3, padding=1))
    rows = receptive_field(net, (1, 1, 8))
    assert rows[1].jump == (Fraction(1, 2),) and rows[1].rf == (2,)
    assert rows[2].to_dict()["jump"] == ["1/2"]


def test_small_cnn_and_top_level_reexports():
    assert tconv.receptive_field is receptive_field and tconv.receptive_field_box is receptive_field_box
    rows = receptive_field(small_cnn(seed=0), (1, 1, 28, 28))
    assert rows[-1].rf == (10, 10) and rows[-1].jump == (4, 4)


def test_bad_input_names_the_parameter():
    net = small_cnn(seed=0)
    with pytest.raises(ConfigError, match="^input_shape="):
        receptive_field(net, (1, 28, 28))
    with pytest.raises(ConfigError, match="^input_shape="):
        receptive_field(net, (1, 3, 28, 28))  # wrong channel count
    with pytest.raises(ConfigError, match="^position="):
        receptive_field_box(net, (1, 1, 28, 28), 2, (14, 0))
    with pytest.raises(ConfigError, match="^layer="):
        receptive_field_box(net, (1, 1, 28, 28), "nope", 0)
    with pytest.raises(ConfigError, match="^layer="):
        receptive_field_box(net, (1, 1, 28, 28), 99, 0)

    class Odd(nn.Module):
        def forward(self, x):
            return torch.fft.fft2(x).real

    with pytest.raises(ConfigError, match="^model="):
        receptive_field(Odd(), (1, 1, 8, 8))


def test_global_after_flatten_is_the_whole_input():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 2, 3)
            self.fc = nn.Linear(2 * 6 * 6, 2 * 6 * 6)

        def forward(self, x):
            h = self.c(x)
            g = self.fc(torch.flatten(h, 1)).view(h.shape)
            return operator.add(h, g)

    rows = receptive_field(Net(), (1, 1, 8, 8))
    assert rows[-1].name == "add" and rows[-1].rf == (8, 8)
    assert receptive_field_box(Net(), (1, 1, 8, 8), "add", (0, 0)).start_stop == ((0, 8), (0, 8))


def test_resnet_like_with_batchnorm_head_and_train_mode():
    class Block(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.c1, self.bn, self.relu = nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)

        def forward(self, x):
            return torch.cat([self.relu(self.bn(self.c1(x)) + x), x], 1)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c, self.p, self.b = nn.Conv2d(3, 8, 7, 2, 3), nn.MaxPool2d(3, 2, 1), Block(8)
            self.avg, self.fc = nn.AdaptiveAvgPool2d((1, None)), nn.Linear(16 * 14, 2)

        def forward(self, x):
            return self.fc(torch.flatten(self.avg(self.b(self.p(self.c(x)))), 1))

    rows = receptive_field(Net().train(), (1, 3, 56, 56))
    got = [(r.name, r.output_size, r.rf, r.start) for r in rows]
    # conv 7/2 p3: rf 7, jump 2, start -3; pool 3/2 p1: rf 11, jump 4, start -5; conv 3 p1 (union with identity): 19
    assert got == [
        ("input", (56, 56), (1, 1), (0, 0)),
        ("c", (28, 28), (7, 7), (-3, -3)),
        ("p", (14, 14), (11, 11), (-5, -5)),
        ("b.c1", (14, 14), (19, 19), (-9, -9)),
        ("add", (14, 14), (19, 19), (-9, -9)),
        ("cat", (14, 14), (19, 19), (-9, -9)),
        ("avg", (1, 14), (19 + 13 * 4, 19), (-9, -9)),  # the height is pooled away: every row's field
    ]


# ----------------------------------------------------------------------------------------------------------------
# the model's dtype, and every unit's field at once
# ----------------------------------------------------------------------------------------------------------------
def _two_branches(dtype: torch.dtype) -> nn.Module:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(2, 3, 3, padding=1)
            self.b = nn.Conv2d(2, 3, (1, 5), stride=(1, 2), padding=(0, 2))
            self.pool = nn.MaxPool2d(2, ceil_mode=True)

        def forward(self, x):
            return self.pool(torch.relu(self.a(x)))[..., ::1, :] + nn.functional.avg_pool2d(
                self.b(x), (2, 1), ceil_mode=True
            )

    return Net().to(dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_models_in_other_dtypes_are_traced_in_their_dtype(dtype):
    assert torch.get_default_dtype() == torch.float32
    seq = nn.Sequential(nn.Conv2d(1, 2, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3, padding=1)).to(dtype)
    rows = receptive_field(seq, (1, 1, 16, 16))
    assert [r.rf for r in rows] == [(1, 1), (5, 5), (6, 6), (10, 10)]
    assert receptive_field_box(seq, (1, 1, 16, 16), layer=3, position=(0, 5)).start_stop == ((0, 8), (8, 16))
    f = tconv.unit_fields(_two_branches(dtype), (1, 2, 9, 10), "add")
    assert f.output_size == (5, 5)
    assert torch.get_default_dtype() == torch.float32


def test_unit_fields_equal_every_units_box():
    net = _two_branches(torch.float64)
    shape = (1, 2, 9, 10)
    f = tconv.unit_fields(net, shape, "add")
    for u in np.ndindex(*f.output_size):
        box = receptive_field_box(net, shape, "add", u)
        assert box.theoretical_start == tuple(int(f.start[d][u[d]]) for d in range(2))
        assert box.theoretical_stop == tuple(int(f.stop[d][u[d]]) for d in range(2))
        assert f.inside_grid[u] == all(
            0 <= a and b <= n for a, b, n in zip(box.theoretical_start, box.theoretical_stop, shape[2:], strict=True)
        )
    # by hand along rows: conv k3 p1 then a 2-pool reads 2u-1 .. 2u+2 (theoretical: as if the input went on, so
    # the ceil_mode window past the edge counts whole); the other branch (k1, 2-pool) reads inside that
    assert f.start[0].tolist() == [-1, 1, 3, 5, 7]
    assert f.stop[0].tolist() == [3, 5, 7, 9, 11]
    assert f.inside[0].tolist() == [False, True, True, True, False]


def test_unit_fields_bad_layer():
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten())
    with pytest.raises(ConfigError, match="layer"):
        tconv.unit_fields(net, (1, 1, 8, 8), "nope")
    with pytest.raises(ConfigError, match="no spatial output"):
        tconv.unit_fields(net, (1, 1, 8, 8), 1)
