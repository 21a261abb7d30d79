"""Every way tconv can compute a transposed convolution, registered once: what it applies to, what it costs in
memory, how its gradients flow, and how much the idle-machine measurements favour it.

A :class:`Route` is a formulation ``(plan, x, w, b) -> y`` plus what "auto" needs to choose among routes without
knowing any of them by name:

- ``applies(plan)`` — whether it computes this plan at all (the GEMM route only where windows never overlap, the
  sub-pixel route only without dilation, torch only up to 3-D);
- ``memory(plan)`` — the elements it allocates at its peak in one no-grad call, the output included and the inputs
  excluded (multiply by the element size for bytes). "auto" compares it against torch's own estimate times a factor
  (:mod:`tconv.ops.autotune`);
- ``backward`` — how gradients flow: ``"autograd"`` (torch records the route's own operations), ``"custom"`` (a
  ``torch.autograd.Function`` whose backward is written for speed), or ``"torch"`` (it *is* torch's operator);
- ``tuned`` — whether "auto" measures it on the CPU (the teaching formulations are registered but never timed:
  they exist to be read; the Triton kernels have their own measured table, :mod:`tconv.gpu.dispatch_table`);
- ``nonfinite_exact(plan)`` — whether a NaN or inf in the *input* gives exactly the definition's non-finite outputs
  (False for the sub-pixel route where zero-padded sub-kernel taps meet the input: 0·NaN). "auto" checks the input
  (one sum) only when its choice says False, and then runs the heuristic's best exact route instead;
- ``worth(plan)`` — whether "auto" times it at all on this plan: a cost model that keeps a route that cannot win
  (the FFT route with a small kernel or many channels) from costing a first call;
- ``direct`` — whether it computes the dense sum (every route but the FFT): it cannot beat ``plan.flops`` at the
  machine's matrix-product rate, so "auto" does not time it once a route that is not direct has run faster than that;
- ``prior(plan)`` — the heuristic's score, used where measuring cannot pay (tiny problems) or is switched off: the
  applicable, in-budget route with the highest score wins. The scores encode the idle measurements of
  ``docs/benchmarks.md``; torch scores 1.

>>> [r.name for r in routes(tuned=True)]
['torch', 'torch_cl', 'gemm', 'subpixel', 'fft', 'col2im', 'polyphase']
>>> from tconv.geometry import make_plan
>>> p = make_plan((16, 128, 64, 64), (128, 64, 2, 2), stride=2)
>>> [r.name for r in routes(tuned=True) if r.applies(p)]
['torch', 'torch_cl', 'gemm', 'subpixel', 'fft', 'col2im', 'polyphase']
>>> heuristic(p).name
'gemm'
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..geometry import Plan
from . import CONV_BY_NDIM, Formulation

__all__ = ["Route", "ROUTES", "routes", "get_route", "heuristic", "memory_bytes"]

_FUNCTIONS: dict[str, Formulation] = {}  # target -> function, filled on first use


@dataclass(frozen=True)
class Route:
    """One registered way to compute the operator (see the module docstring for the fields)."""

    name: str
    target: str  # "module:function" under tconv.ops, imported on first use
    summary: str
    applies: Callable[[Plan], bool]
    memory: Callable[[Plan], int]
    backward: str
    tuned: bool
    prior: Callable[[Plan], float]
    device: str = "cpu"  # where it runs: "cpu" (any torch device its operations support) or "cuda"
    temporary: str = "temporaries"  # its largest temporary besides the output, in words ("": it checks its own)
    nonfinite_exact: Callable[[Plan], bool] = lambda p: True  # see the module docstring
    worth: Callable[[Plan], bool] = lambda p: True  # whether "auto" spends time measuring it on this plan
    direct: bool = True  # computes the dense sum: at least plan.flops at the machine's GEMM rate (False: the FFT)

    @property
    def fn(self) -> Formulation:
        """The formulation function (imported lazily, so that importing tconv stays cheap; then remembered)."""
        found = _FUNCTIONS.get(self.target)
        if found is None:
            mod, name = self.target.split(":")
            found = getattr(importlib.import_module(mod if "." in mod else f"{__package__}.{mod}"), name)
            _FUNCTIONS[self.target] = found
        return found

    def __call__(self, plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        return self.fn(plan, x, w, b)


# ---- sizes the estimates are made of (elements) -----------------------------------------------------------------
def _n(p: Plan) -> int:
    return p.batch or 1


def _out(p: Plan) -> int:
    return _n(p) * p.out_channels * math.prod(p.out_size)


def _inp(p: Plan) -> int:
    return _n(p) * p.in_channels * math.prod(p.in_size)


def _w(p: Plan) -> int:
    """The weight: oneDNN reorders it into its own layout on every call (measured: one copy for torch, two on
    channels-last data, three for the sub-pixel route's rearranged weight)."""
    return p.in_channels * (p.out_channels // p.groups) * math.prod(p.kernel_size)


def _columns(p: Plan) -> int:
    """``Wᵀ X``: every (output channel, tap) for every input position."""
    return _n(p) * p.out_channels * math.prod(p.kernel_size) * math.prod(p.in_size)


def _taps_per_phase(p: Plan) -> tuple[int, ...]:
    return tuple(-(-k // s) for k, s in zip(p.kernel_size, p.stride, strict=True))


def _subpixel_blocks(p: Plan) -> int:
    """The stacked convolution's result: ``C_out * prod(s)`` channels over the blocks that meet the output."""
    q = [-(-o // s) + 1 for o, s in zip(p.out_size, p.stride, strict=True)]
    return _n(p) * p.out_channels * math.prod(p.stride) * math.prod(q)


# ---- memory estimates (elements at the peak of one call, output included) ----------------------------------------
def _mem_torch(p: Plan) -> int:
    # measured (resident memory, float32, NCHW): oneDNN reorders the input to its blocked layout and computes the
    # output there before reordering it back; asymmetric padding adds a crop
    return _inp(p) + 2 * _out(p) + _w(p) + (0 if p.symmetric_padding is not None else _out(p))


def _mem_torch_cl(p: Plan) -> int:
    return _inp(p) + 2 * _out(p) + 2 * _w(p)  # x's channels-last copy, the result, its contiguous copy


def _mem_gemm(p: Plan) -> int:
    from .fastcpu import GEMM_CHUNKS  # noqa: PLC0415

    # the output, written in place, and Z for one slice of the batch at a time
    return _out(p) + _columns(p) // min(GEMM_CHUNKS, _n(p)) + _w(p)


def _mem_subpixel(p: Plan) -> int:
    z = _subpixel_blocks(p)
    return max(_inp(p) + z, 2 * z, z + _out(p)) + 3 * _w(p) * math.prod(_taps_per_phase(p)) * math.prod(
        p.stride
    ) // math.prod(p.kernel_size)


def _mem_fft(p: Plan) -> int:
    from .fft import memory_elements  # noqa: PLC0415

    return memory_elements(p)


def _mem_col2im(p: Plan) -> int:
    full = _n(p) * p.out_channels * math.prod(p.full_size)
    return (2 if p.nd == 2 else 1) * _columns(p) + full + _out(p) + _w(p)  # F.fold copies its columns once


def _mem_polyphase(p: Plan) -> int:
    return _out(p) + _inp(p) + 2 * _out(p) // math.prod(p.stride) + _w(p)


def _mem_zero_insert(p: Plan) -> int:
    eq = p.equivalent_conv  # the zero-inserted input, padded by eq.pad (a negative amount crops afterwards)
    up = math.prod(u + max(pb, 0) + max(pa, 0) for u, (pb, pa) in zip(eq.upsampled_size, eq.pad, strict=True))
    return _n(p) * p.in_channels * up + 2 * _out(p)


def _mem_matrix(p: Plan) -> int:
    from .matrix import stored_entries  # noqa: PLC0415

    return 3 * stored_entries(p) + 2 * _out(p) + _inp(p)


def _mem_out_times(k: int) -> Callable[[Plan], int]:
    return lambda p: k * _out(p)


# ---- applicability ----------------------------------------------------------------------------------------------
def _torch_applies(p: Plan) -> bool:
    return p.nd in CONV_BY_NDIM


def _channels_last_applies(p: Plan) -> bool:
    return p.nd in (2, 3)


def _gemm_applies(p: Plan) -> bool:
    from .fastcpu import gemm_applies  # noqa: PLC0415

    return gemm_applies(p)


def _subpixel_applies(p: Plan) -> bool:
    return p.nd in CONV_BY_NDIM and all(d == 1 for d in p.dilation)


def _always(p: Plan) -> bool:
    return True


def _no_padded_taps(p: Plan) -> bool:
    """The sub-pixel weight pads each sub-kernel to ceil(k / s) taps with zeros unless s divides k (verified against
    the definition for NaN/inf inputs in tests/ops/test_ops.py)."""
    return all(k % s == 0 for k, s in zip(p.kernel_size, p.stride, strict=True))


# ---- the heuristic's scores (from the idle measurements in docs/benchmarks.md and issue 15's table) ---------------
def _big(p: Plan) -> bool:
    return _out(p) >= 1 << 20


def _prior_torch(p: Plan) -> float:
    return 1.0


def _prior_torch_cl(p: Plan) -> float:
    # 1.06-1.46x on SD's k3 s2 and DCGAN 128->64 at N=64; stride-1 (ZFNet's mirror, 0.75-0.9x), dilated (0.73x)
    # and grouped layers stay on torch's own layout
    plain = p.groups == 1 and all(d == 1 for d in p.dilation) and all(s > 1 for s in p.stride)
    return 1.1 if plain and _big(p) and p.out_channels // p.groups > 4 else 0.0


def _prior_gemm(p: Plan) -> float:
    return 3.0  # 1.7-2.5x on every non-overlapping layer measured


def _prior_subpixel(p: Plan) -> float:
    # few output channels, enough stacked channels to keep oneDNN busy, and little padding waste: AlexNet's k11 s4
    # 64->3 2.3x, DCGAN's 64->3 k4 s2 1.7-2x; the VAE's 128->3 k3 s2 (each sub-kernel padded 3 -> 4 taps) 0.75x
    waste = math.prod(m * s / k for m, s, k in zip(_taps_per_phase(p), p.stride, p.kernel_size, strict=True))
    few = p.out_channels // p.groups <= 4 and p.groups == 1 and p.out_channels * math.prod(p.stride) >= 8
    return 2.0 if few and waste <= 1.25 and p.nd > 1 else 0.0


def _prior_col2im(p: Plan) -> float:
    # a 1-channel output layer, where the stacked convolution would have fewer than 8 channels
    few = p.out_channels // p.groups <= 4 and p.groups == 1 and p.out_channels * math.prod(p.stride) < 8
    return 1.5 if few and p.nd > 1 else 0.0


def _fft_worth(p: Plan) -> bool:
    from .fft import promising  # noqa: PLC0415

    return promising(p)


def _prior_fft(p: Plan) -> float:
    # the 400² image with a 64x64 kernel: two orders of magnitude faster than torch (docs/benchmarks.md); only
    # where the transforms' work is a small part of the sum's
    from .fft import work  # noqa: PLC0415

    fft_work, direct = work(p)
    return 4.0 if fft_work * 16 < direct else 0.0


def _never_exact(p: Plan) -> bool:
    return False


def _polyphase_worth(p: Plan) -> bool:
    # prod(s) sub-convolutions, each a new oneDNN kernel to build: 1.5-17x slower than torch without dilation, and
    # its first call costs most of all. With dilation it won its races, but call by call against torch it came out
    # 1.72x, 1.19x (pairs' IQR 0.94-1.01), then 0.75x (0.89-1.03) in three idle benchmark runs (64->64 k3 s2 d2,
    # its temporaries make it depend on the allocator's state): timed only beyond 3-D, where torch does not apply
    return p.nd > 3


def _cl_worth(p: Plan) -> bool:
    # depthwise layers (one channel per group) on channels-last data: 2x slower than torch's own layout; output
    # layers (<= 4 output channels: rows of 3-4 floats) 1.1-1.6x slower on all five such layers of the benchmark
    if p.out_channels <= 4:
        return False
    return p.in_channels // p.groups > 1 or p.out_channels // p.groups > 1


def _subpixel_worth(p: Plan) -> bool:
    # grouped layers: the stacked convolution never won (grouped g8 1.3x slower, depthwise a tie at best)
    return p.groups == 1


def _col2im_worth(p: Plan) -> bool:
    # it wins on output layers (few channels: 1.8-4.3x) and loses 1.4-2.2x on wide ones, which cost most to time;
    # on depthwise layers (one input channel per group: GEMMs of inner size 1) it lost 2.6-3.5x in every run
    if p.groups > 1 and p.in_channels == p.groups:
        return False
    return p.out_channels // p.groups <= 8 or (p.batch or 1) == 1


def _prior_polyphase(p: Plan) -> float:
    return 0.5  # only the choice where torch does not apply (4-D and up)


def _never(p: Plan) -> float:
    return 0.0


ROUTES: dict[str, Route] = {
    r.name: r
    for r in (
        Route("torch", "native:native", "PyTorch's F.conv_transpose*d", _torch_applies, _mem_torch, "torch", True,
              _prior_torch, temporary="input and output in oneDNN's blocked layout"),
        Route("torch_cl", "fastcpu:channels_last_native", "torch on channels-last data (oneDNN's fast layout)",
              _channels_last_applies, _mem_torch_cl, "torch", True, _prior_torch_cl,
              temporary="channels-last copies of the input and the output", worth=_cl_worth),
        Route("gemm", "fastcpu:no_overlap_gemm", "non-overlapping windows: one GEMM + depth-to-space",
              _gemm_applies, _mem_gemm, "custom", True, _prior_gemm, temporary="GEMM result for a slice of the batch"),
        Route("subpixel", "fastcpu:subpixel", "all phases as ONE stride-1 convolution + depth-to-space",
              _subpixel_applies, _mem_subpixel, "autograd", True, _prior_subpixel,
              temporary="stacked convolution's result and its depth-to-space copy", nonfinite_exact=_no_padded_taps,
              worth=_subpixel_worth),
        Route("fft", "fft:fft", "the full output as a product of spectra (large kernels, few channels)", _always,
              _mem_fft, "autograd", True, _prior_fft, temporary="spectra of the input, weight and output",
              nonfinite_exact=_never_exact, worth=_fft_worth, direct=False),
        Route("col2im", "col2im:col2im", "one GEMM Wᵀ·X, then fold the columns", _always, _mem_col2im, "autograd",
              True, _prior_col2im, temporary="columns (C_out·prod(k)·prod(in)) and the uncropped output",
              worth=_col2im_worth),
        Route("polyphase", "polyphase:polyphase", "prod(s) stride-1 sub-convolutions", _always, _mem_polyphase,
              "autograd", True, _prior_polyphase, temporary="input windows and one phase's result",
              worth=_polyphase_worth),
        Route("scatter", "scatter:scatter", "the definition: each input adds its scaled kernel", _always,
              _mem_out_times(3), "autograd", False, _never, temporary="second output-sized buffer"),
        Route("zero_insert", "zero_insert:zero_insert", "insert zeros, pad, flip, stride-1 convolution", _always,
              _mem_zero_insert, "autograd", False, _never, temporary="zero-inserted, padded input"),
        Route("matrix", "matrix:matrix", "the convolution as a sparse matrix C, then Cᵀ", _always, _mem_matrix,
              "autograd", False, _never, temporary=""),  # refuses matrices over 2**27 entries itself
        Route("autograd", "autograd:autograd", "the gradient of the forward convolution", _always,
              _mem_out_times(3), "autograd", False, _never, temporary="second output-sized buffer"),
        # the GPU kernels: CUDA tensors only; "auto" on CUDA reads their measured table (tconv.gpu.dispatch_table)
        Route("triton", "tconv.gpu:triton_method", "polyphase implicit-GEMM Triton kernels (CUDA)", _torch_applies,
              _mem_out_times(1), "custom", False, _never, device="cuda"),
    )
}  # fmt: skip


def routes(tuned: bool | None = None) -> list[Route]:
    """The registered routes in registration order; ``tuned=True`` keeps those "auto" measures."""
    return [r for r in ROUTES.values() if tuned is None or r.tuned == tuned]


def get_route(name: str) -> Route:
    """The route registered under ``name`` (KeyError otherwise)."""
    return ROUTES[name]


def memory_bytes(route: Route, plan: Plan, dtype: torch.dtype) -> int:
    """``route``'s estimated peak allocation for one call on ``plan``, in bytes.

    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 400, 400), (1, 1, 64, 64))
    >>> memory_bytes(get_route("col2im"), p, torch.float32) > 2e9 > 1e7 > memory_bytes(get_route("torch"), p, torch.float32)
    True
    """
    return route.memory(plan) * torch.empty((), dtype=dtype).element_size()


def heuristic(plan: Plan, allowed: Callable[[Route], bool] | None = None) -> Route:
    """The applicable route with the highest prior score among those ``allowed`` (e.g. within a memory budget).

    Ties go to the earlier-registered route, so torch wins every tie. Deterministic: a function of the plan.
    """
    best: Route | None = None
    for r in routes(tuned=True):
        if r.applies(plan) and (allowed is None or allowed(r)):
            if best is None or r.prior(plan) > best.prior(plan):
                best = r
    if best is None:
        raise LookupError(f"no registered route computes {plan.describe()}")
    return best
