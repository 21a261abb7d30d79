"""tconv.zfnet.project: the deconvnet against independent references.

References: seed 000's own procedures (ported in tests/zfnet/seedport.py: nn.ConvTranspose2d + nn.MaxUnpool2d per
call, and the autograd version with the revised ReLU), and plain torch autograd through the *original* modules.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import tconv
from tconv.errors import ConfigError
from tconv.zfnet import Mirror, project, project_channels

from .seedport import all_channels, cal_vis_data, cal_vis_data_grad_ver


@contextlib.contextmanager
def one_thread():
    """nn.MaxUnpool2d overwrites in a race on several CPU threads (found by test_random_stacks): with one thread the
    last pooled output in raster order wins, which is what unpool="overwrite" reproduces."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def alexnet_geometry(widths=(6, 8, 10, 8, 8), seed=0, dtype=torch.float64) -> nn.Sequential:
    """AlexNet's exact geometry (11/4/2, overlapping 3x3/2 pools) with few channels, so tests stay fast."""
    torch.manual_seed(seed)
    a, b, c, d, e = widths
    net = nn.Sequential(
        nn.Conv2d(3, a, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(a, b, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(b, c, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c, d, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(d, e, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    )  # fmt: skip
    return net.to(dtype).eval()


def vgg_geometry(seed=0, dtype=torch.float64, ceil_mode=False) -> nn.Sequential:
    """VGG's geometry (3x3 convs, non-overlapping 2x2/2 pools) with few channels."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2, 2, ceil_mode=ceil_mode),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2, ceil_mode=ceil_mode),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
    )  # fmt: skip
    return net.to(dtype).eval()


def autograd_reference(
    model: nn.Sequential, img: torch.Tensor, layer: int, channel: int, relu_rule: str
) -> torch.Tensor:
    """Backprop from the strongest activation of ``channel`` through the original modules (BN and all).

    relu_rule: "revised" (seed 000: ReLU of the gradient), "plain" (true gradient) or "guided".
    """

    class Rule(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, slope):
            ctx.save_for_backward(x)
            ctx.slope = slope
            return F.leaky_relu(x, slope)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            deriv = torch.where(x > 0, 1.0, ctx.slope).to(g.dtype)
            if relu_rule == "revised":
                return F.leaky_relu(g, ctx.slope), None
            if relu_rule == "guided":
                return F.relu(g) * deriv, None
            return g * deriv, None

    x = img.clone().requires_grad_(True)
    y = x[None]
    for m in list(model)[: layer + 1]:
        if isinstance(m, (nn.ReLU, nn.LeakyReLU)):
            y = Rule.apply(y, getattr(m, "negative_slope", 0.0))
        else:
            y = m(y)
    plane = y[0, channel]
    plane.flatten()[plane.flatten().argmax()].backward()
    return x.grad


# ----------------------------------------------------------------------------------------------------------------
# deconvnet == gradient, on overlapping and non-overlapping pools
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [2, 5, 9, 12])
def test_deconvnet_equals_gradient_overlapping_pools(layer):
    net = alexnet_geometry()
    imgs = torch.rand(2, 3, 131, 131, dtype=torch.float64)
    deconv, ch = project(net, imgs, layer, inside=False)  # the seed's unit: the strongest, border or not
    grad, ch2 = project(net, imgs, layer, method="gradient", inside=False)
    assert torch.equal(ch, ch2)
    torch.testing.assert_close(deconv, grad, rtol=1e-10, atol=1e-12)
    for b in range(2):  # seed 000's own autograd version, one call per image
        ref, fm = cal_vis_data_grad_ver(imgs[b], net[: layer + 1])
        assert fm == int(ch[b])
        torch.testing.assert_close(deconv[b], ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layer", [4, 7, 9])
def test_deconvnet_equals_gradient_non_overlapping_pools(layer):
    net = vgg_geometry()
    imgs = torch.rand(3, 3, 32, 32, dtype=torch.float64)
    deconv, ch = project(net, imgs, layer, inside=False)
    for b in range(3):
        ref, fm = cal_vis_data_grad_ver(imgs[b], net[: layer + 1])
        assert fm == int(ch[b])
        torch.testing.assert_close(deconv[b], ref, rtol=1e-10, atol=1e-12)
    # non-overlapping pools: switches never coincide, so overwriting and summing agree
    torch.testing.assert_close(project(net, imgs, layer, unpool="overwrite", inside=False)[0], deconv, rtol=0, atol=0)


def test_deconvnet_float32_matches_float64():
    net64 = alexnet_geometry()
    net32 = alexnet_geometry(dtype=torch.float32)
    img = torch.rand(3, 150, 150, dtype=torch.float64)
    p64, c = project(net64, img, 9)
    p32, _ = project(net32, img.float(), 9, channel=c)
    torch.testing.assert_close(p32.double(), p64, rtol=1e-4, atol=1e-4 * float(p64.abs().max()))


# ----------------------------------------------------------------------------------------------------------------
# exact shapes; the seed's defect
# ----------------------------------------------------------------------------------------------------------------
def test_exact_shape_alexnet_224_and_seed_defect():
    net = alexnet_geometry(dtype=torch.float32)
    img = torch.rand(3, 224, 224)
    for layer in (0, 2, 5, 12):
        proj, _ = project(net, img, layer)
        assert proj.shape == img.shape
    # seed 000's code builds ConvTranspose2d without output_size: conv1 on 224 comes back as 223
    assert cal_vis_data(img, net[:2], 0)[0].shape == (3, 223, 223)


def test_exact_shape_with_zoo_alexnet_like():
    zoo = pytest.importorskip("tconv.zoo")
    model = zoo.alexnet_like(seed=0).eval()
    img = torch.rand(2, 3, 224, 224)
    feats = tconv.zfnet.features_of(model)
    proj, ch = project(model, img, len(feats) - 1)
    assert proj.shape == img.shape and ch.shape == (2,)


@pytest.mark.parametrize("size", [(33, 47), (64, 64), (35, 21)])
def test_exact_shape_ceil_mode_and_odd_sizes(size):
    net = vgg_geometry(ceil_mode=True)
    imgs = torch.rand(2, 3, *size, dtype=torch.float64)
    deconv, _ = project(net, imgs, 9)
    grad, _ = project(net, imgs, 9, method="gradient")
    assert deconv.shape == imgs.shape
    torch.testing.assert_close(deconv, grad, rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
def test_same_padding_dilation_groups():
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 4, padding="same"), nn.ReLU(),  # even kernel: asymmetric "same" padding
        nn.Conv2d(6, 6, 3, stride=2, padding=2, dilation=2, groups=3), nn.LeakyReLU(0.1),
        nn.MaxPool2d(3, 2, padding=1, dilation=2, ceil_mode=True),
        nn.Conv2d(6, 4, 3, stride=(2, 1), padding=(0, 1)), nn.ReLU(),
    ).double()  # fmt: skip
    imgs = torch.rand(2, 3, 37, 29, dtype=torch.float64)
    for layer in (1, 3, 4, 6):
        deconv, ch = project(net, imgs, layer, inside=False)
        grad, _ = project(net, imgs, layer, method="gradient", inside=False)
        assert deconv.shape == imgs.shape
        torch.testing.assert_close(deconv, grad, rtol=1e-10, atol=1e-12)
        for b in range(2):
            ref = autograd_reference(net, imgs[b], layer, int(ch[b]), "revised")
            torch.testing.assert_close(deconv[b], ref, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# unpooling: overwrite == nn.MaxUnpool2d (the seed port); sum == autograd of max-pool
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [2, 5, 12])
def test_overwrite_equals_seed_port(layer):
    net = alexnet_geometry()
    imgs = torch.rand(2, 3, 224, 224, dtype=torch.float64)
    chans = [0, 3, 5]
    ours = project_channels(net, imgs, layer, chans, unpool="overwrite", inside=False).projection
    with one_thread():
        seed = all_channels(imgs, net[: layer + 1], chans, output_size=True)
    torch.testing.assert_close(ours, seed, rtol=1e-10, atol=1e-12)


def test_overwrite_differs_from_sum_on_overlapping_pools():
    net = alexnet_geometry()
    imgs = torch.rand(2, 3, 160, 160, dtype=torch.float64)
    s = project_channels(net, imgs, 12).projection
    o = project_channels(net, imgs, 12, unpool="overwrite").projection
    assert float((s - o).norm() / s.norm()) > 0.05


def test_sum_unpool_equals_autograd_of_maxpool():
    torch.manual_seed(3)
    # A lone overlapping max-pool, seeded at every output of one channel: the saliency (plain gradient) of the
    # sum of the seeds is the sum of the projections, and autograd of F.max_pool2d sums where switches coincide.
    pool = nn.Sequential(nn.MaxPool2d(3, 2, padding=1))
    x = torch.rand(1, 2, 11, 11, dtype=torch.float64)
    mirror = Mirror(pool, 0)
    trace = mirror.trace(x, signs=True)
    h, w = trace.activations.shape[-2:]
    pos = torch.tensor([(i, j) for i in range(h) for j in range(w)])
    owner = torch.zeros(len(pos), dtype=torch.long)
    chans = torch.ones(len(pos), dtype=torch.long)
    proj = mirror.backward(trace, owner, chans, pos, "saliency", "sum").sum(0)
    xr = x.clone().requires_grad_(True)
    F.max_pool2d(xr, 3, 2, 1)[0, 1].sum().backward()
    torch.testing.assert_close(proj, xr.grad[0], rtol=0, atol=0)
    assert float(proj.max()) > 1  # some switches coincide: the test exercises the summing


# ----------------------------------------------------------------------------------------------------------------
# guided backprop and saliency; BatchNorm, AvgPool, LeakyReLU, Dropout
# ----------------------------------------------------------------------------------------------------------------
def bn_avg_net() -> nn.Sequential:
    torch.manual_seed(2)
    net = nn.Sequential(
        nn.BatchNorm2d(3),  # no convolution before it: a per-channel scale
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Dropout(0.5),
        nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
        nn.Conv2d(6, 5, 3, bias=False), nn.BatchNorm2d(5), nn.LeakyReLU(0.2), nn.Identity(),
        nn.AvgPool2d(2, ceil_mode=True),
        nn.Conv2d(5, 4, 2), nn.ReLU(),
    ).double()  # fmt: skip
    for m in net:
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


@pytest.mark.parametrize("method,rule", [("deconvnet", "revised"), ("saliency", "plain"), ("guided", "guided")])
def test_methods_against_autograd_through_original_modules(method, rule):
    net = bn_avg_net()
    net.train()  # the projection uses eval semantics whatever the mode; the reference needs eval
    imgs = torch.rand(2, 3, 23, 19, dtype=torch.float64)
    for layer in (3, 8, 12):
        proj, ch = project(net, imgs, layer, method=method, inside=False)
        net.eval()
        for b in range(2):
            ref = autograd_reference(net, imgs[b], layer, int(ch[b]), rule)
            torch.testing.assert_close(proj[b], ref, rtol=1e-10, atol=1e-12)
        net.train()


def test_avgpool_divisor_override():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AvgPool2d(3, 2, padding=1, divisor_override=5)).double()
    imgs = torch.rand(1, 3, 12, 12, dtype=torch.float64)
    proj, ch = project(net, imgs, 2, method="saliency", inside=False)
    torch.testing.assert_close(proj[0], autograd_reference(net, imgs[0], 2, int(ch[0]), "plain"))


# ----------------------------------------------------------------------------------------------------------------
# batching, types, errors
# ----------------------------------------------------------------------------------------------------------------
def test_project_channels_equals_one_call_per_channel_and_image():
    net = alexnet_geometry()
    imgs = torch.rand(3, 3, 100, 100, dtype=torch.float64)
    res = project_channels(net, imgs, 5, max_elements=20_000, inside=False)  # tiny chunks: exercises the chunking
    assert res.projection.shape == (3, 8, 3, 100, 100)
    with torch.no_grad():
        acts = net[:6](imgs)
    for b in range(3):
        for k in range(8):
            one, _ = project(net, imgs[b], 5, channel=k, inside=False)
            torch.testing.assert_close(res.projection[b, k], one, rtol=0, atol=0)
            assert float(acts[b, k].max()) == float(res.values[b, k])
            i, j = res.positions[b, k].tolist()
            assert float(acts[b, k, i, j]) == float(acts[b, k].max())


def test_numpy_in_numpy_out_and_unbatched_channel():
    net = vgg_geometry(dtype=torch.float32)
    img = np.random.default_rng(0).random((3, 16, 16), dtype=np.float32)
    proj, ch = project(net, img, 6, channel=2)
    assert isinstance(proj, np.ndarray) and proj.shape == img.shape and ch == 2
    proj2, ch2 = project(net, img, 6)
    assert isinstance(ch2, int)


def test_per_image_channels():
    net = vgg_geometry()
    imgs = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    proj, ch = project(net, imgs, 6, channel=[1, 4])
    assert ch.tolist() == [1, 4]
    torch.testing.assert_close(proj[1], project(net, imgs[1], 6, channel=4)[0])


def test_tconv_reexport():
    assert tconv.project is project


def test_unsupported_layer_names_type_and_index():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(4, 4, 3))
    with pytest.raises(ValueError, match=r"model\[2\].*Upsample"):
        project(net, torch.rand(3, 16, 16), 3, route="mirror")
    project(net, torch.rand(3, 16, 16), 1, route="mirror")  # the layers after `layer` do not matter
    with pytest.raises(ValueError, match=r"model\[0\].*padding_mode"):
        project(
            nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")), torch.rand(3, 8, 8), 0, route="mirror"
        )
    # route="auto" takes the graph route for layers the mirror does not know
    assert project(net, torch.rand(3, 16, 16), 3)[0].shape == (3, 16, 16)


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"layer": 9}, "layer"),
        ({"layer": 1, "method": "lrp"}, "method"),
        ({"layer": 1, "unpool": "max"}, "unpool"),
        ({"layer": 1, "method": "gradient", "unpool": "overwrite"}, "unpool"),
        ({"layer": 1, "channel": 7}, "channel"),
        ({"layer": 1, "channel": [0, 1, 2]}, "channel"),
    ],
)
def test_config_errors(kwargs, param):
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(ConfigError) as info:
        project(net, torch.rand(2, 3, 8, 8), **kwargs)
    assert info.value.param == param


def test_bad_images():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
    with pytest.raises(ConfigError, match="channels"):
        project(net, torch.rand(1, 8, 8), 1)
    with pytest.raises(ConfigError, match="too small"):
        project(net, torch.rand(3, 3, 3), 2)
    with pytest.raises(ConfigError, match=r"\(C, H, W\)"):
        project(net, torch.rand(8, 8), 1)
    with pytest.raises(ConfigError, match="Sequential"):
        project(nn.Linear(3, 3), torch.rand(3, 8, 8), 0)  # an index needs a Sequential


# ----------------------------------------------------------------------------------------------------------------
# property test: random conv/pool stacks, deconvnet == gradient and overwrite == seed port
# ----------------------------------------------------------------------------------------------------------------
@st.composite
def stacks(draw):
    """Layer specs (built inside the test, after seeding, so that a failure replays)."""
    specs, c = [], 3
    for _ in range(draw(st.integers(1, 3))):
        k, s = draw(st.integers(1, 5)), draw(st.integers(1, 3))
        co = draw(st.integers(1, 4))
        specs.append(("conv", c, co, k, s, draw(st.integers(0, k // 2))))
        c = co
        if draw(st.booleans()):
            pk = draw(st.integers(2, 4))
            specs.append(("pool", pk, draw(st.integers(1, pk)), draw(st.integers(0, pk // 2)), draw(st.booleans())))
    return specs


def build(specs):
    layers = []
    for spec in specs:
        if spec[0] == "conv":
            _, ci, co, k, s, p = spec
            layers += [nn.Conv2d(ci, co, k, stride=s, padding=p), nn.ReLU()]
        else:
            _, k, s, p, ceil = spec
            layers.append(nn.MaxPool2d(k, s, p, ceil_mode=ceil))
    return nn.Sequential(*layers).double()


@settings(max_examples=40, deadline=None)
@given(specs=stacks(), size=st.tuples(st.integers(12, 40), st.integers(12, 40)), seed=st.integers(0, 1000))
def test_random_stacks(specs, size, seed):
    torch.manual_seed(seed)
    net = build(specs)
    imgs = torch.rand(2, 3, *size, dtype=torch.float64)
    try:
        Mirror(net, len(net) - 1).sizes(size)
    except ConfigError:
        return  # the image is too small for this stack
    layer = len(net) - 1
    deconv, ch = project(net, imgs, layer, inside=False)
    grad, _ = project(net, imgs, layer, method="gradient", inside=False)
    torch.testing.assert_close(deconv, grad, rtol=1e-10, atol=1e-12)
    over, _ = project(net, imgs, layer, unpool="overwrite", inside=False)
    for b in range(2):
        with one_thread():
            ref, _ = cal_vis_data(imgs[b], net, int(ch[b]), output_size=True)
        torch.testing.assert_close(over[b], ref, rtol=1e-10, atol=1e-12)


# ---- the compiled unpooling, the work model, the docstring examples ------------------------------------------
@pytest.mark.parametrize("unpool", ["sum", "overwrite"])
@pytest.mark.parametrize("layer", [2, 5, 12])
def test_compiled_unpool_equals_torch_formulation(monkeypatch, unpool, layer):
    """The numba unpooling (CPU) and the gather/scatter_add formulation (other devices) give the same projections."""
    net = alexnet_geometry()
    x = torch.randn(2, 3, 101, 97, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    compiled = project_channels(net, x, layer, unpool=unpool).projection
    import importlib

    monkeypatch.setattr(importlib.import_module("tconv.zfnet.mirror_steps"), "COMPILED_UNPOOL", False)
    reference = project_channels(net, x, layer, unpool=unpool).projection
    assert compiled.abs().amax() > 0
    torch.testing.assert_close(compiled, reference, rtol=1e-12, atol=1e-12)


def test_work_counts_alexnet_like():
    """Forward + whole-map mirror vs the windowed mirror, by hand for AlexNet's relu2 (layer 4) on 224 images."""
    from tconv.zfnet.models import load_model

    net = load_model("alexnet-like", seed=0)
    per_call, per_window = Mirror(net.features, 4).work((3, 224, 224))
    conv1, conv2 = 64 * 3 * 11 * 11, 192 * 64 * 5 * 5  # multiply-adds per output position
    assert per_call == 2 * (55 * 55 * conv1 + 27 * 27 * conv2)
    # conv2's mirror on the 1x1 seed, then its 5x5 window unpooled to 11x11 feeds conv1's mirror
    assert per_window == 1 * conv2 + 11 * 11 * conv1


@pytest.mark.parametrize("threads", [1])
def test_torch_thread_count_left_as_set(threads):
    """numba's OpenMP layer used to reset torch.get_num_threads() (1 became 2 after one call): a fresh process,
    since the runtime starts once per process."""
    import os
    import subprocess
    import sys

    code = (
        "import torch, torch.nn as nn, tconv\n"
        f"torch.set_num_threads({threads})\n"
        "net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(3, 2))\n"
        "tconv.project(net, torch.rand(2, 3, 20, 20), 2)\n"
        "tconv.zfnet.project_channels(net, torch.rand(2, 3, 20, 20), 2, unpool='overwrite')\n"
        "print(torch.get_num_threads())\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split()[-1] == str(threads)
