"""GPU benchmark: the polyphase Triton kernels against cuDNN, on the CPU suite's layers.

One command on a GPU machine, from the repository root::

    PYTHONPATH=src python bench/gpu.py                  # every layer, batch 16/64/256, bf16/fp16/tf32

What it does, per (layer, batch, dtype):

* builds the input in channels-last layout (the kernels' own) and checks the Triton result against torch's;
* times the Triton kernel and torch's ``F.conv_transpose*d`` (cuDNN with ``torch.backends.cudnn.benchmark=True``)
  in the same run: the median of ``--iters`` CUDA-event timings after ``--warmup`` calls (the first call, which
  autotunes, is timed separately and reported as the tuning time). torch is timed with NCHW *and* channels-last
  inputs and the faster one is the reference, so ``speedup = cuDNN's best / Triton`` never flatters the kernel;
* computes TFLOP/s (the dense definition's ``2 N C_in C_out/G prod(in) prod(k)``) and the % of the roofline
  ``max(FLOPs / peak, bytes / bandwidth) / time`` from the GPU's datasheet peak (dense, no sparsity);
* writes ``bench/results/gpu.json`` after every measurement, then the markdown table into ``docs/benchmarks.md``
  between ``<!-- gpu:begin -->`` and ``<!-- gpu:end -->`` (creating the markers, or the file, if absent; the CPU
  benchmark owns the rest of that file) and the measured speedups into the table of
  ``src/tconv/gpu/dispatch_table.py`` that "auto" reads.

A device command may be limited to 10 minutes: ``--max-minutes`` (default 9) stops starting new measurements after
that and writes what it has; running the same command again resumes (results for the same GPU, torch and Triton
versions are kept and skipped; ``--fresh`` measures everything again). ``--dtype bf16 --batch 16,64`` and
``--cases dcgan-1,sd`` select a part.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from tconv.files import write_json, write_text  # noqa: E402
from tconv.geometry import Plan, make_plan  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "gpu.json"
BENCH_MD = ROOT / "docs" / "benchmarks.md"
TABLE_PY = ROOT / "src" / "tconv" / "gpu" / "dispatch_table.py"
BEGIN, END = "<!-- gpu:begin -->", "<!-- gpu:end -->"


# ----------------------------------------------------------------------------------------------------------------
# the suite (the CPU benchmark's layers)
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One layer of the suite: channels, input size and the transposed convolution's parameters."""

    name: str
    cin: int
    cout: int
    in_size: tuple[int, ...]
    kernel: int
    stride: int
    padding: int = 0
    output_padding: int = 0

    @property
    def nd(self) -> int:
        return len(self.in_size)

    def shapes(self, batch: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(input shape, weight shape) at this batch size."""
        return (batch, self.cin, *self.in_size), (self.cin, self.cout, *(self.kernel,) * self.nd)

    def plan_kwargs(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, output_padding=self.output_padding)

    def plan(self, batch: int) -> Plan:
        return make_plan(*self.shapes(batch), **self.plan_kwargs())


SUITE: tuple[Case, ...] = (
    Case("dcgan-1", 512, 256, (4, 4), 4, 2, 1),  # DCGAN generator, 4² -> 8²
    Case("dcgan-2", 256, 128, (8, 8), 4, 2, 1),
    Case("dcgan-3", 128, 64, (16, 16), 4, 2, 1),
    Case("dcgan-4", 64, 3, (32, 32), 4, 2, 1),  # the RGB output layer
    Case("unet-1", 128, 64, (64, 64), 2, 2),  # U-Net decoder, k2 s2
    Case("unet-2", 512, 256, (32, 32), 2, 2),
    Case("sd", 320, 320, (64, 64), 3, 2, 1, 1),  # SD-like upsampler, k3 s2 p1 op1
    Case("hifigan", 512, 256, (8192,), 16, 8, 4),  # HiFi-GAN 1-D, k16 s8 p4
    Case("unet3d", 64, 32, (32, 32, 32), 2, 2),  # 3-D U-Net, k2 s2
)

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": torch.float32}

#: Dense datasheet peaks: (16-bit tensor TFLOP/s, TF32 tensor TFLOP/s, memory TB/s). Matched on the device name.
PEAKS: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("H100 PCIe", (756.0, 378.0, 2.0)),
    ("H100 NVL", (835.0, 418.0, 3.9)),
    ("H100", (989.0, 494.7, 3.35)),  # SXM5, HBM3
    ("GH200", (989.0, 494.7, 4.0)),
    ("H200", (989.0, 494.7, 4.8)),
    ("A100", (312.0, 156.0, 2.0)),
    ("L40S", (362.0, 183.0, 0.864)),
    ("A10", (125.0, 62.5, 0.6)),
)


def peaks_for(device_name: str) -> tuple[float, float, float] | None:
    """(bf16/fp16 TFLOP/s, TF32 TFLOP/s, TB/s) for a device name, or None if unknown."""
    for key, val in PEAKS:
        if all(part in device_name for part in key.split()):
            return val
    return None


# ----------------------------------------------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------------------------------------------
def cuda_median_ms(fn, warmup: int, iters: int) -> float:
    """Median of per-call CUDA-event timings (ms) after ``warmup`` calls; fewer calls for slow ones (>= 5)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    one = time.perf_counter() - t0
    iters = max(5, min(iters, int(2.0 / max(one, 1e-6))))  # about 2 s per measurement at most
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(iters)]
    for start, end in events:
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in events)


_TORCH_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def measure(case: Case, batch: int, dtype_name: str, warmup: int, iters: int, peaks) -> dict:
    from tconv.gpu import kernels  # noqa: PLC0415
    from tconv.gpu.dispatch_table import dtype_key, shape_class  # noqa: PLC0415

    dtype = DTYPES[dtype_name]
    plan = case.plan(batch)
    xs, ws = case.shapes(batch)
    esize = torch.tensor([], dtype=dtype).element_size()
    n_in, n_w, n_out = math.prod(xs), math.prod(ws), math.prod(plan.output_shape)
    need = (2 * n_in + n_w + 3 * n_out) * esize  # x in two layouts, three outputs alive at once
    free, _ = torch.cuda.mem_get_info()
    row = {"case": case.name, "batch": batch, "dtype": dtype_name, "shape_class": shape_class(plan)}
    if need > 0.8 * free:
        row["skipped"] = f"needs about {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free"
        return row
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(xs, device="cuda", dtype=dtype, generator=g)
    w = torch.randn(ws, device="cuda", dtype=dtype, generator=g) / math.sqrt(case.cin * case.kernel**case.nd)
    b = torch.randn(case.cout, device="cuda", dtype=dtype, generator=g)
    x_cl = kernels._channels_last(x)
    fn = _TORCH_FN[case.nd]
    kw = dict(stride=case.stride, padding=case.padding, output_padding=case.output_padding)

    with torch.no_grad():
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        y = kernels.conv_transpose(plan, x_cl, w, b)  # first call: autotunes
        torch.cuda.synchronize()
        row["tune_s"] = round(time.perf_counter() - t0, 2)
        ref = fn(x, w, b, **kw)
        row["max_rel_err"] = float(((y.float() - ref.float()).abs().max() / ref.float().abs().max()).item())
        del y, ref
        row["kernel"] = "shuffle" if kernels.uses_shuffle(plan) else "phase"
        row["triton_ms"] = cuda_median_ms(lambda: kernels.conv_transpose(plan, x_cl, w, b), warmup, iters)
        row["torch_nchw_ms"] = cuda_median_ms(lambda: fn(x, w, b, **kw), warmup, iters)
        row["torch_cl_ms"] = cuda_median_ms(lambda: fn(x_cl, w, b, **kw), warmup, iters)
    tol = {"bf16": 3e-2, "fp16": 5e-3, "tf32": 5e-3}[dtype_name]
    row["correct"] = row["max_rel_err"] <= tol
    row["torch_ms"] = min(row["torch_nchw_ms"], row["torch_cl_ms"])
    row["speedup"] = row["torch_ms"] / row["triton_ms"]
    row["dtype_key"] = dtype_key(dtype)
    row["tflops"] = plan.flops / (row["triton_ms"] * 1e-3) / 1e12
    row["torch_tflops"] = plan.flops / (row["torch_ms"] * 1e-3) / 1e12
    if peaks is not None:
        peak = (peaks[1] if dtype_name == "tf32" else peaks[0]) * 1e12
        bytes_moved = (n_in + n_w + n_out + case.cout) * esize
        t_compute, t_memory = plan.flops / peak, bytes_moved / (peaks[2] * 1e12)
        row["bound"] = "compute" if t_compute >= t_memory else "memory"
        row["pct_roofline"] = 100.0 * max(t_compute, t_memory) / (row["triton_ms"] * 1e-3)
        row["pct_peak_flops"] = 100.0 * plan.flops / peak / (row["triton_ms"] * 1e-3)
    return row


# ----------------------------------------------------------------------------------------------------------------
# writing: JSON, the markdown block, the dispatch table
# ----------------------------------------------------------------------------------------------------------------
def write_md_block(path: Path, block: str) -> None:
    """Put ``block`` between the gpu markers of ``path``, creating the markers (or the file) if absent."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    new = f"{BEGIN}\n{block.strip()}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + new + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    write_text(path, text)


def write_dispatch_table(path: Path, entries: dict[tuple[str, str, str], float]) -> None:
    """Merge ``entries`` into the ``TABLE`` between the ``measured`` markers of ``dispatch_table.py``."""
    text = path.read_text(encoding="utf-8")
    pat = re.compile(r"(# --- measured:begin[^\n]*\n)(.*?)(# --- measured:end ---)", re.S)
    m = pat.search(text)
    if m is None:
        raise SystemExit(f"{path}: the '# --- measured:begin' / '# --- measured:end ---' markers are missing")
    ns: dict = {}
    exec(m.group(2), {}, ns)  # the block is our own literal: TABLE: dict[...] = {...}
    table = {**ns.get("TABLE", {}), **entries}
    lines = ["TABLE: dict[tuple[str, str, str], float] = {"]
    lines += [f"    {k!r}: {v:.3f}," for k, v in sorted(table.items())]
    lines.append("}")
    body = "\n".join(lines) + "\n" if table else "TABLE: dict[tuple[str, str, str], float] = {}\n"
    write_text(path, text[: m.start(2)] + body + text[m.end(2) :])


def _geomean(vals: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else float("nan")


def render_md(meta: dict, rows: list[dict]) -> str:
    """The markdown block: how it was measured, one row per measurement, and the geometric means."""
    peaks = meta.get("peaks")
    peak_txt = (
        f"datasheet peaks {peaks[0]:g} TFLOP/s 16-bit, {peaks[1]:g} TFLOP/s TF32, {peaks[2]:g} TB/s (dense)"
        if peaks
        else "no datasheet peaks known for this GPU (no roofline column)"
    )
    out = [
        "## GPU: polyphase Triton kernels vs cuDNN",
        "",
        f"Measured on **{meta['gpu']}** on {meta['date']}: torch {meta['torch']}, Triton {meta['triton']}, CUDA "
        f"{meta['cuda']}; `PYTHONPATH=src python bench/gpu.py`. Median of CUDA-event timings after warm-up "
        "(autotuning excluded). cuDNN runs with `torch.backends.cudnn.benchmark=True`, timed in the same run with "
        "NCHW and channels-last inputs, and the faster one counts; the Triton kernel reads channels-last input. "
        f"speedup = cuDNN / Triton; % roofline = max(FLOPs / peak, bytes / bandwidth) / time with {peak_txt}.",
        "",
        "| layer | batch | dtype | kernel | Triton ms | cuDNN ms | speedup | Triton TFLOP/s | cuDNN TFLOP/s "
        "| % roofline | bound | max rel err |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    order = {c.name: i for i, c in enumerate(SUITE)}
    rows = sorted(rows, key=lambda r: (list(DTYPES).index(r["dtype"]), order.get(r["case"], 99), r["batch"]))
    for r in rows:
        if "skipped" in r:
            out.append(f"| {r['case']} | {r['batch']} | {r['dtype']} | skipped: {r['skipped']} |||||||||")
            continue
        err = f"{r['max_rel_err']:.1e}" + ("" if r["correct"] else " **WRONG**")
        pct = f"{r['pct_roofline']:.0f}%" if "pct_roofline" in r else "–"
        out.append(
            f"| {r['case']} | {r['batch']} | {r['dtype']} | {r['kernel']} | {r['triton_ms']:.4g} | "
            f"{r['torch_ms']:.4g} | {r['speedup']:.2f}× | {r['tflops']:.0f} | {r['torch_tflops']:.0f} | {pct} | "
            f"{r.get('bound', '–')} | {err} |"
        )
    out.append("")
    for name in DTYPES:
        sp = [r["speedup"] for r in rows if r["dtype"] == name and "speedup" in r]
        if sp:
            out.append(
                f"- **{name}**: geometric-mean speedup {_geomean(sp):.2f}× over {len(sp)} measurements, "
                f"slowest {min(sp):.2f}×, fastest {max(sp):.2f}×."
            )
    out.append(
        "- `auto` takes Triton only for shape classes measured at least "
        "`MIN_SPEEDUP` faster (the table in `src/tconv/gpu/dispatch_table.py`, written by this run)."
    )
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", default="16,64,256", help="comma-separated batch sizes")
    ap.add_argument("--dtype", default="bf16,fp16,tf32", help="comma-separated: bf16, fp16, tf32")
    ap.add_argument("--cases", default="", help="comma-separated layer names (default: all)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--max-minutes", type=float, default=9.0, help="stop starting new measurements after this")
    ap.add_argument("--fresh", action="store_true", help="measure again what the JSON already holds")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--md", type=Path, default=BENCH_MD)
    ap.add_argument("--table", type=Path, default=TABLE_PY)
    ap.add_argument("--no-table", action="store_true", help="do not rewrite the dispatch table")
    args = ap.parse_args(argv)

    if not torch.cuda.is_available():
        print("bench/gpu.py needs a CUDA device; nothing measured.", file=sys.stderr)
        return 2
    try:
        import triton  # noqa: PLC0415
    except ImportError:
        print("bench/gpu.py needs Triton (pip install 'tconv[gpu]'); nothing measured.", file=sys.stderr)
        return 2
    from tconv.gpu.dispatch_table import MIN_SPEEDUP, gpu_family  # noqa: PLC0415

    torch.backends.cudnn.benchmark = True
    # TF32 on for fp32 convolutions, for cuDNN and the kernels alike (they read the same switch)
    if hasattr(torch.backends.cudnn, "conv") and hasattr(torch.backends.cudnn.conv, "fp32_precision"):
        torch.backends.cudnn.conv.fp32_precision = "tf32"
    else:
        torch.backends.cudnn.allow_tf32 = True

    name = torch.cuda.get_device_name(0)
    meta = {
        "gpu": name,
        "torch": torch.__version__,
        "triton": triton.__version__,
        "cuda": torch.version.cuda,
        "date": _dt.date.today().isoformat(),
        "peaks": peaks_for(name),
    }
    import json  # noqa: PLC0415

    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    same = old.get("gpu") == name and old.get("torch") == meta["torch"] and old.get("triton") == meta["triton"]
    rows: list[dict] = [] if (args.fresh or not same) else list(old.get("results", []))
    done = {(r["case"], r["batch"], r["dtype"]) for r in rows}

    batches = [int(v) for v in args.batch.split(",") if v]
    dtypes = [v for v in args.dtype.split(",") if v]
    wanted = set(args.cases.split(",")) if args.cases else None
    cases = [c for c in SUITE if wanted is None or c.name in wanted]
    t_start = time.perf_counter()
    stopped = False
    for dtype_name in dtypes:
        for case in cases:
            for batch in batches:
                if (case.name, batch, dtype_name) in done:
                    continue
                if time.perf_counter() - t_start > args.max_minutes * 60:
                    stopped = True
                    break
                row = measure(case, batch, dtype_name, args.warmup, args.iters, meta["peaks"])
                rows.append(row)
                torch.cuda.empty_cache()
                write_json(args.out, {**meta, "results": rows})
                if "skipped" in row:
                    print(f"{case.name:8s} b{batch:<4d} {dtype_name}: skipped ({row['skipped']})", flush=True)
                else:
                    print(
                        f"{case.name:8s} b{batch:<4d} {dtype_name}: triton {row['triton_ms']:.3f} ms, "
                        f"cuDNN {row['torch_ms']:.3f} ms, {row['speedup']:.2f}x, {row['tflops']:.0f} TFLOP/s, "
                        f"err {row['max_rel_err']:.1e}{'' if row['correct'] else ' WRONG'}, tune {row['tune_s']} s",
                        flush=True,
                    )

    write_md_block(args.md, render_md(meta, rows))
    if not args.no_table:
        fam = gpu_family(name)
        entries: dict[tuple[str, str, str], float] = {}
        for r in rows:
            if "speedup" not in r:
                continue
            key = (fam, r["dtype_key"], r["shape_class"])
            speed = r["speedup"] if r["correct"] else 0.0  # a wrong result is never dispatched to
            entries[key] = min(entries.get(key, speed), speed)
        write_dispatch_table(args.table, entries)
        print(f"dispatch table: {sum(v >= MIN_SPEEDUP for v in entries.values())}/{len(entries)} classes -> triton")
    print(f"wrote {args.out}, {args.md}" + (", stopped early: run again to resume" if stopped else ""))
    return 3 if stopped else 0


if __name__ == "__main__":
    raise SystemExit(main())
