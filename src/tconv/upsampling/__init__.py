"""Upsampling compared: unpooling, copying, interpolation, transposed convolution, sub-pixel — and checkerboards.

* :mod:`~tconv.upsampling.upsamplers` — every upsampler behind one interface (:func:`make_upsampler`);
* :mod:`~tconv.upsampling.overlap` — count maps (the operator applied to ones), checkerboard scores, the table;
* :mod:`~tconv.upsampling.experiments` — seed 003's figure on a photo, training per method, gradient checkerboards.

>>> from tconv.upsampling import Layer, interior_pattern
>>> interior_pattern(Layer(3, 2)).tolist()
[2, 1]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .overlap import (
    COMMON_CASES,
    Layer,
    OverlapStats,
    checkerboard_score,
    count_map,
    interior_pattern,
    overlap_figure,
    overlap_stats,
    overlap_table,
    phase_means,
    ripple,
    stack_plans,
)
from .upsamplers import (
    LEARNABLE,
    METHODS,
    Upsampler,
    bilinear_kernel,
    copy_back,
    make_upsampler,
    max_pool_with_switches,
    tconv_padding,
    unpool,
)

__all__ = [
    "METHODS",
    "LEARNABLE",
    "Upsampler",
    "make_upsampler",
    "max_pool_with_switches",
    "unpool",
    "copy_back",
    "bilinear_kernel",
    "tconv_padding",
    "Layer",
    "COMMON_CASES",
    "OverlapStats",
    "stack_plans",
    "count_map",
    "interior_pattern",
    "checkerboard_score",
    "ripple",
    "overlap_stats",
    "overlap_table",
    "overlap_figure",
    "phase_means",
    "tour_section",
]


def _fmt_ratio(v: float | None) -> str:
    return "holes" if v is None else f"{v:.3g}"


def overlap_table_html(rows: list[dict[str, Any]]) -> str:
    """The overlap table (from ``OverlapStats.as_dict()`` rows) as HTML."""
    from ..tour import table_html  # noqa: PLC0415

    header = [
        "layer",
        "k",
        "s",
        "d",
        "p",
        "interior counts (one period)",
        "max/min 1-D",
        "max/min 2-D",
        "ripple 2-D",
        "2-D min (border) / max",
        "2 stacked: max/min 2-D",
        "3 stacked: max/min 2-D",
    ]
    body = [
        [
            r["layer"],
            r["kernel_size"],
            r["stride"],
            r["dilation"],
            r["padding"],
            " ".join(str(v) for v in r["pattern"]),
            _fmt_ratio(r["ratio_1d"]),
            _fmt_ratio(r["ratio_2d"]),
            f"{r['ripple_2d']:.3f}" if r["ripple_2d"] is not None else "-",
            f"{r['border_min_2d']} / {r['interior_2d']}",
            _fmt_ratio(r["stack2_ratio_2d"]),
            _fmt_ratio(r["stack3_ratio_2d"]),
        ]
        for r in rows
    ]
    return table_html(header, body)


def sr_table_html(sr: dict[str, Any]) -> str:
    """The trained-upsampler table (from ``SRResult.to_json()``) as HTML."""
    from ..tour import table_html  # noqa: PLC0415

    header = [
        "upsampler",
        "its params",
        "PSNR (dB)",
        "flat-input ripple, init",
        "flat-input ripple, trained",
        "phase MSE max/min",
        "train s (CPU)",
    ]
    body = [
        [
            r["label"],
            r["params"],
            f"{r['psnr']:.2f}",
            f"{r['flat_ripple_init']:.4f}",
            f"{r['flat_ripple']:.4f}",
            f"{r['phase_mse_ratio']:.3f}",
            f"{r['train_cpu_seconds']:.1f}",
        ]
        for r in sr["rows"]
    ]
    ref = sr["reference"]["bilinear, no network"]
    body.append(["bilinear, no network", 0, f"{ref['psnr']:.2f}", "-", "-", f"{ref['phase_mse_ratio']:.3f}", "-"])
    return table_html(header, body)


def tour_section(out_dir: Path, quick: bool = True) -> Any:
    """The tour's section: the overlap table and figure, seed 003's comparison, training per method, gradients."""
    from ..tour import Section, img_tag, table_html  # noqa: PLC0415
    from .experiments import run_all  # noqa: PLC0415

    res = run_all(Path(out_dir) / "upsampling", quick=quick, progress=True)
    sr = res["super_resolution"]
    cfg = sr["config"]
    figs = res["figures"]
    grads = res["gradients"]
    mode = "quick mode: a short run" if quick else "full mode"
    parts = [
        "<p>Seed 003 contrasts <b>unpooling</b> (values back at the max pool's switches), <b>copying</b> (values "
        "copied into the whole window) and a learned <b>transposed convolution</b>. Here they are measured side by "
        "side with interpolation, resize-convolution and pixel shuffle, and the checkerboard that uneven overlap "
        "paints is counted rather than only pictured. All upsamplers share one interface: "
        "<code>tconv.upsampling.make_upsampler(method, channels, factor)</code>.</p>",
        "<h3>Overlap: the transposed convolution of ones</h3>",
        "<p>How many (input, tap) paths reach each output position. Flat when the kernel is a multiple of the "
        "stride (and the padding crops the ramps at the borders, e.g. k4 s2 p2); uneven otherwise. Seed 002's "
        "window 7 / stride 4 gives 2, 2, 2, 1. Stacking multiplies the unevenness. &lsquo;holes&rsquo;: some "
        "outputs receive nothing (k &lt; s, or dilation sharing the stride).</p>",
        overlap_table_html(res["overlap_table"]),
        img_tag(figs["overlap"], "count maps", width=900),
        "<h3>(a) Seed 003's figure on a real photo</h3>",
        "<p>The photographer (scikit-image's <code>camera</code>), max pooled 2&times;2 and brought back. "
        "Unpooling restores exact values at the switches and zeros elsewhere; copying (= nearest for a 2&times;2 "
        "window) gives blocks; the best transposed convolutions (least squares) beat bilinear; a random k3 s2 one "
        "paints the 1-2-1-2 overlap pattern.</p>",
        img_tag(figs["comparison"], "comparison"),
        f"<h3>(b, c) Trained per method: undoing a 2&times;2 max pool ({mode})</h3>",
        f"<p>conv3&times;3 &rarr; upsampler &rarr; conv3&times;3 &rarr; conv3&times;3, {cfg['channels']} channels, "
        f"{cfg['steps']} Adam steps of {cfg['batch']} patches ({cfg['patch']} px) from {len(cfg['train_images'])} "
        f"photos, tested on {', '.join(cfg['test_images'])}; seed {cfg['seed']}. <b>Flat-input ripple</b>: the "
        "model applied to a uniform grey image, RMS of its stride-periodic part over its mean (the output "
        "spectrum's energy at the stride frequency relative to DC); <b>phase MSE max/min</b>: squared error "
        "by sub-pixel position, worst over best.</p>",
        sr_table_html(sr),
        "<p class='muted'>Quick mode trains for seconds, so its PSNRs are far from converged and can rank "
        "differently; <code>tconv tour --full</code> trains 1500 steps of 32 (about five CPU-minutes), and "
        "<code>docs/upsampling.md</code> records that run over three seeds.</p>"
        if quick
        else "",
        img_tag(figs["super_resolution"], "super-resolution scores"),
        img_tag(figs["init_vs_trained"], "outputs at init and trained"),
        "<h3>(d) Checkerboards in the gradients of strided convolutions</h3>",
        "<p>The gradient of a strided convolution with respect to its input is a transposed convolution, so "
        "three stacked stride-2 layers leave a period-8 pattern in the input gradient's energy. Ripple of the mean "
        "squared gradient at period 8 (random weights and read-outs; k3 s1 + 2&times;2 average pool is the "
        "control):</p>",
        table_html(
            ["net", "gradient-energy ripple", "equal-weights count max/min"],
            [[k, f"{v['score']:.3f}", f"{v['uniform_ratio']:.3g}"] for k, v in grads.items()],
        ),
        img_tag(figs["gradients"], "gradient checkerboards"),
        "<p class='muted'>Timings (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in res["timings_s"].items())
        + ". Results: <code>upsampling/results.json</code>.</p>",
    ]
    return Section("upsampling", "Upsampling compared, checkerboards measured", "\n".join(parts))
