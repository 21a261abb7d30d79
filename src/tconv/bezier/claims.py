"""Seed 002's claims, each decided by a statistic over seeds, its 95% interval, a stated test and a stated threshold.

A claim is "confirmed" when the interval lies wholly on the claimed side of its threshold, "refuted" when it lies
wholly on the other side, and "not shown" when it straddles the threshold (:func:`tconv.stats.verdict`). The
statistics are read from the run's metrics only (per-seed values, matched-|cos| matrices), so the verdicts can be
recomputed from any ``metrics.json``.

>>> pairs = [[1.0, 0.8, 0.9], [0.8, 1.0, 0.85], [0.9, 0.85, 1.0]]
>>> round(mean_over_pairs(np.array(pairs), np.arange(3)), 3)
0.85
"""

from __future__ import annotations

import numpy as np

from ..stats import Interval, bootstrap_ci, mean_ci, proportion_ci, verdict

__all__ = [
    "claims",
    "verdict_stability",
    "subset_metrics",
    "mean_over_pairs",
    "SAME_SHAPE_COS",
    "DIFFERENT_COS",
    "ALWAYS_SHARE",
]

#: matched |cos| below this counts as "very different filters" (an angle of about 25 degrees)
DIFFERENT_COS = 0.9
#: matched |cos| above this counts as "the same filter shape"
SAME_SHAPE_COS = 0.9
#: "always" in a proportion claim: at least this share of seeds, at 95% confidence (Clopper-Pearson lower bound)
ALWAYS_SHARE = 0.8


def mean_over_pairs(mat: np.ndarray, idx: np.ndarray) -> float:
    """Mean of ``mat[a, b]`` over pairs of positions ``a < b`` of ``idx`` that name different seeds (a bootstrap
    resample repeats seeds; a seed paired with itself says nothing about agreement between seeds)."""
    i, j = np.triu_indices(len(idx), 1)
    a, b = idx[i], idx[j]
    keep = a != b
    return float(mat[a[keep], b[keep]].mean()) if keep.any() else float("nan")


def _ci(iv: Interval, fmt: str = ".3g") -> str:
    return f"{iv.mean:{fmt}} [{iv.lo:{fmt}}, {iv.hi:{fmt}}]"


def _prop_verdict(iv: Interval) -> str:
    if iv.lo >= ALWAYS_SHARE:
        return "confirmed"
    return "refuted" if iv.hi < 0.5 else "not shown"


def claims(m: dict) -> list[dict]:
    """The seed's claims from a run's metrics, each with ``verdict``, ``numbers``, ``test`` and ``threshold``."""
    out: list[dict] = []
    vs = m["variants"]
    plain = vs["plain"]
    n = len(m["seeds"])
    note = f"mean [95% CI] over {n} seeds"

    def add(claim: str, section: str, verdict_: str, numbers: str, test: str, threshold: str) -> None:
        out.append({"claim": claim, "section": section, "verdict": verdict_, "numbers": numbers, "test": test,
                    "threshold": threshold, "n_seeds": n})  # fmt: skip

    pm = mean_ci(plain["patch_mse"]["per_seed"])
    add(
        "The 7-point autoencoder trains to a loss below 1e-4",
        "4.2",
        verdict(pm, "<", 1e-4),
        f"patch MSE {_ci(pm)} ({note}); final training loss {plain['final_train_loss']['mean']:.2e}",
        "t-interval of the mean patch MSE over seeds",
        "confirmed if the interval is below 1e-4",
    )
    pmat = np.asarray(plain["decoder_alignment"]["pair_cos"])
    cos_p = bootstrap_ci(lambda i: mean_over_pairs(pmat, i), n)
    add(
        "Different seeds give very different filters, even after compensating sign and order",
        "4.5",
        verdict(cos_p, "<", DIFFERENT_COS),
        f"plain decoder filters, matched |cos| between seeds {_ci(cos_p)}; relative spread after alignment "
        f"{np.mean(plain['decoder_alignment']['spread']):.2f} (before {np.mean(plain['decoder_alignment']['raw_spread']):.2f})",
        "Hungarian matching on |cos| per pair of seeds; bootstrap over seeds of the mean over pairs",
        f"confirmed if the interval is below {DIFFERENT_COS} (about 25 degrees), refuted if above",
    )
    abl = np.asarray(plain["ablation"]["per_seed"])[:, 1:]
    ratio = mean_ci(abl.max(axis=1) / abl.min(axis=1), log=True)
    add(
        "In the plain model every code component matters about equally (zeroing any one costs about the same)",
        "5.1",
        verdict(ratio, "<", 3.0),
        "MSE with component 1/2/3 zeroed "
        + ", ".join(f"{x:.2e}" for x in abl.mean(axis=0))
        + f"; per-seed max/min {_ci(ratio)} (geometric {note})",
        "t-interval of log(max/min) of the three ablation costs per seed",
        "confirmed if the interval is below 3, refuted if above",
    )
    for v in vs.values():
        if v["kind"] == "code":
            _code_claims(v, plain, n, note, add)
        if v["kind"] == "code+input":
            _input_claims(v, vs.get(f"code/{v['noise']}"), plain, n, note, add)
    _assembly_claims(m, n, note, add)
    return out


def _code_claims(v: dict, plain: dict, n: int, note: str, add) -> None:
    tag = f"{v['noise']}: sigma {tuple(round(s, 8) for s in v['code_sigma'])}"
    cmat = np.asarray(v["decoder_alignment"]["pair_cos"])
    pmat = np.asarray(plain["decoder_alignment"]["pair_cos"])
    gain = bootstrap_ci(lambda i: mean_over_pairs(cmat, i) - mean_over_pairs(pmat, i), n)
    cos_c = bootstrap_ci(lambda i: mean_over_pairs(cmat, i), n)
    add(
        f"Code noise ({tag}) makes the filter sets more consistent across seeds",
        "5.1",
        verdict(gain, ">", 0.0),
        f"matched |cos| {_ci(cos_c)} vs plain {np.mean(pmat[np.triu_indices(n, 1)]):.3f}; gain {_ci(gain)}; "
        "spread after alignment per channel " + ", ".join(f"{x:.2f}" for x in v["decoder_alignment"]["spread"]),
        "bootstrap over seeds of the paired difference of mean matched |cos| (same seeds, code noise - plain)",
        "confirmed if the gain's interval is above 0, refuted if below",
    )
    perm = np.asarray(v["decoder_alignment"]["perm"])
    swapped = int(np.sum((perm[:, 1] == 2) & (perm[:, 2] == 1)))
    sw = proportion_ci(swapped, n)
    shape = mean_ci(np.asarray(v["decoder_alignment"]["cos_per_seed"])[:, 1:].mean(axis=1))
    if sw.lo > 0 and shape.lo > SAME_SHAPE_COS:
        vd = "confirmed"
    elif swapped == 0 and sw.hi < 0.5:
        vd = "refuted"
    else:
        vd = "not shown"
    add(
        f"Filters 2 and 3 are equally important: sometimes in component 2, sometimes in component 3 ({v['noise']})",
        "5.1",
        vd,
        f"alignment swaps channels 2 and 3 in {sw.text()}; |cos| of filters 2 and 3 to the consensus {_ci(shape)}",
        "Clopper-Pearson interval of the share of seeds with the swap; t-interval of the aligned filters' |cos|",
        f"confirmed if the swap share's interval excludes 0 and the shapes agree (|cos| interval above "
        f"{SAME_SHAPE_COS}); refuted if no seed swaps and the share's interval is below 0.5",
    )
    dn = np.asarray(v["decoder_filter_norm"]["per_seed"])
    k = int(np.sum(np.argmin(dn, axis=1) == 0))
    pr = proportion_ci(k, n)
    add(
        f"The least important filter has a small magnitude and always sits in the noisiest component ({v['noise']})",
        "5.1",
        _prop_verdict(pr),
        f"component 1's decoder filter is the smallest in {pr.text()}; norms per component "
        + ", ".join(f"{x:.3g}" for x in dn.mean(axis=0)),
        "Clopper-Pearson interval of the share of seeds",
        f"'always': confirmed if the lower bound is at least {ALWAYS_SHARE}, refuted if the upper bound is below 0.5",
    )
    abl = np.asarray(v["ablation"]["per_seed"])[:, 1:]
    k1 = int(np.sum(np.argmin(abl, axis=1) == 0))
    korder = int(np.sum((abl[:, 0] < abl[:, 1]) & (abl[:, 1] < abl[:, 2])))
    pr1, pro = proportion_ci(k1, n), proportion_ci(korder, n)
    add(
        f"With code noise ({v['noise']}) zeroing the noisiest component costs the least (ordered like PCA)",
        "5.1",
        _prop_verdict(pr1),
        "zeroing component 1/2/3 costs "
        + ", ".join(f"{x:.2e}" for x in abl.mean(axis=0))
        + f"; component 1 cheapest in {pr1.text()}; full order 1 < 2 < 3 in {pro.text()}",
        "Clopper-Pearson interval of the share of seeds where zeroing component 1 costs the least",
        f"confirmed if the lower bound is at least {ALWAYS_SHARE}, refuted if the upper bound is below 0.5",
    )


def _input_claims(v: dict, base: dict | None, plain: dict, n: int, note: str, add) -> None:
    nz = v["noise"]
    if base is not None:
        r0 = np.asarray(base["encoder_roughness_per_seed"])
        r1 = np.asarray(v["encoder_roughness_per_seed"])
        per = [mean_ci(r1[:, c] / r0[:, c], log=True) for c in range(r0.shape[1])]
        vds = [verdict(iv, "<", 0.5) for iv in per]
        smooth = [c + 1 for c, vd in enumerate(vds) if vd == "confirmed"]
        if len(smooth) == len(vds):
            vd = "confirmed"
        elif smooth:
            vd = "confirmed for filter" + ("s " if len(smooth) > 1 else " ") + " and ".join(map(str, smooth)) + " only"
        else:
            vd = "not shown" if any(x == "not shown" for x in vds) else "refuted"
        add(
            f"Input noise (0.01) makes the encoder filters smooth ({nz}; controlled: code noise only vs code + input "
            "noise, same seeds)",
            "5.2",
            vd,
            "encoder roughness per filter, code only → code + input: "
            + "; ".join(
                f"filter {c + 1} {r0[:, c].mean():.3g} → {r1[:, c].mean():.3g} (ratio {_ci(per[c])}: {vds[c]})"
                for c in range(r0.shape[1])
            ),
            "per filter, t-interval of the log of the per-seed ratio (code + input) / (code only)",
            "smoother: the ratio's interval below 0.5",
        )
    en = np.asarray(v["encoder_filter_norm"]["per_seed"])
    k = int(np.sum(np.argmax(en, axis=1) == 0))
    pr = proportion_ci(k, n)
    nums = (
        f"with input noise, filter 1 is the largest in {pr.text()} (norms "
        + ", ".join(f"{x:.3g}" for x in en.mean(axis=0))
        + ")"
    )
    vd = _prop_verdict(pr)
    if base is not None:
        e0 = np.asarray(base["encoder_filter_norm"]["per_seed"])
        k0 = int(np.sum(np.argmax(e0, axis=1) == 0))
        pr0 = proportion_ci(k0, n)
        change = mean_ci(en[:, 0] / e0[:, 0], log=True)
        nums += (
            f"; with code noise only, in {pr0.text()} (norms "
            + ", ".join(f"{x:.3g}" for x in e0.mean(axis=0))
            + f"); filter 1's norm ratio (code + input) / (code only) {_ci(change)}"
        )
        if vd == "confirmed" and _prop_verdict(pr0) == "confirmed":
            vd = "confirmed, but code noise alone does it: not caused by the input noise"
    add(
        f"With input noise the noisiest component's encoder filter becomes larger than the others ({nz})",
        "5.2",
        vd,
        nums,
        "Clopper-Pearson interval of the share of seeds where filter 1 has the largest norm, with and without "
        "input noise (same seeds)",
        f"confirmed if the lower bound is at least {ALWAYS_SHARE}; attributed to the input noise only if code noise "
        "alone does not already confirm it",
    )
    if base is not None:
        d0 = np.asarray(base["input_noise_increase"]["per_seed"])
        d1 = np.asarray(v["input_noise_increase"]["per_seed"])
        rr = mean_ci(d1 / d0, log=bool(np.all(d1 / d0 > 0)))
        add(
            f"Input noise makes the encoder less sensitive to noisy inputs ({nz})",
            "5.2",
            verdict(rr, "<", 1.0),
            f"MSE added by N(0, 0.01²) input noise: {d1.mean():.3g} with input-noise training, {d0.mean():.3g} "
            f"without; per-seed ratio {_ci(rr)} (plain {plain['input_noise_increase']['mean']:.3g})",
            "t-interval of the log of the per-seed ratio of added MSE, (code + input) / (code only)",
            "confirmed if the ratio's interval is below 1, refuted if above",
        )


def _assembly_claims(m: dict, n: int, note: str, add) -> None:
    asm = m["assembly"]
    dbl = mean_ci(asm["sum_overlap_ratio_per_seed"], log=True)
    add(
        "Running the patch model on the 15-point curve doubles the overlapping points",
        "5 (full model)",
        verdict(dbl, ">", 10.0),
        f"MSE {asm['sum']['mean']:.2e}; MSE at overlapping points / elsewhere, per seed, {_ci(dbl)}",
        "t-interval of the log of the per-seed ratio",
        "confirmed if the ratio's interval is above 10",
    )
    hv = mean_ci(asm["halve_edge_ratio_per_seed"], log=True)
    add(
        "Halving the overlapping taps fixes the overlaps but breaks the boundary points",
        "5 (full model)",
        verdict(hv, ">", 10.0),
        f"MSE {asm['halve']['mean']:.2e}; MSE at the first/last three points / the rest, per seed, {_ci(hv)}",
        "t-interval of the log of the per-seed ratio",
        "confirmed if the ratio's interval is above 10",
    )
    ex = mean_ci(asm["exact"]["per_seed"])
    txt = f"exact fix (÷ overlap count) MSE {_ci(ex)}"
    if "end-to-end" in asm:
        txt += f"; 15-point model trained end to end {_ci(mean_ci(asm['end-to-end']['per_seed']))}"
    add("(tconv) Dividing by the overlap-count map removes both errors", "5 (full model)", "result", txt,
        "t-interval over seeds", "-")  # fmt: skip
    se = m.get("seed_eval")
    if se:
        a, h = se["as_is"], se["halved"]
        add(
            f"(tconv) The blog post's evaluation loop (its section 5), eval_model({se['seed']}), prints the MSE of the assembled model",
            "5 (full model)",
            f"refuted: it prints {a['batches_summed']}/{a['divided_by']} of it",
            f"prints {a['printed']:.3g} (true MSE {a['true_mse']:.3g}); after halving prints {h['printed']:.3g} "
            f"(true {h['true_mse']:.3g}): the loop adds {a['batches_summed']} batches and divides by "
            f"{a['divided_by']}",
            "the seed's loop ported as written, against the MSE over every curve",
            "-",
        )


def subset_metrics(m: dict, idx: list[int]) -> dict:
    """The metrics restricted to the seeds at positions ``idx`` (per-seed values, pair matrices, alignments as
    computed with every seed), for checking that a verdict does not change with the number of seeds."""
    idx = list(idx)

    def cut(x):
        if isinstance(x, dict):
            out = {}
            for k, v in x.items():
                if k == "pair_cos":
                    out[k] = np.asarray(v)[np.ix_(idx, idx)].tolist()
                elif k in ("per_seed", "perm", "sign", "cos_per_seed") or k.endswith("_per_seed"):
                    out[k] = [v[i] for i in idx]
                else:
                    out[k] = cut(v)
            return out
        return x

    sub = {k: cut(v) for k, v in m.items() if k in ("variants", "assembly", "seed_eval")}
    sub["seeds"] = [m["seeds"][i] for i in idx]
    return sub


def verdict_stability(m: dict, sizes: tuple[int, ...] = (5, 10)) -> list[dict]:
    """Each claim's verdict with the first ``n`` seeds for every ``n`` in ``sizes`` (and with all of them)."""
    n_all = len(m["seeds"])
    sizes = tuple(n for n in sizes if 2 <= n < n_all) + (n_all,)
    runs = {n: claims(subset_metrics(m, list(range(n)))) for n in sizes}
    return [
        {"claim": c["claim"], "section": c["section"], "verdicts": {str(n): runs[n][i]["verdict"] for n in sizes}}
        for i, c in enumerate(runs[n_all])
    ]
