"""The measured table that decides, per shape class, whether "auto" on a CUDA tensor runs Triton or cuDNN.

Every entry comes from ``bench/gpu.py`` on a real GPU: it times the Triton kernel and torch's
``F.conv_transpose*d`` (cuDNN, ``torch.backends.cudnn.benchmark=True``) in the same run and rewrites the block
between the ``measured`` markers below. A key is ``(gpu, dtype, shape class)`` and its value the measured speedup
(cuDNN time / Triton time); "auto" takes Triton only where the speedup is at least :data:`MIN_SPEEDUP`.

**Until GPU numbers exist the table is empty, and "auto" always takes cuDNN** — the conservative choice: the kernels
have been checked only under Triton's CPU interpreter so far (see ``docs/benchmarks.md``).

>>> from tconv.geometry import make_plan
>>> shape_class(make_plan((16, 512, 4, 4), (512, 256, 4, 4), stride=2, padding=1))
'2d k4x4 s2x2 d1x1 g1 cin512 cout256 rows2^8'
>>> prefers_triton("NVIDIA H100 80GB HBM3", "bfloat16", make_plan((16, 512, 4, 4), (512, 256, 4, 4), stride=2))
False
"""

from __future__ import annotations

import math

import torch

from ..geometry import Plan

__all__ = ["TABLE", "MIN_SPEEDUP", "shape_class", "gpu_family", "dtype_key", "tf32_allowed", "prefers_triton"]

#: Take Triton only where it was measured at least this much faster than cuDNN (noise margin).
MIN_SPEEDUP = 1.05

# --- measured:begin (written by bench/gpu.py; edit by re-running it) ---
TABLE: dict[tuple[str, str, str], float] = {}
# --- measured:end ---


def _pow2_bucket(v: int) -> int:
    """``v`` rounded up to a power of two (channel counts and row counts are bucketed so near shapes share)."""
    return 1 << max(0, math.ceil(math.log2(max(v, 1))))


def shape_class(plan: Plan) -> str:
    """The class a plan falls in: dimension, kernel, stride, dilation, groups, channel buckets and GEMM-row bucket.

    Rows are ``batch * prod(in_size)`` (the GEMM's M per phase, up to the stride factor), bucketed to a power of two.
    """
    x = "x".join
    rows = (plan.batch or 1) * math.prod(plan.in_size)
    return (
        f"{plan.nd}d k{x(map(str, plan.kernel_size))} s{x(map(str, plan.stride))} d{x(map(str, plan.dilation))} "
        f"g{plan.groups} cin{_pow2_bucket(plan.in_channels)} cout{_pow2_bucket(plan.out_channels)} "
        f"rows2^{int(math.log2(_pow2_bucket(rows)))}"
    )


def gpu_family(device_name: str) -> str:
    """A short, stable name for a GPU model: ``"NVIDIA H100 80GB HBM3"`` -> ``"H100"``.

    >>> gpu_family("NVIDIA H100 80GB HBM3"), gpu_family("NVIDIA A100-SXM4-80GB"), gpu_family("Tesla T4")
    ('H100', 'A100', 'T4')
    """
    for token in device_name.replace("-", " ").split():
        if any(c.isdigit() for c in token) and any(c.isalpha() for c in token) and "GB" not in token:
            return token
    return device_name


def tf32_allowed() -> bool:
    """Whether torch lets convolutions use TF32 for fp32 inputs (the switch cuDNN obeys; the kernels obey it too)."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    prec = getattr(conv, "fp32_precision", None)
    if prec is not None:
        return prec == "tf32"
    return bool(torch.backends.cudnn.allow_tf32)


def dtype_key(dtype: torch.dtype) -> str:
    """The table's name for a dtype: ``"bfloat16"``, ``"float16"``, ``"tf32"`` (fp32 with TF32 on) or ``"float32"``.

    >>> dtype_key(torch.bfloat16)
    'bfloat16'
    """
    if dtype == torch.float32 and tf32_allowed():
        return "tf32"
    return str(dtype).removeprefix("torch.")


def prefers_triton(device_name: str, dtype: str, plan: Plan) -> bool:
    """Whether the table says the Triton kernel beats cuDNN for this GPU, dtype (``"bfloat16"``...) and plan."""
    speedup = TABLE.get((gpu_family(device_name), dtype, shape_class(plan)))
    return speedup is not None and speedup >= MIN_SPEEDUP
