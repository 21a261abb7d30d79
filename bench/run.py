"""CPU benchmark: ``method="auto"`` against torch's ``F.conv_transpose*d`` on real layer shapes, inference and training.

Run on an idle machine with ``make bench`` (``.venv/bin/python bench/run.py``). It writes ``bench/results/cpu.json``
and regenerates ``docs/benchmarks.md`` from it (keeping the GPU block between its markers): every number and every
sentence with a number in that file comes from the JSON. ``--render`` rewrites the document from the JSON alone.
``--quick`` is a short check that the script works (small batches, short timings, one row per family); its JSON goes
to ``bench/results/cpu-quick.json`` and its document to ``bench/results/benchmarks-quick.md``, never over the real
results.

Per row (a layer at a batch size, inference or a training step = forward + backward for input, weight and bias):

* **first calls**: auto's cache is empty (a private temporary ``TCONV_CACHE_DIR``), so its first calls measure the
  candidate routes, spread over the layer's first calls: without gradients one round of the race each (every
  route's first run; the second runs; a duel where one is needed), each returning its round's last output; a
  training step one stage each (a round of the forward race; the input-gradient ways; the weight-gradient ways;
  whole steps where needed), each computed by torch meanwhile. The first call's time ÷ one warm call is *auto 1st*. A measuring call's
  *overhead of measuring* is its time less what a call without measuring pays (the first call: the winner's own
  first, cold run in the race; a later one: one warm call), ÷ one warm call; the row's is the largest over its
  measuring calls, shown with their number and their total;
* **warm**: torch and auto alternate call by call until ``--seconds`` have passed (at least ``--min-runs`` each), so
  load changes hit both alike; the median of each, and the median and interquartile range of the per-pair ratios
  torch ÷ auto (the row's ratio and its spread) are reported, with a 95% bootstrap interval of that median. A row
  whose interval still reaches below 1 gets more pairs, until the interval is within ±1% of its median or
  ``--more-seconds`` of pairs in all (the rows that decide "never loses" are measured to that precision); one whose
  interval holds the worst-row target, until it does not or ``--decide-seconds`` in all;
* **peak memory**: the most memory held at once during one warm call beyond the inputs, for torch and for auto
  (resident memory where Linux can reset the high-water mark, see :func:`peak_bytes`);
* the **route** auto chose (and into how many batch slices, where its memory budget asked for that).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import tconv  # noqa: E402
from tconv.files import write_json  # noqa: E402
from tconv.ops import autotune  # noqa: E402
from tconv.progress import steps  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: its document module, also when loaded by path
from cpu_doc import TARGETS, TEACHING, render, write_doc  # noqa: E402

TORCH_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@dataclass(frozen=True)
class Layer:
    name: str
    family: str
    c_in: int
    c_out: int
    size: tuple[int, ...]
    k: int
    s: int
    p: int = 0
    op: int = 0
    d: int = 1
    groups: int = 1
    batch: int | None = None  # a fixed batch (e.g. the batch-1 family); None: the run's --batches
    train: bool = False

    def kwargs(self) -> dict:
        return dict(stride=self.s, padding=self.p, output_padding=self.op, groups=self.groups, dilation=self.d)


SUITE = (
    Layer("DCGAN 512→256 4²→8²", "decoder", 512, 256, (4, 4), 4, 2, 1),
    Layer("DCGAN 256→128 8²→16²", "decoder", 256, 128, (8, 8), 4, 2, 1),
    Layer("DCGAN 128→64 16²→32²", "decoder", 128, 64, (16, 16), 4, 2, 1),
    Layer("DCGAN 64→3 32²→64²", "output layer", 64, 3, (32, 32), 4, 2, 1),
    Layer("U-Net 128→64 64²→128²", "U-Net k2 s2", 128, 64, (64, 64), 2, 2),
    Layer("U-Net 512→256 32²→64²", "U-Net k2 s2", 512, 256, (32, 32), 2, 2),
    Layer("SD-like 320→320 64²→128²", "decoder", 320, 320, (64, 64), 3, 2, 1, 1),
    Layer("HiFi-GAN 1-D 512→256 L8192", "1-D codec", 512, 256, (8192,), 16, 8, 4),
    Layer("3-D U-Net 64→32 32³", "3-D", 64, 32, (32, 32, 32), 2, 2),
    Layer("AlexNet conv1ᵀ 64→3 55²→224²", "output layer", 64, 3, (55, 55), 11, 4, 2, 1),
)

#: The families issue 15 found missing: each row is run at batch 16 unless it fixes its own.
WIDER = (
    Layer("depthwise 64 k4 s2 32²→64²", "depthwise", 64, 64, (32, 32), 4, 2, 1, groups=64),
    Layer("grouped g8 128→128 k4 s2 16²→32²", "grouped", 128, 128, (16, 16), 4, 2, 1, groups=8),
    Layer("dilated 64→64 k3 s2 d2 32²→67²", "dilated", 64, 64, (32, 32), 3, 2, d=2),
    Layer("codec 1-D 64→32 k4 s2 L4096", "1-D codec", 64, 32, (4096,), 4, 2, 1),
    Layer("codec 1-D 256→128 k8 s4 L2048", "1-D codec", 256, 128, (2048,), 8, 4, 2),
    Layer("VAE out 128→3 k3 s2 64²→128²", "output layer", 128, 3, (64, 64), 3, 2, 1, 1),
    Layer("FSRCNN out 56→1 k9 s3 64²→192²", "output layer", 56, 1, (64, 64), 9, 3, 4, 2),
    Layer("patch un-embed 64→3 k8 s8 32²→256²", "output layer", 64, 3, (32, 32), 8, 8),
    Layer("3-D 32→16 k4 s2 16³→32³", "3-D", 32, 16, (16, 16, 16), 4, 2, 1),
    Layer("DCGAN 512→256 4²→8² N1", "batch 1", 512, 256, (4, 4), 4, 2, 1, batch=1),
    Layer("U-Net 128→64 64²→128² N1", "batch 1", 128, 64, (64, 64), 2, 2, batch=1),
    Layer("400² image, 64×64 kernel", "big kernel", 1, 1, (400, 400), 64, 1, batch=1),
    # training steps: forward + backward (input, weight and bias gradients), one or more per family above
    Layer("VAE out 128→3 k3 s2 64² (train)", "output layer", 128, 3, (64, 64), 3, 2, 1, 1, batch=4, train=True),
    Layer("AlexNet conv1ᵀ 64→3 55² (train)", "output layer", 64, 3, (55, 55), 11, 4, 2, 1, train=True),
    Layer("FSRCNN out 56→1 k9 s3 64² (train)", "output layer", 56, 1, (64, 64), 9, 3, 4, 2, train=True),
    Layer("patch un-embed 64→3 k8 s8 32² (train)", "output layer", 64, 3, (32, 32), 8, 8, train=True),
    Layer("DCGAN 64→3 k4 s2 32² (train)", "output layer", 64, 3, (32, 32), 4, 2, 1, train=True),
    Layer("DCGAN 128→64 k4 s2 16² (train)", "decoder", 128, 64, (16, 16), 4, 2, 1, train=True),
    Layer("SD-like 320→320 k3 s2 32² (train)", "decoder", 320, 320, (32, 32), 3, 2, 1, 1, batch=4, train=True),
    Layer("U-Net 128→64 k2 s2 64² (train)", "U-Net k2 s2", 128, 64, (64, 64), 2, 2, train=True),
    Layer("U-Net 512→256 k2 s2 32² (train)", "U-Net k2 s2", 512, 256, (32, 32), 2, 2, batch=8, train=True),
    Layer("U-Net 128→64 k2 s2 64² N1 (train)", "batch 1", 128, 64, (64, 64), 2, 2, batch=1, train=True),
    Layer("depthwise 64 k4 s2 32² (train)", "depthwise", 64, 64, (32, 32), 4, 2, 1, groups=64, train=True),
    Layer("grouped g8 128→128 k4 s2 16² (train)", "grouped", 128, 128, (16, 16), 4, 2, 1, groups=8, train=True),
    Layer("dilated 64→64 k3 s2 d2 32² (train)", "dilated", 64, 64, (32, 32), 3, 2, d=2, train=True),
    Layer("codec 1-D 64→32 k4 s2 L4096 (train)", "1-D codec", 64, 32, (4096,), 4, 2, 1, train=True),
    Layer("3-D 32→16 k4 s2 16³ (train)", "3-D", 32, 16, (16, 16, 16), 4, 2, 1, train=True),
    Layer("400² image, 64×64 kernel (train)", "big kernel", 1, 1, (400, 400), 64, 1, batch=1, train=True),
)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise OSError(field)


def resident_peaks() -> bool:
    """Measure peaks as resident memory (everything: oneDNN's own buffers too) where Linux lets us reset the peak.

    glibc's malloc is told to map every block over 128 KiB separately (a fixed ``M_MMAP_THRESHOLD``), so that memory
    freed by one call goes back to the system and the next call's peak is its own.
    """
    try:
        import ctypes  # noqa: PLC0415

        if ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024) != 1:  # M_MMAP_THRESHOLD
            return False
        Path("/proc/self/clear_refs").write_text("5")
        _status("VmHWM:")
    except (OSError, AttributeError):
        return False
    return True


RESIDENT = False


def peak_bytes(fn) -> int:
    """The most memory held at once during ``fn()`` beyond what was held before it: resident memory (the process's
    high-water mark, reset before the call) where :func:`resident_peaks` works, else torch's allocator as
    ``torch.profiler`` sees it (which misses oneDNN's own buffers)."""
    if RESIDENT:
        Path("/proc/self/clear_refs").write_text("5")
        base = _status("VmRSS:")
        fn()
        return max(0, _status("VmHWM:") - base)
    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage)
    held = peak = 0
    for _, delta in events:
        held += delta
        peak = max(peak, held)
    return peak


def gemm_rate() -> float:
    """The machine's float32 matrix-product rate in GFLOP/s (``torch.mm`` 2048², best of 5): the ceiling any direct
    (non-FFT) route works under."""
    return autotune.measure_gemm_rate(2048, 5) / 1e9


def busy_cpu_seconds() -> tuple[float, float]:
    """(CPU seconds all processes spent busy since boot, per /proc/stat; this process's own, children included)."""
    import resource  # noqa: PLC0415

    own = sum(
        getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for f in ("ru_utime", "ru_stime")
    )  # fmt: skip
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK"), own
    except (OSError, ValueError):
        return float("nan"), own


def others_cores(start: tuple[float, float], t_start: float) -> float:
    """How many cores other processes kept busy on average since ``start``: all busy CPU time less this process's
    own (and its children's), over the wall time. 0 on an idle machine; the load average cannot tell, because it
    counts this benchmark's own threads."""
    end = busy_cpu_seconds()
    return max(0.0, (end[0] - start[0]) - (end[1] - start[1])) / max(time.time() - t_start, 1e-9)


def time_call(fn, seconds: float) -> tuple[float, int]:
    """Median wall time (s) of ``fn()`` after one warm-up call, and the number of timed runs (bench/zfnet.py)."""
    t0 = time.perf_counter()
    fn()
    if time.perf_counter() - t0 > seconds / 2:  # a slow call: one more, timed, is enough
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0, 1
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < 3 or (time.perf_counter() < deadline and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def time_pair(
    f_torch,
    f_auto,
    seconds: float,
    min_runs: int,
    more_seconds: float = 0.0,
    precision: float = 0.01,
    target: float | None = None,
    decide_seconds: float = 0.0,
) -> dict:
    """torch and auto alternately, call by call (torch first in even pairs, auto first in odd ones): medians of the
    times, and the median, quartiles and 95% interval of the per-pair ratio torch ÷ auto.

    Pairs run for ``seconds`` (at least ``min_runs``, at most 200). Where the interval then still reaches below 1 (a
    loss not ruled out), pairs go on until it is within ``precision`` of the median either way, or until
    ``more_seconds`` of pairs in all: the rows that decide "never loses" get the pairs they need, the others keep the
    short budget. Where the interval holds ``target`` (the row's verdict against it undecided), pairs go on until it
    does not, or until ``decide_seconds`` in all. At most 5000 pairs; a pair longer than the time left is not
    started."""
    t_torch: list[float] = []
    t_auto: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds
    pairs = ((f_torch, t_torch), (f_auto, t_auto))

    def one_pair() -> None:
        # which one goes first alternates pair by pair: whatever the first call of a pair pays (caches the other
        # just filled, a frequency step) is paid by both alike
        for fn, out in pairs if len(t_torch) % 2 == 0 else pairs[::-1]:
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)

    while len(t_torch) < min_runs or (time.perf_counter() < deadline and len(t_torch) < 200):
        one_pair()
        if len(t_torch) >= 1 and t_torch[0] > seconds and len(t_torch) >= 2:
            break  # a call longer than the whole budget: two pairs are all there is time for
    base = len(t_torch)

    def ratios() -> list[float]:
        return sorted(a / b for a, b in zip(t_torch, t_auto, strict=True))

    checked, limit = -1, start
    while len(t_torch) < 5000:
        # the interval is read every tenth more pairs, at least every ten (a bootstrap is not free)
        if checked < 0 or len(t_torch) - checked >= max(10, len(t_torch) // 10):
            checked = len(t_torch)
            r = ratios()
            lo, hi = median_interval(r)
            mid = statistics.median(r)
            undecided = target is not None and lo < target <= hi
            imprecise = lo < 1.0 and (hi - lo) / 2 > precision * mid
            if not (undecided or imprecise):
                break
            limit = start + max(seconds, more_seconds, decide_seconds if undecided else 0.0)
        pair_s = t_torch[-1] + t_auto[-1]
        if time.perf_counter() + pair_s > limit:
            break
        one_pair()
    r = ratios()
    q = statistics.quantiles(r, n=4, method="inclusive") if len(r) >= 2 else [r[0]] * 3
    lo, hi = median_interval(r)
    return {
        "torch_ms": 1e3 * statistics.median(t_torch),
        "auto_ms": 1e3 * statistics.median(t_auto),
        # the estimate: the median of the per-pair ratios (each pair ran back to back, so a drift of the machine's
        # speed over the row cancels in each ratio; the ratio of the two medians does not pair them, and fell
        # outside the pairs' quartiles on rows whose times drifted)
        "ratio": statistics.median(r),
        "ratio_of_medians": statistics.median(t_torch) / statistics.median(t_auto),
        "ratio_q1": q[0],
        "ratio_q3": q[2],
        "ratio_lo": lo,
        "ratio_hi": hi,
        "pairs": len(r),
        "pairs_base": base,  # pairs within --seconds; the rest were added for the interval
    }


def median_interval(values: list[float], level: float = 0.95, resamples: int = 2000) -> tuple[float, float]:
    """A bootstrap interval of the median of ``values`` (percentile method, seeded: the same data, the same
    interval).

    >>> median_interval([1.0, 1.0, 1.0])
    (1.0, 1.0)
    """
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(0)
    medians = np.median(v[rng.integers(0, len(v), (resamples, len(v)))], axis=1)
    a = (1 - level) / 2
    return float(np.quantile(medians, a)), float(np.quantile(medians, 1 - a))


def _tensors(layer: Layer, n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    nd = len(layer.size)
    x = torch.randn(n, layer.c_in, *layer.size, generator=g)
    w = torch.randn(layer.c_in, layer.c_out // layer.groups, *([layer.k] * nd), generator=g) * 0.05
    b = torch.randn(layer.c_out, generator=g)
    if layer.train:
        for t in (x, w, b):
            t.requires_grad_(True)
    return x, w, b


def _calls(layer: Layer, x, w, b, gy):
    kw = layer.kwargs()
    nd = len(layer.size)

    def torch_call():
        y = TORCH_FN[nd](x, w, b, **kw)
        return torch.autograd.grad(y, (x, w, b), gy) if layer.train else y

    def auto_call():
        y = tconv.conv_transpose(x, w, b, **kw)
        return torch.autograd.grad(y, (x, w, b), gy) if layer.train else y

    return torch_call, auto_call


def _rel_err(got, ref) -> float:
    got, ref = (got,) if isinstance(got, torch.Tensor) else got, (ref,) if isinstance(ref, torch.Tensor) else ref
    return max(
        float((a.detach() - r.detach()).abs().max() / r.detach().abs().max()) for a, r in zip(got, ref, strict=True)
    )


def measure_row(
    layer: Layer, n: int, seconds: float, min_runs: int, more_seconds: float = 0.0, decide_seconds: float = 0.0
) -> dict:
    """One row's times (no peaks: :func:`measure_peaks` runs in a child process, see :func:`run`)."""
    x, w, b = _tensors(layer, n)
    plan = tconv.make_plan(x.shape, w.shape, **layer.kwargs())
    gy = torch.randn(plan.output_shape, generator=torch.Generator().manual_seed(1))
    torch_call, auto_call = _calls(layer, x, w, b, gy)
    with torch.set_grad_enabled(layer.train):
        # torch's own first call on this shape (its one-time setup, which every torch user pays) comes first; then
        # auto's first call: empty cache, so it measures the routes, then runs the winner
        t0 = time.perf_counter()
        ref = torch_call()
        torch_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = auto_call()
        first = time.perf_counter() - t0
        err = _rel_err(got, ref)  # output, or the input, weight and bias gradients of a training step
        del got
        later = []  # auto spreads a layer's measuring over its first calls: the measuring calls after the first
        while autotune.measuring(plan, x, w, b) and len(later) < 8:
            t0 = time.perf_counter()
            got = auto_call()
            later.append(time.perf_counter() - t0)
            err = max(err, _rel_err(got, ref))
            del got
        del ref
        choice = autotune.choose(plan, x, w, b)
        pair = time_pair(
            torch_call,
            auto_call,
            seconds,
            min_runs,
            more_seconds,
            target=TARGETS["worst"],
            decide_seconds=decide_seconds,
        )
    # a training step's parts first run in different measuring calls (its cold_ms adds them up): each of its calls is
    # counted less one warm call, which overstates the first call's overhead by the winner's one-time setup
    cold_ms = None if layer.train else choice.cold_ms
    cold = cold_ms if cold_ms is not None else pair["auto_ms"]
    over = [1e3 * first - cold] + [1e3 * t - pair["auto_ms"] for t in later]
    route = choice.route.name
    if choice.gx is not None:
        route += f" + ∂x {choice.gx} + ∂w {choice.gw}"
    return {
        "layer": layer.name,
        "family": layer.family,
        "batch": n,
        "mode": "training" if layer.train else "inference",
        "gflop": plan.flops / 1e9 * (3 if layer.train else 1),  # a training step: forward, ∂x and ∂w alike
        "route": route,
        "chunks": choice.chunks,
        "measured": choice.measured,
        "route_ms": choice.ms,
        "rel_err": err,
        "first_call_ms": 1e3 * first,
        "first_call_x": 1e3 * first / pair["auto_ms"],
        "first_call_x_torch": 1e3 * first / pair["torch_ms"],
        # the winner's own first (cold) run in the race, which a call without measuring pays too (None for a training
        # step, or where the race did not time the winner: one warm call stands for it then)
        "cold_ms": cold_ms,
        # what measuring added to each of the layer's measuring calls: less the winner's cold run (the first call)
        # or one warm call (the later ones), in warm calls; the largest, and the total over those calls
        "measuring_calls_ms": [1e3 * first] + [1e3 * t for t in later],
        "measuring_x": max(over) / pair["auto_ms"],
        "measuring_total_x": sum(over) / pair["auto_ms"],
        "torch_first_ms": 1e3 * torch_first,
        "torch_first_x": 1e3 * torch_first / pair["torch_ms"],
        **pair,
    }


def measure_peaks(rows: list[tuple[str, int]], cache: str) -> list[tuple[int, int]]:
    """Peak memory (torch, auto) of one warm call per row, in THIS process with :func:`resident_peaks` on: glibc then
    maps every large block separately, which makes calls slower (page faults on every call), so :func:`run` times
    rows in a process with the default allocator and asks a child process for the peaks. ``cache`` is the parent's
    autotune cache: auto runs the routes the parent measured."""
    global RESIDENT
    RESIDENT = resident_peaks()
    layers = {la.name: la for la in (*SUITE, *WIDER)}
    out = []
    with autotune.settings(enabled=True, cache_dir=cache):
        for name, n in rows:
            layer = layers[name]
            x, w, b = _tensors(layer, n)
            plan = tconv.make_plan(x.shape, w.shape, **layer.kwargs())
            gy = torch.randn(plan.output_shape, generator=torch.Generator().manual_seed(1))
            torch_call, auto_call = _calls(layer, x, w, b, gy)
            with torch.set_grad_enabled(layer.train):
                torch_call(), auto_call()  # warm: one-time setup is not a call's peak
                out.append((peak_bytes(torch_call), peak_bytes(auto_call)))
    return out


def measure_teaching(layer: Layer, n: int, seconds: float) -> dict:
    """The teaching formulations, each against torch (they are registered, never chosen by auto)."""
    x, w, b = _tensors(layer, n)
    kw = layer.kwargs()
    row = {"layer": layer.name, "batch": n}
    with torch.no_grad():
        for m in ("torch", *TEACHING):
            try:
                t, _ = time_call(lambda m=m: tconv.conv_transpose(x, w, b, **kw, method=m), seconds)
                row[m] = 1e3 * t
            except (tconv.ConfigError, MemoryError, RuntimeError) as exc:
                row[m] = str(exc)[:100]
    return row


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    layers = [(layer, n) for n in args.batches for layer in SUITE]
    layers += [(layer, layer.batch or args.wider_batch) for layer in WIDER]
    if args.quick:  # one row per family, small
        seen: set[str] = set()
        quick = []
        for layer, n in layers:
            small = math.prod(layer.size) * layer.c_in <= 1 << 20 and layer.family != "big kernel"
            if (layer.family, layer.train) not in seen and small:
                seen.add((layer.family, layer.train))
                quick.append((layer, min(n, 2)))
        layers = quick
    if args.only:
        layers = [
            (la, n) for la, n in layers if any(o.lower() in (la.family + " " + la.name).lower() for o in args.only)
        ]
    rows, teaching = [], []
    gemm_gflops = gemm_rate()
    load_before = os.getloadavg()[0]
    t_start = time.time()
    cpu_start = busy_cpu_seconds()
    teach = args.teaching_batch and not args.quick
    total = len(layers) + (len(SUITE) if teach else 0)
    # a rich bar on a terminal, one plain line per row in a log (tconv.progress)
    with tempfile.TemporaryDirectory(prefix="tconv-bench-cache-") as cache, steps("bench", total) as step:
        # a private, empty cache: the first call of every row pays (and shows) the measurement. auto's reading of
        # the machine's GEMM rate (once per machine, ~0.1 s, kept in its cache) is taken before the rows: it is not
        # any one layer's cost
        with autotune.settings(enabled=True, cache_dir=cache):
            auto_gemm = autotune.gemm_rate() / 1e9
            for layer, n in layers:
                step(f"{layer.name} N={n}")
                rows.append(measure_row(layer, n, args.seconds, args.min_runs, args.more_seconds, args.decide_seconds))
            if teach:
                for layer in SUITE:
                    step(f"teaching: {layer.name}")
                    teaching.append(measure_teaching(layer, args.teaching_batch, args.seconds))
        # peak memory in a child process (see measure_peaks), with the routes measured above
        spec = Path(cache) / "peaks.json"
        spec.write_text(json.dumps([[r["layer"], r["batch"]] for r in rows]))
        done = subprocess.run(
            [sys.executable, __file__, "--peaks", str(spec), "--cache", cache],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks = json.loads(done.stdout.strip().splitlines()[-1])
        method = peaks["method"]
        for r, (p_torch, p_auto) in zip(rows, peaks["peaks"], strict=True):
            r["peak_torch"], r["peak_auto"] = p_torch, p_auto
    return {
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime(t_start)) + " UTC",
        "minutes": (time.time() - t_start) / 60,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "others_cores": others_cores(cpu_start, t_start),
        # the machine's matrix-product rate: the best of the readings before and after the rows (one reading can
        # come in low on a shared machine)
        "gemm_gflops": max(gemm_gflops, auto_gemm, gemm_rate()),
        "cores": os.cpu_count(),
        "quick": bool(args.quick),
        "peak_method": method,
        "seconds": args.seconds,
        "more_seconds": args.more_seconds,
        "decide_seconds": args.decide_seconds,
        "command": " ".join(["python", "bench/run.py", *sys.argv[1:]]),
        "rows": rows,
        "teaching": teaching,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[16, 64], help="batches for the suite's layers")
    ap.add_argument("--wider-batch", type=int, default=16, help="batch for the wider families' rows")
    ap.add_argument("--seconds", type=float, default=3.0, help="timing budget per row (torch and auto alternating)")
    ap.add_argument("--min-runs", type=int, default=5, help="at least this many (torch, auto) pairs per row")
    ap.add_argument(
        "--more-seconds",
        type=float,
        default=20.0,
        help="a row whose ratio's 95%% interval reaches below 1 gets pairs until it is within 1%% of its median, or "
        "this many seconds of pairs in all",
    )
    ap.add_argument(
        "--decide-seconds",
        type=float,
        default=90.0,
        help="a row whose interval holds the worst-row target (undecided against it) gets pairs until it does not, or "
        "this many seconds of pairs in all",
    )
    ap.add_argument("--teaching-batch", type=int, default=4, help="batch for the teaching methods' table (0: skip)")
    ap.add_argument("--only", nargs="+", help="rows whose family or name contains one of these words")
    ap.add_argument("--quick", action="store_true", help="a short check: one small row per family, short timings")
    ap.add_argument("--render", action="store_true", help="only rewrite the document from the JSON")
    ap.add_argument("--out", type=Path, help="results JSON (default bench/results/cpu.json)")
    ap.add_argument("--doc", type=Path, help="document (default docs/benchmarks.md)")
    ap.add_argument("--peaks", type=Path, help=argparse.SUPPRESS)  # the child process of run()
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peaks:
        peaks = measure_peaks([tuple(r) for r in json.loads(args.peaks.read_text())], args.cache)
        print(json.dumps({"method": "resident" if RESIDENT else "allocator", "peaks": peaks}))
        return
    if args.quick:
        args.seconds, args.min_runs, args.more_seconds, args.decide_seconds = min(args.seconds, 0.3), 3, 0.0, 0.0
    quick_out = ROOT / "bench" / "results" / "cpu-quick.json"
    out = args.out or (quick_out if args.quick else ROOT / "bench" / "results" / "cpu.json")
    doc = args.doc or (
        ROOT / "bench" / "results" / "benchmarks-quick.md" if args.quick else ROOT / "docs" / "benchmarks.md"
    )
    if args.render:
        result = json.loads(out.read_text())
    else:
        result = run(args)
        result["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
        write_json(out, result)
    write_doc(result, doc)
    print(render(result))


if __name__ == "__main__":
    main()
