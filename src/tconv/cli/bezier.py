"""``tconv bezier run``: seed 002's Bezier-curve autoencoder, every seed and noise setting trained at once."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import friendly


def register(app: typer.Typer) -> None:
    bezier = typer.Typer(help="Seed 002's Bezier-curve autoencoder (Conv1d encoder, ConvTranspose1d decoder).")
    app.add_typer(bezier, name="bezier")

    @bezier.command("run")
    @friendly
    def run_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Folder for checkpoint, figures, metrics.json, index.html."),
        preset: str = typer.Option("seed", "--preset", help="seed (5 seeds × 5000 epochs) or fast (300 epochs)."),
        seeds: list[int] = typer.Option(None, "--seeds", help="Torch seeds, e.g. --seeds 11 22 33 (default 11..55)."),
        noise: list[str] = typer.Option(
            None, "--noise", help="none | seed-code | seed-text; repeat to train several (default seed-code)."
        ),
        epochs: int = typer.Option(None, "--epochs", help="Override the preset's number of epochs."),
        resume: bool = typer.Option(False, "--resume", help="Continue from OUT/checkpoint.npz if it exists."),
        frames: int = typer.Option(None, "--frames", help="Frames per animation (0: no GIFs)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Train, analyse and write the report.

        Example: tconv bezier run --preset seed --noise seed-code --noise seed-text --out runs/bezier
        """
        from dataclasses import replace  # noqa: PLC0415

        from ..bezier.report import PRESETS, training_text  # noqa: PLC0415
        from ..bezier.report import preset as make_preset  # noqa: PLC0415
        from ..bezier.report import run as run_experiment  # noqa: PLC0415
        from ..errors import ConfigError  # noqa: PLC0415

        cfg = make_preset(preset, seeds or None, noise or None)
        if epochs is not None:
            cfg = replace(cfg, epochs=epochs, checkpoint_every=min(cfg.checkpoint_every, epochs))
        if frames is not None and frames < 0:
            raise ConfigError("frames", frames, "must be >= 0")
        n_frames = PRESETS[preset]["frames"] if frames is None else frames
        res = run_experiment(cfg, out, resume=resume, progress=not quiet, frames=n_frames)
        m = res.metrics
        typer.echo(training_text(m))
        n = len(cfg.seeds)
        for name, v in m["variants"].items():
            lo, hi = v["patch_mse"]["ci95"]
            typer.echo(f"  {name:24s} patch MSE {v['patch_mse']['mean']:.3e} [95% CI {lo:.3e}, {hi:.3e}, n={n}]")
        for k in ("sum", "halve", "exact", "end-to-end"):
            if k in m["assembly"]:
                lo, hi = m["assembly"][k]["ci95"]
                typer.echo(f"  15-point {k:15s} MSE {m['assembly'][k]['mean']:.3e} [95% CI {lo:.3e}, {hi:.3e}]")
        se = m["seed_eval"]
        typer.echo(
            f"  the seed's eval_model({se['seed']}) prints {se['as_is']['printed']:.3e} "
            f"(true MSE {se['as_is']['true_mse']:.3e})"
        )
        typer.echo(f"wrote {res.out_dir / 'index.html'} and {res.out_dir / 'metrics.json'}")
