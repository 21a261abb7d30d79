"""Three of seed 002's figures that need their own data: §4.2's output against label, §5's evaluation grid (from
the ported loop, :mod:`.seedeval`) and §5.2's "the data is too perfect" examples.

>>> from tconv.bezier.data import make_dataset, make_patches
>>> ex = same_point_examples(make_patches(make_dataset(4096)), values=(-0.247,), point=3)
>>> [round(v, 2) for v in ex[0]["values"]]
[-0.25, -0.25, -0.25, -0.25]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from .analysis import COLORS, _subplots, reconstruct
from .models import Params

__all__ = ["output_vs_label_figure", "seed_eval_figure", "same_point_examples", "same_point_figure"]


def output_vs_label_figure(p: Params, i: int, patches: np.ndarray, seed: int, n: int = 4) -> Figure:
    """§4.2: "comparing the labels with the network's output": the first ``n`` training patches and model ``i``'s
    reconstructions, with each one's MSE."""
    x = np.asarray(patches[:n], dtype=np.float32)
    out = reconstruct(p.select([i]), x)[0]
    fig, axes = _subplots(1, n, figsize=(2.9 * n, 2.6), squeeze=False)
    for j, ax in enumerate(axes[0]):
        ax.plot(x[j], "k-o", ms=4, lw=2, alpha=0.4, label="label (input patch)")
        ax.plot(out[j], "o--", ms=3, color="tab:blue", label="network output")
        ax.set_title(f"patch {j}: MSE {float(((out[j] - x[j]) ** 2).mean()):.1e}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Blog section 4.2: output against label, plain 7-point model of seed {seed}", fontsize=10)
    fig.tight_layout()
    return fig


def seed_eval_figure(runs: dict[str, dict], seed: int) -> Figure:
    """§5: the seed's 2 x 2 grid (first curve of each of the first 4 batches, output and target), once per
    evaluation in ``runs`` (``{"as is": seed_eval_loop(...), "halved taps": ...}``), with the printed and the true
    MSE in the titles."""
    names = list(runs)
    fig, axes = _subplots(2, 2 * len(names), figsize=(5.2 * len(names), 4.4), sharey=True, squeeze=False)
    for k, name in enumerate(names):
        r = runs[name]
        for j, (out, tgt) in enumerate(r["examples"][:4]):
            ax = axes[j // 2, 2 * k + j % 2]
            ax.plot(out, "-", color="tab:blue", label="Output")
            ax.plot(tgt, "-", color="tab:orange", label="Target")
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_title(f"{name}: prints {r['printed']:.2e}\ntrue MSE {r['true_mse']:.2e}", fontsize=9)
        axes[0, 2 * k].legend(fontsize=7)
    fig.suptitle(
        f"Blog section 5: its eval_model({seed}) on whole curves (the patch model applied 3 times, stride 4)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def same_point_examples(
    patches: np.ndarray, values: Sequence[float] = (-0.247, -0.243), point: int = 3, k: int = 3, tol: float = 1e-3
) -> list[dict]:
    """For each target value: the patch whose ``point`` is closest to it (the "original") and ``k`` other patches
    whose ``point`` is within ``tol`` of the original's, the most different from it elsewhere.

    Returns per value: ``index`` (original first), ``values`` (each one's value at ``point``), ``rms_elsewhere``
    (RMS difference from the original over the other points) and ``candidates`` (how many patches are within
    ``tol``).
    """
    x = np.asarray(patches, dtype=np.float64)
    out = []
    for v in values:
        o = int(np.argmin(np.abs(x[:, point] - v)))
        near = np.flatnonzero(np.abs(x[:, point] - x[o, point]) <= tol)
        near = near[near != o]
        others = np.delete(np.arange(x.shape[1]), point)
        rms = np.sqrt(((x[near][:, others] - x[o, others]) ** 2).mean(axis=1))
        pick = near[np.argsort(-rms)[:k]]
        idx = [o, *pick.tolist()]
        out.append(
            {
                "target": float(v),
                "index": idx,
                "values": x[idx, point].tolist(),
                "rms_elsewhere": [0.0, *np.sort(rms)[::-1][:k].tolist()],
                "candidates": int(near.size),
            }
        )
    return out


def same_point_figure(patches: np.ndarray, examples: list[dict], point: int = 3) -> Figure:
    """§5.2: per example set, the original patch (large) and patches that share its value at ``point``."""
    x = np.asarray(patches, dtype=np.float64)
    fig, axes = _subplots(1, len(examples), figsize=(5 * len(examples), 3.4), squeeze=False)
    for ax, ex in zip(axes[0], examples, strict=True):
        for j, idx in enumerate(ex["index"]):
            lab = "original" if j == 0 else f"example {j} (RMS diff elsewhere {ex['rms_elsewhere'][j]:.2f})"
            ax.plot(x[idx], "o-", ms=6 if j == 0 else 3, lw=3 if j == 0 else 1.2, color=COLORS[j % len(COLORS)],
                    alpha=0.55 if j == 0 else 1.0, label=lab)  # fmt: skip
        ax.axvline(point, color="k", ls=":", lw=1)
        ax.set_title(
            f"value at point {point}: {ex['values'][0]:.3f} (all within ±0.001; {ex['candidates']} patches)",
            fontsize=9,
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(
        "Blog section 5.2: patches that share one point's value (noise-free data: tiny differences are exact)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
