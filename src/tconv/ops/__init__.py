"""The formulations of transposed convolution, one module each, and the method registry.

Every formulation is a pure function ``(plan, x, w, b) -> y`` on torch tensors: ``x`` is always batched
``(N, C_in, *in_size)``, ``w`` is ``(C_in, C_out/groups, *kernel)``, ``b`` is ``(C_out,)`` or None, and the result has
``plan.output_shape``. Conversion from NumPy, unbatched inputs and validation all happen once, at the boundary
(:func:`tconv.conv_transpose`), so each formulation reads like the seed section it cites.

>>> import tconv
>>> "polyphase" in tconv.METHODS
True
>>> ALL_METHODS[len(METHODS):]                 # the other registered routes, read from the registry
('torch', 'torch_cl', 'gemm', 'subpixel', 'fft', 'triton')
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..geometry import Plan

#: ``F.conv1d/2d/3d`` by the number of spatial dimensions: the formulations that end in a torch convolution.
CONV_BY_NDIM: dict[int, Callable[..., torch.Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

Formulation = Callable[[Plan, torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]

#: The public method names, in teaching order; "auto" picks the fastest correct one.
METHODS: tuple[str, ...] = ("scatter", "zero_insert", "matrix", "autograd", "col2im", "polyphase", "auto")

from .registry import ROUTES as _ROUTES  # noqa: E402  (the registry reads CONV_BY_NDIM and Formulation above)

#: Every name ``method=`` accepts: the public methods, then the other registered routes in registration order (torch
#: itself, the CPU fast paths "auto" measures, the GPU kernels: see :mod:`tconv.ops.registry`).
ALL_METHODS: tuple[str, ...] = (*METHODS, *(name for name in _ROUTES if name not in METHODS))


_auto: Formulation | None = None


def get_method(name: str) -> Formulation:
    """The formulation function registered under ``name`` (one of :data:`ALL_METHODS`).

    >>> get_method("subpixel").__name__
    'subpixel'
    """
    if name == "auto":
        global _auto
        if _auto is None:
            from .dispatch import auto  # noqa: PLC0415

            _auto = auto
        return _auto
    if name not in _ROUTES:
        from ..errors import ConfigError  # noqa: PLC0415

        raise ConfigError("method", name, f"must be one of {ALL_METHODS}")
    return _ROUTES[name].fn
