"""Building plans: :func:`make_plan` validates a configuration (every parameter, before any work is done) and
caches its :class:`~tconv.geometry.Plan`; :func:`plan_from_sizes` and :func:`conv_plan` build one from spatial sizes
alone, for a transposed convolution or for the forward convolution it transposes.

>>> make_plan((1, 3, 4, 4), (3, 8, 4, 4), stride=2, padding=1).out_size
(8, 8)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, ConfigTypeError
from ..padding import (
    PADDING_MODES,
    PADDING_RULES,
    _check_padding_mode,
    _check_plain_padding,
    _normalize_padding,
    _output_padding_for_size,
    _tf_padding,
)
from ..params import MAX_DIM, MAX_ELEMENTS, _freeze, _is_int, check_sizes, normalize_tuple
from .plan import PaddingSpec, Plan

__all__ = ["make_plan", "plan_from_sizes", "conv_plan"]


# ----------------------------------------------------------------------------------------------------------------
# building plans
# ----------------------------------------------------------------------------------------------------------------
def make_plan(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: PaddingSpec = 0,
    output_padding: int | Sequence[int] = 0,
    groups: int = 1,
    dilation: int | Sequence[int] = 1,
    output_size: Sequence[int] | int | None = None,
    padding_mode: str = "zeros",
) -> Plan:
    """Validate a transposed-convolution configuration and return its (cached) :class:`Plan`.

    Shapes follow PyTorch: input ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``; weight
    ``(C_in, C_out / groups, *kernel)``. ``padding`` may be

    - an int or one int per dimension (torch: crop that many from each side of the full output);
    - one ``(before, after)`` pair per dimension; a *negative* amount adds that many zeros outside the full output
      instead (JAX's ``lax.conv_transpose`` / ONNX ``pads`` meaning), which also extends the end beyond what
      ``output_padding < max(stride, dilation)`` allows;
    - ``"same"`` / ``"valid"`` with TensorFlow's ``conv2d_transpose`` semantics, or ``"same_lower"`` (ONNX
      ``SAME_LOWER``: as "same", the odd pixel cropped at the start).

    ``output_size`` picks ``output_padding`` as ``nn.ConvTranspose2d.forward(output_size=...)`` does.
    ``padding_mode`` ("zeros", "circular", "reflect", "replicate") makes the operator the exact adjoint of the
    ``nn.Conv`` with that mode: what the crop would drop folds back by wrap-around, mirror or clamp.

    >>> make_plan((1, 3, 4, 4), (3, 8, 4, 4), stride=2, padding=1).output_shape
    (1, 8, 8, 8)
    >>> make_plan((1, 1, 5), (1, 1, 3), stride=2, padding="same", output_size=(10,)).padding
    ((0, 1),)
    >>> make_plan((1, 1, 3), (1, 1, 3), padding=((-2, 1),)).out_size      # 2 zeros before the full output of 5
    (6,)
    """
    args = (
        _freeze("input", input_shape),
        _freeze("weight", weight_shape),
        _freeze("stride", stride),
        _freeze("padding", padding),
        _freeze("output_padding", output_padding),
        _freeze("groups", groups),
        _freeze("dilation", dilation),
        _freeze("output_size", output_size),
        padding_mode,
    )
    return _make_plan_cached(*args)


@functools.lru_cache(maxsize=8192)
def _make_plan_cached(
    input_shape, weight_shape, stride, padding, output_padding, groups, dilation, output_size, padding_mode
):
    # ---- shapes -------------------------------------------------------------------------------------------
    if not isinstance(weight_shape, tuple) or len(weight_shape) < 3:
        raise ConfigError(
            "weight", weight_shape, "must have shape (C_in, C_out/groups, *kernel) with at least one spatial dim"
        )
    nd = len(weight_shape) - 2
    if not isinstance(input_shape, tuple) or len(input_shape) not in (nd + 1, nd + 2):
        raise ConfigError(
            "input",
            input_shape,
            f"must have {nd + 2} dimensions (N, C_in, *spatial) or {nd + 1} (unbatched) to match a {nd}-d weight "
            f"of shape {weight_shape}",
        )
    if not all(_is_int(v) for v in (*input_shape, *weight_shape)):
        raise ConfigTypeError("input/weight shape", (input_shape, weight_shape), "must contain only ints")
    batch = input_shape[0] if len(input_shape) == nd + 2 else None
    c_in = input_shape[-nd - 1]
    in_size = tuple(input_shape[-nd:])
    kernel = tuple(weight_shape[2:])
    if batch is not None and batch < 0:
        raise ConfigError("input", input_shape, "must have a non-negative batch size")
    if any(v < 1 for v in in_size):
        raise ConfigError("input", input_shape, "must have every spatial size >= 1")
    if any(v < 1 for v in kernel):
        raise ConfigError("kernel_size", kernel, "must be positive in every dimension")
    if weight_shape[1] < 1:
        raise ConfigError("weight", weight_shape, "must have at least one output channel per group (shape[1] >= 1)")
    if weight_shape[0] < 1:
        raise ConfigError("weight", weight_shape, "must have at least one input channel (shape[0] >= 1)")

    # ---- groups and channels -------------------------------------------------------------------------------
    if not _is_int(groups):
        raise ConfigTypeError("groups", groups, "must be an int")
    if groups < 1:
        raise ConfigError("groups", groups, "must be positive")
    if weight_shape[0] % groups != 0:
        raise ConfigError("groups", groups, f"must divide in_channels=weight.shape[0]={weight_shape[0]}")
    if c_in != weight_shape[0]:
        raise ConfigError(
            "input",
            input_shape,
            f"has {c_in} channels but weight.shape[0]={weight_shape[0]} (in_channels) must equal it",
        )
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ConfigError("padding_mode", padding_mode, f"must be one of {PADDING_MODES}")

    # ---- per-dimension parameters --------------------------------------------------------------------------
    stride_t = normalize_tuple("stride", stride, nd)
    dil_t = normalize_tuple("dilation", dilation, nd)
    if any(v < 1 for v in stride_t):
        raise ConfigError("stride", stride_t, "must be positive in every dimension")
    if any(v < 1 for v in dil_t):
        raise ConfigError("dilation", dil_t, "must be positive in every dimension")
    op_t = normalize_tuple("output_padding", output_padding, nd)
    if any(v < 0 for v in op_t):
        raise ConfigError("output_padding", op_t, "must be non-negative in every dimension")
    full = tuple((i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(in_size, stride_t, dil_t, kernel, strict=True))
    size_t = _spatial_output_size(output_size, nd, batch is not None)

    rule = "explicit"
    if isinstance(padding, str):
        rule = padding.lower()
        if rule not in PADDING_RULES:
            raise ConfigError(
                "padding", padding, "must be an int, per-dimension ints or pairs, 'same', 'same_lower' or 'valid'"
            )
        pads, op_t = _tf_padding(rule, in_size, kernel, stride_t, dil_t, full, size_t, op_t)
    else:
        pads = _normalize_padding(padding, nd)
        _check_plain_padding(padding)
        if size_t is not None:
            op_t = _output_padding_for_size(size_t, full, pads, stride_t, output_size)

    limit = tuple(max(s, d) for s, d in zip(stride_t, dil_t, strict=True))
    if any(o >= m for o, m in zip(op_t, limit, strict=True)):
        raise ConfigError(
            "output_padding",
            op_t,
            f"must be smaller than max(stride, dilation)={limit} in every dimension (to add more zeros at the end, "
            "give a negative padding after: padding=((before, -extra), ...))",
        )
    out = tuple(f - pb - pa + o for f, (pb, pa), o in zip(full, pads, op_t, strict=True))
    if any(o < 0 for o in out):
        raise ConfigError(
            "padding",
            padding,
            f"leaves an output of size {out}: every dimension must be >= 0 "
            f"(output = (in - 1) * stride - pad_before - pad_after + dilation * (kernel - 1) + output_padding + 1)",
        )
    if any(o > MAX_DIM for o in out):
        raise ConfigError("input", input_shape, f"gives an absurd output size {out} (limit {MAX_DIM} per dimension)")
    if padding_mode != "zeros":
        _check_padding_mode(padding_mode, pads, out)
    elements = (batch or 1) * weight_shape[1] * groups * math.prod(out)
    if elements > MAX_ELEMENTS:
        raise ConfigError(
            "output_size" if size_t is not None else "input",
            output_size if size_t is not None else input_shape,
            f"gives an absurd output of {elements} elements (shape {out}; limit {MAX_ELEMENTS}), refused before "
            "allocating",
        )
    return Plan(
        nd=nd,
        batch=batch,
        in_channels=c_in,
        out_channels=weight_shape[1] * groups,
        groups=groups,
        in_size=in_size,
        kernel_size=kernel,
        stride=stride_t,
        dilation=dil_t,
        padding=pads,
        output_padding=op_t,
        out_size=out,
        padding_rule=rule,
        padding_mode=padding_mode,
    )


def _spatial_output_size(output_size: Any, nd: int, batched: bool) -> tuple[int, ...] | None:
    """``output_size`` as ``nd`` spatial ints; ``(N, C, *spatial)`` (batched) or ``(C, *spatial)`` allowed, as torch."""
    if output_size is None:
        return None
    osz = (output_size,) if _is_int(output_size) else output_size
    if not isinstance(osz, tuple) or not all(_is_int(v) for v in osz):
        raise ConfigTypeError("output_size", output_size, "must be an int or a sequence of ints")
    lead = 2 if batched else 1
    if len(osz) == nd + lead:
        osz = osz[lead:]
    if len(osz) != nd:
        shape = "(N, C, *spatial)" if batched else "(C, *spatial)"
        raise ConfigError(
            "output_size", output_size, f"must have {nd} spatial entries (or {nd + lead}: {shape} of this input)"
        )
    if any(v < 1 or v > MAX_DIM for v in osz):
        raise ConfigError("output_size", output_size, f"must be between 1 and {MAX_DIM} in every dimension")
    return tuple(int(v) for v in osz)


def plan_from_sizes(
    in_size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: PaddingSpec = 0,
    output_padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    output_size: Sequence[int] | int | None = None,
) -> Plan:
    """A single-channel, unbatched plan from spatial sizes alone (for arithmetic and pictures).

    >>> plan_from_sizes(4, 3).out_size
    (6,)
    >>> plan_from_sizes((5, 7), (3, 3), stride=2, padding=1).out_size
    (9, 13)
    """
    in_t = (in_size,) if _is_int(in_size) else tuple(_freeze("in_size", in_size))
    nd = len(in_t)
    k_t = normalize_tuple("kernel_size", kernel_size, nd)
    return make_plan((1, *in_t), (1, 1, *k_t), stride, padding, output_padding, 1, dilation, output_size)


def conv_plan(
    in_size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] | Sequence[Sequence[int]] = 0,
    dilation: int | Sequence[int] = 1,
) -> Plan:
    """The plan of a *forward convolution* of an input of ``in_size``, seen as its transpose.

    A convolution and its transposed convolution share one index mapping (seed 001: C and Cᵀ). The returned plan's
    ``out_size`` is the convolution's input size and its ``in_size`` the convolution's output size
    ``floor((n + pb + pa - d(k-1) - 1) / s) + 1``; ``output_padding`` is whatever restores ``n`` exactly.

    >>> p = conv_plan(5, 3, stride=2)      # seed 001: i=5, k=3, s=2, p=0 -> o=2
    >>> p.in_size, p.out_size, p.output_padding
    ((2,), (5,), (0,))
    >>> conv_plan(6, 3, stride=2).output_padding      # 6 and 5 both convolve to 2: the transpose needs op=1
    (1,)
    """
    n_t = (in_size,) if _is_int(in_size) else tuple(_freeze("in_size", in_size))
    nd = len(n_t)
    if not nd or not all(_is_int(v) for v in n_t):
        raise ConfigTypeError("in_size", in_size, "must be an int or a sequence of ints")
    if any(v > MAX_DIM for v in n_t):  # absurd: say so about in_size, not about the plan's output_size
        check_sizes("in_size", n_t)
    k_t = normalize_tuple("kernel_size", kernel_size, nd)
    s_t = normalize_tuple("stride", stride, nd)
    d_t = normalize_tuple("dilation", dilation, nd)
    if any(v < 1 for v in s_t):
        raise ConfigError("stride", s_t, "must be positive in every dimension")
    if any(v < 1 for v in d_t):
        raise ConfigError("dilation", d_t, "must be positive in every dimension")
    if any(v < 1 for v in k_t):
        raise ConfigError("kernel_size", k_t, "must be positive in every dimension")
    pads = _normalize_padding(_freeze("padding", padding), nd)
    if any(p < 0 for pair in pads for p in pair):
        raise ConfigError("padding", padding, "must be non-negative in every dimension")
    outs = []
    for n, k, s, d, (pb, pa) in zip(n_t, k_t, s_t, d_t, pads, strict=True):
        span = n + pb + pa - d * (k - 1) - 1
        if span < 0:
            raise ConfigError(
                "kernel_size",
                k_t,
                f"with dilation {d_t} spans more than the padded input {n + pb + pa}: the convolution has no output",
            )
        outs.append(span // s + 1)
    return make_plan((1, *outs), (1, 1, *k_t), s_t, pads, 0, 1, d_t, n_t)
