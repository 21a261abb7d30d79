"""tconv.gpu: the Triton kernels against torch's F.conv_transpose*d.

Without a GPU the kernels run on CPU tensors under Triton's interpreter (``TRITON_INTERPRET=1``, set here before
Triton is first imported); the shapes are tiny because the interpreter runs each program in Python. With a GPU the
same cases run compiled on the device, and the tests marked ``gpu`` add the benchmark suite's layers at small batch.
Where Triton is not installed, the kernel tests are skipped with the reason; the backward formulas, the dispatcher
and the tour section are still tested (with torch's own forward standing in for the kernel).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

HAS_CUDA = torch.cuda.is_available()
if not HAS_CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")  # must precede the first `import triton`

import tconv  # noqa: E402
from tconv import gpu  # noqa: E402
from tconv.geometry import make_plan  # noqa: E402
from tconv.gpu import autograd as ag  # noqa: E402
from tconv.gpu import dispatch_table as dt  # noqa: E402
from tconv.ops.native import native  # noqa: E402

DEVICE = "cuda" if HAS_CUDA else "cpu"


def _kernel_skip_reason() -> str | None:
    reason = gpu.unavailable_reason()
    if reason is not None:
        return reason
    from tconv.gpu import kernels  # noqa: PLC0415

    if not HAS_CUDA and not kernels.INTERPRET:
        return "Triton was imported before TRITON_INTERPRET=1 could be set; no CUDA device"
    return None


SKIP_REASON = _kernel_skip_reason()
needs_kernels = pytest.mark.skipif(SKIP_REASON is not None, reason=f"Triton kernels cannot run: {SKIP_REASON}")
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device")
_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one intra-op thread (thread barriers on a busy 2-core machine cost more than the work)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def reference(plan, x, w, b):
    """torch's transposed convolution in float64 (asymmetric padding through tconv's native crop)."""
    return native(plan, x.double(), w.double(), None if b is None else b.double())


def rel_err(y, ref) -> float:
    return ((y.double() - ref).abs().max() / ref.abs().max().clamp_min(1.0)).item()


def tolerance(dtype: torch.dtype, device: str) -> float:
    if dtype == torch.float64:
        return 1e-12
    if dtype == torch.float32:
        return 5e-3 if (device == "cuda" and dt.tf32_allowed()) else 2e-5
    return 8e-3 if dtype == torch.float16 else 3e-2


def run_case(xs, ws, kw, dtype=torch.float32, bias=True, device=DEVICE, seed=0, **opts):
    from tconv.gpu import kernels  # noqa: PLC0415

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(xs, generator=g).to(device, dtype)
    w = torch.randn(ws, generator=g).to(device, dtype)
    groups = kw.get("groups", 1)
    b = torch.randn(ws[1] * groups, generator=g).to(device, dtype) if bias else None
    plan = make_plan(xs, ws, **kw)
    y = kernels.conv_transpose(plan, x, w, b, **opts)
    ref = reference(plan, x.cpu(), w.cpu(), None if b is None else b.cpu())
    assert tuple(y.shape) == plan.output_shape
    err = rel_err(y.cpu(), ref)
    assert err <= tolerance(dtype, device), f"{plan.describe()} {dtype}: relative error {err:.3g}"
    return plan, err


# (input shape, weight shape, plan keywords): every geometric feature the kernels handle, on tiny shapes.
CASES = {
    "1d s2 p1 op1": ((2, 3, 7), (3, 4, 3), dict(stride=2, padding=1, output_padding=1)),
    "1d hifigan k16 s8 p4": ((1, 4, 9), (4, 3, 16), dict(stride=8, padding=4)),
    "2d dcgan k4 s2 p1 cout3": ((2, 8, 4, 4), (8, 3, 4, 4), dict(stride=2, padding=1)),
    "2d sd k3 s2 p1 op1": ((1, 6, 5, 4), (6, 5, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    "2d asym pad, s2x3": ((2, 3, 4, 3), (3, 2, 3, 4), dict(stride=(2, 3), padding=((1, 2), (0, 1)))),
    "2d groups2 dil2 op1": ((2, 4, 5, 5), (4, 3, 3, 3), dict(stride=2, padding=1, dilation=2, groups=2, output_padding=1)),
    "2d s1 p1 (one phase)": ((2, 4, 5, 6), (4, 3, 3, 3), dict(stride=1, padding=1)),
    "2d k2 s2 (shuffle)": ((2, 6, 4, 5), (6, 4, 2, 2), dict(stride=2)),
    "2d k2 s2 p1 op1 (shuffle, crop + pad)": ((1, 4, 4, 3), (4, 3, 2, 2), dict(stride=2, padding=1, output_padding=1)),
    "2d k2 s3 (bias-only phases)": ((2, 4, 3, 3), (4, 3, 2, 2), dict(stride=3, output_padding=2)),
    "2d k5 s2 p4 (taps in padding)": ((1, 3, 3, 4), (3, 2, 5, 5), dict(stride=2, padding=4)),
    "3d k2 s2 (shuffle)": ((1, 4, 3, 2, 3), (4, 2, 2, 2, 2), dict(stride=2)),
    "3d mixed groups2": ((1, 4, 3, 4, 3), (4, 2, 3, 3, 2), dict(stride=(2, 1, 2), padding=(1, 0, 0), output_padding=(1, 0, 0), groups=2)),
}  # fmt: skip


@needs_kernels
@pytest.mark.parametrize("name", list(CASES))
def test_kernels_match_torch_fp32(name):
    xs, ws, kw = CASES[name]
    run_case(xs, ws, kw)


@needs_kernels
@pytest.mark.parametrize("name", ["2d k2 s2 (shuffle)", "2d k2 s3 (bias-only phases)", "3d k2 s2 (shuffle)"])
def test_phase_kernel_also_does_k_le_s(name):
    xs, ws, kw = CASES[name]
    run_case(xs, ws, kw, force="phase")


@needs_kernels
def test_shuffle_kernel_with_missing_taps():
    """k < s through the one-GEMM kernel: the columns of residues without a tap get only the bias."""
    xs, ws, kw = CASES["2d k2 s3 (bias-only phases)"]
    run_case(xs, ws, kw, force="shuffle")
    with pytest.raises(tconv.ConfigError, match="force"):
        run_case((1, 2, 3), (2, 2, 3), dict(stride=2), force="shuffle")


@needs_kernels
@pytest.mark.parametrize("kernel", ["phase", "shuffle"])
def test_many_tiles_and_k_chunks(kernel):
    """Small tiles force several M, N and K iterations, and partial tiles at every edge."""
    xs, ws, kw = (2, 40, 3, 5), (40, 20, 2, 2), dict(stride=2, padding=((0, 1), (1, 0)))
    run_case(xs, ws, kw, blocks=(16, 16, 16), force=kernel)


@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("name", ["1d s2 p1 op1", "2d dcgan k4 s2 p1 cout3", "3d k2 s2 (shuffle)"])
def test_other_dtypes(name, dtype):
    xs, ws, kw = CASES[name]
    run_case(xs, ws, kw, dtype=dtype)


@needs_kernels
def test_no_bias_and_empty_batch():
    xs, ws, kw = CASES["2d sd k3 s2 p1 op1"]
    run_case(xs, ws, kw, bias=False)
    plan = make_plan((0, 6, 5, 4), ws, **kw)
    from tconv.gpu import kernels  # noqa: PLC0415

    y = kernels.conv_transpose(plan, torch.zeros(0, 6, 5, 4, device=DEVICE), torch.zeros(ws, device=DEVICE), None)
    assert tuple(y.shape) == plan.output_shape


@needs_kernels
def test_public_api_any_input_layout():
    """method="triton" through tconv.conv_transpose: NCHW, channels-last and strided views give torch's values;
    TensorFlow-style "same" padding (asymmetric) too."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 4, 6, generator=g).to(DEVICE)
    w = torch.randn(5, 3, 4, 4, generator=g).to(DEVICE)
    b = torch.randn(3, generator=g).to(DEVICE)
    ref = F.conv_transpose2d(x.double(), w.double(), b.double(), stride=2, padding=1)
    for xin in (x, x.contiguous(memory_format=torch.channels_last), x.transpose(2, 3).contiguous().transpose(2, 3)):
        y = tconv.conv_transpose(xin, w, b, stride=2, padding=1, method="triton")
        assert rel_err(y, ref) <= tolerance(torch.float32, DEVICE)
    y = tconv.conv_transpose(x, w, b, stride=2, padding="same", output_size=(7, 11), method="triton")
    plan = make_plan(x.shape, w.shape, stride=2, padding="same", output_size=(7, 11))
    assert y.shape == (2, 3, 7, 11)
    assert rel_err(y.cpu(), reference(plan, x.cpu(), w.cpu(), b.cpu())) <= tolerance(torch.float32, DEVICE)


@needs_kernels
def test_unbatched_and_4d_refused():
    x, w = torch.randn(3, 5).to(DEVICE), torch.randn(3, 2, 3).to(DEVICE)
    y = tconv.conv_transpose(x, w, stride=2, method="triton")
    assert rel_err(y, F.conv_transpose1d(x.double()[None], w.double(), stride=2)[0]) <= 1e-2
    with pytest.raises(tconv.ConfigError, match="1-D, 2-D and 3-D"):
        tconv.conv_transpose(torch.ones(1, 1, 2, 2, 2, 2), torch.ones(1, 1, 2, 2, 2, 2), method="triton")


# ----------------------------------------------------------------------------------------------------------------
# autograd
# ----------------------------------------------------------------------------------------------------------------
GRAD_CASES = {
    "1d asym op groups dil": ((2, 4, 4), (4, 2, 3), dict(stride=2, padding=((1, 0),), output_padding=1, groups=2, dilation=2)),
    "2d k4 s2 p1": ((1, 2, 3, 3), (2, 3, 4, 4), dict(stride=2, padding=1)),
    "3d k2 s(1,2,2)": ((1, 2, 2, 2, 3), (2, 2, 2, 2, 3), dict(stride=(1, 2, 2), padding=(0, 1, 1))),
}  # fmt: skip


def _grad_inputs(xs, ws, groups, device="cpu"):
    g = torch.Generator().manual_seed(3)
    mk = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64).to(device).requires_grad_()  # noqa: E731
    return mk(*xs), mk(*ws), mk(ws[1] * groups)


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_backward_formulas_gradcheck(name):
    """The convolution backward (no Triton needed: torch's forward stands in for the kernel)."""
    xs, ws, kw = GRAD_CASES[name]
    plan = make_plan(xs, ws, **kw)
    x, w, b = _grad_inputs(xs, ws, kw.get("groups", 1))
    fn = lambda x, w, b: ag.conv_transpose_autograd(plan, x, w, b, forward=native)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w, b))
    assert torch.autograd.gradgradcheck(fn, (x, w, b))


@needs_kernels
@pytest.mark.parametrize("name", ["1d asym op groups dil", "2d k4 s2 p1"])
def test_triton_method_gradcheck(name):
    """The real kernel forward (fp64) with its backward, through the public method."""
    xs, ws, kw = GRAD_CASES[name]
    plan = make_plan(xs, ws, **kw)
    x, w, b = _grad_inputs(xs, ws, kw.get("groups", 1), DEVICE)
    # fast mode: random projections of the Jacobian (a few forward calls, not one per input element)
    assert torch.autograd.gradcheck(lambda x, w, b: gpu.triton_method(plan, x, w, b), (x, w, b), fast_mode=True)


@needs_kernels
def test_triton_grads_match_torch_fp32():
    xs, ws, kw = (2, 6, 4, 5), (6, 4, 3, 3), dict(stride=2, padding=1, output_padding=1)
    g = torch.Generator().manual_seed(5)
    x0, w0, b0 = (torch.randn(s, generator=g).to(DEVICE) for s in (xs, ws, (4,)))
    gy = torch.randn(make_plan(xs, ws, **kw).output_shape, generator=g).to(DEVICE)
    grads = []
    for method in ("triton", "torch"):
        x, w, b = (t.clone().requires_grad_() for t in (x0, w0, b0))
        (tconv.conv_transpose(x, w, b, method=method, **kw) * gy).sum().backward()
        grads.append((x.grad, w.grad, b.grad))
    for a, r in zip(*grads, strict=True):
        assert rel_err(a, r.double()) <= tolerance(torch.float32, DEVICE)


# ----------------------------------------------------------------------------------------------------------------
# dispatch, the table, the tour, the benchmark's file handling
# ----------------------------------------------------------------------------------------------------------------
def test_choose_cuda_method_is_conservative(monkeypatch):
    plan = make_plan((16, 512, 4, 4), (512, 256, 4, 4), stride=2, padding=1)
    assert gpu.choose_cuda_method(plan, torch.zeros(1)) == "torch"  # a CPU tensor never goes to the kernel
    monkeypatch.setattr(dt, "TABLE", {})
    assert not dt.prefers_triton("NVIDIA H100 80GB HBM3", "bfloat16", plan)  # unmeasured: cuDNN
    key = ("H100", "bfloat16", dt.shape_class(plan))
    monkeypatch.setitem(dt.TABLE, key, 1.6)
    assert dt.prefers_triton("NVIDIA H100 80GB HBM3", "bfloat16", plan)
    monkeypatch.setitem(dt.TABLE, key, 1.01)  # within noise: stay with cuDNN
    assert not dt.prefers_triton("NVIDIA H100 80GB HBM3", "bfloat16", plan)


def test_table_markers_present():
    """bench/gpu.py rewrites the block between these markers; they must stay."""
    text = Path(dt.__file__).read_text()
    assert "# --- measured:begin" in text and "# --- measured:end ---" in text


def test_unavailable_reason_and_method_error(monkeypatch):
    monkeypatch.setattr(gpu, "_triton_installed", lambda: False)
    assert "not installed" in gpu.unavailable_reason()
    assert not gpu.available()
    with pytest.raises(tconv.ConfigError, match="cannot run here"):
        tconv.conv_transpose(torch.ones(1, 1, 3), torch.ones(1, 1, 2), method="triton")


def test_tour_section(tmp_path, monkeypatch):
    real_block = gpu.gpu_block
    monkeypatch.setattr(gpu, "gpu_block", lambda path=None: None)
    s = gpu.tour_section(tmp_path)
    assert s.id == "gpu" and "No GPU numbers yet" in s.html and "<table>" in s.html
    md = tmp_path / "b.md"
    md.write_text(
        "# x\n<!-- gpu:begin -->\n## GPU\nOn H100.\n\n| case | speedup |\n|---|---:|\n| dcgan | 1.6 |\n<!-- gpu:end -->\n"
    )
    block = real_block(md)
    assert block.startswith("## GPU")
    assert real_block(tmp_path / "absent.md") is None
    html = gpu._markdown_to_html(block)
    assert "<td>dcgan</td>" in html and "<h3>GPU</h3>" in html and "---" not in html


def _load_bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "gpu.py"
    spec = importlib.util.spec_from_file_location("tconv_bench_gpu", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_bench_block_and_table_writers(tmp_path):
    bench = _load_bench()
    assert {c.name for c in bench.SUITE} >= {"dcgan-1", "unet-1", "sd", "hifigan", "unet3d"}
    md = tmp_path / "benchmarks.md"
    bench.write_md_block(md, "first")
    assert "<!-- gpu:begin -->\nfirst\n<!-- gpu:end -->" in md.read_text()
    md.write_text("# Benchmarks\nCPU table\n<!-- gpu:begin -->\nold\n<!-- gpu:end -->\ntail\n")
    bench.write_md_block(md, "new")
    text = md.read_text()
    assert "old" not in text and "new" in text and text.startswith("# Benchmarks\nCPU table") and "tail" in text
    src = tmp_path / "dispatch_table.py"
    src.write_text(Path(dt.__file__).read_text())
    bench.write_dispatch_table(src, {("H100", "bfloat16", "2d k4x4 s2x2 d1x1 g1 cin512 cout256 rows2^8"): 1.5})
    block = src.read_text().split("# --- measured:begin", 1)[1].split("\n", 1)[1].split("# --- measured:end", 1)[0]
    ns: dict = {}
    exec(block, {}, ns)
    assert ns["TABLE"] == {("H100", "bfloat16", "2d k4x4 s2x2 d1x1 g1 cin512 cout256 rows2^8"): 1.5}


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_bench_main_flow_with_fake_measurements(tmp_path, monkeypatch):
    """bench/gpu.py end to end on made-up timings: JSON, markdown block, dispatch table, resume, time limit."""
    bench = _load_bench()
    monkeypatch.setattr(bench.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(bench.torch.cuda, "get_device_name", lambda i=0: "NVIDIA H100 80GB HBM3")
    calls = []

    def fake_measure(case, batch, dtype_name, warmup, iters, peaks):
        calls.append((case.name, batch, dtype_name))
        plan = case.plan(batch)
        fast = case.name.startswith("dcgan")
        row = {"case": case.name, "batch": batch, "dtype": dtype_name, "shape_class": dt.shape_class(plan)}
        row |= {"tune_s": 1.0, "max_rel_err": 1e-3, "kernel": "phase", "triton_ms": 1.0 if fast else 2.0}
        row |= {"torch_nchw_ms": 1.6, "torch_cl_ms": 1.7, "correct": True, "torch_ms": 1.6, "dtype_key": dtype_name}
        row |= {"tflops": 100.0, "torch_tflops": 60.0, "bound": "compute", "pct_roofline": 40.0}
        row["speedup"] = row["torch_ms"] / row["triton_ms"]
        return row

    monkeypatch.setattr(bench, "measure", fake_measure)
    table = tmp_path / "dispatch_table.py"
    table.write_text(Path(dt.__file__).read_text())
    out, md = tmp_path / "gpu.json", tmp_path / "benchmarks.md"
    argv = ["--out", str(out), "--md", str(md), "--table", str(table), "--batch", "16,64", "--dtype", "bf16"]
    assert bench.main([*argv, "--cases", "dcgan-1,sd"]) == 0
    assert len(calls) == 4
    text = md.read_text()
    assert "NVIDIA H100 80GB HBM3" in text and "| dcgan-1 | 16 | bf16 |" in text and "1.60×" in text
    assert "geometric-mean speedup 1.13×" in text  # sqrt(1.6 * 0.8)
    src = table.read_text()
    assert "'H100', 'bf16', '2d k4x4 s2x2" in src and "1.600" in src and "0.800" in src
    assert bench.main([*argv, "--cases", "dcgan-1,sd"]) == 0 and len(calls) == 4  # resumed: nothing new
    assert bench.main([*argv, "--max-minutes", "0"]) == 3  # out of time before the first new measurement


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_kernels_compile_for_h100_without_gpu():
    """What the interpreter cannot check: both kernels compile for sm_90 (Triton's own ptxas, no GPU needed), use
    the tensor cores (wgmma) and get a software-pipelined K loop."""
    import subprocess  # noqa: PLC0415

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    script = Path(__file__).resolve().parents[2] / "bench" / "gpu_aot.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if " phase " in ln or " shuffle " in ln]
    assert len(lines) == 2 and all("wgmma" in ln and "NOT" not in ln for ln in lines), proc.stdout


# ----------------------------------------------------------------------------------------------------------------
# the full correctness set on a GPU (skipped without CUDA)
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.gpu
@needs_cuda
@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_gpu_suite_layers_autotuned(dtype):
    """Every benchmark-suite layer at batch 2 (3-D and the large ones with fewer channels), autotuned, vs torch."""
    bench = _load_bench()
    for case in bench.SUITE:
        xs, ws = case.shapes(batch=2)
        if case.nd == 3 or xs[1] * ws[1] > 100_000:
            xs, ws = (xs[0], min(xs[1], 32), *xs[2:]), (min(ws[0], 32), min(ws[1], 32), *ws[2:])
        run_case(xs, ws, case.plan_kwargs(), dtype=dtype, device="cuda")


@pytest.mark.gpu
@needs_cuda
@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", list(CASES))
def test_gpu_cases_all_dtypes_and_tiles(name, dtype):
    xs, ws, kw = CASES[name]
    run_case(xs, ws, kw, dtype=dtype, device="cuda")
    run_case(xs, ws, kw, dtype=dtype, device="cuda", blocks=(16, 16, 16))
    run_case(xs, ws, kw, dtype=dtype, device="cuda", blocks=(64, 32, 32), force="phase")


@pytest.mark.gpu
@needs_cuda
@needs_kernels
def test_gpu_large_offsets_int64():
    """An output past 2**31 elements: the kernels index with int64 (HiFi-GAN's layer at batch 130, bf16)."""
    if torch.cuda.get_device_properties(0).total_memory < 40 * 2**30:
        pytest.skip("needs a 40 GiB GPU")
    plan = make_plan((130, 512, 8192), (512, 256, 16), stride=8, padding=4)
    x = torch.randn(plan.input_shape, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(plan.weight_shape, device="cuda", dtype=torch.bfloat16) / 64
    from tconv.gpu import kernels  # noqa: PLC0415

    y = kernels.conv_transpose(plan, x, w, None)
    assert y.numel() > 2**31
    tail = slice(125, 130)
    ref = F.conv_transpose1d(x[tail].float(), w.float(), stride=8, padding=4)
    assert rel_err(y[tail].float(), ref.double()) <= 3e-2
