"""Fast GPU transposed convolution: polyphase implicit-GEMM Triton kernels, and when to use them.

``tconv.conv_transpose(..., method="triton")`` runs :mod:`tconv.gpu.kernels` (differentiable through
:mod:`tconv.gpu.autograd`); ``method="auto"`` on a CUDA tensor asks :func:`choose_cuda_method`, which reads the
measured table in :mod:`tconv.gpu.dispatch_table` and falls back to cuDNN wherever the kernel has not been measured
faster. Importing this package never imports Triton: that happens on the first kernel call, so tconv works (and its
tests run) on machines without Triton or without a GPU. With ``TRITON_INTERPRET=1`` set before the first call, the
kernels run on CPU tensors under Triton's interpreter (slowly: for tests).

>>> import tconv.gpu as g
>>> isinstance(g.available(), bool)
True
>>> from tconv.geometry import make_plan
>>> import torch
>>> g.choose_cuda_method(make_plan((1, 1, 2, 2, 2, 2), (1, 1, 2, 2, 2, 2)), torch.zeros(1))   # 4-D: not for torch
'polyphase'
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..errors import ConfigError
from ..geometry import Plan, make_plan
from .dispatch_table import dtype_key, prefers_triton

if TYPE_CHECKING:
    from ..tour import Section

__all__ = ["available", "unavailable_reason", "triton_method", "choose_cuda_method", "tour_section", "BENCH_MD"]


def _bench_md() -> Path:
    """docs/benchmarks.md: shipped inside the wheel as ``tconv/gpu/benchmarks.md`` (pyproject's force-include);
    in a source checkout (editable install) the repository's own file."""
    packaged = Path(__file__).with_name("benchmarks.md")
    return packaged if packaged.is_file() else Path(__file__).resolve().parents[3] / "docs" / "benchmarks.md"


#: Where the measured table is read from (``bench/gpu.py`` writes it between ``<!-- gpu:begin -->`` and
#: ``<!-- gpu:end -->`` of docs/benchmarks.md).
BENCH_MD = _bench_md()

_KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def unavailable_reason() -> str | None:
    """Why the Triton kernels cannot run here, or None when they can (CUDA, or the CPU interpreter).

    >>> unavailable_reason() is None or isinstance(unavailable_reason(), str)
    True
    """
    if not _triton_installed():
        return "Triton is not installed (pip install 'tconv[gpu]')"
    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        return None
    if not torch.cuda.is_available():
        return "no CUDA device (set TRITON_INTERPRET=1 to run the kernels on the CPU under Triton's interpreter)"
    return None


def available() -> bool:
    """Whether :func:`triton_method` can run here (Triton installed, and a CUDA device or the interpreter)."""
    return unavailable_reason() is None


def triton_method(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """The ``method="triton"`` formulation: the polyphase Triton kernels, differentiable.

    The result has ``plan.output_shape`` and channels-last strides (the kernels' layout); its values are those of
    ``F.conv_transpose*d`` up to the dtype's rounding. Forward only through the kernels; the backward runs torch's
    convolutions (:mod:`tconv.gpu.autograd`).

    >>> import torch, tconv                                                                  # doctest: +SKIP
    >>> x, w = torch.randn(8, 64, 16, 16, device="cuda"), torch.randn(64, 32, 4, 4, device="cuda")  # doctest: +SKIP
    >>> tconv.conv_transpose(x, w, stride=2, padding=1, method="triton").shape                # doctest: +SKIP
    torch.Size([8, 32, 32, 32])
    """
    reason = unavailable_reason()
    if reason is not None:
        raise ConfigError("method", "triton", f"cannot run here: {reason}")
    from . import kernels  # noqa: PLC0415  (imports Triton)

    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, w, b)):
        from .autograd import conv_transpose_autograd  # noqa: PLC0415

        return conv_transpose_autograd(plan, x, w, b, forward=kernels.conv_transpose)
    return kernels.conv_transpose(plan, x, w, b)


def choose_cuda_method(plan: Plan, x: torch.Tensor) -> str:
    """The method "auto" uses for a CUDA tensor: ``"triton"`` where measured faster than cuDNN, else ``"torch"``.

    Plans beyond 3-D go to ``"polyphase"`` (torch has no 4-D transposed convolution). Until the table in
    :mod:`tconv.gpu.dispatch_table` holds GPU measurements, this is always ``"torch"`` for 1-3-D.
    """
    if plan.nd > 3:
        return "polyphase"
    if x.dtype not in _KERNEL_DTYPES or not x.is_cuda or not available():
        return "torch"
    name = torch.cuda.get_device_name(x.device)
    return "triton" if prefers_triton(name, dtype_key(x.dtype), plan) else "torch"


# ----------------------------------------------------------------------------------------------------------------
# the tour
# ----------------------------------------------------------------------------------------------------------------
def gpu_block(path: Path = BENCH_MD) -> str | None:
    """The markdown between the ``gpu`` markers of ``docs/benchmarks.md``, or None when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    begin, end = "<!-- gpu:begin -->", "<!-- gpu:end -->"
    if begin not in text or end not in text:
        return None
    block = text.split(begin, 1)[1].split(end, 1)[0].strip()
    return block or None


def _markdown_to_html(md: str) -> str:
    """The benchmark block as HTML: pipe tables, headings and paragraphs (:func:`tconv.tour.markdown_html`)."""
    from ..tour import markdown_html  # noqa: PLC0415

    return markdown_html(md)


def tour_section(out_dir: Path, quick: bool = True) -> Section:
    """The tour's GPU section: the phases a kernel program sees, and the measured table if there is one."""
    from ..tour import Section, table_html  # noqa: PLC0415

    plan = make_plan((16, 512, 4, 4), (512, 256, 4, 4), stride=2, padding=1)  # DCGAN's first layer
    rows = [[ph.residue, ph.count, str(ph.taps), str(ph.offsets)] for ph in plan.phases(0)]
    intro = (
        '<p>The Triton kernels (<code>method="triton"</code>) compute each output <em>phase</em> — the outputs '
        "with one residue modulo the stride — as a stride-1 convolution with a sub-kernel, written as an implicit "
        "GEMM with fp32 accumulation: no multiplication by an inserted zero, every output written once. For "
        "DCGAN's k4 s2 p1 layer each dimension splits into two phases of two taps:</p>"
        + table_html(["residue", "outputs", "taps", "input offsets"], rows)
    )
    block = gpu_block()
    if block is None or "|" not in block:
        body = (
            "<p><strong>No GPU numbers yet.</strong> The kernels have been checked against "
            "<code>F.conv_transpose*d</code> under Triton's CPU interpreter only; "
            "<code>PYTHONPATH=src python bench/gpu.py</code> on a GPU machine measures them against cuDNN and "
            'fills this section. Until then <code>method="auto"</code> uses cuDNN on CUDA tensors.</p>'
        )
    else:
        body = _markdown_to_html(block)
    return Section("gpu", "GPU: polyphase Triton kernels", intro + body)
