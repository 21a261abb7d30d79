"""Every analysis of seed 002, as numbers and as figures (functions returning matplotlib Figures or GIF frames).

* :func:`patch_mse`, :func:`ablation` — reconstruction error of the 7-point model, whole and with one code component
  zeroed (§5.1's ablation);
* :func:`align` — filter sets of different seeds matched by permutation and sign (Hungarian assignment on |cosine|,
  ``scipy.optimize.linear_sum_assignment``), with the spread that is left (§4.5);
* :func:`roughness`, :func:`input_noise_mse` — smoothness of the encoder filters and robustness to input noise (§5.2);
* :func:`assemble` — the full 15-point model built from the 7-point one: the transposed convolution sums the three
  overlapping copies of the filters ("sum", the seed's doubling), the seed's halving fix ("halve") and the exact fix
  that divides by the overlap-count map, i.e. the transposed convolution of ones ("exact") (§5 "full model").

>>> from tconv.bezier.models import Params
>>> rng = np.random.default_rng(0)
>>> w = rng.standard_normal((3, 3, 7))
>>> flipped = -w[:, [2, 0, 1]]
>>> a = align(np.stack([w[0], flipped[0]]))
>>> a.perm[1].tolist(), a.sign[1].tolist()
([1, 2, 0], [-1.0, -1.0, -1.0])
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.optimize import linear_sum_assignment

from ..errors import ConfigError
from .models import STRIDE, Params, code_length, decode, encode, overlap_counts

__all__ = [
    "patch_mse",
    "ablation",
    "Alignment",
    "align",
    "align_params",
    "alignment_stats",
    "roughness",
    "input_noise_mse",
    "halving_scale",
    "assemble",
    "assembly_mse",
    "loss_figure",
    "data_figure",
    "filters_figure",
    "aligned_figure",
    "weighted_sum_figure",
    "encoder_figure",
    "ablation_figure",
    "assembly_figure",
    "animation_frames",
]


def _subplots(*args, **kwargs):
    """Like ``plt.subplots`` but without pyplot: the Figure is not kept alive by a global registry."""
    fig_kw = {k: kwargs.pop(k) for k in ("figsize", "dpi") if k in kwargs}
    fig = Figure(**fig_kw)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(*args, **kwargs)


COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")


# ----------------------------------------------------------------------------------------------------------------
# numbers
# ----------------------------------------------------------------------------------------------------------------
def reconstruct(p: Params, x: np.ndarray, zero: int | None = None) -> np.ndarray:
    """Clean reconstructions ``(M, n, L)`` of ``x`` ``(n, L)``; ``zero`` sets that code component to 0 first."""
    code = encode(p, x)
    if zero is not None:
        if not 0 <= zero < p.channels:
            raise ConfigError("zero", zero, f"must be a channel index in [0, {p.channels})")
        code[:, :, zero] = 0
    return decode(p, code)[:, :, 0]


def patch_mse(p: Params, patches: np.ndarray) -> np.ndarray:
    """Per-model MSE of reconstructing ``patches`` ``(n, 7)`` without noise: ``(M,)``.

    >>> from tconv.bezier.train import init_params
    >>> p, _ = init_params(11)
    >>> patch_mse(p, np.zeros((4, 7), np.float32)).shape
    (1,)
    """
    x = np.asarray(patches, dtype=np.float32)
    return ((reconstruct(p, x) - x[None]) ** 2).mean(axis=(1, 2)).astype(np.float64)


def ablation(p: Params, patches: np.ndarray) -> np.ndarray:
    """``(M, 1 + C)`` MSE: the whole model, then with code component 0, 1, ... zeroed (§5.1)."""
    x = np.asarray(patches, dtype=np.float32)
    cols = [patch_mse(p, x)]
    for ch in range(p.channels):
        cols.append(((reconstruct(p, x, zero=ch) - x[None]) ** 2).mean(axis=(1, 2)))
    return np.stack(cols, axis=1).astype(np.float64)


def input_noise_mse(p: Params, patches: np.ndarray, sigma: float = 0.01, seed: int = 0) -> np.ndarray:
    """Per-model MSE against the clean patches when the encoder sees ``patches + sigma * N(0, 1)`` (§5.2)."""
    x = np.asarray(patches, dtype=np.float32)
    noisy = x + sigma * np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32)
    return ((reconstruct(p, noisy) - x[None]) ** 2).mean(axis=(1, 2)).astype(np.float64)


def roughness(filters: np.ndarray) -> np.ndarray:
    """Mean squared second difference of each filter over its mean square: 0 for a straight line, ~6 for white noise.

    ``filters`` ``(..., K)`` -> ``(...)``.

    >>> roughness(np.array([[0.0, 1, 2, 3], [1, -1, 1, -1]])).round(2).tolist()
    [0.0, 16.0]
    """
    f = np.asarray(filters, dtype=np.float64)
    d2 = np.diff(f, n=2, axis=-1)
    return (d2**2).mean(axis=-1) / np.maximum((f**2).mean(axis=-1), 1e-30)


@dataclass(frozen=True)
class Alignment:
    """Channel ``i`` of the consensus is ``sign[s, i] * filters[s, perm[s, i]]`` for every seed ``s``."""

    perm: np.ndarray  #: (S, C) int
    sign: np.ndarray  #: (S, C) +-1.0
    aligned: np.ndarray  #: (S, C, K) the filters after alignment
    cosine: np.ndarray  #: (S, C) |cosine| of each aligned filter with the consensus (mean of the aligned filters)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine matrix ``(Ca, Cb)`` between the rows of ``a`` and ``b``."""
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    return (a / np.maximum(na, 1e-30)) @ (b / np.maximum(nb, 1e-30)).T


def _match(ref: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cos = _cos(ref, f)
    rows, cols = linear_sum_assignment(-np.abs(cos))
    perm = cols[np.argsort(rows)]
    sign = np.sign(cos[np.arange(len(perm)), perm])
    sign[sign == 0] = 1.0
    return perm, sign.astype(np.float64)


def align(filters: np.ndarray, iters: int = 5) -> Alignment:
    """Match the filter sets ``(S, C, K)`` of ``S`` seeds by channel permutation and sign.

    Starts from seed 0 as the reference, then re-aligns every seed to the mean of the aligned sets until the
    assignment stops changing (at most ``iters`` rounds). Each round is a Hungarian assignment
    (``scipy.optimize.linear_sum_assignment``) maximizing the summed |cosine|; the sign of each matched cosine
    is the sign flip.
    """
    f = np.asarray(filters, dtype=np.float64)
    if f.ndim != 3:
        raise ConfigError("filters", f.shape, "must have shape (seeds, channels, taps)")
    s, c, _ = f.shape
    ref = f[0]
    perm = np.tile(np.arange(c), (s, 1))
    sign = np.ones((s, c))
    for _ in range(max(1, iters)):
        new = [_match(ref, f[i]) for i in range(s)]
        new_perm = np.stack([p for p, _ in new])
        new_sign = np.stack([g for _, g in new])
        aligned = new_sign[:, :, None] * f[np.arange(s)[:, None], new_perm]
        converged = np.array_equal(new_perm, perm) and np.array_equal(new_sign, sign)
        perm, sign = new_perm, new_sign
        ref = aligned.mean(axis=0)
        if converged:
            break
    aligned = sign[:, :, None] * f[np.arange(s)[:, None], perm]
    cons = aligned.mean(axis=0)
    cosine = np.stack([np.abs(np.diag(_cos(cons, aligned[i]))) for i in range(s)])
    return Alignment(perm=perm, sign=sign, aligned=aligned, cosine=cosine)


def align_params(p: Params, a: Alignment) -> Params:
    """Apply an alignment to whole models: permuting code channels and flipping their sign (encoder weights, encoder
    bias and decoder weights together, tanh being odd) leaves every model's function unchanged."""
    idx = np.arange(p.n_models)[:, None]
    s = a.sign.astype(np.float32)
    return Params(
        enc_w=s[:, :, None] * p.enc_w[idx, a.perm],
        enc_b=s * p.enc_b[idx, a.perm],
        dec_w=s[:, :, None] * p.dec_w[idx, a.perm],
        dec_b=p.dec_b.copy(),
    )


def alignment_stats(filters: np.ndarray) -> dict:
    """How alike the seeds' filter sets are, before and after :func:`align`.

    ``pairwise_cos``: mean |cosine| of the optimally matched channels over all pairs of seeds (reference-free), and
    ``pair_cos`` the matrix of it per pair; ``cos_per_seed``: each aligned filter's |cosine| to the consensus;
    ``spread``: RMS distance of the aligned filters from their consensus over the RMS of the consensus, per
    channel; ``raw_spread``: the same without alignment.
    """
    f = np.asarray(filters, dtype=np.float64)
    a = align(f)
    pair = []
    mat = np.eye(f.shape[0])
    for i, j in itertools.combinations(range(f.shape[0]), 2):
        perm, _ = _match(f[i], f[j])
        pair.append(np.abs(np.diag(_cos(f[i], f[j][perm]))).mean())
        mat[i, j] = mat[j, i] = pair[-1]

    def spread(g: np.ndarray) -> np.ndarray:
        cons = g.mean(axis=0)
        return np.sqrt(((g - cons) ** 2).mean(axis=(0, 2))) / np.maximum(np.sqrt((cons**2).mean(axis=1)), 1e-30)

    return {
        "pairwise_cos": float(np.mean(pair)) if pair else 1.0,
        "pair_cos": mat.tolist(),
        "cos_to_consensus": a.cosine.mean(axis=0).tolist(),
        "cos_per_seed": a.cosine.tolist(),
        "spread": spread(a.aligned).tolist(),
        "raw_spread": spread(f).tolist(),
        "perm": a.perm.tolist(),
        "sign": a.sign.tolist(),
    }


def halving_scale(win: int = 7, stride: int = STRIDE, positions: int = 3) -> np.ndarray:
    """The seed's fix as a per-tap factor: 0.5 on every tap that overlaps another copy somewhere, 1 elsewhere.

    Read from the plan's contribution map: a tap is halved when some output it reaches has an overlap count > 1.

    >>> halving_scale().tolist()
    [0.5, 0.5, 0.5, 1.0, 0.5, 0.5, 0.5]
    """
    from ..geometry import plan_from_sizes  # noqa: PLC0415

    plan = plan_from_sizes(positions, win, stride=stride)
    counts = plan.overlap_counts()
    reach = plan.index_map(0)  # (positions, taps) -> output index
    overlapping = np.array([any(counts[o] > 1 for o in reach[:, t] if o >= 0) for t in range(win)])
    return np.where(overlapping, 0.5, 1.0)


def assemble(p: Params, curves: np.ndarray, method: str = "exact") -> np.ndarray:
    """Run the patch model on whole curves ``(n, L)`` and assemble the overlapping outputs: ``(M, n, L)``.

    ``"sum"``: the plain transposed convolution (overlaps are added, so they come out about doubled);
    ``"halve"``: the seed's fix, halving the overlapping taps (wrong where a halved tap does not overlap: the first
    and last three points); ``"exact"``: divide the filter sum by the overlap-count map (the transposed convolution
    of ones), then add the bias — every point is the mean of the patch reconstructions that cover it.
    """
    if method not in ("sum", "halve", "exact"):
        raise ConfigError("method", method, "must be 'sum', 'halve' or 'exact'")
    x = np.asarray(curves, dtype=np.float32)
    code = encode(p, x)
    if method == "sum":
        return decode(p, code)[:, :, 0]
    positions = code_length(x.shape[-1], p.win)
    if method == "halve":
        return decode(p, code, weight_scale=halving_scale(p.win, STRIDE, positions))[:, :, 0]
    no_bias = Params(p.enc_w, p.enc_b, p.dec_w, np.zeros_like(p.dec_b))
    counts = overlap_counts(positions, p.win).astype(np.float32)
    return decode(no_bias, code)[:, :, 0] / counts + p.dec_b[:, None, None]


def assembly_mse(p: Params, full: Params | None, curves: np.ndarray) -> dict[str, np.ndarray]:
    """Per-model MSE on whole curves for "sum", "halve", "exact" (from the patch models ``p``) and "end-to-end"
    (the 15-point models ``full``), plus each one's MSE per point position (``"<name>_by_point"``, averaged over
    models; ``"<name>_by_point_per_model"``, ``(M, L)``)."""
    x = np.asarray(curves, dtype=np.float32)
    out: dict[str, np.ndarray] = {}
    recs = {m: assemble(p, x, m) for m in ("sum", "halve", "exact")}
    if full is not None:
        recs["end-to-end"] = reconstruct(full, x)
    for name, r in recs.items():
        err = (r - x[None]) ** 2
        out[name] = err.mean(axis=(1, 2)).astype(np.float64)
        out[name + "_by_point"] = err.mean(axis=(0, 1)).astype(np.float64)
        out[name + "_by_point_per_model"] = err.mean(axis=1).astype(np.float64)
    return out


# ----------------------------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------------------------
def loss_figure(losses: dict[str, np.ndarray]) -> Figure:
    """Training loss per epoch, mean ± std over seeds, one line per variant (log scale).

    ``losses`` maps a variant name to its ``(seeds, epochs)`` array.
    """
    fig, ax = _subplots(figsize=(8, 4.2))
    for i, (name, l) in enumerate(losses.items()):
        l = np.asarray(l, dtype=np.float64)
        ep = np.arange(1, l.shape[1] + 1)
        m, s = l.mean(axis=0), l.std(axis=0)
        ax.plot(ep, m, color=COLORS[i % len(COLORS)], label=f"{name} (final {m[-1]:.2e})", lw=1.4)
        ax.fill_between(ep, np.maximum(m - s, m * 0.05), m + s, color=COLORS[i % len(COLORS)], alpha=0.2, lw=0)
    ax.axhline(1e-4, color="k", ls=":", lw=1, label="1e-4 (the seed's 'good enough')")
    ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel="mean training loss (MSE)")
    ax.set_title("Training loss, mean ± std over seeds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def data_figure(curves: np.ndarray, patches: np.ndarray | None = None, starts: np.ndarray | None = None) -> Figure:
    """The seed's 3 × 3 grid of the first nine curves, with each one's training crop marked."""
    fig, axes = _subplots(3, 3, figsize=(8, 5), sharex=True, sharey=True)
    for i, ax in enumerate(axes.ravel()):
        ax.plot(curves[i], "o-", ms=3, lw=1, color="tab:blue")
        if starts is not None:
            s = int(starts[i])
            ax.plot(np.arange(s, s + 7), curves[i, s : s + 7], "o", ms=5, mfc="none", color="tab:red")
        ax.grid(alpha=0.3)
    fig.suptitle("The first nine Bezier curves (red rings: the 7-point crop the patch model trains on)")
    fig.tight_layout()
    return fig


def filters_figure(p: Params, seeds: list[int], title: str, which: str = "dec", max_seeds: int = 10) -> Figure:
    """Filters of every seed (the first ``max_seeds``): one row per channel, one column per seed, every filter on
    its own y-scale (its norm in the corner), so a small filter is not drawn flat beside a large one."""
    w = p.dec_w if which == "dec" else p.enc_w
    n = min(w.shape[0], max_seeds)
    c = w.shape[1]
    fig, axes = _subplots(c, n, figsize=(1.9 * n + 0.8, 1.45 * c + 0.7), squeeze=False)
    for ch in range(c):
        for i in range(n):
            ax = axes[ch, i]
            ax.plot(w[i, ch], "o-", ms=3, lw=1.3, color=COLORS[ch])
            ax.axhline(0, color="k", lw=0.5)
            ax.set_xticks(range(w.shape[2]))
            ax.tick_params(labelsize=6)
            ax.grid(alpha=0.3)
            ax.text(0.02, 0.97, f"|w| {np.linalg.norm(w[i, ch]):.3g}", transform=ax.transAxes, fontsize=7,
                    va="top", ha="left", color="0.3")  # fmt: skip
            if ch == 0:
                ax.set_title(f"seed {seeds[i]}", fontsize=9)
        axes[ch, 0].set_ylabel(f"filter {ch + 1}", fontsize=8)
    more = f" (first {n} of {w.shape[0]} seeds)" if n < w.shape[0] else ""
    fig.suptitle(f"{title}{more}; every filter on its own scale (|w|: its norm)", fontsize=10)
    fig.tight_layout()
    return fig


def aligned_figure(p: Params, seeds: list[int], title: str, which: str = "dec") -> Figure:
    """After :func:`align`: one panel per channel with every seed's filter overlaid and the consensus dashed."""
    w = p.dec_w if which == "dec" else p.enc_w
    a = align(w)
    fig, axes = _subplots(1, w.shape[1], figsize=(3.6 * w.shape[1], 2.9), squeeze=False)
    for ch, ax in enumerate(axes[0]):
        for i in range(w.shape[0]):
            sgn = "-" if a.sign[i, ch] < 0 else "+"
            ax.plot(a.aligned[i, ch], "o-", ms=3, lw=1.2, color=COLORS[i % len(COLORS)],
                    label=f"seed {seeds[i]}: {sgn}filter {a.perm[i, ch] + 1}")  # fmt: skip
        ax.plot(a.aligned[:, ch].mean(axis=0), "k--", lw=1.5, label="consensus")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(f"aligned channel {ch + 1} (mean |cos| {a.cosine[:, ch].mean():.3f})", fontsize=9)
        ax.set_xticks(range(w.shape[2]))
        ax.grid(alpha=0.3)
        if w.shape[0] <= 8:
            ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def weighted_sum_figure(p: Params, i: int, codes: list[tuple[float, ...]] | None = None) -> Figure:
    """Decoding as a weighted sum of the filters (§4.3): per code, the scaled filters and their sum (top) and the
    filters themselves (bottom)."""
    codes = codes or [(0.0, 0.1, 0.2), (0.1, 0.1, 0.0)]
    w, b = p.dec_w[i], float(p.dec_b[i])
    fig, axes = _subplots(2, len(codes), figsize=(4.2 * len(codes), 5.2), sharex=True, squeeze=False)
    for j, c in enumerate(codes):
        ax = axes[0, j]
        for ch in range(w.shape[0]):
            ax.plot(c[ch] * w[ch], "o--", ms=3, lw=1, color=COLORS[ch], label=f"{c[ch]:g} × filter {ch + 1}")
        out = decode(p.select([i]), np.asarray(c, np.float32)[None, None, :, None])[0, 0, 0]
        ax.plot(out, "k-", lw=2, label=f"output = sum + bias ({b:+.3f})")
        ax.set_title(f"code {list(c)}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax = axes[1, j]
        for ch in range(w.shape[0]):
            ax.plot(w[ch], "o-", ms=3, color=COLORS[ch], label=f"filter {ch + 1}")
        ax.set_title("the filters, unscaled", fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle("The decoder's output is a weighted sum of its filters (weights = the code)")
    fig.tight_layout()
    return fig


def encoder_figure(p: Params, i: int, x: np.ndarray) -> Figure:
    """The encoder at work on one patch (§4.4): its filters and the input; the elementwise products with their sums
    (the code before tanh); and the decoder rebuilding the patch from that code."""
    x = np.asarray(x, dtype=np.float32)
    we, be = p.enc_w[i], p.enc_b[i]
    code = encode(p.select([i]), x[None])[0, 0, :, 0]
    fig, axes = _subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    ax.plot(x, "k-o", ms=3, lw=2, label="input patch")
    for ch in range(we.shape[0]):
        ax.plot(we[ch], "o--", ms=3, lw=1, color=COLORS[ch], label=f"encoder filter {ch + 1}")
    ax.set_title("encoder filters and an input", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = axes[1]
    for ch in range(we.shape[0]):
        prod = we[ch] * x
        ax.plot(
            prod, "o-", ms=3, color=COLORS[ch], label=f"sum {prod.sum():+.3f} (+bias {be[ch]:+.2f}) → {code[ch]:+.3f}"
        )
    ax.set_title("filter × input, point by point; tanh(sum + bias) is the code", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = axes[2]
    wd = p.dec_w[i]
    for ch in range(wd.shape[0]):
        ax.plot(
            code[ch] * wd[ch], "o--", ms=3, lw=1, color=COLORS[ch], label=f"{code[ch]:+.3f} × decoder filter {ch + 1}"
        )
    out = decode(p.select([i]), code[None, None, :, None])[0, 0, 0]
    ax.plot(out, "k-", lw=2, label="decoder output")
    ax.plot(x, "k:", lw=1.5, label="input")
    ax.set_title("decoder: scaled filters and their sum", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def ablation_figure(table: dict[str, np.ndarray], examples: dict[str, np.ndarray] | None = None) -> Figure:
    """Bars: MSE of each variant with nothing / component 1 / 2 / 3 zeroed (mean ± std over seeds, log scale).

    ``table`` maps a variant name to its ``(seeds, 1 + C)`` array from :func:`ablation`.
    """
    names = list(table)
    fig, ax = _subplots(figsize=(max(6, 1.9 * len(names) + 2), 4))
    ncol = next(iter(table.values())).shape[1]
    width = 0.8 / ncol
    labels = ["full model"] + [f"component {c} zeroed" for c in range(1, ncol)]
    for j in range(ncol):
        m = np.array([table[n][:, j].mean() for n in names])
        s = np.array([table[n][:, j].std() for n in names])
        ax.bar(np.arange(len(names)) + (j - (ncol - 1) / 2) * width, m, width, yerr=s, color=COLORS[j], label=labels[j])
    ax.set_xticks(np.arange(len(names)), names, fontsize=8)
    ax.set(yscale="log", ylabel="patch MSE")
    ax.set_title("Ablation: zero one code component (mean ± std over seeds)")
    ax.legend(fontsize=8, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)
    ax.grid(axis="y", alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def ablation_examples_figure(models: dict[str, tuple[Params, int]], x: np.ndarray) -> Figure:
    """One patch through each model: whole, and with component 1, 2, 3 zeroed (the seed's visual comparison)."""
    x = np.asarray(x, dtype=np.float32)
    rows = list(models)
    fig, axes = _subplots(len(rows), 4, figsize=(11, 2.2 * len(rows)), sharey=True, squeeze=False)
    for r, name in enumerate(rows):
        p, i = models[name]
        q = p.select([i])
        for j, zero in enumerate([None, 0, 1, 2]):
            ax = axes[r, j]
            out = reconstruct(q, x[None], zero=zero)[0, 0]
            ax.plot(x, "k:", lw=1.5, label="input")
            ax.plot(out, "-o", ms=3, color=COLORS[j], label="output")
            mse = float(((out - x) ** 2).mean())
            ax.set_title(("whole" if zero is None else f"component {zero + 1} zeroed") + f"  mse {mse:.1e}", fontsize=8)
            ax.grid(alpha=0.3)
        axes[r, 0].set_ylabel(name, fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def assembly_figure(
    p: Params, i: int, full: Params | None, j: int | None, curve: np.ndarray, mse: dict[str, np.ndarray]
) -> Figure:
    """The 15-point model: one curve through each assembly, the overlap-count map, and the MSE per point."""
    x = np.asarray(curve, dtype=np.float32)[None]
    q = p.select([i])
    positions = code_length(x.shape[1], p.win)
    counts = overlap_counts(positions, p.win)
    fig, axes = _subplots(1, 3, figsize=(14, 3.8))
    ax = axes[0]
    ax.plot(x[0], "k-", lw=3, alpha=0.35, label="target")
    styles = {"sum": ("tab:red", "sum (transposed conv)"), "halve": ("tab:orange", "seed's halving fix")}
    styles["exact"] = ("tab:green", "÷ overlap count (exact)")
    for m, (col, lab) in styles.items():
        ax.plot(assemble(q, x, m)[0, 0], "o-", ms=3, lw=1.2, color=col, label=lab)
    if full is not None and j is not None:
        ax.plot(
            reconstruct(full.select([j]), x)[0, 0], "s--", ms=3, lw=1, color="tab:purple", label="trained end to end"
        )
    ax.set_title("one curve, four ways", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.bar(np.arange(len(counts)), counts, color="tab:gray")
    for q_ in range(positions):
        ax.plot(
            np.arange(q_ * STRIDE, q_ * STRIDE + p.win), np.full(p.win, 2.2 + 0.25 * q_), "-", lw=4, color=COLORS[q_]
        )
    ax.set(xlabel="output point", ylabel="filter copies covering it", ylim=(0, 3.1))
    ax.set_title("overlap count = transposed convolution of ones\n(bars: code positions' windows)", fontsize=10)
    ax = axes[2]
    for name in ("sum", "halve", "exact", "end-to-end"):
        key = name + "_by_point"
        if key in mse:
            col = {"sum": "tab:red", "halve": "tab:orange", "exact": "tab:green", "end-to-end": "tab:purple"}[name]
            ax.plot(mse[key], "o-", ms=3, color=col, label=f"{name}: {mse[name].mean():.2e}")
    ax.set(yscale="log", xlabel="output point", ylabel="MSE (all curves, all seeds)")
    ax.set_title("error per point (legend: mean MSE)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def animation_frames(p: Params, i: int, component: int | None, n_frames: int = 24, dpi: int = 80) -> list[np.ndarray]:
    """Frames (RGB arrays) of the seed's decoder animation (§4.3) for model ``i``: one code component sweeping
    -0.9..0.9 (or, with ``component=None``, all three moving at once).

    Top left: outputs for several values of the third component (the current one bold); top right: the scaled filters
    and the output; bottom left: the code as a point (x, y = components 1, 2; size = component 3); bottom right: the
    filters themselves (constant). The figure is drawn once and only its lines move.
    """
    q = p.select([i])
    w = q.dec_w[0]
    t = np.linspace(0, 2 * np.pi, n_frames, endpoint=False)
    codes = np.zeros((n_frames, 3), np.float32)
    if component is None:
        codes[:] = np.stack([0.8 * np.sin(t), 0.8 * np.sin(2 * t + 1), 0.8 * np.cos(t)], axis=1)
    else:
        codes[:, component] = 0.9 * np.sin(t)
    third = np.linspace(-0.9, 0.9, 7, dtype=np.float32)
    # every output the animation shows: (frame, value of component 3, point)
    grid = np.repeat(codes[:, None, :], len(third), axis=1)
    grid[:, :, 2] = third[None, :]
    fan = decode(q, grid.reshape(1, -1, 3, 1))[0, :, 0].reshape(n_frames, len(third), -1)
    outs = decode(q, codes[None, :, :, None])[0, :, 0]
    lo = min(fan.min(), outs.min(), (0.9 * np.abs(w)).min() * -1, w.min()) - 0.1
    hi = max(fan.max(), outs.max(), (0.9 * np.abs(w)).max(), w.max()) + 0.1
    title = "all components moving" if component is None else f"component {component + 1} moving"

    fig, axes = _subplots(2, 2, figsize=(7.5, 5.4), dpi=dpi)
    fig.suptitle(f"decoder animation: {title}", fontsize=11)
    ax_fan, ax_sc, ax_code, ax_w = axes.ravel()
    fan_lines = [ax_fan.plot(fan[0, k], color="tab:gray", lw=0.8)[0] for k in range(len(third))]
    bold = ax_fan.plot(outs[0], color="k", lw=2.5)[0]
    ax_fan.set_title("output for 7 values of component 3 (bold: current)", fontsize=9)
    sc_lines = [ax_sc.plot(codes[0, ch] * w[ch], "--", color=COLORS[ch], lw=1.2)[0] for ch in range(3)]
    out_line = ax_sc.plot(outs[0], "k-", lw=2.5, label="output")[0]
    ax_sc.set_title("scaled filters (dashed) and output", fontsize=9)
    for ax in (ax_fan, ax_sc):
        ax.set_ylim(lo, hi)
    dot = ax_code.scatter([codes[0, 0]], [codes[0, 1]], s=[40 + 300 * (codes[0, 2] + 1)], color="tab:purple")
    ax_code.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="component 1", ylabel="component 2")
    ax_code.axhline(0, color="k", lw=0.4)
    ax_code.axvline(0, color="k", lw=0.4)
    code_title = ax_code.set_title("", fontsize=9)
    for ch in range(3):
        ax_w.plot(w[ch], "o-", ms=3, color=COLORS[ch], label=f"filter {ch + 1}")
    ax_w.legend(fontsize=7)
    ax_w.set_title("decoder filters (fixed)", fontsize=9)
    for a in axes.ravel():
        a.tick_params(labelsize=7)
        a.grid(alpha=0.3)
    fig.tight_layout()
    frames = []
    for f in range(n_frames):
        c = codes[f]
        for k, line in enumerate(fan_lines):
            line.set_ydata(fan[f, k])
        bold.set_ydata(outs[f])
        for ch in range(3):
            sc_lines[ch].set_ydata(c[ch] * w[ch])
        out_line.set_ydata(outs[f])
        dot.set_offsets([[c[0], c[1]]])
        dot.set_sizes([40 + 300 * (c[2] + 1)])
        code_title.set_text(f"code ({c[0]:+.2f}, {c[1]:+.2f}, {c[2]:+.2f}); dot size: component 3")
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy())
    return frames
