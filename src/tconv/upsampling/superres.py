"""A small super-resolution task trained per upsampling method (:mod:`tconv.upsampling.experiments` (b)+(c)): a
network (conv, upsampler, conv, conv) learns to undo a 2x2 max pool on patches of scikit-image's photos; PSNR on
held-out photos, two checkerboard scores, and the outputs at random initialisation and after training.

>>> cfg = SRConfig(steps=2, batch=4, n_train=16, n_test=8, channels=4)
>>> res = run_super_resolution(cfg, runs=[SRRun("bilinear", "bilinear")], progress=False)
>>> sorted(res.rows[0])[:3]
['final_loss', 'flat_ripple', 'flat_ripple_init']
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .overlap import checkerboard_score, phase_means, ripple
from .photos import CAMERA_CROP, TEST_IMAGES, TRAIN_IMAGES, load_gray, psnr, torch_threads
from .upsamplers import make_upsampler, max_pool_with_switches

__all__ = [
    "SRConfig",
    "SRRun",
    "SR_RUNS",
    "SRNet",
    "SRResult",
    "photo_patches",
    "flat_core",
    "run_super_resolution",
    "run_super_resolution_seeds",
    "json_safe",
    "summarize_seeds",
    "init_vs_trained_figure",
    "sr_figure",
]


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
