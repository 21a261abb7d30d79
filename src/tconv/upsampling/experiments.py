"""Experiments: the upsamplers compared on real photographs, and checkerboards measured (all reproducible from a seed).

(a) :func:`compare_on_image` / :func:`comparison_figure` — seed 003's figure on a real photo: max pool it, then bring
    it back by unpooling (switches), copying, bilinear interpolation, and transposed convolutions (the best k3 and
    k4 kernels by least squares, and a random one).
(b)+(c) :func:`run_super_resolution` — a small network (conv, upsampler, conv, conv) trained per method to undo a
    2x2 max pool on patches of scikit-image's photos; PSNR on held-out photos and two checkerboard scores; the
    model's outputs at random initialisation and after training (:func:`init_vs_trained_figure`,
    :func:`sr_figure`).
(d) :func:`gradient_checkerboards` — the gradient of a stack of strided convolutions with respect to its input is a
    stack of transposed convolutions, so it carries their checkerboard (Distill's last claim).

>>> cfg = SRConfig(steps=2, batch=4, n_train=16, n_test=8, channels=4)
>>> res = run_super_resolution(cfg, runs=[SRRun("bilinear", "bilinear")], progress=False)
>>> sorted(res.rows[0])[:3]
['final_loss', 'flat_ripple', 'flat_ripple_init']
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..ops.dispatch import conv_transpose
from ..stats import bootstrap_ci
from .overlap import Layer, checkerboard_score, interior_pattern, phase_means, ripple
from .upsamplers import make_upsampler, max_pool_with_switches, tconv_padding

__all__ = [
    "load_gray",
    "compare_on_image",
    "compare_over_images",
    "HELD_OUT_IMAGES",
    "unpool_tconv_error",
    "FIT_IMAGES",
    "comparison_figure",
    "SRConfig",
    "SRRun",
    "SR_RUNS",
    "SRResult",
    "SRNet",
    "photo_patches",
    "run_super_resolution",
    "run_super_resolution_seeds",
    "summarize_seeds",
    "init_vs_trained_figure",
    "sr_figure",
    "GRADIENT_NETS",
    "strided_net",
    "input_gradient",
    "gradient_checkerboards",
    "gradient_figure",
    "psnr",
    "torch_threads",
    "QUICK",
    "FULL",
    "run_all",
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


# ----------------------------------------------------------------------------------------------------------------
# (b) + (c) a small super-resolution task, trained per method
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SRConfig:
    """Everything that determines a super-resolution run (recorded with the results)."""

    seed: int = 0
    steps: int = 1500
    batch: int = 32
    patch: int = 32
    factor: int = 2
    channels: int = 16
    lr: float = 2e-3
    n_train: int = 4096
    n_test: int = 512
    threads: int | None = 1
    train_images: tuple[str, ...] = TRAIN_IMAGES
    test_images: tuple[str, ...] = TEST_IMAGES

    def __post_init__(self) -> None:
        for name in ("steps", "batch", "patch", "factor", "channels", "n_train", "n_test"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(name, v, "must be a positive int")
        if self.patch % self.factor:
            raise ConfigError("patch", self.patch, f"must be a multiple of factor={self.factor}")
        if not self.lr > 0:
            raise ConfigError("lr", self.lr, "must be positive")


@dataclass(frozen=True)
class SRRun:
    """One trained model: a label, the upsampler method and its keyword arguments."""

    label: str
    method: str
    kwargs: tuple[tuple[str, Any], ...] = ()


#: The runs of the super-resolution table (``copy`` with a 2x2 window equals ``nearest``, so it is not repeated).
SR_RUNS: tuple[SRRun, ...] = (
    SRRun("nearest", "nearest"),
    SRRun("bilinear", "bilinear"),
    SRRun("unpool (switches)", "unpool"),
    SRRun("tconv k3", "tconv", (("kernel_size", 3),)),
    SRRun("tconv k4", "tconv", (("kernel_size", 4),)),
    SRRun("tconv bilinear-init", "tconv_bilinear"),
    SRRun("tconv nearest-init", "tconv_nearest"),
    SRRun("resize-conv", "resize_conv"),
    SRRun("pixel shuffle ICNR", "pixel_shuffle"),
    SRRun("pixel shuffle random", "pixel_shuffle", (("icnr", False),)),
)


class SRNet(nn.Module):
    """conv3x3(1->C) + ReLU at low resolution, the upsampler (C channels), conv3x3 + ReLU, conv3x3(C->1).

    The first and last convolutions are initialised from the same seed for every method, so runs differ only in the
    upsampler. ``forward(low, switches)``: the max pool's switches (one channel) are used by ``unpool`` only.
    """

    def __init__(self, run: SRRun, channels: int = 16, factor: int = 2, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.head = nn.Conv2d(1, channels, 3, padding=1)
            self.body = nn.Conv2d(channels, channels, 3, padding=1)
            self.tail = nn.Conv2d(channels, 1, 3, padding=1)
        self.up = make_upsampler(run.method, channels, factor, seed=seed + 1, **dict(run.kwargs))

    def forward(self, low: Tensor, switches: Tensor | None = None) -> Tensor:
        z = F.relu(self.head(low))
        z = self.up(z, switches=switches)
        return self.tail(F.relu(self.body(z)))


def photo_patches(names: Sequence[str], n: int, size: int, rng: np.random.Generator) -> Tensor:
    """``n`` random ``size`` x ``size`` grey patches drawn evenly from the named photos, as (n, 1, size, size)."""
    imgs = [load_gray(name) for name in names]
    out = np.empty((n, 1, size, size), dtype=np.float32)
    for i in range(n):
        img = imgs[i % len(imgs)]
        r = rng.integers(0, img.shape[0] - size + 1)
        c = rng.integers(0, img.shape[1] - size + 1)
        out[i, 0] = img[r : r + size, c : c + size]
    return torch.from_numpy(out)


@dataclass
class SRResult:
    """Rows (one dict per run), the configuration, and pictures for figure (b)."""

    config: SRConfig
    rows: list[dict[str, Any]]
    losses: dict[str, list[float]]
    snapshots: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "rows": self.rows, "reference": self.reference, "seconds": self.seconds}


#: the flat test image is this many pixels on a side (high resolution); scores use its centre, FLAT_CORE on a side
FLAT_SIZE, FLAT_CORE = 64, 32


def flat_core(img: np.ndarray, size: int = FLAT_CORE) -> np.ndarray:
    """The central ``size`` x ``size`` of a 2-D output: far from the zero padding of every layer, so a flat input
    should give a flat result there."""
    h, w = img.shape[-2:]
    return img[..., (h - size) // 2 : (h + size) // 2, (w - size) // 2 : (w + size) // 2]


def _evaluate(model: SRNet, low: Tensor, sw: Tensor, high: Tensor, flat: tuple[Tensor, Tensor], f: int) -> dict:
    with torch.no_grad():
        out = torch.cat([model(low[i : i + 128], sw[i : i + 128]) for i in range(0, len(low), 128)])
        flat_out = model(*flat)[0, 0].numpy()
    sq_err = ((out.clamp(0, 1) - high) ** 2).numpy()
    phase_mse = phase_means(sq_err, f)
    return {
        "psnr": psnr(out.numpy(), high.numpy()),
        "flat_ripple": ripple(flat_core(flat_out), f),
        "phase_mse_ratio": float(phase_mse.max() / phase_mse.min()),
    }


def run_super_resolution(
    config: SRConfig = SRConfig(), runs: Sequence[SRRun] = SR_RUNS, progress: bool = True
) -> SRResult:
    """Train :class:`SRNet` once per run to undo a ``factor`` x ``factor`` max pool; measure and keep pictures.

    Scores, on held-out photos (``config.test_images``): PSNR (dB); ``flat_ripple`` — the model applied to a flat
    grey image, whose ideal output is flat (scored on its centre, :func:`flat_core`): the RMS of the output's
    stride-periodic part over the output's RMS, i.e. the square root of the output spectrum's share of energy at the
    stride frequencies (:func:`ripple`); ``phase_mse_ratio`` — the squared error averaged per sub-pixel phase (position modulo
    ``factor``), worst phase over best (1 = even).
    Every run sees the same batches; training uses ``config.threads`` torch threads.
    """
    with torch_threads(config.threads):
        return _run_super_resolution(config, runs, progress)


def _run_super_resolution(config: SRConfig, runs: Sequence[SRRun], progress: bool) -> SRResult:
    from rich.progress import Progress  # noqa: PLC0415

    cfg = config
    if not runs:
        raise ConfigError("runs", runs, "must name at least one run")
    rng = np.random.default_rng(cfg.seed)
    train_hi = photo_patches(cfg.train_images, cfg.n_train, cfg.patch, rng)
    test_hi = photo_patches(cfg.test_images, cfg.n_test, cfg.patch, rng)
    train_lo, train_sw = max_pool_with_switches(train_hi, cfg.factor)
    test_lo, test_sw = max_pool_with_switches(test_hi, cfg.factor)
    batches = rng.integers(0, cfg.n_train, size=(cfg.steps, cfg.batch))
    flat_hi = torch.full((1, 1, FLAT_SIZE, FLAT_SIZE), 0.5)
    flat = max_pool_with_switches(flat_hi, cfg.factor)
    # a larger held-out view for the pictures: the photographer's face
    view_hi = torch.from_numpy(np.ascontiguousarray(load_gray("camera")[CAMERA_CROP][48:112, 8:72]))[None, None]
    view = max_pool_with_switches(view_hi, cfg.factor)

    # the untrained reference: bilinear interpolation of the pooled image, no network
    ref_out = F.interpolate(test_lo, scale_factor=cfg.factor, mode="bilinear", align_corners=False)
    ref_pm = phase_means(((ref_out.clamp(0, 1) - test_hi) ** 2).numpy(), cfg.factor)
    reference = {
        "bilinear, no network": {
            "psnr": psnr(ref_out.numpy(), test_hi.numpy()),
            "phase_mse_ratio": float(ref_pm.max() / ref_pm.min()),
        },
        "targets": {"stride_energy": checkerboard_score(test_hi.numpy(), cfg.factor)},
    }

    rows, losses, snaps = [], {}, {}
    t_all = time.perf_counter()
    c_all = time.process_time()
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("super-resolution", total=len(runs) * cfg.steps)
        for run in runs:
            bar.update(task, description=f"train {run.label}")
            model = SRNet(run, cfg.channels, cfg.factor, cfg.seed)
            snap: dict[str, np.ndarray] = {}
            with torch.no_grad():
                snap["flat_init"] = model(*flat)[0, 0].numpy()
                snap["view_init"] = model(*view)[0, 0].numpy()
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
            hist = []
            t0, c0 = time.perf_counter(), time.process_time()
            for step in range(cfg.steps):
                idx = torch.from_numpy(batches[step])
                loss = F.mse_loss(model(train_lo[idx], train_sw[idx]), train_hi[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                hist.append(float(loss.detach()))
                bar.advance(task)
            secs, cpu = time.perf_counter() - t0, time.process_time() - c0
            scores = _evaluate(model, test_lo, test_sw, test_hi, flat, cfg.factor)
            with torch.no_grad():
                snap["flat_trained"] = model(*flat)[0, 0].numpy()
                snap["view_trained"] = model(*view)[0, 0].numpy()
            snap["flat_init_ripple"] = np.float64(ripple(flat_core(snap["flat_init"]), cfg.factor))
            rows.append(
                {
                    "label": run.label,
                    "method": run.method,
                    "params": sum(p.numel() for p in model.up.parameters()),
                    **scores,
                    "flat_ripple_init": float(snap["flat_init_ripple"]),
                    "final_loss": float(np.mean(hist[-max(1, cfg.steps // 20) :])),
                    "train_seconds": secs,
                    "train_cpu_seconds": cpu,
                }
            )
            losses[run.label] = hist
            snaps[run.label] = snap
    snaps["_view"] = {"target": view_hi[0, 0].numpy(), "pooled": view[0][0, 0].numpy()}
    reference["cpu_seconds"] = time.process_time() - c_all
    return SRResult(cfg, rows, losses, snaps, reference, time.perf_counter() - t_all)


#: the per-seed numbers that :func:`summarize_seeds` gives intervals for
SEED_METRICS = ("psnr", "flat_ripple", "flat_ripple_init", "phase_mse_ratio")


def run_super_resolution_seeds(
    config: SRConfig,
    seeds: Sequence[int],
    out_dir: str | Path,
    runs: Sequence[SRRun] = SR_RUNS,
    progress: bool = True,
) -> dict[str, Any]:
    """:func:`run_super_resolution` once per seed, each seed's numbers written to ``out_dir/seed_<s>.json`` as soon
    as it is done (a killed run resumes at the first seed without a file), then :func:`summarize_seeds`.

    A seed's file from another configuration is refused (:class:`ConfigError`).
    """
    from ..files import write_json  # noqa: PLC0415

    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError("seeds", list(seeds), "must be distinct and at least one")
    out = Path(out_dir)
    per_seed: dict[int, dict[str, Any]] = {}
    for k, seed in enumerate(seeds):
        cfg = replace(config, seed=int(seed))
        path = out / f"seed_{seed}.json"
        want = json_safe(asdict(cfg))
        if path.exists():
            import json  # noqa: PLC0415

            done = json.loads(path.read_text())
            if done["config"] != want or [r["label"] for r in done["rows"]] != [r.label for r in runs]:
                raise ConfigError("out_dir", str(path), "holds a seed run of another configuration")
            per_seed[int(seed)] = done
            if progress:
                print(f"seed {seed}: {path} already done ({k + 1}/{len(seeds)})", flush=True)
            continue
        res = run_super_resolution(cfg, runs, progress=progress)
        data = json_safe(res.to_json())
        write_json(path, data)
        per_seed[int(seed)] = data
        if progress:
            print(f"seed {seed}: done in {res.seconds:.0f} s ({k + 1}/{len(seeds)}), wrote {path}", flush=True)
    summary = summarize_seeds(per_seed)
    write_json(out / "summary.json", summary)
    return summary


def json_safe(d: Any) -> Any:
    """Tuples to lists, recursively (what the JSON round trip gives back)."""
    if isinstance(d, dict):
        return {k: json_safe(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [json_safe(v) for v in d]
    return d


def summarize_seeds(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Mean and 95% t-interval over seeds of every run's numbers, and paired comparisons.

    Per run: ``{metric: {"mean", "ci95", "n", "per_seed"}}`` for :data:`SEED_METRICS`; ``vs_best``: the paired
    per-seed PSNR difference from the run with the best mean (its t-interval, and "behind" when the interval is
    below 0, "not shown" when it straddles 0); ``vs_bilinear``: the paired difference from bilinear interpolation
    without a network ("above" / "below" / "not shown").
    """
    from ..stats import mean_ci, verdict  # noqa: PLC0415

    seeds = sorted(per_seed)
    labels = [r["label"] for r in per_seed[seeds[0]]["rows"]]
    table = {lab: {m: np.array([_row(per_seed[s], lab)[m] for s in seeds]) for m in SEED_METRICS} for lab in labels}
    ref = np.array([per_seed[s]["reference"]["bilinear, no network"]["psnr"] for s in seeds])
    best = max(labels, key=lambda lab: table[lab]["psnr"].mean())

    def ci(v: np.ndarray) -> dict[str, Any]:
        iv = mean_ci(v)
        return {"mean": iv.mean, "ci95": [iv.lo, iv.hi], "n": iv.n, "per_seed": v.tolist()}

    rows = []
    for lab in labels:
        row: dict[str, Any] = {"label": lab, **{m: ci(table[lab][m]) for m in SEED_METRICS}}
        if lab != best:
            d = mean_ci(table[lab]["psnr"] - table[best]["psnr"])
            row["vs_best"] = {"mean": d.mean, "ci95": [d.lo, d.hi], "verdict": verdict(d, "<", 0.0)}
        d = mean_ci(table[lab]["psnr"] - ref)
        v = verdict(d, ">", 0.0)
        row["vs_bilinear"] = {"mean": d.mean, "ci95": [d.lo, d.hi],
                              "verdict": {"confirmed": "above", "refuted": "below"}.get(v, v)}  # fmt: skip
        rows.append(row)
    return {
        "seeds": seeds,
        "config": {k: v for k, v in per_seed[seeds[0]]["config"].items() if k != "seed"},
        "best": best,
        "rows": rows,
        "bilinear_no_network": ci(ref),
        "test": "two-sided 95% Student-t intervals over seeds; comparisons are paired per seed (same data, batches "
        "and surrounding initialisation); a difference is shown when its interval excludes 0",
    }


def _row(result: dict[str, Any], label: str) -> dict[str, Any]:
    return next(r for r in result["rows"] if r["label"] == label)


def init_vs_trained_figure(result: SRResult) -> Any:
    """(b): each run's model on a flat grey input and on a held-out photo, at random initialisation and trained.

    Flat-input panels are contrast-stretched (their ideal is a single grey), so any stride pattern is visible; the
    number under each is its ripple.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415

    labels = [r["label"] for r in result.rows]
    fig, axes = plt.subplots(4, len(labels), figsize=(1.55 * len(labels), 7.0), layout="constrained")
    axes = np.asarray(axes).reshape(4, len(labels))
    f = result.config.factor
    for j, label in enumerate(labels):
        s = result.snapshots[label]
        for i, key in enumerate(("flat_init", "flat_trained", "view_init", "view_trained")):
            ax = axes[i, j]
            img = s[key]
            if key.startswith("flat"):
                inner = flat_core(img, 16)
                mean = float(inner.mean())
                lim = max(float(np.abs(inner - mean).max()), 0.02 * abs(mean), 1e-6)  # fainter than 2% looks faint
                ax.imshow(inner, cmap="gray", vmin=mean - lim, vmax=mean + lim, interpolation="nearest")
                ax.set_xlabel(f"ripple {ripple(flat_core(img), f):.4f}", fontsize=8)
            elif key == "view_trained":
                ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.imshow(img, cmap="gray", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, j].set_title(label, fontsize=8.5)
    for i, name in enumerate(
        ("flat input\nrandom init", "flat input\ntrained", "photo\nrandom init", "photo\ntrained")
    ):
        axes[i, 0].set_ylabel(name, fontsize=9)
    fig.suptitle(
        "(b) the model at random initialisation and after training. Flat input: the 16x16 centre of the "
        "output for a uniform grey image, contrast-stretched (a pattern below 2% of the mean shows faint)",
        fontsize=10,
    )
    return fig


def sr_figure(result: SRResult) -> Any:
    """(c): PSNR and the two checkerboard scores per run (the trained outputs are in :func:`init_vs_trained_figure`)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = result.rows
    labels = [r["label"] for r in rows]
    y = np.arange(len(rows))
    fig = plt.figure(figsize=(13, 1.2 + 0.36 * len(rows)), layout="constrained")
    grid = fig.add_gridspec(1, 3)
    ax = fig.add_subplot(grid[0, 0])
    vals = [r["psnr"] for r in rows]
    ax.barh(y, vals, color="tab:blue")
    ref = result.reference["bilinear, no network"]["psnr"]
    ax.axvline(ref, color="k", ls="--", lw=1, label=f"bilinear, no network ({ref:.2f})")
    ax.set_xlim(min(vals + [ref]) - 1.0, max(vals) + 0.5)
    for yi, v in zip(y, vals, strict=True):
        ax.text(v, yi, f" {v:.2f}", va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("PSNR on held-out photos (dB), higher is better")
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax = fig.add_subplot(grid[0, 1])
    init = [max(r["flat_ripple_init"], 1e-5) for r in rows]
    trained = [max(r["flat_ripple"], 1e-5) for r in rows]
    ax.barh(y - 0.2, init, height=0.4, color="tab:gray", label="random init")
    ax.barh(y + 0.2, trained, height=0.4, color="tab:red", label="trained")
    ax.set_xscale("log")
    for yi, r in zip(y, rows, strict=True):  # exact zeros cannot sit on a log axis: say so
        for dy, key in ((-0.2, "flat_ripple_init"), (0.2, "flat_ripple")):
            if r[key] == 0:
                ax.text(1.2e-5, yi + dy, "0 (exact)", va="center", fontsize=7)
    ax.set_yticks(y, [""] * len(rows))
    ax.invert_yaxis()
    ax.set_xlabel("flat-input ripple (log), lower is better")
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    ax = fig.add_subplot(grid[0, 2])
    vals = [r["phase_mse_ratio"] for r in rows]
    ax.barh(y, vals, color="tab:purple")
    ref_ratio = result.reference["bilinear, no network"]["phase_mse_ratio"]
    ax.axvline(ref_ratio, color="k", ls="--", lw=1, label=f"bilinear, no network ({ref_ratio:.2f})")
    ax.axvline(1.0, color="k", ls=":", lw=1)
    for yi, v in zip(y, vals, strict=True):
        ax.text(v, yi, f" {v:.2f}", va="center", fontsize=8)
    ax.set_xlim(0.9, max(vals + [ref_ratio]) * 1.15)
    ax.set_yticks(y, [""] * len(rows))
    ax.invert_yaxis()
    ax.set_xlabel("MSE of worst / best sub-pixel phase (1 = even)")
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    cfg = result.config
    fig.suptitle(
        f"(c) undoing a {cfg.factor}x{cfg.factor} max pool: {cfg.steps} Adam steps x {cfg.batch} patches "
        f"of {cfg.patch}px, {cfg.channels} channels, seed {cfg.seed}",
        fontsize=10,
    )
    return fig


# ----------------------------------------------------------------------------------------------------------------
# (d) checkerboards in the gradients of strided convolutions
# ----------------------------------------------------------------------------------------------------------------
#: name -> (kernel, stride, padding) of each of the stacked layers; "k3s1+pool" is a stride-1 conv then 2x2 avg pool
GRADIENT_NETS: dict[str, tuple[int, int, int]] = {
    "k3s2": (3, 2, 1),
    "k4s2": (4, 2, 1),
    "k2s2": (2, 2, 0),
    "k5s2": (5, 2, 2),
    "k3s1+pool": (3, 1, 1),
}


def strided_net(name: str, channels: int = 8, layers: int = 3, seed: int = 0, uniform: bool = False) -> nn.Sequential:
    """A discriminator-like stack of ``layers`` convolutions (``GRADIENT_NETS[name]``) with ReLUs.

    ``uniform=True`` gives all-ones kernels, one channel, no bias and no ReLU: then the gradient of the output's sum
    with respect to the input is exactly the count map of the transposed stack.
    """
    if name not in GRADIENT_NETS:
        raise ConfigError("net", name, f"must be one of {tuple(GRADIENT_NETS)}")
    k, s, p = GRADIENT_NETS[name]
    mods: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        c_in = 1
        for _ in range(layers):
            c_out = 1 if uniform else channels
            conv = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, bias=not uniform)
            if uniform:
                nn.init.ones_(conv.weight)
            mods.append(conv)
            if name.endswith("+pool"):
                mods.append(nn.AvgPool2d(2))
            if not uniform:
                mods.append(nn.ReLU())
            c_in = c_out
    return nn.Sequential(*mods)


def input_gradient(net: nn.Module, image: Tensor, seed: int = 0) -> np.ndarray:
    """Gradient of a random linear read-out of ``net(image)`` (normal weights from ``seed``) w.r.t. the image."""
    x = image.detach().clone().requires_grad_(True)
    y = net(x)
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(y.shape, generator=g)
    (y * r).sum().backward()
    return x.grad[0, 0].numpy().copy()


def gradient_checkerboards(
    image: str | np.ndarray = "camera", seeds: int = 16, channels: int = 8, layers: int = 3, threads: int | None = 1
) -> dict[str, dict[str, Any]]:
    """(d): for each of :data:`GRADIENT_NETS`, the input gradients of ``seeds`` random nets and how periodic they are.

    The gradient of a stack of strided convolutions is a stack of transposed convolutions applied to the output's
    gradient, so its *energy* depends on the position modulo the total stride ``S = 2**layers``. Per net: ``energy``
    — the mean squared gradient by phase (an ``S x S`` tile, normalised to mean 1); ``score`` — :func:`ripple` of
    the mean squared gradient at period ``S`` (0 = no pattern; the ``k3s1+pool`` net is the control), with
    ``ci95``, a percentile bootstrap interval over the ``seeds`` random nets (500 resamples; ``n`` = seeds);
    ``uniform_ratio`` — the max/min of the count map of the transposed stack (what all-equal weights would give);
    ``example`` — seed 0's gradient.

    >>> r = gradient_checkerboards(np.random.default_rng(0).random((32, 32), np.float32), seeds=1, channels=2)
    >>> r["k3s2"]["energy"].shape, r["k3s2"]["uniform_ratio"]
    ((8, 8), 25.0)
    """
    if isinstance(image, str):
        img = load_gray(image)
        img = img[CAMERA_CROP] if image == "camera" else img[:128, :128]
    else:
        img = np.asarray(image, dtype=np.float32)
    x = torch.from_numpy(np.ascontiguousarray(img))[None, None]
    period = 2**layers
    out: dict[str, dict[str, Any]] = {}
    with torch_threads(threads):
        for name, (k, s, p) in GRADIENT_NETS.items():
            grads = [input_gradient(strided_net(name, channels, layers, seed), x, seed) for seed in range(seeds)]
            sq = np.stack([g**2 for g in grads])
            energy = sq.mean(axis=0)
            ci = bootstrap_ci(lambda i, sq=sq: ripple(sq[i].mean(axis=0), period), seeds, resamples=500)
            tile = phase_means(energy, period)
            if name.endswith("+pool"):
                stack = [Layer(k, s, p), Layer(2, 2)] * layers
            else:
                stack = [Layer(k, s, p)] * layers
            pat = interior_pattern(stack, dims=2)
            out[name] = {
                "score": ripple(energy, period),
                "ci95": [ci.lo, ci.hi],
                "n": seeds,
                "energy": tile / tile.mean() if tile.mean() > 0 else tile,
                "uniform_ratio": float(pat.max() / pat.min()) if pat.min() > 0 else float("inf"),
                "example": grads[0],
            }
    return out


def gradient_figure(results: dict[str, dict[str, Any]]) -> Any:
    """(d): one random net's input gradient per architecture (zoomed) and the gradient energy by phase."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(results)
    fig, axes = plt.subplots(2, len(names), figsize=(2.6 * len(names), 5.8), layout="constrained")
    vmax = max(float(r["energy"].max()) for r in results.values())
    for j, name in enumerate(names):
        r = results[name]
        g = r["example"]
        h, w = g.shape
        crop = g[h // 2 - 24 : h // 2 + 24, w // 2 - 24 : w // 2 + 24]
        lim = float(np.abs(crop).max()) or 1.0
        axes[0, j].imshow(crop, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        axes[0, j].set_title(name, fontsize=10)
        im = axes[1, j].imshow(r["energy"], cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
        axes[1, j].set_title(f"ripple {r['score']:.2f}\n(equal weights: max/min {r['uniform_ratio']:.3g})", fontsize=9)
        for a in axes[:, j]:
            a.set_xticks([])
            a.set_yticks([])
    fig.colorbar(im, ax=axes[1, :].tolist(), shrink=0.8, label="mean squared gradient / mean")
    axes[0, 0].set_ylabel("input gradient, seed 0\n(48x48 centre)", fontsize=9)
    axes[1, 0].set_ylabel("gradient energy by\nposition mod 8", fontsize=9)
    fig.suptitle(
        "(d) gradients of three stacked strided convolutions (random weights, ReLU) w.r.t. the input", fontsize=10
    )
    return fig


# ----------------------------------------------------------------------------------------------------------------
# everything, written to a folder (used by the tour and the CLI)
# ----------------------------------------------------------------------------------------------------------------
#: the tour's quick settings (well under a minute on two idle cores) and the full ones (a few minutes)
QUICK = SRConfig(steps=200, batch=16, lr=5e-3, n_train=1024, n_test=256)
FULL = SRConfig()


def run_all(out_dir: str | Path, quick: bool = True, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Run experiments (a)-(d) and the overlap table; write their figures and ``results.json`` into ``out_dir``.

    Returns the JSON-ready results (configuration, seed, numbers and timings) with the figure paths.
    """
    from ..files import save_figure, write_json  # noqa: PLC0415
    from .overlap import overlap_figure, overlap_table  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = replace(QUICK if quick else FULL, seed=seed)
    timings: dict[str, float] = {}
    figs: dict[str, str] = {}

    def fig(name: str, f: Any) -> None:
        import matplotlib.pyplot as plt  # noqa: PLC0415

        figs[name] = str(save_figure(f, out / f"{name}.png"))
        plt.close(f)

    t = time.perf_counter()
    table = overlap_table()
    fig("overlap", overlap_figure())
    timings["overlap"] = time.perf_counter() - t

    t = time.perf_counter()
    fig("comparison", comparison_figure(compare_on_image("camera", 2, seed)))
    timings["comparison"] = time.perf_counter() - t

    t = time.perf_counter()
    sr = run_super_resolution(cfg, progress=progress)
    fig("init_vs_trained", init_vs_trained_figure(sr))
    fig("super_resolution", sr_figure(sr))
    timings["super_resolution"] = time.perf_counter() - t

    t = time.perf_counter()
    grads = gradient_checkerboards("camera", seeds=16 if quick else 64)
    fig("gradients", gradient_figure(grads))
    timings["gradients"] = time.perf_counter() - t

    results = {
        "quick": quick,
        "seed": seed,
        "overlap_table": [s.as_dict() for s in table],
        "super_resolution": sr.to_json(),
        "gradients": {
            k: {"score": v["score"], "ci95": v["ci95"], "n": v["n"], "uniform_ratio": v["uniform_ratio"]}
            for k, v in grads.items()
        },
        "timings_s": timings,
        "figures": figs,
    }
    write_json(out / "results.json", results)
    return results
