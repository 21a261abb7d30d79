"""Padding rules of the transposed plan: torch's symmetric ints, per-side pairs (negative: zeros outside the full
output, as JAX and ONNX allow), TensorFlow's and ONNX's "same"/"same_lower"/"valid" (which depend on the input size
and ``output_size``), and ``nn.Conv``'s padding modes, whose adjoint folds back what would be cropped.
:func:`tconv.geometry.make_plan` applies them.

>>> _normalize_padding(1, 2)
((1, 1), (1, 1))
>>> _normalize_padding(((0, 1), (2, 3)), 2)
((0, 1), (2, 3))
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError, ConfigTypeError
from .params import _expected, _is_int

__all__ = ["PADDING_MODES", "PADDING_RULES"]

#: The padding modes of ``nn.Conv``: how the transposed operator folds back what it would crop.
PADDING_MODES = ("zeros", "circular", "reflect", "replicate")
#: The padding rules that depend on the input size (TensorFlow's and ONNX's).
PADDING_RULES = ("same", "same_lower", "valid")


def _check_padding_mode(mode: str, pads: tuple[tuple[int, int], ...], out: tuple[int, ...]) -> None:
    """A non-zeros mode folds the cropped border back into the output: it needs a border no wider than the output."""
    for dim, ((pb, pa), n) in enumerate(zip(pads, out, strict=True)):
        if pb < 0 or pa < 0:
            raise ConfigError(
                "padding",
                pads,
                f"must be non-negative with padding_mode={mode!r} (dimension {dim}): only zeros lie outside the "
                "full output",
            )
        if mode == "circular" and max(pb, pa) > n:
            raise ConfigError(
                "padding", pads, f"must be at most the output size {n} with padding_mode='circular' (dimension {dim})"
            )
        if mode == "reflect" and max(pb, pa) >= n:
            raise ConfigError(
                "padding",
                pads,
                f"must be smaller than the output size {n} with padding_mode='reflect' (dimension {dim})",
            )
        if mode == "replicate" and n < 1:
            raise ConfigError("padding", pads, f"leaves no output to replicate into (dimension {dim})")


def _normalize_padding(padding: Any, nd: int) -> tuple[tuple[int, int], ...]:
    """Per-dimension (before, after) pairs, signs as given (each caller has its own sign rule).

    >>> _normalize_padding(1, 2), _normalize_padding(((1, -2),), 1)
    (((1, 1), (1, 1)), ((1, -2),))
    """
    if _is_int(padding):
        padding = (padding,)
    if not isinstance(padding, tuple):
        raise ConfigTypeError("padding", padding, f"must be {_expected('padding')}")
    vals = padding * nd if len(padding) == 1 and nd != 1 else padding
    if len(vals) != nd:
        raise ConfigError("padding", padding, f"must have {nd} entries, one per spatial dimension (got {len(vals)})")
    pads = []
    for p in vals:
        if _is_int(p):
            pads.append((int(p), int(p)))
        elif isinstance(p, tuple) and len(p) == 2 and all(_is_int(v) for v in p):
            pads.append((int(p[0]), int(p[1])))
        else:
            raise ConfigTypeError("padding", padding, "entries must be ints or (before, after) pairs of ints")
    return tuple(pads)


def _check_plain_padding(padding: Any) -> None:
    """torch's rule for plain ints: never negative. Per-side pairs may be (zeros outside the full output)."""
    ints = [padding] if _is_int(padding) else [p for p in padding if _is_int(p)] if isinstance(padding, tuple) else []
    if any(p < 0 for p in ints):
        raise ConfigError(
            "padding",
            padding,
            "must be non-negative in every dimension (for zeros outside the full output, JAX/ONNX style, "
            "give (before, after) pairs: padding=((-1, -1),))",
        )


def _output_padding_for_size(size_t, full, pads, stride_t, output_size) -> tuple[int, ...]:
    """output_padding for a requested size, exactly as torch's ``_ConvTransposeNd._output_padding``."""
    ops = []
    for dim, (n, f, (pb, pa), s) in enumerate(zip(size_t, full, pads, stride_t, strict=True)):
        lo = f - pb - pa
        hi = lo + s - 1
        if not lo <= n <= hi:
            raise ConfigError(
                "output_size",
                output_size,
                f"is not reachable: dimension {dim} must be between {lo} and {hi} "
                f"(the sizes output_padding 0..stride-1 can give), got {n}",
            )
        ops.append(n - lo)
    return tuple(ops)


def _tf_padding(mode, in_size, kernel, stride_t, dil_t, full, size_t, op_t):
    """TensorFlow ``conv2d_transpose`` padding (the gradient of a 'same'/'valid' convolution of ``output_size``), and
    ONNX's ``SAME_LOWER``: per-dimension (before, after) pairs and the output_padding that give ``output_size``."""
    from .window import same_pads  # noqa: PLC0415 (window imports geometry)

    if any(op_t):
        raise ConfigError("output_padding", op_t, f"must be 0 with padding={mode!r}: give output_size instead")
    pads, ops = [], []
    for dim, (i, k, s, d, f) in enumerate(zip(in_size, kernel, stride_t, dil_t, full, strict=True)):
        dk = d * (k - 1) + 1
        if mode != "valid":
            lo, hi, default = (i - 1) * s + 1, i * s, i * s
        else:
            lo, hi, default = (i - 1) * s + dk, i * s + dk - 1, i * s + max(dk - s, 0)
        n = default if size_t is None else size_t[dim]
        if not lo <= n <= hi:
            rule = "ceil(output / stride)" if mode != "valid" else "ceil((output - dilated_kernel + 1) / stride)"
            raise ConfigError(
                "output_size",
                size_t,
                f"is not reachable with padding={mode!r}: {rule} must equal the input size {i} in dimension {dim}, "
                f"so the output must be between {lo} and {hi}, got {n}",
            )
        if mode == "same_lower":
            # ONNX's SAME_LOWER as its spec writes it: the odd pixel cropped at the start, and a negative total
            # (dilated kernel shorter than the stride) means zeros on both sides, not only after
            total = f - n
            pads.append((total - total // 2, total // 2))
            ops.append(0)
            continue
        # "same": the forward "same" convolution of the output (tconv.window.same_pads, the one rule: odd pixel
        # after) read backwards, so the transpose crops exactly what that convolution pads
        pb = same_pads(n, k, s, d)[0][0] if mode == "same" else 0
        crop_after = f - pb - n
        if crop_after >= 0:
            pads.append((pb, crop_after))
            ops.append(0)
        else:
            pads.append((pb, 0))
            ops.append(-crop_after)
    return tuple(pads), tuple(ops)
