"""The CPU benchmark's document: ``docs/benchmarks.md`` rendered from ``bench/results/cpu.json`` (:mod:`run` measures,
this module writes). Every number and every sentence with a number in the document comes from the JSON; the
targets of issue 15 are checked here.

>>> geomean([1.0, 4.0])
2.0
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tconv.files import write_text  # noqa: E402

#: The issue-15 targets the summary checks (2-core CPU, float32, idle).
TARGETS = {"geomean": 1.3, "worst": 0.97, "peak": 1.5, "first_call": 20.0}

#: The teaching formulations timed in their own table.
TEACHING = ("scatter", "zero_insert", "autograd", "matrix")


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def _mb(nbytes: float) -> str:
    return f"{nbytes / 2**20:.1f}" if nbytes >= 2**20 / 10 else f"{nbytes / 2**20:.2f}"


def _worst_note(s: dict) -> str:
    """The worst row among those where auto ran another route than torch itself, and the torch-vs-torch rows'
    spread: those measure torch against itself called through auto's dispatch."""
    c, same = s.get("worst_chosen"), s.get("torch_rows") or []
    out = ""
    if c is not None:
        out += (
            f" Where auto's route is not torch itself, the worst is {c['layer']} N={c['batch']} ({c['mode']}, "
            f"{c['route']}) at **{c['ratio']:.2f}×** (pairs' IQR {c['ratio_q1']:.2f}–{c['ratio_q3']:.2f})."
        )
    if same:
        lo, hi = min(r["ratio"] for r in same), max(r["ratio"] for r in same)
        out += (
            f" The {len(same)} rows where auto ran torch itself range {lo:.2f}–{hi:.2f}×: torch against torch called "
            "through auto's dispatch (its Python work runs on caches the kernel just evicted: a few percent of a "
            "1-2 ms call), and the noise of this machine."
        )
    return out


def _interval(r: dict) -> str:
    """The 95% bootstrap interval of a row's median ratio, and where it lies against the worst-row target."""
    if r.get("ratio_lo") is None:
        return ""
    t = TARGETS["worst"]
    where = "lies above" if r["ratio_lo"] >= t else "holds" if r["ratio_hi"] >= t else "stays below"
    return (
        f"; the 95% interval of its median over {r['pairs']} pairs, {r['ratio_lo']:.3f}–{r['ratio_hi']:.3f}, {where} "
        "the target"
    )


def _below(result: dict) -> str:
    """How many rows' point estimates fall below the worst-row target, and how many of those are losses the
    interval confirms (its upper end below the target too)."""
    rows = [r for r in result["rows"] if r.get("ratio_hi") is not None]
    under = [r for r in rows if r["ratio"] < TARGETS["worst"]]
    sure = [r for r in under if r["ratio_hi"] < TARGETS["worst"]]
    return (
        f" Rows below {TARGETS['worst']}×: {len(under)} of {len(result['rows'])} by their median, {len(sure)} whose "
        "whole 95% interval lies below it."
    )


def _measuring(r: dict) -> float:
    """The largest overhead of measuring among a row's measuring calls, in warm calls (older results: the first call
    less one warm call)."""
    return r["measuring_x"] if r.get("measuring_x") is not None else r["first_call_x"] - 1


def _spread(r: dict) -> str:
    """`` (k calls, total T×)`` where the race took k > 1 calls."""
    k = len(r.get("measuring_calls_ms", [None]))
    return f" ({k} calls, {r['measuring_total_x']:.1f}×)" if k > 1 else ""


def _first_label(r: dict) -> str:
    return f"{r['layer']} N={r['batch']} {_measuring(r):.1f}×"


def _check(ok: bool) -> str:
    return "met" if ok else "**not met**"


def summary(result: dict) -> dict:
    """The target figures, computed from the rows."""
    out: dict = {}
    for mode in ("inference", "training"):
        rows = [r for r in result["rows"] if r["mode"] == mode]
        out[mode] = geomean([r["ratio"] for r in rows]) if rows else float("nan")
        # the spread: the geometric means of the rows' lower and upper quartiles of the per-pair ratios
        out[mode + "_q"] = tuple(
            geomean([r[q] for r in rows]) if rows else float("nan") for q in ("ratio_q1", "ratio_q3")
        )
        # without the FFT's big-kernel row, whose ratio in the hundreds alone moves the mean
        rest = [r["ratio"] for r in rows if r["family"] != "big kernel"]
        out[mode + "_rest"] = (geomean(rest) if rest else float("nan"), len(rest))
    rows = result["rows"]
    worst = min(rows, key=lambda r: r["ratio"])
    peak = max(rows, key=lambda r: r["peak_auto"] / max(r["peak_torch"], 1))
    first = max(rows, key=lambda r: r["first_call_x"])
    out["worst"] = worst
    # where auto ran something other than torch itself: a torch-vs-torch row measures the noise and auto's dispatch,
    # a route row measures a choice
    chosen = [r for r in rows if r["route"] != "torch"]
    out["worst_chosen"] = min(chosen, key=lambda r: r["ratio"]) if chosen else None
    out["torch_rows"] = [r for r in rows if r["route"] == "torch"]
    out["peak"] = peak
    out["peak_x"] = peak["peak_auto"] / max(peak["peak_torch"], 1)
    out["first"] = first
    out["first_over"] = [r for r in rows if _measuring(r) > TARGETS["first_call"]]
    out["measuring"] = max(rows, key=_measuring)
    out["first_torch"] = max(rows, key=lambda r: r["first_call_x_torch"])
    return out


def _rate(result: dict) -> float | None:
    """The machine's demonstrated float32 rate: the GEMM readings, or torch's fastest row if that was faster (a
    reading can come in low on a shared machine; no direct computation runs faster than the machine can)."""
    gemm = result.get("gemm_gflops")
    if not gemm:
        return None
    return max(gemm, *(r["gflop"] / r["torch_ms"] * 1e3 for r in result["rows"]))


def _ceiling(result: dict) -> str:
    """What the GEMM rate allows: a route that computes the dense sum (every route but the FFT) cannot run faster
    than the machine's matrix product, so on a row where torch already reaches a share f of that rate, no direct
    route gains more than 1/f. The geometric mean of max(1/f, auto's ratio) bounds what any such route could give."""
    gemm = _rate(result)
    if not gemm:
        return ""
    out = []
    for mode in ("inference", "training"):
        rows = [r for r in result["rows"] if r["mode"] == mode]
        if not rows:
            continue
        shares = [r["gflop"] / r["torch_ms"] * 1e3 / gemm for r in rows]
        bound = geomean([max(1 / f, r["ratio"]) for f, r in zip(shares, rows, strict=True)])
        busy = sum(f >= 0.7 for f in shares)
        out.append(
            f"{mode}: torch runs {busy} of {len(rows)} rows at ≥ 70% of the machine's rate ({gemm:.0f} GFLOP/s: the "
            "best of `torch.mm` 2048² and torch's fastest row), so even routes at that rate on every row would give "
            "at most "
            f"**{bound:.2f}×**"
        )
    return " The ceiling from the GEMM rate — " + "; ".join(out) + "."


def render(result: dict) -> str:
    load, cores = result["load_before"], result["cores"] or 1
    s = summary(result)
    others = result.get("others_cores")
    # idle: other processes kept less than a tenth of a core busy on average (the load average after the run counts
    # the benchmark's own threads, so it cannot judge); older results without the figure: the load before
    busy = others > 0.1 if others is not None else load > 0.25 * cores
    lines = [
        "# Benchmarks",
        "",
        "<!-- generated by bench/run.py from bench/results/cpu.json: edit the generator (bench/cpu_doc.py), not this file -->",
        "",
        '`method="auto"` against torch\'s `F.conv_transpose*d` on the CPU. Regenerate on an idle machine with '
        "`make bench` (`bench/run.py`; the command used for these numbers is below). float32, torch's default thread "
        "count, glibc's default allocator. Per row: torch's own first call on the shape comes first (its one-time setup, "
        "which every torch user pays: *torch 1st*, as a multiple of a warm torch call); then auto's first calls, with "
        "an empty cache, measure the candidate routes (`tconv.ops.autotune`, spread over the layer's first calls: "
        "one round of the race per call without gradients, one stage per call for a training step; each call returns "
        "a real result) (*auto 1st*: "
        "the first call, as a multiple of one warm auto call; it comes after torch's first call, so the torch runs in its race find "
        "torch's kernels built: on a shape nothing has run yet it also pays torch's setup, the *torch 1st* column, "
        "and the race times torch until its runs stop falling). Then torch and auto **alternate call by call** (which goes first alternates "
        "too) and each pair gives a ratio torch ÷ auto: the row's ratio is their median (spread: their interquartile range; the ms columns are the medians of the times)"
        + (
            f", over {result['seconds']:g} s of pairs per row; where the 95% bootstrap interval of that median then "
            "still reaches below 1 (a loss not ruled out), pairs go on until the interval is within ±1% of the median "
            f"or {result['more_seconds']:g} s of pairs in all"
            + (
                f"; where it holds the worst-row target {TARGETS['worst']}× (the row's verdict undecided), until it "
                f"does not, or {result['decide_seconds']:g} s in all"
                if result.get("decide_seconds")
                else ""
            )
            + " (*pairs*: how many)"
            if result.get("more_seconds")
            else ""
        )
        + ". **Peak memory** "
        "is the most held at once during one warm call, beyond the inputs, measured in a child process that runs the "
        "same routes ("
        + (
            "resident memory: the process's high-water mark, reset before the call, so oneDNN's own buffers count"
            if result.get("peak_method") == "resident"
            else "as torch's allocator sees it, which misses oneDNN's own buffers"
        )
        + "; that process maps every large block separately, which slows calls, so no time is taken there). A "
        "training row times forward + backward (input, weight and bias gradients); its route may be assembled from "
        "parts: the forward route, then the way of the input gradient (∂x) and of the weight gradient (∂w).",
        "",
        "## CPU",
        "",
        f"Machine: {result['machine']}. Measured {result['date']} in {result['minutes']:.0f} min with "
        f"`{result['command']}` (commit {result.get('commit', '?')}); 1-minute load average {load:.2f} before"
        + (
            f"; other processes kept **{others:.2f} cores** busy on average during the run (busy CPU time in "
            "/proc/stat less the benchmark's own)."
            if others is not None
            else f" and {result['load_after']:.2f} after."
        ),
        "",
    ]
    if busy or result["quick"]:
        what = f"other processes kept {others:.2f} cores busy" if others is not None else f"the load average {load:.1f}"
        lines += [
            f"> **Not an idle measurement**: {'a quick check run; ' if result['quick'] else ''}{what} "
            f"(of {cores}): they competed for the cores. Ratios from such a run are not claims; rerun `make bench` "
            "on an idle machine.",
            "",
        ]
    lines += [
        "| layer | family | N | mode | torch ms | torch GFLOP/s (of GEMM) | auto ms | auto's route | torch ÷ auto (IQR) "
        "| pairs | peak MB torch / auto | auto 1st | measuring | torch 1st |",
        "|---|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    gemm = _rate(result)
    for r in result["rows"]:
        route = r["route"] + (f" ×{r['chunks']} slices" if r["chunks"] > 1 else "")
        route += "" if r["measured"] else " (not timed)"
        rate = r["gflop"] / r["torch_ms"] * 1e3
        share = f" ({100 * rate / gemm:.0f}%)" if gemm else ""
        lines.append(
            f"| {r['layer']} | {r['family']} | {r['batch']} | {r['mode']} | {r['torch_ms']:.1f} | {rate:.0f}{share} "
            f"| {r['auto_ms']:.1f} "
            f"| {route} | {r['ratio']:.2f}× ({r['ratio_q1']:.2f}–{r['ratio_q3']:.2f}) | {r['pairs']} "
            f"| {_mb(r['peak_torch'])} / {_mb(r['peak_auto'])} | {r['first_call_x']:.1f}× "
            f"| {_measuring(r):.1f}×{'' if r.get('cold_ms') is not None else '†'}{_spread(r)} "
            f"| {r.get('torch_first_x', float('nan')):.1f}× |"
        )
    w, p, f, m = s["worst"], s["peak"], s["first"], s["measuring"]
    lines += [
        "",
        "*auto's route*: `torch` = torch itself; `torch_cl` = torch on channels-last data; `gemm` = non-overlapping "
        "windows as one GEMM + depth-to-space (backward as GEMMs too); `subpixel` = every output phase as one "
        "stride-1 convolution with C_out·prod(s) channels + depth-to-space; `fft` = the full output as a product of "
        "spectra; `col2im`, `polyphase` = the formulations of the same names. Gradient parts (`tconv.ops.training`): "
        "`torch` = torch's own kernel for that gradient, `torch_cl` the same on channels-last copies, `conv` = the "
        "gradient written as a forward convolution (∂x: of the output gradient with the weight; ∂w: the weight "
        "gradient of that convolution), `conv_cl` on channels-last data, `gemm` = the GEMM route's own, `fft` = the gradient as a product of spectra (a correlation; large kernels). *(not timed)*: chosen without timing (a tiny call, or the only route worth timing there). *×k slices*: the route ran on k slices of the batch to stay within the "
        "memory budget (1.5× torch's estimated peak, or torch's + 1 MiB).",
        "",
        "### Against the targets (issue 15)",
        "",
        f"- Geometric mean of torch ÷ auto: **{s['inference']:.2f}×** inference over "
        f"{sum(r['mode'] == 'inference' for r in result['rows'])} rows (the rows' quartiles: "
        f"{s['inference_q'][0]:.2f}–{s['inference_q'][1]:.2f}), **{s['training']:.2f}×** training over "
        f"{sum(r['mode'] == 'training' for r in result['rows'])} rows ({s['training_q'][0]:.2f}–"
        f"{s['training_q'][1]:.2f}) (target ≥ {TARGETS['geomean']}×: "
        f"{_check(min(s['inference'], s['training']) >= TARGETS['geomean'])}). Without the big-kernel row (the FFT's, "
        f"one ratio in the hundreds): **{s['inference_rest'][0]:.2f}×** inference over {s['inference_rest'][1]} rows, "
        f"**{s['training_rest'][0]:.2f}×** training over {s['training_rest'][1]} "
        f"({_check(min(s['inference_rest'][0], s['training_rest'][0]) >= TARGETS['geomean'])} without it)."
        + _ceiling(result),
        f"- Worst row: {w['layer']} N={w['batch']} ({w['mode']}) at **{w['ratio']:.3f}×** "
        f"(target ≥ {TARGETS['worst']}× once warm: {_check(w['ratio'] >= TARGETS['worst'])})"
        + _interval(w)
        + "."
        + _below(result)
        + _worst_note(s),
        f"- Largest peak memory of auto relative to torch: **{s['peak_x']:.2f}×** on {p['layer']} N={p['batch']} "
        f"({_mb(p['peak_auto'])} MB vs {_mb(p['peak_torch'])} MB; target ≤ {TARGETS['peak']}×: "
        f"{_check(s['peak_x'] <= TARGETS['peak'])}).",
        "- Overhead of measuring, per call: auto spreads a layer's measuring over its first calls, each returning a "
        "real result: without gradients one round of the race each (every route's first run; the second runs; a duel "
        "where one is needed), a training step one stage each (a round of the forward race; the input-gradient ways; "
        "the weight-gradient ways; duels of whole steps where the parts do not decide, a narrow win confirmed by a second). A call's overhead is its time less what a call without measuring "
        "pays (the first call: the winner's own first, cold run in the race; a later call: one warm call), in warm "
        f"calls; *(k calls, T×)*: the race took k calls, T in all. Largest **{_measuring(m):.1f}×** on {m['layer']} "
        f"N={m['batch']} "
        f"(target ≤ {TARGETS['first_call']:.0f}×: {_check(_measuring(m) <= TARGETS['first_call'])}); "
        f"{len(s['first_over'])} of {len(result['rows'])} rows over {TARGETS['first_call']:.0f}×"
        + (" (" + ", ".join(_first_label(r) for r in s["first_over"]) + ")" if s["first_over"] else "")
        + ". †: the winner's cold run is not subtracted (a training step, whose parts first run in different "
        "measuring calls, or a lone candidate not timed): every measuring call less one warm call. The whole first call (*auto 1st*) holds the winner's one-time "
        f"setup too (oneDNN building kernels for a new shape, an FFT's plans for a new size): largest "
        f"**{f['first_call_x']:.1f}×** one warm call on {f['layer']} N={f['batch']} ({f['first_call_ms']:.0f} ms; "
        f"{f['first_call_x_torch']:.1f}× one torch call there, whose own first call was "
        f"{f.get('torch_first_x', float('nan')):.1f}× a warm one); counted in torch's warm calls, the largest is "
        f"{s['first_torch']['first_call_x_torch']:.1f}× ({s['first_torch']['layer']} N={s['first_torch']['batch']}). "
        "It is paid once per machine: the winner is cached on disk. Where auto's winner is many times faster than "
        "torch, the first call's torch runs alone are many of auto's calls. A training row whose layer also has an "
        "inference row finds that row's forward measurement in the cache (as a network evaluated before it is "
        "trained would): its measuring calls race the gradient parts only.",
        "",
    ]
    if result.get("teaching"):
        rows = result["teaching"]
        lines += [
            f"### The teaching formulations (batch {rows[0]['batch']})",
            "",
            "Each is written to be read next to its seed section, not to be fast (auto never runs them); the ratio is "
            "time ÷ torch's time (`—`: refused, e.g. `matrix` over 2²⁷ stored entries).",
            "",
            "| layer | torch ms | " + " | ".join(f"{m} ms (× torch)" for m in TEACHING) + " |",
            "|---|---:|" + "---:|" * len(TEACHING),
        ]
        for r in rows:
            cells = [f"{r[m]:.0f} ({r[m] / r['torch']:.1f}×)" if isinstance(r.get(m), float) else "—" for m in TEACHING]
            lines.append(f"| {r['layer']} | {r['torch']:.1f} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


GPU_BEGIN, GPU_END = "<!-- gpu:begin -->", "<!-- gpu:end -->"


def write_doc(result: dict, path: Path) -> None:
    gpu_block = f"{GPU_BEGIN}\n## GPU\n\nNo GPU numbers yet (run `bench/gpu.py` on a GPU machine).\n{GPU_END}\n"
    if path.exists():
        old = path.read_text()
        if GPU_BEGIN in old and GPU_END in old:
            gpu_block = old[old.index(GPU_BEGIN) : old.index(GPU_END) + len(GPU_END)] + "\n"
    write_text(path, render(result) + "\n" + gpu_block)
