"""Seed 002's Bezier-curve autoencoder, reproduced exactly, explained, and trained fast.

A ``Conv1d(1, 3, 7, stride=4)`` + tanh encoder and a ``ConvTranspose1d(3, 1, 7, stride=4)`` decoder learn to compress
7-point pieces of Bezier curves into 3 numbers. :func:`train` trains every seed and noise setting at once with the
seed's own per-model semantics (its shuffles, its Adam, its noise draws); :func:`run` adds every analysis — loss
curves, filters aligned across seeds, the ablation, the weighted-sum picture, the animations and the 15-point model
with its overlap fix — and writes a page and ``metrics.json``.

>>> from tconv.bezier import TrainConfig, variants_for, train
>>> cfg = TrainConfig(seeds=(11, 22), variants=variants_for(["none"], full=False), epochs=3, n_samples=512)
>>> res = train(cfg, progress=False)
>>> res.losses.shape, bool(res.losses[:, -1].mean() < res.losses[:, 0].mean())
((2, 3), True)
"""

from __future__ import annotations

from pathlib import Path

from .analysis import align, align_params, assemble, halving_scale
from .data import crop_starts, make_dataset, make_patches
from .models import Decoder, Encoder, Params, decode, encode, overlap_counts
from .report import PRESETS, RunOutput, fast_config, preset, run
from .train import NOISE_SETTINGS, TrainConfig, TrainResult, Variant, init_params, train, variants_for

__all__ = [
    "make_dataset",
    "make_patches",
    "crop_starts",
    "Encoder",
    "Decoder",
    "Params",
    "encode",
    "decode",
    "overlap_counts",
    "NOISE_SETTINGS",
    "Variant",
    "variants_for",
    "TrainConfig",
    "TrainResult",
    "init_params",
    "train",
    "align",
    "align_params",
    "assemble",
    "halving_scale",
    "PRESETS",
    "preset",
    "fast_config",
    "RunOutput",
    "run",
    "tour_section",
]


def tour_section(out_dir: Path, quick: bool = True):
    """The tour's section: the fast preset (both noise settings) with every analysis; ``quick=False`` runs the
    seed's full protocol (5000 epochs) instead."""
    from ..tour import Section  # noqa: PLC0415
    from .report import render_html  # noqa: PLC0415

    out = Path(out_dir) / "bezier"
    cfg = fast_config() if quick else preset("seed", noise=["seed-code", "seed-text"])
    res = run(cfg, out, progress=False, frames=12 if quick else 24, light=quick)
    body = render_html(res.metrics, res.files, out, embed=True)
    note = f"<p class='muted'>Preset {'fast' if quick else 'seed'}. " + (
        "At 300 epochs the noisy models have not converged (their verdicts below can differ from the full run's); "
        "the seed's protocol is <code>tconv bezier run --preset seed --noise seed-code --noise seed-text --out "
        "DIR</code> and its numbers are in <code>docs/bezier.md</code>.</p>"
        if quick
        else "</p>"
    )
    return Section("bezier", "Bezier-curve autoencoder", note + body)
