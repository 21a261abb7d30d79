"""Convolution arithmetic: sizes, the Conv ↔ ConvTranspose correspondence, equivalent convolutions (the solver is
:mod:`tconv.solver`, re-exported here).

This is the user-facing layer over :mod:`tconv.geometry`: every transposed-convolution size and every equivalence
here is read from a :class:`~tconv.geometry.Plan`, never re-derived. The functions take and return plain ints (or
per-dimension tuples) so that they port one-to-one to the explorer's JavaScript.

The seeds' formulas, side by side with the code that computes them
------------------------------------------------------------------
Seed 000 §2 names the transposed convolution's output ``n_x`` (it is the backward pass of a convolution from ``n_x``
to ``n_o``); ``n_w`` is the kernel, ``p`` padding, ``s`` stride, ``d`` dilation, ``op`` output_padding.

======  ============================================  =================================================================
 (2.1)  ``n_o = n_x - n_w + 1``                       ``conv_output_size(n_x, n_w)`` (valid convolution)
 (2.2)  ``n_x = n_o + n_w - 1``                       ``conv_transpose_output_size(n_o, n_w)`` (full-padding conv)
 (2.3)  ``n_o = (n_x + 2p) - n_w + 1``                ``conv_output_size(n_x, n_w, p=p)``
 (2.4)  ``n_x = (n_o + n_w - 1) - 2p``                ``conv_transpose_output_size(n_o, n_w, p=p)``
 (2.5)  ``n_o = floor((n_x - n_w) / s) + 1``          ``conv_output_size(n_x, n_w, s=s)``
 (2.6)  ``n_x = (n_o - 1) s + n_w``                   ``conv_transpose_output_size(n_o, n_w, s=s)``
 (2.7)  ``op = (n_x - n_w) mod s``                    ``inverse_of(conv, n_x).output_padding`` (the dropped windows)
 (2.8)  ``n_x = (n_o - 1) s + op + n_w``              ``conv_transpose_output_size(n_o, n_w, s=s, op=op)``
 (2.9)  ``n_o = n_x - d (n_w - 1)``                   ``conv_output_size(n_x, n_w, d=d)``
 (2.10) ``n_x = n_o + d (n_w - 1)``                   ``conv_transpose_output_size(n_o, n_w, d=d)``
 (2.11) ``n_x = (n_o-1) s + op + d (n_w-1) + 1 - 2p`` ``conv_transpose_output_size(n_o, n_w, s, p, d, op)`` = ``Plan.out_size``
======  ============================================  =================================================================

Seed 000 §2.1–2.2 and seed 001: a transposed convolution *is* a direct convolution with a flipped kernel — insert
``s - 1`` zeros between the inputs, pad ``d (k - 1) - p`` on each side (seed 001's ``k - p - 1`` for ``d = 1``; full
padding ``k - 1`` when ``p = 0``), dilate the kernel by ``d``, and correlate with stride 1 (:func:`equivalent_conv`).
So "valid ↔ full, same ↔ same, full ↔ valid" padding correspond. Seed 001 adds the general conv size
``o = floor((i + 2p - k) / s) + 1`` and the rule of thumb: *a convolution's input and output sizes are its transpose's
output and input sizes* — which is what :func:`inverse_of` builds, choosing ``output_padding`` to restore the exact size.

The positional-argument trap (seed 001's "Conv2d(16,32,3,2,0,1) ↔ ConvTranspose2d(32,16,3,2,0,1)"): the 6th
positional argument of ``nn.Conv2d`` is ``dilation`` but of ``nn.ConvTranspose2d`` it is ``output_padding``. The
two lines look alike and mean different things; build modules by keyword (as :func:`inverse_of` does).

>>> conv_output_size(224, 11, s=4, p=2)              # AlexNet conv1
55
>>> conv_transpose_output_size(55, 11, s=4, p=2)     # the naive transpose loses a pixel ...
223
>>> inverse_of(torch.nn.Conv2d(3, 64, 11, 4, 2), 224).output_padding   # ... so its inverse needs output_padding=1
(1, 1)
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import ConfigError, ConfigTypeError
from .geometry import PaddingSpec, conv_plan, make_plan, plan_from_sizes
from .padding import _check_plain_padding, _normalize_padding
from .params import _freeze, _is_int, check_sizes, normalize_tuple
from .solver import SOLVE_LIMIT, Solution, describe_counts, solve
from .window import forward_window, same_pads

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "equivalent_conv",
    "Equivalent",
    "inverse_of",
    "solve",  # the solver lives in tconv.solver; re-exported here
    "Solution",
    "describe_counts",
    "SOLVE_LIMIT",
    "parse_module",
    "SEED_CASES",
    "tour_section",
]

Size = int | tuple[int, ...]


# ----------------------------------------------------------------------------------------------------------------
# argument handling: an int everywhere means "1-D, answer an int"; any tuple fixes the number of dimensions
# ----------------------------------------------------------------------------------------------------------------
def _ndim(i: Any, padding: Any, *others: Any) -> tuple[int, bool]:
    """Number of spatial dims and whether the caller used plain ints throughout (then an int is returned)."""
    lengths = [len(v) for v in (i, *others) if isinstance(v, (tuple, list))]
    if isinstance(padding, (tuple, list)):
        lengths.append(len(padding))
    if not lengths:
        return 1, True
    return max(lengths), False


def _sizes(name: str, value: Any, nd: int) -> tuple[int, ...]:
    if isinstance(value, list):
        value = tuple(value)
    return normalize_tuple(name, value, nd)


def _padding(padding: Any, nd: int, transposed: bool = False) -> Any:
    """Keep "same"/"valid"; turn ints, per-dim ints and (before, after) pairs into per-dim pairs (geometry's rule).

    Signs as the plan has them: a forward window only pads; a transposed convolution crops, and its (before, after)
    pairs may also be negative (zeros before / after the full output), its plain ints not (torch's rule)."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in ("same", "valid"):
            raise ConfigError(
                "p", padding, "must be an int, per-dimension ints or (before, after) pairs, 'same' or 'valid'"
            )
        return mode
    with _short_names():
        pads = _normalize_padding(_freeze("padding", padding), nd)
        if transposed:
            _check_plain_padding(_freeze("padding", padding))
            return pads
    if any(x < 0 for pair in pads for x in pair):
        raise ConfigError("p", padding, "must be non-negative (a transposed convolution crops with padding)")
    return pads


_SHORT = {"in_size": "i", "kernel_size": "k", "stride": "s", "padding": "p", "dilation": "d"}


@contextlib.contextmanager
def _short_names() -> Iterator[None]:
    """Errors from geometry/window name the parameters by their long names; here they are i, k, s, p, d."""
    try:
        yield
    except (ConfigError, ConfigTypeError) as exc:
        if exc.param not in _SHORT:
            raise
        raise type(exc)(_SHORT[exc.param], exc.value, exc.rule) from None


def _out(values: tuple[int, ...], as_int: bool) -> Size:
    return values[0] if as_int else values


def _positive(name: str, values: tuple[int, ...]) -> None:
    if any(v < 1 for v in values):
        raise ConfigError(name, values if len(values) > 1 else values[0], "must be positive")


# ----------------------------------------------------------------------------------------------------------------
# sizes
# ----------------------------------------------------------------------------------------------------------------
def conv_output_size(i: Size, k: Size, s: Size = 1, p: PaddingSpec = 0, d: Size = 1, ceil_mode: bool = False) -> Size:
    """Output size of a convolution (or pooling window): seed 001's ``o = floor((i + 2p - d(k-1) - 1) / s) + 1``.

    ``p`` may be an int, one int per dimension, one ``(before, after)`` pair per dimension (``((1, 2),)`` in 1-D),
    ``"valid"`` (no padding: ``ceil((i - d(k-1)) / s)``) or ``"same"`` (TensorFlow: ``ceil(i / s)``, the extra pad
    going after). ``ceil_mode=True`` is PyTorch pooling's rounding up (a last window must start inside the input or
    the left padding). Returns an int when every argument is an int, else a tuple.

    >>> conv_output_size(4, 3), conv_output_size(5, 4, p=2), conv_output_size(5, 3, s=2), conv_output_size(5, 3, s=2, p=1)
    (2, 6, 2, 3)
    >>> conv_output_size((224, 200), 3, s=2, p="same")
    (112, 100)
    >>> conv_output_size(6, 3, s=2, ceil_mode=True)     # MaxPool2d(3, 2, ceil_mode=True) on 6
    3
    """
    nd, as_int = _ndim(i, p, k, s, d)
    i_t, k_t, s_t, d_t = (_sizes(n, v, nd) for n, v in (("i", i), ("k", k), ("s", s), ("d", d)))
    for name, vals in (("i", i_t), ("k", k_t), ("s", s_t), ("d", d_t)):
        _positive(name, vals)
    check_sizes("i", i_t)  # the caller's own name for an absurd size, before any plan is built
    pads = _padding(p, nd)
    with _short_names():  # the forward window (tconv.window) holds the size rule, "same" and ceil_mode
        return _out(forward_window(i_t, k_t, s_t, pads, d_t, ceil_mode).out_size, as_int)


def conv_transpose_output_size(
    i: Size, k: Size, s: Size = 1, p: PaddingSpec = 0, d: Size = 1, op: Size = 0, output_size: Size | None = None
) -> Size:
    """Output size of a transposed convolution, seed 000 (2.11): ``(i - 1) s - 2p + d (k - 1) + op + 1``.

    Read from the plan. ``p`` may also be per-dimension ``(before, after)`` pairs (each cropped from the full output;
    a negative one adds zeros there instead, as JAX and ONNX allow) or ``"same"`` / ``"valid"`` with TensorFlow's ``conv2d_transpose`` meaning (``i * s`` and
    ``i * s + max(d(k-1) + 1 - s, 0)``; ``output_size`` picks among the reachable sizes, as TF does). Returns an int
    when every argument is an int, else a tuple.

    >>> conv_transpose_output_size(2, 3), conv_transpose_output_size(3, 3, s=2, p=1), conv_transpose_output_size(55, 11, 4, 2, op=1)
    (4, 5, 224)
    >>> conv_transpose_output_size(5, 3, s=2, p="same"), conv_transpose_output_size((4, 4), 3, s=(1, 2), p=((0, 1), (1, 1)))
    (10, (5, 7))
    >>> conv_transpose_output_size(3, 3, s=2, p=((-1, -2),))      # full 7, one zero before and two after
    (10,)
    """
    nd, as_int = _ndim(i, p, k, s, d, op)
    i_t, k_t, s_t, d_t = (_sizes(n, v, nd) for n, v in (("i", i), ("k", k), ("s", s), ("d", d)))
    for name, vals in (("i", i_t), ("k", k_t), ("s", s_t), ("d", d_t)):
        _positive(name, vals)
    check_sizes("i", i_t)  # the caller's own name for an absurd size, before any plan is built
    pads = _padding(p, nd, transposed=True)
    with _short_names():  # the plan's errors (e.g. a crop that leaves nothing) name i, k, s, p, d as here
        plan = plan_from_sizes(
            i_t, _sizes("k", k, nd), _sizes("s", s, nd), pads, _sizes("op", op, nd), _sizes("d", d, nd), output_size
        )
    return _out(plan.out_size, as_int)


# ----------------------------------------------------------------------------------------------------------------
# the equivalent direct convolution (and the reverse)
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Equivalent:
    """One operation written as the other kind (all entries per spatial dimension).

    For ``kind == "conv"`` (a transposed convolution as a direct one): insert ``zeros_between`` zeros between
    neighbouring inputs (giving ``upsampled_size``), pad ``padding[d] = (before, after)`` zeros — negative means crop
    — flip the kernel (``flip``), dilate it by ``dilation`` and correlate with stride 1; the result has
    ``output_size``. For ``kind == "conv_transpose"`` (a stride-1 convolution as a transposed one): a transposed
    convolution with stride 1, the flipped kernel, ``dilation`` and ``padding`` (negative = extend the output with
    zeros) computes it.
    """

    kind: str
    input_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    zeros_between: tuple[int, ...]
    upsampled_size: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    stride: tuple[int, ...]
    flip: bool
    output_size: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        """The recipe in words."""
        if self.kind == "conv":
            return (
                f"insert {_fmt(self.zeros_between)} zero(s) between inputs ({_fmt(self.input_size)} -> "
                f"{_fmt(self.upsampled_size)}), pad {_fmt_pads(self.padding)} (negative = crop), flip the kernel, "
                f"dilate it by {_fmt(self.dilation)}, convolve with stride 1 -> {_fmt(self.output_size)}"
            )
        return (
            f"transposed convolution with stride 1, the flipped kernel, dilation {_fmt(self.dilation)}, padding "
            f"{_fmt_pads(self.padding)} (negative = extend with zeros) -> {_fmt(self.output_size)}"
        )


def _fmt(t: tuple[int, ...]) -> str:
    return "x".join(str(v) for v in t)


def _fmt_pads(pads: tuple[tuple[int, int], ...]) -> str:
    return " x ".join(f"({a}, {b})" for a, b in pads)


def equivalent_conv(
    i: Size, k: Size, s: Size = 1, p: PaddingSpec = 0, d: Size = 1, op: Size = 0, transposed: bool = True
) -> Equivalent:
    """The other formulation of the same operation (seed 000 §2, seed 001).

    ``transposed=True`` (default): the stride-1 direct convolution that computes the transposed convolution
    ``(i, k, s, p, d, op)`` — read from the plan's ``equivalent_conv``: ``s - 1`` zeros between inputs, padding
    ``(d(k-1) - p_before, d(k-1) - p_after + op)`` (negative = crop), the flipped, ``d``-dilated kernel.

    ``transposed=False``: the reverse — the direct convolution ``(i, k, s=1, p, d)`` as a transposed convolution with
    the flipped kernel and padding ``d(k-1) - p`` (seed 000: valid ↔ full, same ↔ same, full ↔ valid). Only
    stride 1 has a reverse: a strided convolution drops outputs, which no transposed convolution does.

    >>> e = equivalent_conv(2, 3, s=2)                 # seed 001: i'=2, k=3, s=2, p=0 -> pad k-1=2, one zero between
    >>> e.zeros_between, e.upsampled_size, e.padding, e.output_size
    ((1,), (3,), ((2, 2),), (5,))
    >>> e = equivalent_conv(6, 4, p=2)                 # seed 001: i'=6, k=4, p=2 -> p' = k - p - 1 = 1, o' = 5
    >>> e.padding, e.output_size
    (((1, 1),), (5,))
    >>> r = equivalent_conv(5, 3, p=0, transposed=False)   # a valid conv = a transposed conv cropping k-1 per side
    >>> r.padding, r.output_size
    (((2, 2),), (3,))
    """
    nd, _ = _ndim(i, p, k, s, d, op)
    i_t, k_t, s_t, d_t, op_t = (_sizes(n, v, nd) for n, v in (("i", i), ("k", k), ("s", s), ("d", d), ("op", op)))
    _positive("i", i_t)
    pads = _padding(p, nd, transposed=transposed)
    if transposed:
        plan = plan_from_sizes(i_t, k_t, s_t, pads, op_t, d_t)
        eq = plan.equivalent_conv
        return Equivalent(
            kind="conv",
            input_size=plan.in_size,
            kernel_size=plan.kernel_size,
            zeros_between=eq.zeros_between,
            upsampled_size=eq.upsampled_size,
            padding=eq.pad,
            dilation=eq.kernel_dilation,
            stride=eq.stride,
            flip=eq.flip,
            output_size=plan.out_size,
        )
    if any(v != 1 for v in s_t):
        raise ConfigError(
            "s",
            s,
            "must be 1 for the reverse: a strided convolution drops outputs, which no transposed convolution does",
        )
    if any(v != 0 for v in op_t):
        raise ConfigError("op", op, "must be 0 for the reverse (output_padding belongs to transposed convolutions)")
    if isinstance(pads, str):
        pads = same_pads(i_t, k_t, 1, d_t) if pads == "same" else ((0, 0),) * nd
    out = conv_plan(i_t, k_t, 1, pads, d_t)  # validates; its in_size is the convolution's output
    # stride 1: the conv is the transpose of its own transposed plan, whose equivalent conv pads d(k-1) - p per side
    tp = out.equivalent_conv.pad
    return Equivalent(
        kind="conv_transpose",
        input_size=i_t,
        kernel_size=k_t,
        zeros_between=(0,) * nd,
        upsampled_size=i_t,
        padding=tp,
        dilation=d_t,
        stride=(1,) * nd,
        flip=True,
        output_size=out.in_size,
    )


# ----------------------------------------------------------------------------------------------------------------
# inverse_of: the ConvTranspose that undoes a Conv's size change
# ----------------------------------------------------------------------------------------------------------------
def _conv_padding_pairs(conv: nn.Module, nd: int) -> tuple[tuple[int, int], ...]:
    k = normalize_tuple("kernel_size", tuple(conv.kernel_size), nd)
    d = normalize_tuple("dilation", tuple(conv.dilation), nd)
    if isinstance(conv.padding, str):  # PyTorch allows "same" only with stride 1, where same_pads needs no size
        return same_pads((1,) * nd, k, 1, d) if conv.padding == "same" else ((0, 0),) * nd
    return tuple((v, v) for v in normalize_tuple("padding", tuple(conv.padding), nd))


def inverse_of(conv_module: nn.Module, input_size: Size, copy_weights: bool = False) -> nn.Module:
    """The ``nn.ConvTranspose{1,2,3}d`` that maps ``conv_module``'s output back to exactly ``input_size``.

    Channels are swapped; kernel, stride, padding, dilation and groups are the conv's; ``output_padding`` is solved per
    dimension (seed 000 (2.7): the input positions the strided windows never reached) and reported on the returned
    module's ``.output_padding``. The module is built by keyword, never positionally (see the module docstring's
    trap). With ``copy_weights=True`` it holds the conv's weight (same tensor shape), so it computes the exact adjoint
    ``Cᵀ`` of the convolution — the gradient with respect to the conv's input (bias left at zero). A conv with
    ``padding_mode`` "circular", "reflect" or "replicate" gets a :mod:`tconv.nn` module with the same mode (torch's
    ConvTranspose has none), which folds the border back and so stays the exact adjoint.

    >>> conv = torch.nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=0, dilation=1)
    >>> inverse_of(conv, (6, 6))            # seed 001's "ConvTranspose2d(32,16,3,2,0,1)" is right for even inputs ...
    ConvTranspose2d(32, 16, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))
    >>> inverse_of(conv, (5, 5)).output_padding   # ... and wrong for odd ones
    (0, 0)
    """
    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    if not isinstance(conv_module, convs):
        raise ConfigTypeError("conv_module", type(conv_module).__name__, "must be an nn.Conv1d, nn.Conv2d or nn.Conv3d")
    nd = len(conv_module.kernel_size)
    if _is_int(input_size):
        size = (int(input_size),) * nd
    elif isinstance(input_size, (tuple, list, torch.Size)) and all(_is_int(v) for v in input_size):
        size = tuple(int(v) for v in input_size)
        if len(size) in (nd + 1, nd + 2):  # (C, *spatial) or (N, C, *spatial)
            size = size[-nd:]
    else:
        raise ConfigTypeError("input_size", input_size, f"must be an int or {nd} ints (the spatial size)")
    if len(size) != nd:
        raise ConfigError(
            "input_size", input_size, f"must have {nd} spatial entries for a {type(conv_module).__name__}"
        )
    _positive("input_size", size)
    pads = _conv_padding_pairs(conv_module, nd)
    if any(a != b for a, b in pads):
        raise ConfigError(
            "conv_module",
            f"{type(conv_module).__name__}(padding={conv_module.padding!r})",
            f"has asymmetric padding {pads}: nn.ConvTranspose crops the same amount on both sides; use "
            "tconv.conv_transpose(..., padding=<(before, after) pairs>) instead",
        )
    plan = conv_plan(size, tuple(conv_module.kernel_size), tuple(conv_module.stride), pads, tuple(conv_module.dilation))
    mode = conv_module.padding_mode
    if mode == "zeros":
        cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[nd]
        extra: dict[str, Any] = {}
    else:  # torch's ConvTranspose has no padding_mode: tconv.nn's folds the border back (the exact adjoint)
        from . import nn as tnn  # noqa: PLC0415  (tconv.nn imports the ops; arith stays light otherwise)

        cls = {1: tnn.ConvTranspose1d, 2: tnn.ConvTranspose2d, 3: tnn.ConvTranspose3d}[nd]
        extra = {"padding_mode": mode}
        make_plan(  # the mode's own rule (a border no wider than the input), refused here rather than in forward
            (1, *plan.in_size), (1, 1, *plan.kernel_size), plan.stride, plan.padding, plan.output_padding, 1,
            plan.dilation, padding_mode=mode,
        )  # fmt: skip
    dev, dtype = conv_module.weight.device, conv_module.weight.dtype
    t = cls(
        in_channels=conv_module.out_channels,
        out_channels=conv_module.in_channels,
        kernel_size=plan.kernel_size,
        stride=plan.stride,
        padding=plan.pad_before,
        output_padding=plan.output_padding,
        groups=conv_module.groups,
        bias=conv_module.bias is not None,
        dilation=plan.dilation,
        device=dev,
        dtype=dtype,
        **extra,
    )
    if copy_weights and dev.type != "meta":
        with torch.no_grad():
            t.weight.copy_(conv_module.weight)
            if t.bias is not None:
                t.bias.zero_()
    return t


# ----------------------------------------------------------------------------------------------------------------
# parsing "Conv2d(16, 32, 3, 2, 0, 1)" safely (the CLI's invert command), without eval
# ----------------------------------------------------------------------------------------------------------------
def parse_module(text: str) -> nn.Module:
    """Build an ``nn.Conv{1,2,3}d`` / ``nn.ConvTranspose{1,2,3}d`` from its constructor text, literals only.

    Positional arguments follow PyTorch's own order for that class — which is exactly the trap:

    >>> parse_module("Conv2d(16, 32, 3, 2, 0, 1)").dilation           # 6th positional: dilation
    (1, 1)
    >>> parse_module("ConvTranspose2d(32, 16, 3, 2, 0, 1)").output_padding   # 6th positional: output_padding
    (1, 1)
    """
    if not isinstance(text, str):
        raise ConfigTypeError("module", text, "must be a string such as 'Conv2d(3, 64, kernel_size=11, stride=4)'")
    src = text.strip()
    for prefix in ("torch.nn.", "nn."):
        if src.startswith(prefix):
            src = src[len(prefix) :]
    allowed = {f"{kind}{n}d" for kind in ("Conv", "ConvTranspose") for n in (1, 2, 3)}
    try:
        tree = ast.parse(src, mode="eval").body
        if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name) or tree.func.id not in allowed:
            raise ValueError
        args = [ast.literal_eval(a) for a in tree.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in tree.keywords if kw.arg}
    except (SyntaxError, ValueError):
        raise ConfigError(
            "module", text, f"must be a constructor call with literal arguments, one of {sorted(allowed)}"
        ) from None
    kwargs.setdefault("device", "meta")  # geometry only: allocate nothing
    try:
        return getattr(nn, tree.func.id)(*args, **kwargs)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError("module", text, f"is not a valid {tree.func.id}: {exc}") from None


# ----------------------------------------------------------------------------------------------------------------
# the seeds' worked cases (used by the tests and the tour)
# ----------------------------------------------------------------------------------------------------------------
#: Seed 001's four cases: direct conv (i, k, s, p) -> o, and its transpose: o -> i with seed 001's equivalent padding
#: p' = k - p - 1 and s - 1 zeros inserted.
SEED_CASES: tuple[dict[str, int], ...] = (
    {"i": 4, "k": 3, "s": 1, "p": 0, "o": 2, "p_equiv": 2, "zeros": 0},
    {"i": 5, "k": 4, "s": 1, "p": 2, "o": 6, "p_equiv": 1, "zeros": 0},
    {"i": 5, "k": 3, "s": 2, "p": 0, "o": 2, "p_equiv": 2, "zeros": 1},
    {"i": 5, "k": 3, "s": 2, "p": 1, "o": 3, "p_equiv": 1, "zeros": 1},
)

#: Seed 000's formulas (2.1)-(2.11) with an example each: (label, formula, callable, expected).
SEED000_FORMULAS: tuple[tuple[str, str, str, int], ...] = (
    ("(2.1)", "n_o = n_x - n_w + 1", "conv_output_size(7, 3)", 5),
    ("(2.2)", "n_x = n_o + n_w - 1", "conv_transpose_output_size(5, 3)", 7),
    ("(2.3)", "n_o = (n_x + 2p) - n_w + 1", "conv_output_size(7, 3, p=1)", 7),
    ("(2.4)", "n_x = (n_o + n_w - 1) - 2p", "conv_transpose_output_size(7, 3, p=1)", 7),
    ("(2.5)", "n_o = floor((n_x - n_w) / s) + 1", "conv_output_size(8, 3, s=2)", 3),
    ("(2.6)", "n_x = (n_o - 1) s + n_w", "conv_transpose_output_size(3, 3, s=2)", 7),
    ("(2.7)", "op = (n_x - n_w) mod s", "inverse_of(Conv1d(1, 1, 3, stride=2), 8).output_padding[0]", 1),
    ("(2.8)", "n_x = (n_o - 1) s + op + n_w", "conv_transpose_output_size(3, 3, s=2, op=1)", 8),
    ("(2.9)", "n_o = n_x - d (n_w - 1)", "conv_output_size(7, 3, d=2)", 3),
    ("(2.10)", "n_x = n_o + d (n_w - 1)", "conv_transpose_output_size(3, 3, d=2)", 7),
    (
        "(2.11)",
        "n_x = (n_o - 1) s + op + d (n_w - 1) + 1 - 2p",
        "conv_transpose_output_size(3, 3, s=2, p=1, d=2, op=1)",
        8,
    ),
)


def _eval_formula(expr: str) -> int:
    env = {
        "conv_output_size": conv_output_size,
        "conv_transpose_output_size": conv_transpose_output_size,
        "inverse_of": inverse_of,
        "Conv1d": lambda *a, **kw: nn.Conv1d(*a, **kw, device="meta"),
    }
    return int(eval(expr, {"__builtins__": {}}, env))  # noqa: S307 - our own constant table, not user input


def tour_section(out_dir: Path, quick: bool = True) -> Any:
    """Tour: the seeds' worked cases, checked by running PyTorch, and the Conv2d/ConvTranspose2d trap."""
    import html  # noqa: PLC0415

    import torch.nn.functional as F  # noqa: PLC0415

    from .tour import Section, table_html  # noqa: PLC0415

    rows = []
    for c in SEED_CASES:
        o = conv_output_size(c["i"], c["k"], c["s"], c["p"])
        eq = equivalent_conv(
            o, c["k"], c["s"], c["p"], op=inverse_of(nn.Conv1d(1, 1, c["k"], c["s"], c["p"]), c["i"]).output_padding
        )
        x = torch.ones(1, 1, c["i"])
        torch_o = F.conv1d(x, torch.ones(1, 1, c["k"]), stride=c["s"], padding=c["p"]).shape[-1]
        inv = inverse_of(nn.Conv1d(1, 1, c["k"], stride=c["s"], padding=c["p"]), c["i"])
        torch_back = inv(torch.ones(1, 1, o)).shape[-1]
        rows.append(
            [f"i={c['i']} k={c['k']} s={c['s']} p={c['p']}", o, torch_o, eq.zeros_between[0], eq.padding[0][0],
             c["p_equiv"], eq.output_size[0], torch_back]
        )  # fmt: skip
    t1 = table_html(
        ["seed 001 case", "conv o", "torch o", "zeros inserted", "equiv. pad k−p−1", "seed's p′", "transpose o′",
         "torch o′"],
        rows,
    )  # fmt: skip
    t2 = table_html(
        ["seed 000", "formula", "tconv call", "result", "expected"],
        [[lab, f, call, _eval_formula(call), exp] for lab, f, call, exp in SEED000_FORMULAS],
    )
    alex = inverse_of(nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2, device="meta"), 224)
    trap_c = parse_module("Conv2d(16,32,3,2,0,1)")
    trap_t = parse_module("ConvTranspose2d(32,16,3,2,0,1)")
    t3 = table_html(
        ["constructor", "what the 6th positional argument set", "size round trip"],
        [
            ["Conv2d(16,32,3,2,0,1)", f"dilation={trap_c.dilation}", f"5 → {conv_output_size(5, 3, 2)}, 6 → {conv_output_size(6, 3, 2)}"],
            ["ConvTranspose2d(32,16,3,2,0,1)", f"output_padding={trap_t.output_padding}",
             f"2 → {conv_transpose_output_size(2, 3, 2, op=1)} (right for 6, wrong for 5)"],
        ],
    )  # fmt: skip
    body = (
        "<p>Every size below is read from the plan (<code>tconv.conv_output_size</code>, "
        "<code>tconv.conv_transpose_output_size</code>, <code>tconv.equivalent_conv</code>, "
        "<code>tconv.inverse_of</code>) and checked against PyTorch in the same row.</p>"
        f"<h3>Seed 001: a convolution and its transpose</h3>{t1}"
        "<p>The transpose is a stride-1 convolution of the input with <i>s − 1</i> zeros inserted between elements, "
        "padded by <i>k − p − 1</i> and convolved with the flipped kernel.</p>"
        f"<h3>Seed 000: output sizes (2.1)–(2.11)</h3>{t2}"
        f"<h3>The positional-argument trap</h3>{t3}"
        f"<p><code>tconv.inverse_of</code> builds by keyword and solves output_padding from the input size: AlexNet's "
        f"conv1 (k11 s4 p2) on 224 → 55 is undone by <code>{html.escape(repr(alex))}</code>.</p>"
        "<pre>tconv shape 224 11 -s 4 -p 2\ntconv invert 'Conv2d(3, 64, 11, 4, 2)' --input 224x224\n"
        "tconv solve 16 32 --transposed\ntconv rf alexnet-like</pre>"
    )
    return Section("arith", "Convolution arithmetic", body)
