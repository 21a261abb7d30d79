"""What every method needs around it, done once: autograd's edges, memory, and the parts of the output that lie
outside the full output.

:func:`tconv.conv_transpose` hands each formulation a batched, validated problem and calls :func:`run`, which

- makes **inference tensors** (made under ``torch.inference_mode()``) usable outside it when gradients are asked
  for: torch refuses to save them for backward, so they are copied once (``F.conv_transpose2d`` itself raises
  there);
- **checks the memory** (:mod:`tconv.memory`) for the output and the method's largest temporary before allocating
  either, and refuses with the bytes it would need;
- computes **negative padding** (zeros outside the full output, JAX's and ONNX's meaning) as the method's result on
  the part inside (``plan.inner``), padded with zeros; an output that is wholly outside, or empty, is zeros;
- computes a **padding_mode** other than "zeros" as the method's *full* output (no crop) folded back into the
  output by ``plan.fold_index`` (wrap-around, mirror, clamp): the exact adjoint of ``nn.Conv(padding_mode=...)``;
- keeps the result **graph-connected**: where no input reaches the output (all of it cropped), a formulation that
  only writes zeros would return a tensor without ``grad_fn`` and ``backward()`` would raise; torch gives zero
  gradients. :func:`connect` adds an exact 0 that carries the graph, built from *empty* slices of the inputs so that
  a NaN or inf in them cannot leak into the output (``0 * inf`` would be NaN).

>>> import torch, tconv
>>> x, w = torch.ones(1, 1, 2, requires_grad=True), torch.ones(1, 1, 1, requires_grad=True)
>>> y = tconv.conv_transpose(x, w, stride=3, padding=1, method="scatter")   # both outputs lie between the inputs
>>> y.tolist(), y.requires_grad
([[[0.0, 0.0]]], True)
>>> y.sum().backward(); x.grad.tolist(), w.grad.tolist()
([[[0.0, 0.0]]], [[[0.0]]])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..geometry import Plan
from ..memory import check_fits

__all__ = ["run", "connect", "needs_grad"]

Formulation = Callable[[Plan, torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def needs_grad(*tensors: torch.Tensor | None) -> bool:
    """True when autograd is recording and one of ``tensors`` requires a gradient."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def connect(y: torch.Tensor, *inputs: torch.Tensor | None) -> torch.Tensor:
    """``y`` joined to the autograd graph of ``inputs`` by adding an exact zero (no-op when it already is).

    The zero is the sum of an empty slice of each input, so its gradient is zeros and NaN/inf stay out of it.

    >>> x = torch.tensor([float("inf")], requires_grad=True)
    >>> connect(torch.zeros(2), x)
    tensor([0., 0.], grad_fn=<AddBackward0>)
    """
    if y.requires_grad or not needs_grad(*inputs):
        return y
    zero = sum(t.reshape(-1)[:0].sum() for t in inputs if t is not None and t.requires_grad)
    return y + zero.to(y.dtype)


def _usable(t: torch.Tensor | None, grad: bool) -> torch.Tensor | None:
    """An inference tensor copied into a normal one when gradients are recorded outside inference mode."""
    if t is None or not grad or not t.is_inference() or torch.is_inference_mode_enabled():
        return t
    return t.clone()


def _temporary(name: str, plan: Plan, itemsize: int) -> tuple[int, str]:
    """The largest temporary (bytes, what) a method allocates besides its output: its registered memory estimate
    (:mod:`tconv.ops.registry`, the one place estimates live) less the output."""
    from .registry import ROUTES  # noqa: PLC0415

    route = ROUTES.get(name)
    if route is None or route.device != "cpu" or not route.temporary or not route.applies(plan):
        return 0, ""
    out = (plan.batch or 1) * plan.out_channels * math.prod(plan.out_size) * itemsize
    return max(0, route.memory(plan) * itemsize - out), route.temporary


@functools.lru_cache(maxsize=1024)
def _needs(name: str, plan: Plan, itemsize: int) -> tuple[int, int, str]:
    """(output bytes, the method's largest temporary in bytes, what that temporary is): a function of the plan."""
    out = (plan.batch or 1) * plan.out_channels * math.prod(plan.out_size) * itemsize
    if plan.padding_mode != "zeros":
        out += (plan.batch or 1) * plan.out_channels * math.prod(plan.full_size) * itemsize
    extra, what = _temporary(name, plan if plan.padding_mode == "zeros" else plan.full_plan, itemsize)
    return out, extra, what


def _check_memory(name: str, plan: Plan, x: torch.Tensor) -> None:
    if torch.compiler.is_compiling():  # dynamo traces with fake tensors: nothing is allocated, /proc is not read
        return
    out, extra, what = _needs(name, plan, x.element_size())
    check_fits("input", plan.input_shape, out, f"output {plan.output_shape}", x.device)
    if extra:
        check_fits("method", name, out + extra, f"output and its {what}; method='auto' needs less", x.device)


def _bias(y: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    return y if b is None else y + b.view(1, -1, *([1] * (y.ndim - 2)))


def _pad(y: torch.Tensor, around: tuple[tuple[int, int], ...]) -> torch.Tensor:
    flat = [v for pair in reversed(around) for v in pair]
    return F.pad(y, flat) if any(flat) else y


def _compute(fn: Formulation, plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    if plan.padding_mode != "zeros":
        y = _compute(fn, plan.full_plan, x, w, None)
        for dim in range(plan.nd):  # fold what the crop would drop back in, one dimension at a time
            idx = torch.from_numpy(plan.fold_index(dim)).to(y.device)
            shape = (*y.shape[: dim + 2], plan.out_size[dim], *y.shape[dim + 3 :])
            y = y.new_zeros(shape).index_add(dim + 2, idx, y)
        return _bias(y, b)
    if x.shape[0] == 0 or 0 in plan.out_size:  # nothing to compute (JAX's empty outputs, batch 0)
        return _bias(x.new_zeros((x.shape[0], plan.out_channels, *plan.out_size)), b)
    if any(p < 0 for pair in plan.padding for p in pair):
        core, around = plan.inner
        if core is None:  # the whole output lies outside the full output
            return _bias(x.new_zeros((x.shape[0], plan.out_channels, *plan.out_size)), b)
        return _bias(_pad(fn(core, x, w, None), around), b)
    return fn(plan, x, w, b)


def small(name: str, plan: Plan, x: torch.Tensor) -> bool:
    """Whether this call's output and temporaries take under an eighth of the memory available now: then a repeat
    of the same call may skip :func:`_check_memory` (Python work between large kernels runs on cold caches and costs
    several times its isolated time)."""
    from ..memory import available_bytes  # noqa: PLC0415

    out, extra, _ = _needs(name, plan, x.element_size())
    avail = available_bytes(x.device)
    return avail is not None and 8 * (out + extra) < avail


def run(
    fn: Formulation,
    plan: Plan,
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None,
    name: str = "",
    check: bool = True,
) -> torch.Tensor:
    """``fn(plan, x, w, b)`` with the edges above taken care of (``x`` batched, the plan validated). ``check=False``
    skips the memory check (a repeat of a call that :func:`small` found small)."""
    if check:
        _check_memory(name, plan, x)
    grad = needs_grad(x, w, b)
    x, w, b = _usable(x, grad), _usable(w, grad), _usable(b, grad)
    y = _compute(fn, plan, x, w, b)
    return connect(y, x, w, b)
