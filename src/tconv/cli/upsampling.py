"""``tconv upsample``: compare upsamplers (seed 003) and measure the overlap of transposed convolutions.

Examples::

    tconv upsample overlap k3s2                 # count map, interior pattern, max/min, ripple
    tconv upsample overlap k3s2p1o1 k3s2p1o1 --dims 2 --in 4
    tconv upsample overlap --table              # common (k, s) choices
    tconv upsample compare --out compare.png    # seed 003's figure on a photo
    tconv upsample train --out sr/ --steps 200  # train the small super-resolution model per method
    tconv upsample gradients --out grads.png    # checkerboards in the gradients of strided convolutions
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ConfigError
from .common import emit_json, friendly


def register(app: typer.Typer) -> None:
    up = typer.Typer(help="Upsamplers compared (seed 003) and checkerboard overlap measured.", no_args_is_help=True)
    app.add_typer(up, name="upsample")

    @up.command("overlap")
    @friendly
    def overlap(
        layers: list[str] = typer.Argument(None, help="Layers as k<k>s<s>[p<p>][d<d>][o<op>]; several = a stack."),
        in_size: int = typer.Option(6, "--in", help="Input size (per dimension)."),
        dims: int = typer.Option(1, "--dims", help="1 or 2 spatial dimensions."),
        table: bool = typer.Option(False, "--table", help="Print the table of common (k, s) choices."),
        out: Path = typer.Option(None, "--out", "-o", help="Also write the count-map figure (PNG)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Count map (the transposed convolution of ones) of a layer or a stack, and its checkerboard scores.

        Example: tconv upsample overlap k7s4
        """
        from ..upsampling import overlap as ov  # noqa: PLC0415

        if dims not in (1, 2):
            raise ConfigError("dims", dims, "must be 1 or 2")
        if table:
            rows = [s.as_dict() for s in ov.overlap_table()]
            if as_json:
                emit_json(rows)
            else:
                _print_table(rows)
            return
        if not layers:
            raise ConfigError("layers", layers, "must name at least one layer (e.g. k3s2), or pass --table")
        stack = [ov.Layer.parse(t) for t in layers]
        counts = ov.count_map(stack, in_size, dims=dims)
        pattern = ov.interior_pattern(stack, dims=dims)
        period = len(pattern)
        lo = int(pattern.min())
        result = {
            "layers": [str(x) for x in stack],
            "in_size": in_size,
            "count_map": counts.tolist(),
            "interior_pattern": pattern.tolist(),
            "interior_max_over_min": None if lo == 0 else float(pattern.max()) / lo,
            "interior_ripple": ov.ripple(pattern.astype(float), period, dims=dims),
            "whole_map_min_max": [int(counts.min()), int(counts.max())],
        }
        if out is not None:
            from ..files import save_figure  # noqa: PLC0415

            result["figure"] = str(
                save_figure(
                    ov.overlap_figure(
                        list(dict.fromkeys(stack)), in_size, [stack] if len(stack) > 1 else [stack * 3], in_size
                    ),
                    out,
                )
            )
        if as_json:
            emit_json(result)
            return
        typer.echo(f"layers: {' -> '.join(result['layers'])}, {in_size} inputs per dimension")
        typer.echo("count map:")
        for row in counts.reshape(-1, counts.shape[-1]) if dims == 2 else [counts]:
            typer.echo("  " + " ".join(f"{int(v):2d}" for v in row))
        ratio = result["interior_max_over_min"]
        typer.echo(f"interior period ({period}): {pattern.tolist()}")
        typer.echo(f"interior max/min: {'holes (some outputs get nothing)' if ratio is None else f'{ratio:g}'}")
        typer.echo(f"interior ripple (RMS of the periodic part / mean): {result['interior_ripple']:.4f}")
        if out is not None:
            typer.echo(f"wrote {result['figure']}")

    @up.command("compare")
    @friendly
    def compare(
        image: str = typer.Option("camera", "--image", help="A scikit-image bundled photo (camera is cropped)."),
        factor: int = typer.Option(2, "--factor", help="Pooling / upsampling factor."),
        seed: int = typer.Option(0, "--seed", help="Seed of the random transposed convolution."),
        out: Path = typer.Option(Path("upsample_compare.png"), "--out", "-o", help="Figure path (PNG)."),
        as_json: bool = typer.Option(False, "--json", help="Print PSNRs as JSON."),
    ) -> None:
        """Seed 003's figure on a real photo: max pool it, bring it back by each method; print PSNRs.

        Example: tconv upsample compare --image camera --out compare.png
        """
        from ..files import save_figure  # noqa: PLC0415
        from ..upsampling.experiments import compare_on_image, comparison_figure, psnr  # noqa: PLC0415

        if factor < 2:
            raise ConfigError("factor", factor, "must be >= 2")
        res = compare_on_image(image, factor, seed)
        path = save_figure(comparison_figure(res), out)
        scores = {k: psnr(v, res["original"]) for k, v in res.items() if k not in ("original", "pooled")}
        if as_json:
            emit_json({"figure": str(path), "psnr_db": scores})
            return
        for k, v in scores.items():
            note = "  (random init)" if "random" in k else ""
            typer.echo(f"{k:28s} PSNR {v:6.2f} dB{note}")
        typer.echo(f"wrote {path}")

    @up.command("train")
    @friendly
    def train(
        out: Path = typer.Option(Path("upsample_train"), "--out", "-o", help="Folder for figures and results.json."),
        full: bool = typer.Option(False, "--full", help="The full run (1500 steps x 32) instead of the quick one."),
        steps: int = typer.Option(None, "--steps", help="Override the number of training steps."),
        seed: int = typer.Option(0, "--seed", help="Seed of data, batches and initialisations."),
        seeds: list[int] = typer.Option(
            None, "--seeds", help="Several seeds (repeat): mean and 95%% interval over them; resumable per seed."
        ),
        methods: list[str] = typer.Option(None, "--method", help="Only these runs (labels or methods)."),
    ) -> None:
        """Train the small super-resolution model once per upsampler; print PSNR and checkerboard scores.

        Example: tconv upsample train --steps 200 --method tconv --method resize_conv
        """
        from dataclasses import replace  # noqa: PLC0415

        from ..files import save_figure, write_json  # noqa: PLC0415
        from ..upsampling import experiments as ex  # noqa: PLC0415

        cfg = replace(ex.FULL if full else ex.QUICK, seed=seed)
        if steps is not None:
            cfg = replace(cfg, steps=steps)
        runs = ex.SR_RUNS
        if methods:
            runs = tuple(r for r in ex.SR_RUNS if r.label in methods or r.method in methods)
            if not runs:
                raise ConfigError("method", methods, f"must name runs among {[r.label for r in ex.SR_RUNS]}")
        if seeds:
            summ = ex.run_super_resolution_seeds(cfg, seeds, out, runs)
            typer.echo(f"{'upsampler':22s} {'PSNR mean [95% CI]':>24s} {'vs best (paired)':>26s} {'flat ripple':>11s}")
            for r in summ["rows"]:
                p, vb = r["psnr"], r.get("vs_best")
                vs = f"{vb['mean']:+.2f} [{vb['ci95'][0]:+.2f}, {vb['ci95'][1]:+.2f}]" if vb else "best"
                typer.echo(
                    f"{r['label']:22s} {p['mean']:7.2f} [{p['ci95'][0]:.2f}, {p['ci95'][1]:.2f}] {vs:>26s} "
                    f"{r['flat_ripple']['mean']:11.2e}"
                )
            b = summ["bilinear_no_network"]
            typer.echo(f"{'bilinear, no network':22s} {b['mean']:7.2f} [{b['ci95'][0]:.2f}, {b['ci95'][1]:.2f}]")
            typer.echo(f"wrote {out}/summary.json ({len(summ['seeds'])} seeds, {cfg.steps} steps)")
            return
        res = ex.run_super_resolution(cfg, runs)
        save_figure(ex.init_vs_trained_figure(res), out / "init_vs_trained.png")
        save_figure(ex.sr_figure(res), out / "super_resolution.png")
        write_json(out / "results.json", res.to_json())
        ref = res.reference["bilinear, no network"]
        typer.echo(f"{'upsampler':22s} {'PSNR':>6s} {'ripple init':>11s} {'ripple':>8s} {'phase MSE':>9s}")
        for r in res.rows:
            typer.echo(
                f"{r['label']:22s} {r['psnr']:6.2f} {r['flat_ripple_init']:11.4f} {r['flat_ripple']:8.4f} "
                f"{r['phase_mse_ratio']:9.3f}"
            )
        typer.echo(
            f"{'bilinear, no network':22s} {ref['psnr']:6.2f} {'-':>11s} {'-':>8s} {ref['phase_mse_ratio']:9.3f}"
        )
        typer.echo(f"wrote {out}/ (seed {cfg.seed}, {cfg.steps} steps, {res.seconds:.0f} s)")

    @up.command("gradients")
    @friendly
    def gradients(
        out: Path = typer.Option(Path("upsample_gradients.png"), "--out", "-o", help="Figure path (PNG)."),
        seeds: int = typer.Option(16, "--seeds", help="Random nets per architecture."),
        image: str = typer.Option("camera", "--image", help="A scikit-image bundled photo."),
    ) -> None:
        """Checkerboards in the input gradients of stacked strided convolutions (Distill's last claim).

        Example: tconv upsample gradients --seeds 8
        """
        from ..files import save_figure  # noqa: PLC0415
        from ..upsampling.experiments import gradient_checkerboards, gradient_figure  # noqa: PLC0415

        if seeds < 1:
            raise ConfigError("seeds", seeds, "must be >= 1")
        res = gradient_checkerboards(image, seeds=seeds)
        path = save_figure(gradient_figure(res), out)
        for k, v in res.items():
            lo, hi = v["ci95"]
            typer.echo(
                f"{k:10s} gradient-energy ripple {v['score']:.3f} [95% CI {lo:.3f}, {hi:.3f}; {v['n']} nets]   "
                f"equal-weights max/min {v['uniform_ratio']:.3g}"
            )
        typer.echo(f"wrote {path}")


def _print_table(rows: list[dict]) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    def r(v: float | None) -> str:
        return "holes" if v is None else f"{v:.3g}"

    t = Table(title="overlap of common transposed convolutions (interior unless noted)")
    heads = ("layer", "counts (period)", "max/min 1-D", "max/min 2-D", "ripple 2-D", "2-D min/max", "stack x2", "x3")
    for h in heads:
        t.add_column(h, justify="right")
    for row in rows:
        t.add_row(
            row["layer"],
            " ".join(str(v) for v in row["pattern"]),
            r(row["ratio_1d"]),
            r(row["ratio_2d"]),
            "-" if row["ripple_2d"] is None else f"{row['ripple_2d']:.3f}",
            f"{row['border_min_2d']}/{row['interior_2d']}",
            r(row["stack2_ratio_2d"]),
            r(row["stack3_ratio_2d"]),
        )
    Console().print(t)
