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
    CANCELLING_STACK,
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
    "CANCELLING_STACK",
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
    "sr_summary_markdown",
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


def sr_summary_markdown(summary: dict[str, Any]) -> str:
    """The multi-seed super-resolution table (from :func:`~tconv.upsampling.experiments.summarize_seeds`) as
    Markdown: mean [95% interval] over seeds, and each run's paired PSNR difference from the best one.

    >>> row = {"label": "a", "psnr": {"mean": 27.0, "ci95": [26.5, 27.5], "per_seed": [27.0]},
    ...        "flat_ripple": {"mean": 0.0, "ci95": [0.0, 0.0]}, "flat_ripple_init": {"mean": 0.1, "ci95": [0.0, 0.2]},
    ...        "phase_mse_ratio": {"mean": 1.05, "ci95": [1.0, 1.1]},
    ...        "vs_bilinear": {"mean": 2.0, "ci95": [1.5, 2.5], "verdict": "above"}}
    >>> summ = {"seeds": [0], "rows": [row], "best": "a", "bilinear_no_network": {"mean": 25.0, "ci95": [24.0, 26.0],
    ...         "per_seed": [25.0]}}
    >>> sr_summary_markdown(summ).splitlines()[2]
    '| a | 27.00 | 27.00 [26.50, 27.50] | best | above: +2.00 [+1.50, +2.50] | 0.1 [0, 0.2] | 0 [0, 0] | 1.05 [1, 1.1] |'
    """

    def ci(d: dict[str, Any], fmt: str = ".3g") -> str:
        return f"{d['mean']:{fmt}} [{d['ci95'][0]:{fmt}}, {d['ci95'][1]:{fmt}}]"

    def diff(d: dict[str, Any]) -> str:
        return f"{d['mean']:+.2f} [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}]"

    lines = [
        "| upsampler | PSNR per seed | PSNR mean [95% CI] | vs best (paired) | vs bilinear, no network (paired) "
        "| flat ripple at init | flat ripple trained | phase MSE max/min |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in summary["rows"]:
        vb = r.get("vs_best")
        best = "best" if vb is None else f"{vb['verdict'].replace('confirmed', 'behind')}: {diff(vb)}"
        lines.append(
            f"| {r['label']} | {' / '.join(f'{v:.2f}' for v in r['psnr']['per_seed'])} | {ci(r['psnr'], '.2f')} "
            f"| {best} | {r['vs_bilinear']['verdict']}: {diff(r['vs_bilinear'])} | {ci(r['flat_ripple_init'])} "
            f"| {ci(r['flat_ripple'])} | {ci(r['phase_mse_ratio'])} |"
        )
    b = summary["bilinear_no_network"]
    lines.append(
        f"| bilinear, no network | {' / '.join(f'{v:.2f}' for v in b['per_seed'])} | {ci(b, '.2f')} | | | — | — | — |"
    )
    return "\n".join(lines)


def _quick_note(sr: dict[str, Any]) -> str:
    """Quick mode's warning, with this run's own evidence that its ranking is not the full run's."""
    ref = sr["reference"]["bilinear, no network"]["psnr"]
    below = [r["label"] for r in sr["rows"] if r["psnr"] < ref]
    return (
        "<p><b>Quick mode ranks differently from the full run: do not read a ranking from this table.</b> "
        f"With {sr['config']['steps']} steps no model is trained enough: here {len(below)} of {len(sr['rows'])} "
        f"trained models score below bilinear interpolation without a network ({ref:.2f} dB), which every model "
        "beats in the full run. <code>tconv tour --full</code> trains 1500 steps of 32 (about five CPU-minutes "
        "per seed); <code>docs/upsampling.md</code> gives the full run's numbers with 95% intervals over seeds.</p>"
    )


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
        "<p>Tutorials on deconvolution contrast <b>unpooling</b> (values back at the max pool's switches), <b>copying</b> (values "
        "copied into the whole window) and a learned <b>transposed convolution</b>. Here they are measured side by "
        "side with interpolation, resize-convolution and pixel shuffle, and the checkerboard that uneven overlap "
        "paints is counted rather than only pictured. All upsamplers share one interface: "
        "<code>tconv.upsampling.make_upsampler(method, channels, factor)</code>.</p>",
        "<h3>Overlap: the transposed convolution of ones</h3>",
        "<p>How many (input, tap) paths reach each output position. Flat when the kernel is a multiple of the "
        "stride (and the padding crops the ramps at the borders, e.g. k4 s2 p2); uneven otherwise. The Bezier "
        "decoder's window 7 / stride 4 gives 2, 2, 2, 1. Stacking the <i>same</i> uneven layer multiplies the unevenness; "
        "different layers can cancel it (k3 s2 then k4 s2 p1 is flat inside: 3 3 3 3; in the other order 4 2 4 2). "
        "&lsquo;holes&rsquo;: some "
        "outputs receive nothing (k &lt; s, or dilation sharing the stride).</p>",
        overlap_table_html(res["overlap_table"]),
        img_tag(figs["overlap"], "count maps", width=900),
        "<h3>(a) Unpooling, copying and transposed convolution on a real photo</h3>",
        "<p>The photographer (scikit-image's <code>camera</code>), max pooled 2&times;2 and brought back. "
        "Unpooling restores exact values at the switches and zeros elsewhere; copying (= nearest for a 2&times;2 "
        "window) gives blocks; the best transposed convolutions (least squares, fitted on six other photos) tie or beat "
        "bilinear on this crop (k3 ties, k4 +0.3 dB), though over seven held-out photos an advantage is not shown "
        "(<code>docs/upsampling.md</code>); a random k3 s2 one "
        "paints the 1-2-1-2 overlap pattern.</p>",
        img_tag(figs["comparison"], "comparison"),
        f"<h3>(b, c) Trained per method: undoing a 2&times;2 max pool ({mode})</h3>",
        f"<p>conv3&times;3 &rarr; upsampler &rarr; conv3&times;3 &rarr; conv3&times;3, {cfg['channels']} channels, "
        f"{cfg['steps']} Adam steps of {cfg['batch']} patches ({cfg['patch']} px) from {len(cfg['train_images'])} "
        f"photos, tested on {', '.join(cfg['test_images'])}; seed {cfg['seed']}. <b>Flat-input ripple</b>: the "
        "model applied to a uniform grey image, RMS of its stride-periodic part over the output's RMS (the share "
        "of the output spectrum's energy at the stride frequencies, square-rooted); <b>phase MSE max/min</b>: squared error "
        "by sub-pixel position, worst over best.</p>",
        sr_table_html(sr),
        _quick_note(sr)
        if quick
        else "<p class='muted'>One seed: these numbers carry no spread, so the table ranks nothing by itself. "
        "<code>tconv upsample train --full --seeds 0 --seeds 1 ...</code> gives each method's mean and 95% interval "
        "over seeds and the paired differences; <code>docs/upsampling.md</code> has them.</p>",
        img_tag(figs["super_resolution"], "super-resolution scores"),
        img_tag(figs["init_vs_trained"], "outputs at init and trained"),
        "<h3>(d) Checkerboards in the gradients of strided convolutions</h3>",
        "<p>The gradient of a strided convolution with respect to its input is a transposed convolution, so "
        "three stacked stride-2 layers leave a period-8 pattern in the input gradient's energy. Ripple of the mean "
        "squared gradient at period 8 (random weights and read-outs; k3 s1 + 2&times;2 average pool is the "
        "control):</p>",
        table_html(
            ["net", "gradient-energy ripple [95% bootstrap interval over random nets]", "equal-weights count max/min"],
            [
                [
                    k,
                    f"{v['score']:.3f} [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}], n = {v['n']}",
                    f"{v['uniform_ratio']:.3g}",
                ]
                for k, v in grads.items()
            ],
        ),
        img_tag(figs["gradients"], "gradient checkerboards"),
        "<p class='muted'>Results: <code>upsampling/results.json</code>.</p>",
    ]
    return Section("upsampling", "Upsampling compared, checkerboards measured", "\n".join(parts))
