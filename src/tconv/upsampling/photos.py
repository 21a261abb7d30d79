"""Seed 003's comparison on real photographs (:mod:`tconv.upsampling.experiments` (a)): max pool a photo, then bring
it back by unpooling (switches), copying, bilinear interpolation and transposed convolutions (the best k3 and k4
kernels by least squares, and a random one); PSNR over held-out photos.

>>> round(psnr(np.zeros((2, 2)), np.full((2, 2), 0.1)), 1)
20.0
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError
from ..ops.dispatch import conv_transpose
from .upsamplers import make_upsampler, max_pool_with_switches, tconv_padding

__all__ = [
    "TRAIN_IMAGES",
    "TEST_IMAGES",
    "CAMERA_CROP",
    "FIT_IMAGES",
    "HELD_OUT_IMAGES",
    "load_gray",
    "torch_threads",
    "psnr",
    "unpool_tconv_error",
    "compare_on_image",
    "compare_over_images",
    "comparison_figure",
]

TRAIN_IMAGES: tuple[str, ...] = (
    "coffee",
    "chelsea",
    "rocket",
    "coins",
    "moon",
    "text",
    "page",
    "brick",
    "grass",
    "gravel",
    "clock",
    "hubble_deep_field",
)
TEST_IMAGES: tuple[str, ...] = ("camera", "astronaut")

#: the crop of ``camera`` used by the figures (the photographer's face and camera)
CAMERA_CROP = (slice(56, 184), slice(150, 278))


def load_gray(name: str) -> np.ndarray:
    """A scikit-image bundled photo as a float32 grey image in [0, 1] (no download).

    >>> load_gray("camera").shape
    (512, 512)
    """
    import skimage.data  # noqa: PLC0415
    from skimage.color import rgb2gray  # noqa: PLC0415

    fn = getattr(skimage.data, name, None)
    if fn is None or name.startswith("_"):
        raise ConfigError("image", name, "must name one of scikit-image's bundled photos (e.g. 'camera')")
    img = np.asarray(fn())
    if img.ndim == 3:
        img = rgb2gray(img[..., :3])
    elif img.dtype == np.uint8:
        img = img / 255.0
    return np.asarray(img, dtype=np.float32)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` and restore the previous value (``None``: leave it alone).

    The experiments default to one thread: their convolutions are small, and on a shared machine extra threads
    mostly wait for each other.
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def psnr(pred: np.ndarray | Tensor, target: np.ndarray | Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1] (``pred`` is clipped), MSE pooled over everything.

    >>> round(psnr(np.full((4, 4), 0.5), np.full((4, 4), 0.6)), 3)
    20.0
    """
    p = np.clip(np.asarray(pred, dtype=np.float64), 0, 1)
    mse = float(np.mean((p - np.asarray(target, dtype=np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


# ----------------------------------------------------------------------------------------------------------------
# (a) seed 003's figure on a real photo
# ----------------------------------------------------------------------------------------------------------------
def _least_squares_tconv(
    low: Tensor | Sequence[Tensor], high: Tensor | Sequence[Tensor], kernel_size: int, factor: int
) -> tuple[Tensor, float]:
    """The single-channel stride-``factor`` transposed convolution (kernel + bias) closest to ``high`` in L2.

    The output is linear in the kernel, so each tap's basis image (the layer with a one-hot kernel) is a column of a
    least-squares problem. ``low`` / ``high`` may be lists of image pairs: one kernel is fitted to all of them.
    """
    lows = [low] if isinstance(low, Tensor) else list(low)
    highs = [high] if isinstance(high, Tensor) else list(high)
    p, _ = tconv_padding(kernel_size, factor)
    blocks, targets = [], []
    for lo, hi in zip(lows, highs, strict=True):
        size = tuple(hi.shape[-2:])
        cols = []
        for t in range(kernel_size * kernel_size):
            e = torch.zeros(1, 1, kernel_size * kernel_size, dtype=torch.float64)
            e[0, 0, t] = 1
            e = e.reshape(1, 1, kernel_size, kernel_size)
            cols.append(conv_transpose(lo.double(), e, stride=factor, padding=p, output_size=size).reshape(-1))
        cols.append(torch.ones_like(cols[0]))
        blocks.append(torch.stack(cols, dim=1))
        targets.append(hi.double().reshape(-1, 1))
    sol = torch.linalg.lstsq(torch.cat(blocks), torch.cat(targets)).solution[:, 0]
    w = sol[:-1].reshape(1, 1, kernel_size, kernel_size).to(lows[0].dtype)
    return w, float(sol[-1])


#: the photos the "best" transposed-convolution kernels are fitted on (never the image they are scored on)
FIT_IMAGES: tuple[str, ...] = TRAIN_IMAGES[:6]


def _photo_crop(name: str, size: int = 128) -> np.ndarray:
    img = load_gray(name)
    if name == "camera":
        return img[CAMERA_CROP]
    r, c = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
    return np.ascontiguousarray(img[r : r + size, c : c + size])


def unpool_tconv_error(image: str | np.ndarray = "camera", factor: int = 2) -> float:
    """How far the best single transposed convolution (kernel ``factor``, stride ``factor``, bias) gets to
    unpooling: relative L2 error ``||fit - unpool|| / ||unpool||`` of the least-squares fit to the unpooled image.

    Unpooling puts each value at its switch, which depends on the image; a transposed convolution writes the same
    kernel for every input, so it can copy (kernel of ones) but cannot unpool — except in the degenerate case where
    every switch sits at the same position of its window (then a one-hot kernel is exact).

    >>> round(unpool_tconv_error(np.random.default_rng(0).random((32, 32)).astype(np.float32)), 2)
    0.86
    """
    img = _photo_crop(image) if isinstance(image, str) else np.asarray(image, dtype=np.float32)
    x = torch.from_numpy(np.ascontiguousarray(img))[None, None]
    pooled, switches = max_pool_with_switches(x, factor)
    with torch.no_grad():
        target = make_upsampler("unpool", factor=factor)(pooled, switches=switches)
        w, b = _least_squares_tconv(pooled, target, factor, factor)
        fit = conv_transpose(pooled, w, stride=factor, output_size=tuple(x.shape[-2:])) + b
    return float(torch.linalg.norm(fit - target) / torch.linalg.norm(target))


def compare_on_image(image: str | np.ndarray = "camera", factor: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Max pool a photo by ``factor`` (with switches) and bring it back by each of seed 003's methods.

    Returns ``{"original", "pooled", "unpool", "copy", "bilinear", "tconv k3 (least squares)",
    "tconv k4 (least squares)", "tconv k3 (random init)"}``, all as 2-D arrays. ``image`` is a bundled photo's name
    (``camera`` is cropped to the photographer's face) or a 2-D array whose sides are multiples of ``factor``.
    The least-squares kernels are fitted on other photos (:data:`FIT_IMAGES`, 128 x 128 centre crops), never on the
    image they are scored on.

    >>> out = compare_on_image(np.random.default_rng(0).random((8, 8)).astype(np.float32))
    >>> out["unpool"].shape, float((out["unpool"] != 0).sum())
    ((8, 8), 16.0)
    """
    if isinstance(image, str):
        img = load_gray(image)
        img = img[CAMERA_CROP] if image == "camera" else img[: img.shape[0] // 4 * 4, : img.shape[1] // 4 * 4]
    else:
        img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2 or img.shape[0] % factor or img.shape[1] % factor:
        raise ConfigError("image", getattr(img, "shape", img), f"must be 2-D with sides that are multiples of {factor}")
    x = torch.from_numpy(np.ascontiguousarray(img))[None, None]
    pooled, switches = max_pool_with_switches(x, factor)
    out: dict[str, np.ndarray] = {"original": img, "pooled": pooled[0, 0].numpy()}
    with torch.no_grad():
        out["unpool"] = make_upsampler("unpool", factor=factor)(pooled, switches=switches)[0, 0].numpy()
        out["copy"] = make_upsampler("copy", factor=factor)(pooled)[0, 0].numpy()
        out["bilinear"] = make_upsampler("bilinear", factor=factor)(pooled)[0, 0].numpy()
        fit_hi = [torch.from_numpy(_photo_crop(n))[None, None] for n in FIT_IMAGES]
        fit_lo = [max_pool_with_switches(h, factor)[0] for h in fit_hi]
        for k in (3, 4):
            w, b = _least_squares_tconv(fit_lo, fit_hi, k, factor)
            p, _ = tconv_padding(k, factor)
            y = conv_transpose(pooled, w, stride=factor, padding=p, output_size=tuple(x.shape[-2:])) + b
            out[f"tconv k{k} (least squares)"] = y[0, 0].numpy()
        up = make_upsampler("tconv", factor=factor, kernel_size=3, seed=seed)
        out["tconv k3 (random init)"] = up(pooled)[0, 0].numpy()
    return out


#: bundled photos that the least-squares kernels are not fitted on (scored by :func:`compare_over_images`)
HELD_OUT_IMAGES: tuple[str, ...] = ("camera", "astronaut", "page", "brick", "grass", "gravel", "clock")


def compare_over_images(
    names: Sequence[str] = HELD_OUT_IMAGES, factor: int = 2, against: str = "bilinear"
) -> dict[str, Any]:
    """PSNR of each of :func:`compare_on_image`'s fixed methods on several held-out photos (128 x 128 crops), and
    each method's paired per-image difference from ``against`` with its 95% t-interval over the images.

    >>> r = compare_over_images(("camera", "brick"), 2)
    >>> r["n"], sorted(r["psnr"])[:2]
    (2, ['bilinear', 'copy'])
    """
    from ..stats import mean_ci, verdict  # noqa: PLC0415

    if set(names) & set(FIT_IMAGES):
        raise ConfigError("names", list(names), f"must not include the fitting photos {FIT_IMAGES}")
    per: dict[str, list[float]] = {}
    for name in names:
        res = compare_on_image(_photo_crop(name), factor)
        for k, v in res.items():
            if k not in ("original", "pooled") and "random" not in k:
                per.setdefault(k, []).append(psnr(v, res["original"]))
    if against not in per:
        raise ConfigError("against", against, f"must be one of {sorted(per)}")
    base = np.array(per[against])
    diffs = {}
    for k, v in per.items():
        if k == against:
            continue
        d = mean_ci(np.array(v) - base)
        diffs[k] = {"mean": d.mean, "ci95": [d.lo, d.hi], "verdict": verdict(d, ">", 0.0)}
    return {"images": list(names), "n": len(names), "factor": factor, "psnr": per, "minus_" + against: diffs}


def comparison_figure(results: dict[str, np.ndarray], zoom: tuple[slice, slice] | None = None) -> Any:
    """Seed 003's figure: each method's reconstruction, full size (top) and a zoomed crop (bottom), with PSNR."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(results)
    orig = results["original"]
    h, w = orig.shape
    zoom = zoom or (slice(h // 2 - 16, h // 2 + 16), slice(w // 2 - 16, w // 2 + 16))
    fig, axes = plt.subplots(2, len(names), figsize=(2.0 * len(names), 4.6), layout="constrained")
    for j, name in enumerate(names):
        img = results[name]
        fixed = "random" not in name
        kw = {"cmap": "gray", "interpolation": "nearest"}
        if fixed:
            kw.update(vmin=0, vmax=1)
        axes[0, j].imshow(img, **kw)
        if name == "pooled":
            f = h // img.shape[0]
            zs = (slice(zoom[0].start // f, zoom[0].stop // f), slice(zoom[1].start // f, zoom[1].stop // f))
            axes[1, j].imshow(img[zs], **kw)
            sub = f"{img.shape[0]}x{img.shape[1]}"
        else:
            axes[1, j].imshow(img[zoom], **kw)
            sub = (
                "reference"
                if name == "original"
                else (f"PSNR {psnr(img, orig):.1f} dB" if fixed else "display rescaled")
            )
        axes[0, j].set_title(f"{name}\n{sub}", fontsize=9)
        for a in axes[:, j]:
            a.set_xticks([])
            a.set_yticks([])
    axes[1, 0].set_ylabel("zoom", fontsize=9)
    rect = plt.Rectangle(
        (zoom[1].start - 0.5, zoom[0].start - 0.5),
        zoom[1].stop - zoom[1].start,
        zoom[0].stop - zoom[0].start,
        fill=False,
        color="tab:red",
        lw=1.2,
    )
    axes[0, 0].add_patch(rect)
    return fig
