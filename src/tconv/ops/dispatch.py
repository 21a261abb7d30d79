"""The public operator :func:`conv_transpose` and the "auto" method.

The boundary does everything once: type checks, the plan (all validation, before any allocation), NumPy <-> torch
conversion (zero-copy ``torch.from_numpy``), unbatched inputs, then hands batched torch tensors to one formulation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from ..errors import ConfigError, ConfigTypeError
from ..geometry import PaddingSpec, Plan, make_plan
from . import ALL_METHODS, boundary, get_method
from .native import TORCH_FN

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)

_FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_DTYPE_RULE = (
    "must be float16, bfloat16, float32 or float64: integer tensors have no convolution on CPU in torch, and complex "
    "ones are not supported by every method (convolve the real and imaginary parts separately)"
)


def auto(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """The fastest correct route for this call, measured once per layer and machine (:mod:`tconv.ops.autotune`).

    On CUDA tensors the measured GPU table decides (:func:`tconv.gpu.choose_cuda_method`); on the CPU, the fastest of
    the registered routes (:mod:`tconv.ops.registry`) within the memory budget.
    """
    if x.is_cuda:
        try:
            from ..gpu import choose_cuda_method  # noqa: PLC0415
        except ImportError:  # no GPU module here: the registered routes below run on CUDA tensors too
            choose_cuda_method = None
        if choose_cuda_method is not None:  # an ImportError inside the computation is not swallowed
            return get_method(choose_cuda_method(plan, x))(plan, x, w, b)
    global _autotune, _autocache
    if _autotune is None:
        from . import autotune  # noqa: PLC0415  (imported on first use: it reads the registry)

        _autotune, _autocache = autotune, autotune.autocache
    return _autotune.call(plan, x, w, b)


_autotune: Any = None
_autocache: Any = None  # autotune's settings module: conv_transpose's direct path reads its settings object


def _plain_plan(plan: Plan) -> bool:
    """No edge for the boundary to handle: zeros padding mode, no negative padding, a non-empty output."""
    return (
        plan.padding_mode == "zeros"
        and plan.nd <= 3
        and all(p >= 0 for pair in plan.padding for p in pair)
        and (plan.batch or 0) > 0
        and 0 not in plan.out_size
    )


def _state() -> tuple:
    """What an auto choice depends on besides the call itself: threads, oneDNN (read as torch.backends.mkldnn.enabled
    reads it), the autotune settings."""
    return _threads(), _mkldnn(), None if _autotune is None else _autotune.current()


_threads, _mkldnn, _grad_on = torch.get_num_threads, torch._C._get_mkldnn_enabled, torch.is_grad_enabled


# Where auto chose torch itself for a call seen before (contiguous tensors; with or without gradients, each chosen
# apart), the call goes straight to torch's function (native.TORCH_FN): Python work between large kernels runs on
# caches the kernel evicted, where each attribute read or call costs microseconds. On a 1-1.5 ms call (DCGAN
# 512->256 4x4, batch 1), right after a kernel, this path cost 89.5 µs over torch's own call (median of 300) before
# its key and state checks were pared down, 54 µs after: torch ÷ auto 0.95-0.96 -> 0.97 over 200 pairs. Building the
# key inline (no call to a key function) and reading the settings object as an attribute took ~4 µs more off: with
# torch's kernel swapped for a no-op and a real kernel run before each timed call, 30.7 -> 26.8 µs over a plain
# Python call (means of three medians of 500 calls).

# (method, shapes, dtypes, parameters, padding_mode) of calls already validated -> (batched plan, unbatched?, whether
# it needs under an eighth of the memory that was available: then its memory check is not repeated, and for auto
# the direct call to torch, see native.TORCH_FN)
_SEEN: dict[tuple, tuple[Plan, bool, bool, list | None]] = {}


def _plain(v: Any) -> bool:
    """An int, None, or a tuple of ints, exactly (a bool, a float or a list never takes the fast path)."""
    return v is None or type(v) is int or (type(v) is tuple and all(type(e) is int for e in v))


_Tensor = torch.Tensor


def _as_tensor(name: str, value: Any) -> tuple[torch.Tensor, bool]:
    if isinstance(value, torch.Tensor):
        return value, False
    if isinstance(value, np.ndarray):
        if value.dtype not in (np.float32, np.float64):
            raise ConfigTypeError(name, f"ndarray(dtype={value.dtype})", "must be float32 or float64")
        return torch.from_numpy(np.ascontiguousarray(value)), True
    raise ConfigTypeError(name, type(value).__name__, "must be a torch.Tensor or a numpy.ndarray")


def conv_transpose(
    input: ArrayT,
    weight: ArrayT,
    bias: ArrayT | None = None,
    stride: int | Sequence[int] = 1,
    padding: PaddingSpec = 0,
    output_padding: int | Sequence[int] = 0,
    groups: int = 1,
    dilation: int | Sequence[int] = 1,
    *,
    output_size: Sequence[int] | None = None,
    method: str = "auto",
    padding_mode: str = "zeros",
) -> ArrayT:
    """N-d transposed convolution with PyTorch's layout and semantics, computed by the chosen ``method``.

    ``input`` is ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``; ``weight`` is
    ``(C_in, C_out/groups, *kernel)``. Torch tensors in, tensor out (differentiable); NumPy arrays in, ndarray of the
    input's dtype out. ``padding`` also accepts ``((before, after), ...)`` pairs and ``"same"``/``"valid"``
    (TensorFlow's ``conv2d_transpose``, with ``output_size``); negative pairs add zeros outside the full output (JAX,
    ONNX), and ``"same_lower"`` is ONNX's SAME_LOWER. ``padding_mode`` ("zeros", "circular", "reflect",
    "replicate") makes it the exact adjoint of ``nn.Conv`` with that mode. ``method`` is one of
    :data:`tconv.METHODS` or another registered route (:data:`tconv.ops.ALL_METHODS`). Dtypes: float16, bfloat16,
    float32, float64 (complex and integer tensors are refused).

    >>> import numpy as np, tconv
    >>> x = np.array([[[1.0, 2.0, 3.0]]])            # (N=1, C=1, L=3)
    >>> w = np.array([[[1.0, 1.0]]])                 # (C_in=1, C_out=1, k=2)
    >>> tconv.conv_transpose(x, w, stride=2, method="scatter")
    array([[[1., 1., 2., 2., 3., 3.]]])
    >>> tconv.conv_transpose(x, w, stride=2, output_size=[7]).shape
    (1, 1, 7)
    """
    # The key of a call that can skip validation once seen: torch tensors and plainly typed parameters only (a list
    # could change in place). Built inline, written for the repeated call: its Python work runs on caches the previous
    # kernel evicted, where every attribute read and function call costs microseconds.
    fast = None
    if (
        isinstance(input, _Tensor)
        and isinstance(weight, _Tensor)
        and (bias is None or isinstance(bias, _Tensor))
        and type(method) is str
        and type(padding_mode) is str
        and (
            type(stride) is int
            and type(padding) is int
            and type(output_padding) is int
            and type(groups) is int
            and type(dilation) is int
            and output_size is None
            or all(_plain(v) for v in (stride, padding, output_padding, groups, dilation, output_size))
        )
    ):
        fast = (method, input.shape, input.dtype, weight.shape, weight.dtype,
                None if bias is None else (bias.shape, bias.dtype), stride, padding, output_padding, groups, dilation,
                output_size, padding_mode)  # fmt: skip
    hit = None if fast is None else _SEEN.get(fast)
    if hit is not None:  # this very call was validated before: its plan, straight to the method
        plan, unbatched, small, direct = hit
        xt = input.unsqueeze(0) if unbatched else input
        if direct is not None and xt.is_contiguous() and weight.is_contiguous():
            grad = _grad_on() and (
                xt.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
            )
            slot = 3 if grad else 0  # inference and training choose apart
            d = direct[slot]  # the state in which auto chose torch itself here (_state(), compared part by part)
            if d is not None and d[2] is _autocache._settings and d[0] == _threads() and d[1] == _mkldnn():
                y = direct[1](xt, weight, bias, *direct[2])
            else:
                y = boundary.run(auto, plan, xt, weight, bias, method, check=False)
                c = _autotune.chosen(plan, xt, weight, bias)  # None while the layer is being measured
                if c is not None and c.is_plain_torch:
                    direct[slot] = _state()
            return y.squeeze(0) if unbatched else y
        y = boundary.run(get_method(method), plan, xt, weight, bias, method, check=not small)
        return y.squeeze(0) if unbatched else y
    if not isinstance(method, str) or method not in ALL_METHODS:
        raise ConfigError("method", method, f"must be one of {ALL_METHODS}")
    xt, from_np = _as_tensor("input", input)
    wt, _ = _as_tensor("weight", weight)
    bt = None if bias is None else _as_tensor("bias", bias)[0]
    if xt.dtype not in _FLOAT_DTYPES:
        raise ConfigTypeError("input", f"tensor(dtype={xt.dtype})", _DTYPE_RULE)
    if wt.dtype != xt.dtype:
        raise ConfigTypeError("weight", f"tensor(dtype={wt.dtype})", f"must have the input's dtype {xt.dtype}")
    plan = make_plan(
        tuple(xt.shape), tuple(wt.shape), stride, padding, output_padding, groups, dilation, output_size, padding_mode
    )
    if bt is not None:
        if tuple(bt.shape) != (plan.out_channels,):
            raise ConfigError("bias", tuple(bt.shape), f"must have shape (out_channels,)=({plan.out_channels},)")
        if bt.dtype != xt.dtype:
            raise ConfigTypeError("bias", f"tensor(dtype={bt.dtype})", f"must have the input's dtype {xt.dtype}")
    unbatched = not plan.batched
    if unbatched:
        xt = xt.unsqueeze(0)
        plan = dataclasses.replace(plan, batch=1)
    if fast is not None:
        if len(_SEEN) > 4096:
            _SEEN.clear()
        small = boundary.small(method, plan, xt)
        direct = None
        if method == "auto" and small and _plain_plan(plan) and plan.symmetric_padding is not None:
            # [the state in which auto chose torch itself without gradients (None: not yet), torch's function, its
            # arguments, the same state with gradients]
            p = plan
            args = (p.stride, p.symmetric_padding, p.output_padding, p.groups, p.dilation)
            direct = [None, TORCH_FN[p.nd], args, None]
        _SEEN[fast] = (plan, unbatched, small, direct)
    y = boundary.run(get_method(method), plan, xt, wt, bt, method)
    if input.ndim == plan.nd + 1:  # unbatched in, unbatched out
        y = y.squeeze(0)
    if from_np:
        return y.detach().numpy()
    return y
