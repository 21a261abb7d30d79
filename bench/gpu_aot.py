"""Compile-only report: build the Triton kernels for a GPU this machine does not have.

Triton ships ``ptxas``, so the kernels can be compiled for an NVIDIA target (default sm_90, the H100) with no GPU and
no driver. This catches what the CPU interpreter cannot: code that does not compile for the GPU, tiles that do not
fit in shared memory, and a K loop that the pipeliner did not software-pipeline (no ``cp.async``/TMA in the PTX) or
that does not use the tensor cores (``wgmma`` on sm_90, ``mma`` before). The integer arguments are specialized the
way Triton's JIT specializes them at a real launch (a value of 1 becomes a constant, multiples of 16 are marked
divisible), for the benchmark suite's layers with channels-last tensors.

    PYTHONPATH=src python bench/gpu_aot.py                  # every suite layer, bf16, every autotuning candidate
    PYTHONPATH=src python bench/gpu_aot.py --quick          # one layer per kernel, one tile (a few seconds)
    PYTHONPATH=src python bench/gpu_aot.py --dtype fp32 --arch 80

It prints one line per compiled (layer, tile) and exits non-zero if any compile failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
_PTR = {"bf16": "*bf16", "fp16": "*fp16", "fp32": "*fp32"}
_SMEM_MAX = {90: 227 * 1024, 89: 99 * 1024, 86: 99 * 1024, 80: 163 * 1024}


def compile_kernel(fn, scalars: dict, ptr: str, consts: dict, num_warps: int, num_stages: int, arch: int):
    """``triton.compile`` one kernel with the JIT's specialization of ``scalars`` (no GPU needed)."""
    import triton  # noqa: PLC0415
    from triton.backends.compiler import GPUTarget  # noqa: PLC0415
    from triton.compiler import ASTSource  # noqa: PLC0415

    sig: dict[str, str] = {}
    constexprs = dict(consts)
    attrs: dict[tuple[int, ...], list] = {}
    for i, name in enumerate(fn.arg_names):
        if name in consts:
            sig[name] = "constexpr"
        elif name.endswith("_ptr"):
            sig[name] = "*i32" if name == "tab_ptr" else ptr
            attrs[(i,)] = [["tt.divisibility", 16]]  # torch allocations are 16-byte aligned (256 in fact)
        else:
            v = scalars[name]
            if v == 1:
                sig[name] = "constexpr"
                constexprs[name] = 1
            else:
                sig[name] = "i32" if -(2**31) <= v < 2**31 else "i64"
                if v % 16 == 0:
                    attrs[(i,)] = [["tt.divisibility", 16]]
    src = ASTSource(fn=fn, signature=sig, constexprs=constexprs, attrs=attrs)
    return triton.compile(
        src, target=GPUTarget("cuda", arch, 32), options={"num_warps": num_warps, "num_stages": num_stages}
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", type=int, default=90, help="compute capability x10: 90 (H100/H200), 80 (A100)...")
    ap.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--quick", action="store_true", help="one layer per kernel, one tile")
    args = ap.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        print("unset TRITON_INTERPRET: the interpreter does not compile", file=sys.stderr)
        return 2

    import torch  # noqa: PLC0415

    sys.path.insert(0, str(ROOT / "bench"))
    from gpu import SUITE  # noqa: PLC0415
    from tconv.gpu import kernels as K  # noqa: PLC0415

    dtype = getattr(torch, DTYPES[args.dtype])
    cases = SUITE
    if args.quick:
        cases = tuple(c for c in SUITE if c.name in ("dcgan-2", "unet-1"))
    failed = 0
    seen_kinds: set[str] = set()
    for case in cases:
        plan = case.plan(args.batch)
        kind = K.kernel_kind(plan)
        if args.quick and kind in seen_kinds:
            continue
        seen_kinds.add(kind)
        sc = K.launch_scalars(
            plan,
            kind,
            args.batch,
            K.channels_last_strides(plan.input_shape),
            K.channels_last_strides(plan.output_shape),
        )
        fn = K._shuffle_kernel if kind == "shuffle" else K._phase_kernel
        configs = K._prune(K._configs(), {**sc, "x_ptr": torch.empty(0, dtype=dtype)})
        if args.quick:
            configs = configs[:1]
        for cfg in configs:
            consts = {**K.constexprs(dtype, True, on_cuda=True), **cfg.kwargs}
            tile = "x".join(str(cfg.kwargs[k]) for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K"))
            label = f"{case.name:8s} {kind:7s} {tile:11s} w{cfg.num_warps} s{cfg.num_stages}"
            t0 = time.perf_counter()
            try:
                k = compile_kernel(fn, sc, _PTR[args.dtype], consts, cfg.num_warps, cfg.num_stages, args.arch)
            except Exception as exc:  # noqa: BLE001  (report every failure, keep going)
                failed += 1
                print(f"{label}  FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}", flush=True)
                continue
            ptx = k.asm.get("ptx", "")
            mma = "wgmma" if "wgmma" in ptx else ("mma" if "mma.sync" in ptx else "no-tensor-core")
            pipelined = "cp.async" in ptx or "cp.async.bulk" in ptx
            smem = k.metadata.shared
            fits = smem <= _SMEM_MAX.get(args.arch, 99 * 1024)
            print(
                f"{label}  {time.perf_counter() - t0:4.1f}s  smem {smem / 1024:6.1f} KiB{'' if fits else ' (too big)'}"
                f"  {mma}  {'pipelined' if pipelined else 'NOT pipelined'}",
                flush=True,
            )
    print(f"sm_{args.arch} {args.dtype}: {'all compiled' if not failed else f'{failed} failed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
