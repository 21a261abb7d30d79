"""tconv.zfnet.traced / the graph route of tconv.project, against independent references.

The reference is each model's forward written out again by hand (tests/zfnet/families.py) with an activation whose
backward rule is written here: no fx, no graph rewriting. Captum, when installed, is a second reference.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tconv.errors import ConfigError
from tconv.zfnet import project, project_channels
from tconv.zfnet.traced import Traced
from tconv.zoo import import_model

from .families import InceptionLike, ResNetLike, UNetLike, randomize
from .test_project import alexnet_geometry

METHODS = ("deconvnet", "guided", "saliency")


def rule(method: str):
    """ReLU whose backward is the method's: ReLU of the signal / that masked by the forward sign / the gradient."""

    class Rule(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            if method == "deconvnet":
                return g.clamp(min=0)
            if method == "guided":
                return g.clamp(min=0) * (x > 0)
            return g * (x > 0)

    return Rule.apply


def reference(forward, x, method, kind, channel, position=None):
    """d objective / d x through ``forward(x, act)`` with the rule-following activation."""
    xs = x.clone().requires_grad_(True)
    y = forward(xs, rule(method))
    rows = torch.arange(len(x))
    if kind == "channel":
        obj = y[rows, channel].flatten(1).sum(1)
    elif kind == "logit":
        obj = y[rows, channel]
    else:
        obj = y[(rows, channel, *position.T)]
    (g,) = torch.autograd.grad(obj.sum(), xs)
    return g


SEEN: list[float] = []


def close(got, want):
    """Equal to 1e-5 of the largest value; the largest values are kept so that a test can check it saw signal."""
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))
    SEEN.append(float(want.abs().max()))


@pytest.fixture(autouse=True)
def saw_signal():
    """Guided backprop may rightly vanish for one objective, but never for all of a test's."""
    SEEN.clear()
    yield
    assert not SEEN or max(SEEN) > 0


def images(n, size, seed=0):
    return torch.rand(n, 3, *size, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------------------------------------------
# the three families
# ----------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def resnet():
    return randomize(ResNetLike(), 0)


def test_references_are_the_models(resnet):
    for model, size in (
        (resnet, (40, 40)),
        (randomize(UNetLike(), 1), (24, 24)),
        (randomize(InceptionLike(), 2), (21, 21)),
    ):
        x = images(2, size)
        with torch.no_grad():
            torch.testing.assert_close(model(x.clone()), model.reference(x.clone(), F.relu))


@pytest.mark.parametrize("method", METHODS)
def test_resnet_like(resnet, method):
    x = images(2, (40, 40))
    ch = torch.tensor([1, 4])
    # the block output, by the module that ends it (the shared ReLU's last call) and by the block's own name
    for layer in ("layer2.1.relu", "layer2"):
        pos = torch.tensor([[3, 4], [0, 2]])
        got, chosen = project(resnet, x, layer, ch, method, position=pos)
        assert chosen.tolist() == [1, 4]
        close(got, reference(lambda t, a: resnet.reference(t, a, stop="layer2"), x, method, "unit", ch, pos))
    # the class logit, through adaptive average pooling and the Linear head (default: the predicted class)
    got, cls = project(resnet, x, None, method=method, objective="logit")
    with torch.no_grad():
        assert cls.tolist() == resnet(x).argmax(1).tolist()
    close(got, reference(resnet.reference, x, method, "logit", cls))
    got3, _ = project(resnet, x, objective=3, method=method)  # an output index
    close(got3, reference(resnet.reference, x, method, "logit", torch.tensor([3, 3])))


@pytest.mark.parametrize("method", METHODS)
def test_unet_like(method):
    model = randomize(UNetLike(), 1)
    x = images(2, (24, 24), seed=1)
    got, ch = project(model, x, None, method=method, objective="channel")
    close(got, reference(model.reference, x, method, "channel", ch))
    pos = torch.tensor([[5, 17], [12, 8]])
    got, ch = project(model, x, None, channel=1, method=method, position=pos)
    close(got, reference(model.reference, x, method, "unit", ch, pos))


@pytest.mark.parametrize("method", METHODS)
def test_inception_like(method):
    model = randomize(InceptionLike(), 2)
    x = images(3, (21, 21), seed=2)
    got, ch = project(model, x, None, method=method, inside=False)
    with torch.no_grad():
        y = model(x)
    flat = y[torch.arange(3), ch].flatten(1)
    assert torch.equal(flat.amax(1), y.flatten(2).amax(2).amax(1))  # the strongest unit of the strongest channel
    w = y.shape[-1]
    pos = torch.stack([flat.argmax(1) // w, flat.argmax(1) % w], 1)
    close(got, reference(model.reference, x, method, "unit", ch, pos))


def test_in_place_positional_flag():
    """F.leaky_relu(y, 0.1, True) mutates y (its result unused): later readers must see the activation's result."""

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 2, 3, padding=1)

        def forward(self, x):
            y = self.a(x)
            F.leaky_relu(y, 0.1, True)
            return self.b(y)

    torch.manual_seed(0)
    m = M().double()
    x = images(1, (8, 8))
    with torch.no_grad():
        torch.testing.assert_close(Traced(m, None, "saliency").forward(x), m(x.clone()))


def test_every_activation_found_and_replaced(resnet):
    t = Traced(randomize(InceptionLike(), 2), None, "deconvnet")
    assert len(t.activations) == 9  # relu_, 3 torch.relu, 4 F.relu (one in place), the output's F.relu
    assert "relu" not in t.gm.code.replace("_tconv_rule", "")
    t = Traced(resnet, None, "guided")
    assert sum("layer1.0.relu" in v for v in t.activations.values()) == 2  # the shared module, called twice


# ----------------------------------------------------------------------------------------------------------------
# the explicit mirror and the graph route agree on Sequential stacks
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["deconvnet", "guided", "saliency"])
def test_mirror_equals_graph_route(method):
    net = alexnet_geometry()
    x = images(2, (131, 131), seed=3)
    for layer in (2, 7, 12):
        mirror, ch = project(net, x, layer, method=method, route="mirror")
        graph, ch2 = project(net, x, layer, method=method, route="graph")
        assert torch.equal(ch, ch2)
        torch.testing.assert_close(mirror, graph, rtol=1e-9, atol=1e-12)
    a = project_channels(net, x, 5, [0, 3], method=method, route="mirror")
    b = project_channels(net, x, 5, [0, 3], method=method, route="graph")
    assert torch.equal(a.positions, b.positions)
    torch.testing.assert_close(a.projection, b.projection, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# other activations: the documented rule
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("act", [nn.GELU(), nn.SiLU(), nn.ReLU6(), nn.LeakyReLU(0.2), nn.ELU()])
@pytest.mark.parametrize("method", METHODS)
def test_other_activations(act, method):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), act, nn.Conv2d(4, 3, 3)).double()
    x = images(1, (9, 9)) * 8 - 4  # reach ReLU6's upper bend and the negative side
    got, ch = project(net, x, 2, method=method, route="graph", inside=False)
    xs = x.clone().requires_grad_(True)
    pre = net[0](xs)  # the activation's input
    out = act(pre.detach()).requires_grad_(True)
    plane = net[2](out)[0, ch[0]].flatten()
    (g,) = torch.autograd.grad(plane[plane.argmax()], out)  # the signal arriving at the activation
    pre_d = pre.detach().requires_grad_(True)
    (deriv,) = torch.autograd.grad(act(pre_d).sum(), pre_d)  # f'(x), elementwise
    slope = act.negative_slope if isinstance(act, nn.LeakyReLU) else 0.0
    back = {
        "deconvnet": F.leaky_relu(g, slope) if slope else g.clamp(min=0),
        "guided": g.clamp(min=0) * deriv,
        "saliency": g * deriv,
    }[method]
    (want,) = torch.autograd.grad(pre, xs, back)
    close(got, want)


# ----------------------------------------------------------------------------------------------------------------
# objectives, channel round trip, errors
# ----------------------------------------------------------------------------------------------------------------
def test_channel_accepts_what_project_returns(resnet):
    x = images(2, (40, 40))
    p, ch = project(resnet, x, "layer2")
    q, ch2 = project(resnet, x, "layer2", channel=ch)
    assert torch.equal(p, q) and torch.equal(ch, ch2)
    p1, c1 = project(resnet, x[0], "layer2")
    q1, _ = project(resnet, x[0], "layer2", channel=c1)
    assert isinstance(c1, int) and torch.equal(p1, q1)
    q2, _ = project(resnet, x, "layer2", channel=ch.numpy())
    assert torch.equal(p, q2)


def test_inside_skips_border_units(resnet):
    from tconv.receptive import receptive_field
    from tconv.zfnet.objective import interior_mask

    x = images(2, (128, 128), seed=5)
    rows = receptive_field(resnet, (1, 3, 128, 128), all_layers=True)
    for layer in ("layer1", "layer2"):
        node = Traced(resnet, layer, "deconvnet").layer  # the shared ReLU's last call ends the block
        assert node == f"{layer}_1_relu_1"
        (row,) = [r for r in rows if r.name == node]
        u = torch.arange(row.output_size[0])
        first = row.start[0] + u * int(row.jump[0])
        want = (first >= 0) & (first + row.rf[0] <= 128)  # the classic recurrence's field of every unit
        mask = interior_mask(resnet, (3, 128, 128), node_name=node)
        assert mask[0].tolist() == want.tolist() == mask[1].tolist()
        assert 0 < want.sum() < len(want)
        _, ch = project(resnet, x, layer)
        _, ch_all = project(resnet, x, layer, inside=False)
        got, _ = project(resnet, x, layer, channel=ch, position=None)
        with torch.no_grad():
            acts = Traced(resnet, layer, "deconvnet").forward(x)
        inner = acts[:, :, want][:, :, :, want].flatten(2).amax(2)
        assert torch.equal(inner.argmax(1), ch)
        assert torch.equal(acts.flatten(2).amax(2).argmax(1), ch_all)


def test_interior_mask_is_receptives_per_unit_view(resnet):
    from tconv.receptive import unit_fields
    from tconv.zfnet.objective import interior_mask

    assert next(resnet.parameters()).dtype == torch.float64 and torch.get_default_dtype() == torch.float32
    mask = interior_mask(resnet, (3, 128, 128), node_name="layer2_1_relu_1")
    assert torch.get_default_dtype() == torch.float32  # the float64 model is traced in its dtype, nothing global
    f = unit_fields(resnet, (1, 3, 128, 128), "layer2_1_relu_1")
    assert [m.tolist() for m in mask] == [m.tolist() for m in f.inside]
    assert [m.tolist() for m in mask[0:1]] == [((f.start[0] >= 0) & (f.stop[0] <= 128)).tolist()]
    assert interior_mask(resnet, (3, 96, 96), node_name="no_such_layer") is None
    assert interior_mask(resnet, (3, 8, 8), node_name="layer2_1_relu_1") is None  # every field is larger


def test_errors(resnet):
    x = images(1, (40, 40))
    with pytest.raises(ConfigError) as info:
        project(resnet, x, "layer9")
    assert info.value.param == "layer" and "layer1_0_conv1" in str(info.value)
    with pytest.raises(ConfigError) as info:
        project(resnet, x, "layer2", objective="logit")
    assert info.value.param == "objective"
    with pytest.raises(ConfigError) as info:
        project(resnet, x, "layer2", objective="pixels")
    assert info.value.param == "objective"
    with pytest.raises(ConfigError) as info:
        project(resnet, x, "layer2", unpool="overwrite")
    assert info.value.param == "unpool"
    with pytest.raises(ConfigError) as info:
        project(resnet, x, 3)
    assert info.value.param == "layer"
    with pytest.raises(ConfigError) as info:
        project(resnet, x, "layer2", position=(99, 0))
    assert info.value.param == "position"


# ----------------------------------------------------------------------------------------------------------------
# models torch.fx cannot trace
# ----------------------------------------------------------------------------------------------------------------
class Branchy(nn.Module):
    """Data-dependent control flow: fx cannot trace it."""

    def __init__(self, inplace_trick: bool = False) -> None:
        super().__init__()
        self.conv1, self.relu, self.conv2 = nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3)
        self.inplace_trick = inplace_trick

    def forward(self, x):
        y = self.conv1(x)
        if y.sum() > -1e9:  # always true, but fx cannot know
            if self.inplace_trick:
                y.relu_()  # the mutation matters; the fallback runs activations out of place
                return self.conv2(y)
            y = self.relu(y)
        return self.conv2(F.relu(y))


def test_untraceable_fallback_and_errors():
    torch.manual_seed(0)
    model = Branchy().double()
    x = images(1, (12, 12))
    with pytest.warns(UserWarning, match=r"test_traced.py:\d+ 'if y.sum\(\) > -1e9:"):
        got, ch = project(model, x, "conv2", method="guided", inside=False)
    ref_model = nn.Sequential(model.conv1, nn.ReLU(), model.conv2)
    want, _ = project(ref_model, x, 2, channel=ch, method="guided", inside=False)
    close(got, want)
    with pytest.raises(ConfigError, match="cannot be traced.*control flow"):
        project(model, x, "conv2_1")  # an fx node name: the fallback needs a module
    trick = Branchy(inplace_trick=True).double()
    with pytest.raises(ConfigError, match="in-place"), pytest.warns(UserWarning):
        project(trick, x, "conv2")


# ----------------------------------------------------------------------------------------------------------------
# Captum, when it can be installed
# ----------------------------------------------------------------------------------------------------------------
def test_against_captum():
    attr = pytest.importorskip("captum.attr")
    model = randomize(ResNetLike(), 4)
    for m in model.modules():  # Captum's Deconvolution / GuidedBackprop refuse in-place ReLU modules
        if isinstance(m, nn.ReLU):
            m.inplace = False
    x = images(2, (48, 48), seed=6)
    target = torch.tensor([2, 0])
    for method, cls in (("deconvnet", attr.Deconvolution), ("guided", attr.GuidedBackprop), ("saliency", None)):
        want = (
            attr.Saliency(model).attribute(x, target=target, abs=False)
            if cls is None
            else cls(model).attribute(x, target=target)
        )
        got, _ = project(model, x, None, channel=target, method=method, objective="logit")
        close(got, want)


def test_top_k_on_a_residual_network(resnet):
    """top_k with a named layer takes the graph route: winners, values and projections against brute force."""
    from tconv.zfnet.images import to_tensor
    from tconv.zfnet.objective import interior_mask
    from tconv.zfnet.top9 import top_k

    model = copy.deepcopy(resnet).float()
    rng = np.random.default_rng(0)
    data = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(7)]
    res = top_k(model, data, "layer1", channels=[0, 3], k=3, batch_size=3, progress=False)
    t = Traced(model, "layer1", "deconvnet")
    x = to_tensor(data)
    with torch.no_grad():
        acts = t.forward(x)
    rows, cols = interior_mask(model, (3, 64, 64), node_name=t.layer)
    keep = torch.from_numpy(rows[:, None] & cols[None, :])
    best = acts.masked_fill(~keep, -torch.inf).flatten(2).amax(2)  # (N, C)
    for j, c in enumerate([0, 3]):
        want = best[:, c].sort(descending=True)
        assert [e.index for e in res.entries[c]] == want.indices[:3].tolist()
        np.testing.assert_allclose([e.value for e in res.entries[c]], want.values[:3].numpy(), rtol=1e-6)
        e = res.entries[c][0]
        full, _ = project(model, x[e.index], "layer1", channel=c, position=e.position)
        crop = res.projections[j][0]
        np.testing.assert_allclose(np.abs(crop).sum(), full.abs().sum().item(), rtol=1e-4)


def test_cli_project_any_network(tmp_path):
    from typer.testing import CliRunner

    from tconv.cli import app

    out = tmp_path / "p.png"
    res = CliRunner().invoke(
        app,
        ["zfnet", "project", "--model", "tests.zfnet.families:ResNetLike", "--layer", "layer2.1.relu",
         "--method", "guided", "--size", "64", "--limit", "2", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 1000
    res = CliRunner().invoke(
        app,
        ["zfnet", "top9", "--model", "tests.zfnet.families:ResNetLike", "--layer", "layer1", "--count", "6",
         "--size", "48", "--k", "2", "--n-channels", "2", "--out", str(tmp_path / "t.png")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    bad = CliRunner().invoke(
        app, ["zfnet", "project", "--model", "tests.zfnet.families:ResNetLike", "--layer", "nope", "--size", "64"]
    )
    assert bad.exit_code == 2 and "layer" in bad.output


def test_cli_grid_any_network(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tconv.cli import app
    from tconv.zfnet import grids
    from tconv.zfnet.images import builtin_images, to_tensor

    drawn = []
    real = grids.feature_grid_figure
    monkeypatch.setattr(grids, "feature_grid_figure", lambda maps, title: drawn.append(maps) or real(maps, title))
    model = "tests.zfnet.families:ResNetLike"
    for args in (["--layer", "layer2.1.relu", "--image", "coffee"], ["--kernels"]):
        out = tmp_path / "g.png"
        res = CliRunner().invoke(app, ["zfnet", "grid", "--model", model, "--size", "48", *args, "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert out.stat().st_size > 1000
    # the maps drawn are the named layer's activations for that image (the CLI builds the model with --seed 0)
    net = import_model(model, 0, accept=(nn.Module,)).eval()
    with torch.no_grad():
        want = Traced(net, "layer2.1.relu", "deconvnet").forward(to_tensor(builtin_images(48)["coffee"][None].copy()))[
            0
        ]
    assert len(drawn) == 1 and drawn[0].shape == want.shape and torch.allclose(drawn[0], want)
    for args, word in ((["--layer", "nope"], "layer"), (["--layer", "fc"], "layer"), (["--image", "x"], "image")):
        bad = CliRunner().invoke(app, ["zfnet", "grid", "--model", model, "--size", "48", *args])
        assert bad.exit_code == 2 and word in bad.output and "Traceback" not in bad.output, (args, bad.output)
