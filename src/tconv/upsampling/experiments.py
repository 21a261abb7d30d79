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

Each lives in its own module, re-exported here: (a) :mod:`~tconv.upsampling.photos`, (b)+(c)
:mod:`~tconv.upsampling.superres`, (d) :mod:`~tconv.upsampling.gradients`; :func:`run_all` runs them into a folder.

>>> sorted(GRADIENT_NETS)[:2]
['k2s2', 'k3s1+pool']
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .gradients import GRADIENT_NETS, gradient_checkerboards, gradient_figure, input_gradient, strided_net
from .photos import (
    FIT_IMAGES,
    HELD_OUT_IMAGES,
    compare_on_image,
    compare_over_images,
    comparison_figure,
    load_gray,
    psnr,
    torch_threads,
    unpool_tconv_error,
)
from .superres import (
    SR_RUNS,
    SRConfig,
    SRNet,
    SRResult,
    SRRun,
    init_vs_trained_figure,
    photo_patches,
    run_super_resolution,
    run_super_resolution_seeds,
    sr_figure,
    summarize_seeds,
)

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
