"""Other frameworks' transposed-convolution arguments, as tconv's.

tconv's ``padding`` is what is *cropped* from each side of the full output ``(i - 1) * s + d * (k - 1) + 1``
(torch's meaning); a negative amount adds zeros there instead. Every framework's arguments map onto that:

- **ONNX** ``ConvTranspose``: ``pads`` are the same crops (begin values, then end values); ``output_shape`` picks pads
  by the spec's equations (:func:`from_onnx`).
- **JAX** ``lax.conv_transpose(..., padding=[(lo, hi)])``: the pairs pad the zero-inserted input of the equivalent
  stride-1 convolution, so tconv's crop is ``d * (k - 1) - lo`` before and ``d * (k - 1) - hi`` after
  (:func:`from_jax`); ``lo > d * (k - 1)`` is a negative crop: zeros before the full output.
- **TensorFlow** ``tf.nn.conv2d_transpose(padding="SAME"|"VALID", output_shape=...)`` and Keras ``Conv2DTranspose``:
  ``padding="same"|"valid"`` with ``output_size``.

>>> from_jax([(2, 0)], kernel_size=(3,))         # JAX pads 2 before -> no crop; pads 0 after -> crop 2
{'padding': ((0, 2),)}
>>> from_onnx({"strides": [2], "auto_pad": "SAME_LOWER"}, input_shape=(1, 1, 3), weight_shape=(1, 1, 3))
{'stride': (2,), 'padding': ((1, 0),), 'output_padding': (0,), 'dilation': (1,), 'groups': 1}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ConfigError
from .params import is_int, normalize_tuple
from .window import reach

__all__ = ["from_onnx", "from_jax"]

_AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def from_onnx(
    attrs: Mapping[str, Any],
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    onnxruntime: bool = False,
) -> dict[str, Any]:
    """The keyword arguments of :func:`tconv.conv_transpose` for an ONNX ``ConvTranspose`` node.

    ``attrs`` holds the node's attributes (``strides``, ``pads``, ``dilations``, ``group``, ``output_padding``,
    ``output_shape``, ``auto_pad``, ``kernel_shape``); ``input_shape`` is X's ``(N, C, *spatial)`` and
    ``weight_shape`` W's. ``output_padding`` is folded into the padding pairs, so the result is always within
    tconv's rules.

    **The spec** (the default) computes pads from ``output_shape`` (given, or ``input * stride`` under
    ``SAME_*``) as ``total = s (i - 1) + output_padding + d (k - 1) + 1 - output_shape``, split
    ``(total // 2, total - total // 2)`` for SAME_UPPER and ``(total - total // 2, total // 2)`` otherwise, with
    floor division (ONNX's reference implementation). A negative total is allowed: zeros before *and* after.

    **onnxruntime** departs from that where the total is negative: its CPU kernel (read in
    ``core/providers/cpu/nn/conv_transpose_attributes.h``, ``ComputeTransposePadAndOutputShape``; not run here)
    clamps the total at 0, so the extra outputs are zeros at the end only, and it splits an odd SAME_UPPER total
    with the larger half *before* (SAME_LOWER and NOTSET: after), the opposite of the spec text. Pass
    ``onnxruntime=True`` to reproduce that; compare both where it matters.

    >>> x, w = (1, 1, 3, 3), (1, 2, 3, 3)
    >>> from_onnx({"strides": [3, 2], "output_shape": [10, 8]}, x, w)["padding"]   # full 9 x 7: one zero after each
    ((0, -1), (0, -1))
    >>> from_onnx({"strides": [1], "output_shape": [8]}, (1, 1, 3), (1, 1, 3))["padding"]  # spec: zeros both sides
    ((-1, -2),)
    >>> from_onnx({"strides": [1], "output_shape": [8]}, (1, 1, 3), (1, 1, 3), onnxruntime=True)["padding"]
    ((0, -3),)
    """
    known = {"strides", "pads", "dilations", "group", "output_padding", "output_shape", "auto_pad", "kernel_shape"}
    unknown = sorted(set(attrs) - known)
    if unknown:
        raise ConfigError("attrs", unknown, f"are not ConvTranspose attributes (known: {sorted(known)})")
    nd = len(weight_shape) - 2
    if nd < 1 or len(input_shape) != nd + 2:
        raise ConfigError("input_shape", tuple(input_shape), f"must be (N, C, *spatial) for a {nd}-d weight")
    kernel = tuple(int(v) for v in weight_shape[2:])
    if "kernel_shape" in attrs and tuple(attrs["kernel_shape"]) != kernel:
        raise ConfigError("kernel_shape", tuple(attrs["kernel_shape"]), f"must match W's spatial shape {kernel}")
    stride = normalize_tuple("strides", tuple(attrs.get("strides", (1,) * nd)), nd)
    dilation = normalize_tuple("dilations", tuple(attrs.get("dilations", (1,) * nd)), nd)
    op = normalize_tuple("output_padding", tuple(attrs.get("output_padding", (0,) * nd)), nd)
    group = attrs.get("group", 1)
    if not is_int(group):
        raise ConfigError("group", group, "must be an int")
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    if auto_pad not in _AUTO_PADS:
        raise ConfigError("auto_pad", auto_pad, f"must be one of {_AUTO_PADS}")
    in_size = tuple(int(v) for v in input_shape[2:])
    full = tuple(reach(i, k, s, d) for i, s, d, k in zip(in_size, stride, dilation, kernel, strict=True))

    out_shape = attrs.get("output_shape")
    if out_shape is not None:
        out_shape = tuple(int(v) for v in out_shape)
        if len(out_shape) == nd + 2:
            out_shape = out_shape[2:]
        if len(out_shape) != nd:
            raise ConfigError("output_shape", out_shape, f"must have {nd} spatial entries")
    if "pads" in attrs and out_shape is None:
        pads = normalize_tuple("pads", tuple(attrs["pads"]), 2 * nd)
        pairs = tuple((pads[d], pads[nd + d]) for d in range(nd))
    elif auto_pad == "VALID" and out_shape is None:
        pairs = ((0, 0),) * nd
    elif out_shape is None and auto_pad == "NOTSET":
        pairs = ((0, 0),) * nd
    else:
        if out_shape is None:  # SAME_*: the output is input * stride
            if onnxruntime:  # onnxruntime: no padding at all, the full output (+ output_padding)
                out_shape = tuple(f + o for f, o in zip(full, op, strict=True))
            else:
                out_shape = tuple(i * s for i, s in zip(in_size, stride, strict=True))
        pairs = []
        for f, o, n in zip(full, op, out_shape, strict=True):
            total = f + o - n
            if onnxruntime:
                clamped = max(total, 0)
                head = clamped - clamped // 2 if auto_pad == "SAME_UPPER" else clamped // 2
                tail = clamped - head + min(total, 0)  # a negative total: zeros at the end only
            elif auto_pad == "SAME_UPPER":
                head, tail = total // 2, total - total // 2
            else:
                head, tail = total - total // 2, total // 2
            pairs.append((head, tail))
        pairs = tuple(pairs)
    # fold output_padding into the end crop: out = full - head - (tail - op)
    padding = tuple((h, t - o) for (h, t), o in zip(pairs, op, strict=True))
    return {"stride": stride, "padding": padding, "output_padding": (0,) * nd, "dilation": dilation, "groups": group}


def from_jax(
    padding: Sequence[Sequence[int]], kernel_size: Sequence[int], dilation: int | Sequence[int] = 1
) -> dict[str, Any]:
    """tconv's ``padding`` for ``jax.lax.conv_transpose(..., padding=[(lo, hi), ...], rhs_dilation=dilation)``.

    JAX pads the zero-inserted input of the equivalent stride-1 convolution by ``(lo, hi)``; the full output
    corresponds to ``d * (k - 1)`` on each side, so tconv crops ``d * (k - 1) - lo`` and ``d * (k - 1) - hi``
    (negative: zeros). Strides and dilation are passed through unchanged; JAX's ``transpose_kernel=True`` is
    torch's weight layout with the spatial axes as they are (``(C_in, C_out, *k)`` here).

    >>> from_jax([(3, 3), (0, 1)], kernel_size=(2, 2))      # lo 3 > k - 1 = 1: two zeros before the full output
    {'padding': ((-2, -2), (1, 0))}
    """
    nd = len(kernel_size)
    dil = normalize_tuple("dilation", dilation, nd)
    pairs = tuple(tuple(p) for p in padding)
    if len(pairs) != nd or not all(len(p) == 2 and is_int(p[0]) and is_int(p[1]) for p in pairs):
        raise ConfigError("padding", pairs, f"must be {nd} (lo, hi) pairs of ints, one per spatial dimension")
    return {
        "padding": tuple(
            (d * (k - 1) - lo, d * (k - 1) - hi) for (lo, hi), k, d in zip(pairs, kernel_size, dil, strict=True)
        )
    }
