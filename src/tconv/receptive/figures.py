"""Figures of receptive fields over an image, and the tour's section."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from .fields import RFBox, RFRow, _boxes, receptive_field, receptive_field_box


def draw_fields(
    image: np.ndarray,
    boxes: Sequence[tuple[str, RFBox]],
    title: str = "",
    ax: Any = None,
    legend: bool = True,
) -> Any:  # -> matplotlib Figure
    """Draw receptive-field boxes ``(label, box)`` over an ``(H, W[, 3])`` image; returns the matplotlib Figure.

    Solid: the field clipped to the image; dashed: the theoretical field where it reaches into the padding.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.2, 6.2))
    else:
        fig = ax.figure
    ax.imshow(image)
    colors = plt.get_cmap("plasma")(np.linspace(0.05, 0.88, max(len(boxes), 1)))
    h, w = image.shape[:2]
    for (label, box), c in zip(boxes, colors, strict=False):
        (y0, x0), (y1, x1) = box.theoretical_start, box.theoretical_stop
        if (y0, x0, y1, x1) != (*box.start, *box.stop):
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=1.1, ls="--", ec=c))
        (y0, x0), (y1, x1) = box.start, box.stop
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=2.0, ec=c, label=label))
    lo = [min([0, *(b.theoretical_start[k] for _, b in boxes)]) for k in range(2)]
    hi = [max([n, *(b.theoretical_stop[k] for _, b in boxes)]) for k, n in enumerate((h, w))]
    margin = 0.02 * max(h, w)
    ax.set_xlim(lo[1] - margin - 0.5, hi[1] + margin - 0.5)
    ax.set_ylim(hi[0] + margin - 0.5, lo[0] - margin - 0.5)
    ax.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, lw=0.8, ec="0.3"))
    ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    ax.set_xlabel("x (input pixels)")
    ax.set_ylabel("y (input pixels)")
    return fig


def _zoo_figure(model: nn.Module, name: str, size: int, image: np.ndarray) -> tuple[Any, list[RFRow]]:
    """Two panels: every layer's centre unit, and every layer's corner unit (where padding clips the field)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    shape = (1, 3, size, size)
    rows = receptive_field(model, shape)
    picks = [r for r in rows if r.kind != "input"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.9), layout="constrained")
    for ax, where in zip(axes, ("centre", "corner"), strict=True):
        requests = [(r.name, tuple(n // 2 for n in r.output_size) if where == "centre" else (0, 0)) for r in picks]
        labels = [f"{r.name} ({r.kind}) rf {r.rf[0]}" for r in picks]
        boxes = list(zip(labels, _boxes(model, shape, requests), strict=True))
        title = f"{name}: each layer's {where} unit" + (" (dashed: into the padding)" if where == "corner" else "")
        draw_fields(image, boxes, title=title, ax=ax, legend=where == "corner")
    return fig, rows


def tour_section(out_dir: Path, quick: bool = True) -> Any:
    """Tour: receptive-field tables and a figure for the AlexNet-like and VGG16-like networks."""
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from skimage import data  # noqa: PLC0415
    from skimage.transform import resize  # noqa: PLC0415

    from ..tour import Section, img_tag, table_html  # noqa: PLC0415
    from ..zoo import alexnet_like, vgg16_like  # noqa: PLC0415

    size = 224
    image = resize(data.astronaut(), (size, size), anti_aliasing=True)
    parts = [
        "<p>The receptive field of a unit is the input region its value depends on (seed 000 §3.3). "
        "Fields are found by tracing the network with <code>torch.fx</code>: <code>tconv.receptive_field</code> gives "
        "size <code>rf</code>, <code>jump</code> (input pixels between neighbouring units) and <code>start</code> "
        "(first input pixel of unit 0, negative inside the padding); <code>tconv.receptive_field_box</code> gives one "
        "unit's exact field clipped to the image. A test back-propagates from single units and checks the non-zero "
        "gradient region is exactly this box. Widths are thinned (geometry only matters); weights are seeded.</p>"
    ]
    seed_net = nn.Sequential(nn.Conv1d(1, 1, 3, padding=1), nn.Conv1d(1, 1, 5, padding=2))
    seed_rows = receptive_field(seed_net, (1, 1, 16))
    h8 = receptive_field_box(seed_net, (1, 1, 16), 1, 7)
    parts.append(
        "<h3>Seed 000's example: two same-padding convolutions, kernels 3 and 5</h3>"
        + table_html(
            ["layer", "rf", "seed 000 says", "field of unit 8 (1-based)"],
            [
                ["z (k=3)", seed_rows[1].rf[0], 3, "—"],
                ["h (k=5)", seed_rows[2].rf[0], 7, f"x_{h8.start[0] + 1} .. x_{h8.stop[0]} (seed: x_5 .. x_11)"],
            ],
        )
    )
    for name, model in (
        ("AlexNet-like", alexnet_like(seed=0, width=0.25)),
        ("VGG16-like", vgg16_like(seed=0, width=1 / 16)),
    ):
        fig, rows = _zoo_figure(model, name, size, image)
        table = table_html(
            ["layer", "kind", "output", "rf", "jump", "start"],
            [[r.name, r.kind, "×".join(map(str, r.output_size)), r.rf[0], str(r.jump[0]), r.start[0]] for r in rows],
        )
        parts.append(f"<h3>{name} on a {size}×{size} input</h3>")
        parts.append(img_tag(fig, alt=f"{name} receptive fields over an image", width=1000))
        parts.append(table)
        plt.close(fig)
    return Section("receptive", "Receptive fields", "\n".join(parts))
