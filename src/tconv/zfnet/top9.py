"""ZFNet's Figure 2: for chosen channels of a layer, the 9 strongest activations over a data set.

Each activation is shown twice: as its deconvnet projection, and as the image patch under the unit's receptive field
(:func:`tconv.receptive.receptive_field_box`), both cropped to that box -- a grid of 3x3 grids. The data set is
streamed in batches with a progress bar: one forward pass per batch keeps, for every channel, the strongest
activation of each image and a running top-k. Only the winning images are then read again and projected, all
channels in one batched mirror pass.

>>> import numpy as np
>>> from tconv.zoo import alexnet_like
>>> from tconv.zfnet.images import ImageSet, builtin_images
>>> ds = ImageSet(builtin_images(96), size=96, count=12, seed=0)
>>> res = top_k(alexnet_like(seed=0, width=0.25), ds, layer=5, channels=[0, 1], k=4, progress=False)
>>> [len(res.entries[c]) for c in res.channels], res.patches[0][0].shape[2]
([4, 4], 3)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .grids import to_rgb
from .images import to_tensor
from .mirror import Mirror, _progress
from .mirror_steps import _check_method
from .models import Network, load_model
from .stream import batches, gather_objects, my_batches, world

__all__ = ["Activation", "TopK", "top_k", "top9_figure", "crop_box"]


@dataclass(frozen=True)
class Activation:
    """One of a channel's strongest activations: which image, where in the feature map, how strong, and the box
    (top, left, bottom, right; bottom/right exclusive, possibly outside the image) of its receptive field."""

    channel: int
    index: int
    position: tuple[int, int]
    value: float
    box: tuple[int, int, int, int]


@dataclass
class TopK:
    """The result of :func:`top_k`: per channel, its k activations (strongest first), their projections and patches
    cropped to the receptive-field box (``projections[c][r]`` is (3, h, w), ``patches[c][r]`` (h, w, 3) uint8)."""

    network: str
    layer: int
    layer_name: str
    channels: list[int]
    entries: dict[int, list[Activation]] = field(default_factory=dict)
    projections: list[list[np.ndarray]] = field(default_factory=list)
    patches: list[list[np.ndarray]] = field(default_factory=list)
    bgr: bool = False
    method: str = "deconvnet"
    unpool: str = "sum"
    images_seen: int = 0


def crop_box(a: np.ndarray, box: tuple[int, int, int, int], fill: float | int = 0) -> np.ndarray:
    """``a[..., top:bottom, left:right]`` over the last two axes (or the first two for (H, W, 3) when ``a`` is
    HWC), padding with ``fill`` where the box leaves the array, so every crop of a layer has the box's size.

    >>> crop_box(np.arange(9).reshape(3, 3), (-1, 1, 2, 4), fill=-1).tolist()
    [[-1, -1, -1], [1, 2, -1], [4, 5, -1]]
    """
    top, left, bottom, right = box
    hwc = a.ndim == 3 and a.shape[2] == 3 and a.shape[0] != 3
    h, w = (a.shape[0], a.shape[1]) if hwc else a.shape[-2:]
    shape = (bottom - top, right - left, *a.shape[2:]) if hwc else (*a.shape[:-2], bottom - top, right - left)
    out = np.full(shape, fill, dtype=a.dtype)
    y0, y1, x0, x1 = max(top, 0), min(bottom, h), max(left, 0), min(right, w)
    if y1 > y0 and x1 > x0:
        if hwc:
            out[y0 - top : y1 - top, x0 - left : x1 - left] = a[y0:y1, x0:x1]
        else:
            out[..., y0 - top : y1 - top, x0 - left : x1 - left] = a[..., y0:y1, x0:x1]
    return out


def _rf_box(model: nn.Module, shape: tuple[int, int, int], layer: int, pos: tuple[int, int]) -> tuple[int, ...]:
    """The unit's receptive field, unclipped (so every crop of a layer has one size): tconv.receptive's box."""
    from ..receptive import receptive_field_box  # noqa: PLC0415

    box = receptive_field_box(model, (1, *shape), layer, pos)
    (top, left), (bottom, right) = box.theoretical_start, box.theoretical_stop
    return (int(top), int(left), int(bottom), int(right))


def interior(model: nn.Module, shape: tuple[int, int, int], layer: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows and columns of ``layer``'s units whose whole receptive field lies inside the image (from
    :func:`tconv.receptive.receptive_field`), or None when no unit's does (the field is larger than the image)."""
    from ..receptive import receptive_field  # noqa: PLC0415

    rows = receptive_field(model, (1, *shape), all_layers=True)
    row = next((r for r in rows if r.name == str(layer) or r.name.endswith(f".{layer}")), None)
    if row is None:
        return None
    masks = []
    for d in range(2):
        u = np.arange(row.output_size[d])
        first = row.start[d] + u * float(row.jump[d])
        masks.append((first >= 0) & (first + row.rf[d] <= shape[1 + d]))
    return None if not (masks[0].any() and masks[1].any()) else (masks[0], masks[1])


def _merge(best_v, best_i, best_p, v, i, p, k: int):  # type: ignore[no-untyped-def]
    """The k best of both (C, n) sets by one total order: larger value first, ties to the lower image index.

    Merging the same images in any grouping gives the same heap (an image met twice, as when a rank's heap is
    merged with itself, counts once)."""
    cand_v, cand_i, cand_p = torch.cat([best_v, v], 1), torch.cat([best_i, i], 1), torch.cat([best_p, p], 1)
    order = cand_i.argsort(dim=1, stable=True)
    cand_v, cand_i, cand_p = cand_v.gather(1, order), cand_i.gather(1, order), cand_p.gather(1, order)
    dup = torch.zeros_like(cand_i, dtype=torch.bool)
    dup[:, 1:] = cand_i[:, 1:] == cand_i[:, :-1]
    cand_v = cand_v.masked_fill(dup, -torch.inf)
    order = (-cand_v).argsort(dim=1, stable=True)[:, :k]
    return cand_v.gather(1, order), cand_i.gather(1, order), cand_p.gather(1, order)


class _MirrorRoute:
    """An ``nn.Sequential`` (or a :class:`Network`) and an int layer: the explicit mirror network."""

    def __init__(self, model: str | nn.Module | Network, layer: int) -> None:
        self.net = load_model(model)
        self.mirror = Mirror(self.net.features, layer)
        self.name, self.bgr, self.preprocess = self.net.name, self.net.bgr, self.net.preprocess
        self.layer, self.layer_name = self.mirror.layer, self.net.layer_names[self.mirror.layer]

    def check(self, shape: tuple[int, int, int]) -> int:
        self.mirror.check_images(torch.zeros(1, *shape))
        return self.mirror.out_channels or 3

    def region(self, shape: tuple[int, int, int]) -> tuple[np.ndarray, ...] | None:
        return interior(self.net.features, shape, self.layer)

    def activations(self, x: torch.Tensor) -> torch.Tensor:
        return self.mirror.trace(x).activations

    def project(self, x, owner, chans, positions, method, unpool, progress) -> np.ndarray:  # type: ignore[no-untyped-def]
        trace = self.mirror.trace(x, signs=method in ("guided", "saliency"))
        return self.mirror.backward(trace, owner, chans, positions, method, unpool, progress=progress).numpy()

    def box(self, shape: tuple[int, int, int], pos: tuple[int, int]) -> tuple[int, ...]:
        return _rf_box(self.net.features, shape, self.layer, pos)


class _GraphRoute:
    """Any torch.fx-traceable model and a named layer: autograd on the rewritten graph (:mod:`.traced`)."""

    def __init__(self, model: nn.Module, layer: str, method: str, preprocess: Callable | None) -> None:
        from .traced import Traced  # noqa: PLC0415

        if not isinstance(model, nn.Module):
            raise ConfigError("model", model, "must be an nn.Module when layer is a name")
        self.model, self.traced = model, Traced(model, layer, method)
        self.name, self.bgr = type(model).__name__, False
        self.preprocess = preprocess or to_tensor
        self.layer, self.layer_name = self.traced.layer, layer

    def check(self, shape: tuple[int, int, int]) -> int:
        with torch.no_grad():
            acts = self.traced.forward(self.preprocess(np.zeros((1, shape[1], shape[2], 3), np.uint8)))
        if acts.ndim != 4:
            raise ConfigError("layer", self.layer_name, f"gives {tuple(acts.shape)}: top-k needs (B, C, h, w) maps")
        return acts.shape[1]

    def region(self, shape: tuple[int, int, int]) -> tuple[np.ndarray, ...] | None:
        from .objective import interior_mask  # noqa: PLC0415

        return interior_mask(self.model, shape, node_name=self.layer)

    def activations(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.traced.forward(x)

    def project(self, x, owner, chans, positions, method, unpool, progress) -> np.ndarray:  # type: ignore[no-untyped-def]
        from .objective import gradients  # noqa: PLC0415

        if unpool != "sum":
            raise ConfigError("unpool", unpool, "must be 'sum' on the graph route (autograd always sums)")
        chunk = max(1, (1 << 25) // max(1, 16 * x[0].numel()))
        return gradients(self.traced, x, owner, "unit", chans, positions, chunk).numpy()

    def box(self, shape: tuple[int, int, int], pos: tuple[int, int]) -> tuple[int, ...]:
        from ..receptive import receptive_field_box  # noqa: PLC0415

        b = receptive_field_box(self.model, (1, *shape), self.layer, pos)
        (top, left), (bottom, right) = b.theoretical_start, b.theoretical_stop
        return (int(top), int(left), int(bottom), int(right))


def top_k(
    model: str | nn.Module | Network,
    dataset: Sequence[np.ndarray],
    layer: int | str,
    channels: Sequence[int] | None = None,
    k: int = 9,
    n_channels: int = 9,
    method: str = "deconvnet",
    unpool: str = "sum",
    batch_size: int = 16,
    progress: bool = True,
    inside: bool = True,
    workers: int = 0,
    distributed: bool | None = None,
    preprocess: Callable[[np.ndarray], torch.Tensor] | None = None,
) -> TopK:
    """The ``k`` strongest activations of each channel over ``dataset`` ((H, W, 3) uint8 RGB images of one size).

    ``channels`` defaults to the ``n_channels`` channels whose k-th strongest activation is largest. Each image
    counts once per channel (its strongest position), as in ZFNet's Figure 2. ``inside=True`` only considers units
    whose receptive field lies wholly inside the image (when the layer has any), so that no patch is clipped and
    no winner owes its response to the zero padding at the border.

    ``layer`` is an index into an ``nn.Sequential`` / :class:`Network` (the explicit mirror), or -- for any
    torch.fx-traceable ``nn.Module`` -- a module's qualified name or an fx node name (the graph route of
    :func:`tconv.project`; ``preprocess`` turns (B, H, W, 3) uint8 into the model's input, default [0, 1] floats).

    ``dataset`` is any sequence, e.g. a lazily decoded :class:`tconv.zfnet.stream.ImageFolder`; it is read batch by
    batch (``workers`` DataLoader processes decode ahead), so memory does not grow with its length. When
    torch.distributed is initialized (``distributed=None``; False ignores it), each rank scans its share of the
    batches, the heaps are gathered, and every rank returns the single-process result.
    """
    _check_method(method, unpool)
    route = _GraphRoute(model, layer, method, preprocess) if isinstance(layer, str) else _MirrorRoute(model, layer)  # type: ignore[arg-type]
    if not isinstance(k, int) or k < 1:
        raise ConfigError("k", k, "must be a positive int")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError("batch_size", batch_size, "must be a positive int")
    if len(dataset) < 1:
        raise ConfigError("dataset", len(dataset), "must hold at least one image")
    first = np.asarray(dataset[0])
    shape = (3, first.shape[0], first.shape[1])
    n_out = route.check(shape)
    if channels is not None:
        bad = [c for c in channels if not (isinstance(c, (int, np.integer)) and 0 <= c < n_out)]
        if bad or not len(channels):
            raise ConfigError("channels", list(channels), f"must be channel numbers between 0 and {n_out - 1}")
    k = min(k, len(dataset))
    region = route.region(shape) if inside else None

    # 1. stream the data set: a running top-k of (value, image index, flat position) per channel; under
    # torch.distributed each rank scans its batches and the heaps are merged (one total order: ties go to the
    # lower image index, so the result does not depend on how the images were split)
    rank, world_size = world() if distributed is not False else (0, 1)
    best_v = torch.full((n_out, 0), -torch.inf)
    best_i = torch.zeros((n_out, 0), dtype=torch.long)
    best_p = torch.zeros((n_out, 0), dtype=torch.long)
    spans = my_batches(len(dataset), batch_size, rank, world_size)
    label = f"top-{k}: {route.layer_name}" + (f" (rank {rank}/{world_size})" if world_size > 1 else "")
    width = 1
    with _progress(progress and rank == 0, label, len(spans)) as advance:
        for a, imgs in batches(dataset, batch_size, workers, rank, world_size):
            acts = route.activations(route.preprocess(imgs))  # (B, C, h, w)
            if region is not None:
                keep = torch.from_numpy(region[0][:, None] & region[1][None, :])
                acts = acts.masked_fill(~keep, -torch.inf)
            width = acts.shape[-1]
            v, p = acts.flatten(2).max(dim=2)  # (B, C): each image's strongest position per channel
            idx = torch.arange(a, a + len(imgs)).expand(n_out, -1)
            best_v, best_i, best_p = _merge(best_v, best_i, best_p, v.T, idx, p.T, k)
            advance()
    if world_size > 1:
        gathered = gather_objects((best_v, best_i, best_p, width))
        for v, i, p, _w in gathered:
            best_v, best_i, best_p = _merge(best_v, best_i, best_p, v, i, p, k)
        width = max(w for *_, w in gathered)
    if channels is None:
        channels = best_v[:, -1].argsort(descending=True)[:n_channels].tolist()
    chans = [int(c) for c in channels]

    # 2. re-read the winning images and project every (channel, rank) seed in one batched pass
    winners = sorted({int(best_i[c, r]) for c in chans for r in range(k)})
    row = {idx: j for j, idx in enumerate(winners)}
    images = [np.asarray(dataset[i]) for i in winners]
    owner = torch.tensor([row[int(best_i[c, r])] for c in chans for r in range(k)])
    seed_ch = torch.tensor([c for c in chans for _ in range(k)])
    flat = torch.stack([best_p[c, r] for c in chans for r in range(k)])
    positions = torch.stack([flat // width, flat % width], dim=1)
    proj = route.project(route.preprocess(np.stack(images)), owner, seed_ch, positions, method, unpool, progress)

    # 3. crop both to the receptive field of each unit
    result = TopK(
        network=route.name,
        layer=route.layer,  # type: ignore[arg-type]
        layer_name=route.layer_name,
        channels=chans,
        bgr=route.bgr,
        method=method,
        unpool=unpool,
        images_seen=len(dataset),
    )
    s = 0
    for c in chans:
        entries, projs, patches = [], [], []
        for r in range(k):
            pos = (int(positions[s, 0]), int(positions[s, 1]))
            box = route.box(shape, pos)
            idx = int(best_i[c, r])
            entries.append(Activation(c, idx, pos, float(best_v[c, r]), box))
            projs.append(crop_box(proj[s], box, fill=0.0))
            patches.append(crop_box(images[row[idx]], box, fill=128))
            s += 1
        result.entries[c] = entries
        result.projections.append(projs)
        result.patches.append(patches)
    return result


def top9_figure(result: TopK, columns: int = 3, scale: str = "robust"):
    """ZFNet Figure 2 for one layer: per channel, a 3x3 grid of projections beside a 3x3 grid of image patches.

    Projections are scaled all together per channel (``scale="robust"``: 0 is mid-gray), so that the nine are
    comparable; ``columns`` channel blocks per row.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from .grids import grid  # noqa: PLC0415

    n = len(result.channels)
    nrows = -(-n // columns)
    k = len(result.projections[0])
    side = int(np.ceil(np.sqrt(k)))
    fig, axes = plt.subplots(nrows, 2 * columns, figsize=(4.4 * columns, 2.35 * nrows + 0.5), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for j, c in enumerate(result.channels):
        r, col = divmod(j, columns)
        stack = np.stack(result.projections[j])  # (k, 3, h, w): one scale for the channel's nine
        joint = to_rgb(stack.transpose(1, 0, 2, 3).reshape(3, -1, stack.shape[-1]), bgr=result.bgr, scale=scale)
        tiles = list(joint.reshape(k, stack.shape[2], stack.shape[3], 3))
        pad = max(1, stack.shape[-1] // 24)
        axes[r, 2 * col].imshow(grid(tiles, side, pad, fill=1.0), interpolation="nearest")
        axes[r, 2 * col + 1].imshow(grid([p / 255.0 for p in result.patches[j]], side, pad, fill=1.0))
        axes[r, 2 * col].set_title(f"channel {c}", fontsize=9, loc="left")
    fig.suptitle(
        f"{result.network} {result.layer_name}: top-{k} activations over {result.images_seen} images "
        f"({result.method} projection | image patch, cropped to the receptive field)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
