"""Receptive fields, traced through the model's real graph.

The receptive field of a unit is the set of input positions its value depends on (seed 000 §3.3: "the region of the
input image that one element of a feature map corresponds to"). In seed 000's example, two same-padding convolutions
with kernels 3 and 5 give fields of 3 and 7; ``h_8`` (1-based) sees ``x_5 .. x_11``.

Every layer we understand relates output position ``u`` to input positions *per spatial dimension* — the same index
mapping as :mod:`tconv.geometry`:

* a convolution or pooling window (kernel ``k``, stride ``s``, dilation ``d``, padding before ``p``) reads
  ``u * s - p + t * d`` for ``t = 0 .. k - 1``;
* a transposed convolution receives, at output ``o``, input ``j = (o + p - t * d) / s`` for every tap ``t`` that
  makes it an integer (the plan's ``o = j * s + t * d - p`` solved for ``j``);
* adaptive pooling, nearest / linear up-sampling, padding, concatenation and broadcasting have their own small
  rules; pointwise layers (activations, normalization, dropout) keep positions.

The model is traced with :func:`torch.fx.symbolic_trace` (a model fx cannot trace falls back to forward hooks, which
only works for a plain chain of layers), and sizes are found on storage-less "meta" tensors, so no real activation
is computed.
Where the graph branches (residual additions, concatenations), a unit's field is the union of its paths' fields.

Two views are offered:

* :func:`receptive_field` — one :class:`RFRow` per layer with the *theoretical* field (as if the input extended
  forever): ``rf`` (size), ``jump`` (distance in input pixels between neighbouring units), ``start`` (first input
  index of unit 0's field; negative when it reaches into padding). For a plain stack of convolutions and poolings
  this is the classic recurrence ``jump_out = jump_in * s``, ``rf_out = rf_in + d (k - 1) jump_in``,
  ``start_out = start_in - p * jump_in``.
* :func:`receptive_field_box` — the exact field of one unit, clipped to the input (padding holds no input), as a
  :class:`RFBox` with per-dimension start/stop and the exact index sets (dilation leaves holes).

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Conv1d(1, 1, 3, padding=1), torch.nn.Conv1d(1, 1, 5, padding=2))
>>> [(r.name, r.rf, r.start) for r in receptive_field(net, (1, 1, 16))]
[('input', (1,), (0,)), ('0', (3,), (-1,)), ('1', (7,), (-3,))]
>>> receptive_field_box(net, (1, 1, 16), layer=1, position=7).start_stop   # seed 000: h_8 sees x_5..x_11 (1-based)
((4, 11),)
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError, ConfigTypeError

__all__ = ["RFRow", "RFBox", "receptive_field", "receptive_field_box", "draw_fields", "tour_section"]

_EMPTY_LO = np.iinfo(np.int64).max // 4
_EMPTY_HI = -_EMPTY_LO


# ----------------------------------------------------------------------------------------------------------------
# per-dimension relations: which positions of a layer's input an output position reads
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Rel:
    """How output position ``u`` of a node reads positions of one input, along one spatial dimension.

    ``taps(u)`` gives, for an array of output positions (any integers: the theoretical view extends past the ends),
    an array ``(len(u), T)`` of input positions and a validity mask. Positions outside ``0 .. n_in - 1`` are then
    resolved by ``pad_mode``: dropped for zero padding, mirrored / clamped / wrapped for reflect / replicate /
    circular padding.
    """

    kind: str  # identity | broadcast | window | transposed | adaptive | nearest | nearest-exact | linear | shift
    n_in: int
    n_out: int
    k: int = 1
    s: int = 1
    d: int = 1
    p: int = 0  # padding before (window, transposed) or offset (shift)
    pad_mode: str = "zeros"
    lo: int | None = None  # shift: valid output range [lo, hi) (None = unbounded)
    hi: int | None = None
    align_corners: bool = False

    def taps(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(u, dtype=np.int64)[:, None]
        kind = self.kind
        if kind == "identity":
            return u, np.ones_like(u, dtype=bool)
        if kind == "broadcast":
            return np.zeros_like(u), np.ones_like(u, dtype=bool)
        if kind == "shift":
            valid = np.ones_like(u, dtype=bool)
            if self.lo is not None:
                valid &= u >= self.lo
            if self.hi is not None:
                valid &= u < self.hi
            return u - self.p, valid
        t = np.arange(self.k, dtype=np.int64)[None, :]
        if kind == "window":  # convolution / pooling: output u reads u*s - p + t*d
            pos = u * self.s - self.p + t * self.d
            return pos, np.ones_like(pos, dtype=bool)
        if kind == "transposed":  # the plan's o = j*s + t*d - p, solved for j
            num = u + self.p - t * self.d
            return num // self.s, num % self.s == 0
        if kind == "adaptive":  # torch: start = floor(u*n_in/n_out), end = ceil((u+1)*n_in/n_out)
            start = (u * self.n_in) // self.n_out
            end = -((-(u + 1) * self.n_in) // self.n_out)
            width = -(-self.n_in // self.n_out) + 1
            pos = start + np.arange(width, dtype=np.int64)[None, :]
            return pos, pos < end
        if kind == "nearest":  # src = floor(u * n_in / n_out)
            return (u * self.n_in) // self.n_out, np.ones_like(u, dtype=bool)
        if kind == "nearest-exact":  # src = floor((u + 1/2) * n_in / n_out)
            return ((2 * u + 1) * self.n_in) // (2 * self.n_out), np.ones_like(u, dtype=bool)
        if kind == "linear":  # two taps floor(src), floor(src)+1; the second only when its weight is non-zero
            if self.align_corners:
                num, den = u * (self.n_in - 1), np.full_like(u, max(self.n_out - 1, 1))
            else:
                num, den = (2 * u + 1) * self.n_in - self.n_out, np.full_like(u, 2 * self.n_out)
                num = np.maximum(num, 0)
            x0 = num // den
            frac = num % den != 0
            return np.concatenate([x0, x0 + 1], axis=1), np.concatenate([np.ones_like(frac), frac], axis=1)
        raise AssertionError(kind)  # pragma: no cover

    def resolve(self, pos: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map positions outside the input through the padding mode (clipped view)."""
        n = self.n_in
        mode = self.pad_mode
        if mode == "reflect" and n > 1:
            period = 2 * (n - 1)
            r = np.mod(pos, period)
            return np.where(r < n, r, period - r), valid
        if mode in ("replicate", "reflect"):
            return np.clip(pos, 0, n - 1), valid
        if mode == "circular":
            return np.mod(pos, n), valid
        return pos, valid & (pos >= 0) & (pos < n)


_GLOBAL = "global"  # an edge whose output depends on every input position (e.g. through a flatten)


@dataclass
class _Node:
    name: str
    kind: str
    size: tuple[int, ...] | None  # spatial size; None when the tensor has no spatial layout
    depends: bool  # does it depend on the model input at all?
    edges: list[tuple[int, Any]] = field(default_factory=list)  # (source node index, tuple of _Rel per dim | _GLOBAL)
    geometric: bool = True  # shown in the default table (pointwise layers are not)
    module: nn.Module | None = None
    jump: tuple[Fraction, ...] = ()


# ----------------------------------------------------------------------------------------------------------------
# public results
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RFRow:
    """The theoretical receptive field of the units of one layer (each entry per spatial dimension).

    ``rf``: field size in input pixels (the largest over the layer's units; for convolutions and poolings every unit
    has the same). ``jump``: input pixels between neighbouring units (a fraction after a transposed convolution).
    ``start``: first input index of unit 0's field, ignoring the input's borders (negative = reaches into padding);
    unit ``u``'s field begins near ``start + u * jump``. ``center``: the middle of unit 0's field.
    """

    index: int
    name: str
    kind: str
    output_size: tuple[int, ...]
    rf: tuple[int, ...]
    jump: tuple[Fraction, ...]
    start: tuple[int, ...]
    center: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (fractions as ints where whole, else strings like "1/2")."""
        return {
            "index": self.index,
            "name": self.name,
            "kind": self.kind,
            "output_size": list(self.output_size),
            "rf": list(self.rf),
            "jump": [_frac_json(j) for j in self.jump],
            "start": list(self.start),
            "center": list(self.center),
        }


def _frac_json(f: Fraction) -> int | str:
    return int(f) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


@dataclass(frozen=True)
class RFBox:
    """One unit's receptive field. ``start``/``stop`` (exclusive) are clipped to the input; ``indices`` are the exact
    input positions per dimension (a dilated layer leaves holes); ``theoretical_start``/``theoretical_stop`` ignore the
    input's borders. ``slices`` indexes the box out of an input tensor's spatial dimensions.
    """

    layer: str
    position: tuple[int, ...]
    start: tuple[int, ...]
    stop: tuple[int, ...]
    indices: tuple[tuple[int, ...], ...]
    theoretical_start: tuple[int, ...]
    theoretical_stop: tuple[int, ...]

    @property
    def size(self) -> tuple[int, ...]:
        return tuple(b - a for a, b in zip(self.start, self.stop, strict=True))

    @property
    def empty(self) -> bool:
        return any(s == 0 for s in self.size)

    @property
    def slices(self) -> tuple[slice, ...]:
        return tuple(slice(a, b) for a, b in zip(self.start, self.stop, strict=True))

    @property
    def start_stop(self) -> tuple[tuple[int, int], ...]:
        return tuple(zip(self.start, self.stop, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "position": list(self.position),
            "start": list(self.start),
            "stop": list(self.stop),
            "size": list(self.size),
            "theoretical_start": list(self.theoretical_start),
            "theoretical_stop": list(self.theoretical_stop),
        }


# ----------------------------------------------------------------------------------------------------------------
# tracing a model into nodes
# ----------------------------------------------------------------------------------------------------------------
_POINTWISE_MODULES: tuple[type, ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid,
    nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign, nn.Tanhshrink, nn.Threshold,
    nn.LogSigmoid, nn.Hardshrink, nn.Softshrink, nn.RReLU, nn.GLU, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
    nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout, nn.modules.batchnorm._NormBase, nn.GroupNorm,
    nn.LocalResponseNorm, nn.CrossMapLRN2d, nn.LayerNorm, nn.Softmax2d, nn.ChannelShuffle,
)  # fmt: skip

_POINTWISE_FUNCTIONS: set[Any] = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.pow, operator.neg,
    operator.iadd, operator.imul, operator.isub, operator.itruediv, operator.pos, abs, operator.abs,
    torch.add, torch.sub, torch.mul, torch.div, torch.relu, torch.sigmoid, torch.tanh, torch.abs, torch.exp,
    torch.log, torch.sqrt, torch.clamp, torch.maximum, torch.minimum, torch.where, torch.neg, torch.square,
    torch.rsqrt, torch.sin, torch.cos, torch.erf, torch.pow,
    F.relu, F.relu6, F.leaky_relu, F.elu, F.selu, F.celu, F.gelu, F.silu, F.mish, F.hardtanh, F.hardswish,
    F.hardsigmoid, F.softplus, F.softsign, F.sigmoid, F.tanh, F.dropout, F.dropout1d, F.dropout2d, F.dropout3d,
    F.alpha_dropout, F.batch_norm, F.group_norm, F.instance_norm, F.layer_norm, F.local_response_norm, F.glu,
    F.threshold, F.logsigmoid, F.prelu, F.rrelu,
}  # fmt: skip

_POINTWISE_METHODS = {
    "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "add", "add_", "sub", "sub_", "mul", "mul_", "div",
    "div_", "clamp", "clamp_", "clamp_min", "clamp_max", "abs", "exp", "log", "sqrt", "pow", "neg", "square",
    "contiguous", "clone", "float", "double", "half", "bfloat16", "to", "type", "type_as", "detach", "requires_grad_",
    "__add__", "__radd__", "__mul__", "__rmul__", "__sub__", "__rsub__", "__truediv__", "masked_fill", "expand_as", "expand",
}  # fmt: skip


_RESHAPE_METHODS = {"view", "reshape", "flatten", "unflatten", "permute", "transpose", "squeeze", "unsqueeze", "t"}


def _bind(args: tuple, kwargs: dict, names: Sequence[str], defaults: dict[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    out.update(dict(zip(names, args, strict=False)))
    out.update(kwargs)
    return out


class _DimMismatch(Exception):
    """A layer's parameters have a different number of spatial dimensions than the input shape."""


def _tuple(v: Any, nd: int) -> tuple[int, ...]:
    if isinstance(v, numbers.Integral):
        return (int(v),) * nd
    v = tuple(int(x) for x in v)
    v = v * nd if len(v) == 1 else v
    if len(v) != nd:
        raise _DimMismatch(len(v))
    return v


def _meta_shape(meta: Any) -> tuple[int, ...] | None:
    """Spatial-or-not shape of a node's fx tensor meta (first element for tuples such as (values, indices))."""
    if meta is None:
        return None
    if isinstance(meta, list):  # (values, indices) of a pooling with return_indices: the first
        return _meta_shape(meta[0]) if meta else None
    return tuple(int(s) for s in meta)


def _conv_pads(mod: nn.Module, nd: int) -> tuple[int, ...]:
    """Padding before each spatial dim of a Conv*d, including the string forms ('same' puts the odd one after)."""
    k, d = _tuple(mod.kernel_size, nd), _tuple(mod.dilation, nd)
    if isinstance(mod.padding, str):
        if mod.padding == "valid":
            return (0,) * nd
        return tuple(di * (ki - 1) // 2 for ki, di in zip(k, d, strict=True))
    return _tuple(mod.padding, nd)


def _window_rels(n_in, n_out, k, s, d, p, pad_mode="zeros") -> tuple[_Rel, ...]:
    return tuple(
        _Rel("window", a, b, k=kk, s=ss, d=dd, p=pp, pad_mode=pad_mode)
        for a, b, kk, ss, dd, pp in zip(n_in, n_out, k, s, d, p, strict=True)
    )


def _module_rels(mod: nn.Module, n_in: tuple[int, ...], n_out: tuple[int, ...]) -> tuple[tuple[_Rel, ...], bool] | None:
    """Per-dimension relations for a known module, and whether it is geometric (shown in tables)."""
    nd = len(n_in)
    if isinstance(mod, nn.modules.conv._ConvTransposeNd):
        k, s, d, p = (_tuple(v, nd) for v in (mod.kernel_size, mod.stride, mod.dilation, mod.padding))
        rels = tuple(
            _Rel("transposed", a, b, k=kk, s=ss, d=dd, p=pp)
            for a, b, kk, ss, dd, pp in zip(n_in, n_out, k, s, d, p, strict=True)
        )
        return rels, True
    if isinstance(mod, nn.modules.conv._ConvNd):
        k, s, d = (_tuple(v, nd) for v in (mod.kernel_size, mod.stride, mod.dilation))
        mode = mod.padding_mode if mod.padding_mode != "zeros" else "zeros"
        return _window_rels(n_in, n_out, k, s, d, _conv_pads(mod, nd), mode), True
    if isinstance(mod, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd, nn.modules.pooling._LPPoolNd)):
        k = _tuple(mod.kernel_size, nd)
        s = _tuple(mod.stride if mod.stride is not None and mod.stride != () else mod.kernel_size, nd)
        d = _tuple(getattr(mod, "dilation", 1), nd)
        p = _tuple(getattr(mod, "padding", 0), nd)
        return _window_rels(n_in, n_out, k, s, d, p), True
    if isinstance(mod, (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)):
        return tuple(_Rel("adaptive", a, b) for a, b in zip(n_in, n_out, strict=True)), True
    if isinstance(mod, nn.modules.padding._ReflectionPadNd):
        return _pad_rels(n_in, n_out, mod.padding, "reflect"), True
    if isinstance(mod, nn.modules.padding._ReplicationPadNd):
        return _pad_rels(n_in, n_out, mod.padding, "replicate"), True
    if isinstance(mod, nn.modules.padding._ConstantPadNd):
        return _pad_rels(n_in, n_out, mod.padding, "zeros"), True
    if isinstance(mod, nn.modules.padding._CircularPadNd):
        return _pad_rels(n_in, n_out, mod.padding, "circular"), True
    if isinstance(mod, nn.Upsample):
        return _resize_rels(n_in, n_out, mod.mode, mod.align_corners), True
    if isinstance(mod, _POINTWISE_MODULES):
        return _pointwise_rels(n_in, n_out), False
    return None


def _pad_rels(n_in, n_out, pad, mode) -> tuple[_Rel, ...]:
    """F.pad order: (last dim before, last dim after, second-to-last before, ...)."""
    nd = len(n_in)
    pad = tuple(int(v) for v in pad)
    before = [0] * nd
    for i in range(len(pad) // 2):
        before[nd - 1 - i] = pad[2 * i]
    return tuple(_Rel("shift", a, b, p=pb, pad_mode=mode) for a, b, pb in zip(n_in, n_out, before, strict=True))


def _resize_rels(n_in, n_out, mode: str, align_corners: bool | None) -> tuple[_Rel, ...]:
    if mode in ("nearest", "nearest-exact"):
        kind = mode
    elif mode in ("linear", "bilinear", "trilinear"):
        kind = "linear"
    else:
        raise ConfigError("model", f"interpolation mode {mode!r}", "is not supported for receptive fields")
    return tuple(
        _Rel(kind, a, b, pad_mode="replicate", align_corners=bool(align_corners))
        for a, b in zip(n_in, n_out, strict=True)
    )


def _pointwise_rels(n_in, n_out) -> tuple[_Rel, ...]:
    rels = []
    for a, b in zip(n_in, n_out, strict=True):
        if a == b:
            rels.append(_Rel("identity", a, b))
        elif a == 1:
            rels.append(_Rel("broadcast", a, b))
        else:
            return None  # type: ignore[return-value]
    return tuple(rels)


def _function_rels(target: Any, args: tuple, kwargs: dict, n_in, n_out, arg_shapes) -> tuple[Any, bool] | None:
    """Relations for a functional call (call_function / call_method); None when unknown."""
    nd = len(n_out)
    name = getattr(target, "__name__", str(target))
    if target in (F.conv1d, F.conv2d, F.conv3d, F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d):
        transposed = "transpose" in name
        names = (
            ["input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"]
            if transposed
            else ["input", "weight", "bias", "stride", "padding", "dilation", "groups"]
        )
        a = _bind(args, kwargs, names, {"stride": 1, "padding": 0, "dilation": 1})
        k = arg_shapes["weight"][2:]
        s, d = _tuple(a["stride"], nd), _tuple(a["dilation"], nd)
        if isinstance(a["padding"], str):
            p = (0,) * nd if a["padding"] == "valid" else tuple(di * (ki - 1) // 2 for ki, di in zip(k, d, strict=True))
        else:
            p = _tuple(a["padding"], nd)
        kind = "transposed" if transposed else "window"
        return tuple(
            _Rel(kind, i, o, k=kk, s=ss, d=dd, p=pp)
            for i, o, kk, ss, dd, pp in zip(n_in, n_out, k, s, d, p, strict=True)
        ), True
    if name in ("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d") or (
        name.startswith("_max_pool") or name.startswith("boolean_dispatch")
    ):
        if "max" in name:
            names = ["input", "kernel_size", "stride", "padding", "dilation"]
        else:
            names = ["input", "kernel_size", "stride", "padding"]
        a = _bind(args, kwargs, names, {"stride": None, "padding": 0, "dilation": 1})
        k = _tuple(a["kernel_size"], nd)
        s = _tuple(a["stride"] if a["stride"] not in (None, (), []) else k, nd)
        return _window_rels(n_in, n_out, k, s, _tuple(a["dilation"], nd), _tuple(a["padding"], nd)), True
    if name.startswith("adaptive_") or name.startswith("_adaptive"):
        return tuple(_Rel("adaptive", i, o) for i, o in zip(n_in, n_out, strict=True)), True
    if target is F.pad:
        a = _bind(args, kwargs, ["input", "pad", "mode", "value"], {"mode": "constant"})
        mode = {"constant": "zeros"}.get(a["mode"], a["mode"])
        return _pad_rels(n_in, n_out, a["pad"], mode), True
    if target is F.interpolate:
        a = _bind(args, kwargs, ["input", "size", "scale_factor", "mode", "align_corners"], {"mode": "nearest"})
        return _resize_rels(n_in, n_out, a["mode"], a.get("align_corners")), True
    if target in _POINTWISE_FUNCTIONS or (isinstance(target, str) and target in _POINTWISE_METHODS):
        return "pointwise", False
    return None


_SHAPE_KEEPING_MODULES = tuple(m for m in _POINTWISE_MODULES if m is not nn.GLU)
_SHAPE_KEEPING_FUNCTIONS = {
    torch.relu, torch.sigmoid, torch.tanh, F.relu, F.relu6, F.leaky_relu, F.elu, F.selu, F.celu, F.gelu, F.silu,
    F.mish, F.hardtanh, F.hardswish, F.hardsigmoid, F.softplus, F.softsign, F.sigmoid, F.tanh, F.dropout,
    F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.logsigmoid,
}  # fmt: skip
_SHAPE_KEEPING_METHODS = {"relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "contiguous", "clone", "detach"}


class _ShapeRecorder(torch.fx.Interpreter):
    """Run the graph and record each node's output shape in ``node.meta["tconv_shape"]``.

    With ``meta=True`` every parameter and buffer is swapped for a storage-less "meta" tensor on the fly, so nothing
    is computed or allocated (and, unlike fake tensors, nothing heavy is imported).
    """

    def __init__(self, gm: Any, meta: bool) -> None:
        super().__init__(gm)
        self.meta = meta

    def run_node(self, n: Any) -> Any:
        out = super().run_node(n)
        n.meta["tconv_shape"] = _shape_of(out)
        return out

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        if not self.meta:
            return super().call_module(target, args, kwargs)
        mod = self.fetch_attr(target)
        if isinstance(mod, _SHAPE_KEEPING_MODULES) and len(args) == 1 and isinstance(args[0], torch.Tensor):
            return args[0]  # same shape; running meta kernels of activations would import torch._dynamo
        if isinstance(mod, nn.modules.pooling._AdaptiveAvgPoolNd) and len(args) == 1:
            return _adaptive(args[0], mod.output_size)
        if isinstance(mod, nn.Linear) and len(args) == 1 and isinstance(args[0], torch.Tensor):
            x = args[0]
            return torch.empty((*x.shape[:-1], mod.out_features), dtype=x.dtype, device="meta")
        state = {k: _to_meta(v) for k, v in (*mod.named_parameters(), *mod.named_buffers())}
        return torch.func.functional_call(mod, state, tuple(args), dict(kwargs))

    def call_function(self, target: Any, args: Any, kwargs: Any) -> Any:
        if self.meta and args and isinstance(args[0], torch.Tensor):
            if target in _SHAPE_KEEPING_FUNCTIONS and not _tensors((*args[1:], *kwargs.values())):
                return args[0]
            if target in _BROADCASTING_FUNCTIONS:
                return _broadcast(args, kwargs)
            if target in (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d) and len(args) == 2:
                return _adaptive(args[0], args[1])
        if self.meta and target in (torch.cat, torch.concat) and not kwargs and len(args) <= 2:
            ts = list(args[0])
            if ts and all(isinstance(t, torch.Tensor) for t in ts):
                dim = (args[1] if len(args) > 1 else 0) % ts[0].dim()
                shape = list(ts[0].shape)
                shape[dim] = sum(t.shape[dim] for t in ts)
                return torch.empty(shape, dtype=ts[0].dtype, device="meta")
        return super().call_function(target, args, kwargs)

    def call_method(self, target: Any, args: Any, kwargs: Any) -> Any:
        if self.meta and args and isinstance(args[0], torch.Tensor):
            if target in _SHAPE_KEEPING_METHODS and not _tensors((*args[1:], *kwargs.values())):
                return args[0]
            if target in _BROADCASTING_METHODS:
                return _broadcast(args, kwargs)
        return super().call_method(target, args, kwargs)

    def get_attr(self, target: Any, args: Any, kwargs: Any) -> Any:
        value = super().get_attr(target, args, kwargs)
        return _to_meta(value) if self.meta and isinstance(value, torch.Tensor) else value


_BROADCASTING_FUNCTIONS = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.isub, operator.imul,
    torch.add, torch.sub, torch.mul, torch.div, torch.maximum, torch.minimum,
}  # fmt: skip
_BROADCASTING_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_"}


def _tensors(values: Any) -> list[torch.Tensor]:
    return [v for v in values if isinstance(v, torch.Tensor)]


def _broadcast(args: Any, kwargs: Any) -> torch.Tensor:
    """The result of an elementwise binary op, shape only (meta kernels of these would import torch._dynamo)."""
    ts = _tensors((*args, *kwargs.values()))
    return torch.empty(torch.broadcast_shapes(*(t.shape for t in ts)), dtype=ts[0].dtype, device="meta")


def _adaptive(x: torch.Tensor, output_size: Any) -> torch.Tensor:
    nd = x.dim() - 2
    size = (output_size,) * nd if isinstance(output_size, int) else tuple(output_size)
    size = tuple(n if o is None else int(o) for n, o in zip(x.shape[2:], size, strict=True))
    return torch.empty((*x.shape[:2], *size), dtype=x.dtype, device="meta")


def _to_meta(t: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(t, device="meta")


def _shape_of(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return tuple(v.shape)
    if isinstance(v, (tuple, list)) and v and isinstance(v[0], torch.Tensor):
        return [tuple(v[0].shape)]
    return None


def _one_line(exc: BaseException) -> str:
    """The root cause of an exception, on one line."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = " ".join(str(exc).split()).split(" While executing ")[0]
    return f"{type(exc).__name__}: {text[:300]}"


def _trace(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[_Node], dict[Any, int]]:
    """Trace ``model`` into a list of :class:`_Node` in execution order, and a map module -> node index."""
    nd = len(input_shape) - 2
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - anything fx cannot trace: fall back to hooks on a plain chain
        return _trace_hooks(model, input_shape)
    try:
        with torch.no_grad():
            _ShapeRecorder(gm, meta=True).run(torch.empty(input_shape, device="meta"))
    except Exception as exc:  # noqa: BLE001 - e.g. a tensor created inside forward: retry with fake tensors
        if not any(w in _one_line(exc).lower() for w in ("meta", "device", "not implemented")):
            raise ConfigError("input_shape", input_shape, f"does not fit the model: {_one_line(exc)}") from None
        from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: PLC0415

        fake = FakeTensorMode(allow_non_fake_inputs=True)
        try:
            with torch.no_grad():
                _ShapeRecorder(gm, meta=False).run(fake.from_tensor(torch.empty(input_shape)))
        except Exception:  # noqa: BLE001
            raise ConfigError("input_shape", input_shape, f"does not fit the model: {_one_line(exc)}") from None

    nodes: list[_Node] = []
    index: dict[Any, int] = {}  # fx node -> our index
    by_module: dict[Any, list[int]] = {}
    modules = dict(gm.named_modules())
    first_input = True
    for fxn in gm.graph.nodes:
        shape = _meta_shape(fxn.meta.get("tconv_shape"))
        spatial = shape[2:] if shape is not None and len(shape) == nd + 2 else None
        if fxn.op == "placeholder":
            node = _Node("input", "input", spatial if first_input else None, depends=first_input)
            first_input = False
        elif fxn.op in ("get_attr", "output"):
            if fxn.op == "output":
                continue
            node = _Node(fxn.name, "constant", None, depends=False)
        else:
            srcs = [index[a] for a in fxn.all_input_nodes if a in index]
            dep_srcs = [i for i in srcs if nodes[i].depends]
            mod = modules.get(fxn.target) if fxn.op == "call_module" else None
            kind = type(mod).__name__ if mod is not None else getattr(fxn.target, "__name__", str(fxn.target))
            name = str(fxn.target) if fxn.op == "call_module" else fxn.name
            node = _Node(name, kind, spatial, depends=bool(dep_srcs), module=mod)
            if node.depends:
                try:
                    _connect(node, fxn, dep_srcs, nodes, index, nd, mod)
                except _DimMismatch as exc:
                    raise ConfigError(
                        "input_shape",
                        input_shape,
                        f"has {nd} spatial dimensions but layer {name} ({kind}) has {exc.args[0]}: "
                        "give (N, C, *spatial)",
                    ) from None
            if mod is not None:
                by_module.setdefault(id(mod), []).append(len(nodes))
        index[fxn] = len(nodes)
        nodes.append(node)
    return nodes, {k: v[-1] if len(v) == 1 else v for k, v in by_module.items()}


def _connect(node: _Node, fxn: Any, dep_srcs: list[int], nodes: list[_Node], index, nd: int, mod) -> None:
    """Fill ``node.edges`` with the per-dimension relations to the sources it depends on."""
    if node.size is None:  # no spatial layout (flattened, reduced, ...): depends on everything its sources see
        node.edges = [(i, _GLOBAL) for i in dep_srcs]
        node.geometric = False
        return
    spatial_srcs = [i for i in dep_srcs if nodes[i].size is not None]
    flat_srcs = [i for i in dep_srcs if nodes[i].size is None]
    node.edges = [(i, _GLOBAL) for i in flat_srcs]
    if not spatial_srcs or (fxn.op == "call_method" and fxn.target in _RESHAPE_METHODS):
        node.edges += [(i, _GLOBAL) for i in spatial_srcs]  # positions re-arranged: conservatively, everything
        node.geometric = False
        return
    if fxn.op == "call_function" and fxn.target in (torch.cat, torch.concat, torch.concatenate):
        _connect_cat(node, fxn, nodes, index, nd)
        return
    if fxn.op == "call_function" and fxn.target is operator.getitem and len(spatial_srcs) == 1:
        src = nodes[spatial_srcs[0]]
        if src.size == node.size:  # (values, indices)[0] of a pooling with return_indices
            node.edges.append((spatial_srcs[0], tuple(_Rel("identity", n, n) for n in node.size)))
            node.geometric = False
            return
    if fxn.op == "call_function" and fxn.target is operator.getitem:
        raise ConfigError("model", f"{fxn.name} (indexing a feature map)", "is not supported for receptive fields")
    result = None
    if mod is not None and len(spatial_srcs) == 1:
        result = _module_rels(mod, nodes[spatial_srcs[0]].size, node.size)
    elif mod is None:
        main = spatial_srcs[0] if spatial_srcs else None
        n_in = nodes[main].size if main is not None else node.size
        shapes = {}
        if fxn.op == "call_function" and len(fxn.args) > 1 and hasattr(fxn.args[1], "meta"):
            shapes["weight"] = _meta_shape(fxn.args[1].meta.get("tconv_shape"))
        if fxn.op == "call_function" and "weight" in fxn.kwargs and hasattr(fxn.kwargs["weight"], "meta"):
            shapes["weight"] = _meta_shape(fxn.kwargs["weight"].meta.get("tconv_shape"))
        result = _function_rels(fxn.target, fxn.args, fxn.kwargs, n_in, node.size, shapes)
        if result is not None and result[0] != "pointwise" and len(spatial_srcs) != 1:
            result = None
    if result is None or result[0] is None:
        what = type(mod).__name__ if mod is not None else getattr(fxn.target, "__name__", str(fxn.target))
        raise ConfigError(
            "model",
            f"{node.name} ({what})",
            "is not supported for receptive fields: known are convolutions, transposed convolutions, poolings, "
            "padding, up-sampling, concatenation and pointwise layers",
        )
    rels, geometric = result
    node.geometric = geometric
    if rels == "pointwise":
        for i in spatial_srcs:
            pr = _pointwise_rels(nodes[i].size, node.size)
            if pr is None:
                raise ConfigError(
                    "model",
                    f"{node.name} ({node.kind})",
                    f"mixes feature maps of sizes {nodes[i].size} and {node.size}",
                )
            node.edges.append((i, pr))
        node.geometric = len(spatial_srcs) > 1  # a merge (residual add) is worth a row
        return
    node.edges.append((spatial_srcs[0], rels))


def _connect_cat(node: _Node, fxn: Any, nodes: list[_Node], index, nd: int) -> None:
    tensors = fxn.args[0] if fxn.args else fxn.kwargs.get("tensors", fxn.kwargs.get("seq"))
    dim = fxn.args[1] if len(fxn.args) > 1 else fxn.kwargs.get("dim", fxn.kwargs.get("axis", 0))
    dim = dim % (nd + 2)
    node.geometric = True
    offset = 0
    for t in tensors:
        i = index.get(t)
        src = nodes[i] if i is not None else None
        if src is None or not src.depends:
            if dim >= 2 and hasattr(t, "meta"):
                offset += _meta_shape(t.meta.get("tconv_shape"))[dim]
            continue
        if src.size is None:
            node.edges.append((i, _GLOBAL))
            continue
        if dim < 2:  # channels (or batch): every position keeps its place
            node.edges.append((i, _pointwise_rels(src.size, node.size)))
            continue
        sd = dim - 2
        rels = []
        for k in range(nd):
            if k == sd:
                n = src.size[k]
                first, last = offset == 0, offset + n == node.size[k]
                rels.append(
                    _Rel(
                        "shift",
                        n,
                        node.size[k],
                        p=offset,
                        lo=None if first else offset,
                        hi=None if last else offset + n,
                    )
                )
            else:
                rels.append(_Rel("identity", src.size[k], node.size[k]))
        node.edges.append((i, tuple(rels)))
        offset += src.size[sd]


def _trace_hooks(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[_Node], dict[Any, int]]:
    """Fallback for models fx cannot trace: record leaf modules with forward hooks; they must form a chain."""
    nd = len(input_shape) - 2
    calls: list[tuple[str, nn.Module, Any, Any]] = []
    handles = []
    for name, mod in model.named_modules():
        if len(list(mod.children())) == 0:
            handles.append(
                mod.register_forward_hook(
                    lambda m, inp, out, _n=name: calls.append((_n, m, inp[0] if inp else None, out))
                )
            )
    param = next(model.parameters(), None)
    try:  # data-dependent control flow defeats fake tensors: run once on real zeros
        with torch.no_grad():
            x = torch.zeros(
                input_shape,
                dtype=param.dtype if param is not None else torch.float32,
                device=param.device if param is not None else "cpu",
            )
            model(x)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError("input_shape", input_shape, f"does not fit the model: {_one_line(exc)}") from None
    finally:
        for h in handles:
            h.remove()
    nodes = [_Node("input", "input", tuple(input_shape[2:]), depends=True)]
    by_module: dict[Any, int] = {}
    prev_out = x
    for name, mod, inp, out in calls:
        if inp is not prev_out:
            raise ConfigError(
                "model",
                type(model).__name__,
                "cannot be traced by torch.fx and its layers do not form a simple chain "
                f"(the input of {name!r} is not the output of the layer before it)",
            )
        out_t = out[0] if isinstance(out, tuple) else out
        shape = tuple(out_t.shape)
        spatial = shape[2:] if len(shape) == nd + 2 else None
        node = _Node(name, type(mod).__name__, spatial, depends=True, module=mod)
        src = len(nodes) - 1
        if spatial is None or nodes[src].size is None:
            node.edges = [(src, _GLOBAL)]
            node.geometric = False
        else:
            try:
                res = _module_rels(mod, nodes[src].size, spatial)
            except _DimMismatch as exc:
                raise ConfigError(
                    "input_shape", input_shape, f"has {nd} spatial dimensions but layer {name} has {exc.args[0]}"
                ) from None
            if res is None or res[0] is None:
                raise ConfigError("model", f"{name} ({type(mod).__name__})", "is not supported for receptive fields")
            node.edges = [(src, res[0])]
            node.geometric = res[1]
        by_module[id(mod)] = len(nodes)
        nodes.append(node)
        prev_out = out
    return nodes, by_module


# ----------------------------------------------------------------------------------------------------------------
# the two views
# ----------------------------------------------------------------------------------------------------------------
def _check_input_shape(input_shape: Any) -> tuple[int, ...]:
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence | torch.Size):
        raise ConfigTypeError("input_shape", input_shape, "must be a sequence of ints (N, C, *spatial)")
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in input_shape):
        raise ConfigTypeError("input_shape", input_shape, "must contain only ints")
    shape = tuple(int(v) for v in input_shape)
    if not 3 <= len(shape) <= 5:
        raise ConfigError("input_shape", input_shape, "must be (N, C, *spatial) with 1 to 3 spatial dimensions")
    if any(v < 1 for v in shape):
        raise ConfigError("input_shape", input_shape, "must be positive in every dimension")
    return shape


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise ConfigTypeError("model", type(model).__name__, "must be a torch.nn.Module")
    return model


def _theoretical(nodes: list[_Node], input_size: tuple[int, ...]) -> list[list[tuple[np.ndarray, np.ndarray, int]]]:
    """For every spatial node and dim, unclipped (lo, hi) of each position in a range that covers what is needed.

    A backward pass finds, per node, the range of positions its consumers (and its own table row) will ask for;
    a forward pass then fills lo/hi over those ranges. Returns per node, per dim, (lo, hi, first position).
    """
    nd = len(input_size)
    need: list[list[list[int]] | None] = [
        [[0, n.size[d] - 1] for d in range(nd)] if n.size is not None and n.depends else None for n in nodes
    ]
    for i in range(len(nodes) - 1, -1, -1):
        if need[i] is None:
            continue
        for src, rels in nodes[i].edges:
            if rels is _GLOBAL or need[src] is None:
                continue
            for d in range(nd):
                a, b = need[i][d]
                pos, valid = rels[d].taps(np.arange(a, b + 1))
                if valid.any():
                    need[src][d][0] = min(need[src][d][0], int(pos[valid].min()))
                    need[src][d][1] = max(need[src][d][1], int(pos[valid].max()))
    out: list[list[tuple[np.ndarray, np.ndarray, int]]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        if need[i] is None:
            continue
        for d in range(nd):
            a, b = need[i][d]
            u = np.arange(a, b + 1)
            if node.kind == "input":
                out[i].append((u.copy(), u.copy(), a))
                continue
            lo = np.full(u.shape, _EMPTY_LO, dtype=np.int64)
            hi = np.full(u.shape, _EMPTY_HI, dtype=np.int64)
            for src, rels in node.edges:
                if rels is _GLOBAL:
                    lo = np.minimum(lo, 0)
                    hi = np.maximum(hi, input_size[d] - 1)
                    continue
                slo, shi, sa = out[src][d]
                pos, valid = rels[d].taps(u)
                idx = np.clip(pos - sa, 0, len(slo) - 1)
                lo = np.minimum(lo, np.where(valid, slo[idx], _EMPTY_LO).min(axis=1))
                hi = np.maximum(hi, np.where(valid, shi[idx], _EMPTY_HI).max(axis=1))
            out[i].append((lo, hi, a))
    return out


def _jumps(nodes: list[_Node], nd: int) -> None:
    for node in nodes:
        if node.kind == "input":
            node.jump = (Fraction(1),) * nd
            continue
        js = []
        for d in range(nd):
            cands = []
            for src, rels in node.edges:
                if rels is _GLOBAL or not nodes[src].jump:
                    continue
                r, j = rels[d], nodes[src].jump[d]
                if r.kind == "window":
                    cands.append(j * r.s)
                elif r.kind == "transposed":
                    cands.append(j / r.s)
                elif r.kind in ("adaptive", "nearest", "nearest-exact", "linear"):
                    cands.append(j * Fraction(r.n_in, r.n_out))
                else:
                    cands.append(j)
            js.append(max(cands) if cands else Fraction(0))
        node.jump = tuple(js)


def receptive_field(model: nn.Module, input_shape: Sequence[int], all_layers: bool = False) -> list[RFRow]:
    """One row per layer: the theoretical receptive field of its units, found by tracing ``model``.

    ``input_shape`` is ``(N, C, *spatial)`` with 1 to 3 spatial dimensions. Rows cover the input, convolutions,
    transposed convolutions, poolings, padding, up-sampling and merges (residual adds, concatenations); with
    ``all_layers=True`` also the pointwise layers (activations, normalization, dropout). Each entry of ``rf``,
    ``jump``, ``start`` is per spatial dimension; layers whose output is no longer spatial (after a flatten) are left
    out.

    >>> from tconv.zoo import alexnet_like
    >>> rows = receptive_field(alexnet_like(seed=0), (1, 3, 224, 224))
    >>> [(r.name, r.output_size[0], r.rf[0], int(r.jump[0]), r.start[0]) for r in rows][:4]
    [('input', 224, 1, 1, 0), ('features.0', 55, 11, 4, -2), ('features.2', 27, 19, 8, -2), ('features.3', 27, 51, 8, -18)]
    >>> rows[-1].rf, rows[-1].jump
    ((195, 195), (Fraction(32, 1), Fraction(32, 1)))
    """
    model = _check_model(model)
    shape = _check_input_shape(input_shape)
    nodes, _ = _trace(model, shape)
    nd = len(shape) - 2
    theo = _theoretical(nodes, shape[2:])
    _jumps(nodes, nd)
    rows: list[RFRow] = []
    for i, node in enumerate(nodes):
        if node.size is None or not node.depends or not (node.geometric or all_layers or node.kind == "input"):
            continue
        rf, start, center = [], [], []
        for d in range(nd):
            lo, hi, a = theo[i][d]
            n = node.size[d]
            lo_r, hi_r = lo[-a : n - a], hi[-a : n - a]  # positions 0 .. n-1 (the range starts at a <= 0)
            ok = lo_r <= hi_r
            rf.append(int((hi_r - lo_r + 1)[ok].max()) if ok.any() else 0)
            start.append(int(lo_r[0]) if ok[0] else 0)
            center.append((int(lo_r[0]) + int(hi_r[0])) / 2 if ok[0] else math.nan)
        rows.append(
            RFRow(len(rows), node.name, node.kind, node.size, tuple(rf), node.jump, tuple(start), tuple(center))
        )
    return rows


def _resolve_layer(model: nn.Module, nodes: list[_Node], by_module: dict[Any, Any], layer: Any) -> int:
    target_mod = None
    if isinstance(layer, nn.Module):
        target_mod = layer
    elif isinstance(layer, numbers.Integral) and not isinstance(layer, bool):
        seq = model if isinstance(model, nn.Sequential) else getattr(model, "features", None)
        if not isinstance(seq, nn.Sequential):
            raise ConfigError(
                "layer", layer, "is an index, which needs an nn.Sequential model or one with a .features Sequential"
            )
        if not -len(seq) <= layer < len(seq):
            raise ConfigError("layer", layer, f"must index the Sequential of {len(seq)} layers")
        target_mod = seq[int(layer)]
    elif isinstance(layer, str):
        for i, n in enumerate(nodes):
            if n.name == layer:
                return i
        mods = dict(model.named_modules())
        if layer not in mods:
            names = [n.name for n in nodes if n.size is not None and n.depends]
            raise ConfigError("layer", layer, f"is not a module or layer name of the model (e.g. {names[:6]})")
        target_mod = mods[layer]
    else:
        raise ConfigTypeError("layer", layer, "must be an int index, a module name or an nn.Module")
    hit = by_module.get(id(target_mod))
    if hit is None:
        raise ConfigError("layer", layer, "is not called in the model's forward pass")
    if isinstance(hit, list):
        raise ConfigError("layer", layer, "is called more than once; name the call by its graph node name instead")
    return hit


def receptive_field_box(
    model: nn.Module, input_shape: Sequence[int], layer: int | str | nn.Module, position: int | Sequence[int]
) -> RFBox:
    """The exact receptive field of one unit, clipped to the input.

    ``layer`` is an index into the model's ``nn.Sequential`` (or its ``.features``), a module name such as
    ``"features.3"``, a graph node name (``"add"``) or the module itself; ``position`` the unit's spatial index in
    that layer's output (an int is used for every dimension). Padding contributes no input position, reflect /
    replicate / circular padding map back to the positions they copy, and a branching model gives the union of its
    paths. ``indices`` lists the exact positions per dimension (holes under dilation); ``start``/``stop`` bound them.

    >>> from tconv.zoo import alexnet_like
    >>> box = receptive_field_box(alexnet_like(seed=0), (1, 3, 224, 224), layer=0, position=(0, 54))
    >>> box.start, box.stop, box.theoretical_start
    ((0, 214), (9, 224), (-2, 214))
    """
    model = _check_model(model)
    shape = _check_input_shape(input_shape)
    return _boxes(model, shape, [(layer, position)])[0]


def _boxes(model: nn.Module, shape: tuple[int, ...], requests: Sequence[tuple[Any, Any]]) -> list[RFBox]:
    """Several (layer, position) boxes from one trace of the model."""
    nodes, by_module = _trace(model, shape)
    theo = _theoretical(nodes, shape[2:])
    return [_box(model, nodes, by_module, theo, shape, layer, position) for layer, position in requests]


def _box(model, nodes, by_module, theo, shape, layer, position) -> RFBox:
    nd = len(shape) - 2
    ti = _resolve_layer(model, nodes, by_module, layer)
    tnode = nodes[ti]
    if tnode.size is None or not tnode.depends:
        raise ConfigError("layer", layer, "has no spatial output depending on the input (pick a conv or pool layer)")
    if isinstance(position, numbers.Integral) and not isinstance(position, bool):
        pos = (int(position),) * nd
    elif isinstance(position, Sequence) and all(isinstance(v, numbers.Integral) for v in position):
        pos = tuple(int(v) for v in position)
    else:
        raise ConfigTypeError("position", position, "must be an int or one int per spatial dimension")
    if len(pos) != nd or any(not 0 <= p < n for p, n in zip(pos, tnode.size, strict=False)):
        raise ConfigError("position", position, f"must be inside the layer's output of spatial size {tnode.size}")

    # backward pass of per-dimension masks (exact under the per-dimension separability of every supported layer)
    masks: list[list[np.ndarray] | None] = [None] * len(nodes)
    masks[ti] = [np.zeros(n, dtype=bool) for n in tnode.size]
    for d in range(nd):
        masks[ti][d][pos[d]] = True
    in_size = shape[2:]
    everything = False
    for i in range(ti, -1, -1):
        if masks[i] is None:
            continue
        for src, rels in nodes[i].edges:
            if rels is _GLOBAL:
                everything = True
                continue
            pushed = []
            for d in range(nd):
                p_, v_ = rels[d].taps(np.flatnonzero(masks[i][d]))
                p_, v_ = rels[d].resolve(p_, v_)
                m = np.zeros(rels[d].n_in, dtype=bool)
                m[p_[v_]] = True
                pushed.append(m)
            if not all(m.any() for m in pushed):
                continue  # one dimension reaches nothing: this edge carries no input at all
            if masks[src] is None:
                masks[src] = pushed
            else:
                masks[src] = [a | b for a, b in zip(masks[src], pushed, strict=True)]
    inp = masks[0] if masks[0] is not None else [np.zeros(n, dtype=bool) for n in in_size]
    if everything:
        inp = [np.ones(n, dtype=bool) for n in in_size]
    indices = tuple(tuple(int(v) for v in np.flatnonzero(m)) for m in inp)
    if all(indices):
        start, stop = tuple(ix[0] for ix in indices), tuple(ix[-1] + 1 for ix in indices)
    else:
        start, stop, indices = (0,) * nd, (0,) * nd, ((),) * nd
    t_start, t_stop = [], []
    for d in range(nd):
        lo, hi, a = theo[ti][d]
        t_start.append(int(lo[pos[d] - a]))
        t_stop.append(int(hi[pos[d] - a]) + 1)
    return RFBox(tnode.name, pos, start, stop, indices, tuple(t_start), tuple(t_stop))


# ----------------------------------------------------------------------------------------------------------------
# figures and the tour
# ----------------------------------------------------------------------------------------------------------------
def draw_fields(
    image: np.ndarray,
    boxes: Sequence[tuple[str, RFBox]],
    title: str = "",
    ax: Any = None,
    legend: bool = True,
) -> Any:  # -> matplotlib Figure
    """Draw receptive-field boxes ``(label, box)`` over an ``(H, W[, 3])`` image; returns the matplotlib Figure.

    Solid: the field clipped to the image; dashed: the theoretical field where it reaches into the padding.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.2, 6.2))
    else:
        fig = ax.figure
    ax.imshow(image)
    colors = plt.get_cmap("plasma")(np.linspace(0.05, 0.88, max(len(boxes), 1)))
    h, w = image.shape[:2]
    for (label, box), c in zip(boxes, colors, strict=False):
        (y0, x0), (y1, x1) = box.theoretical_start, box.theoretical_stop
        if (y0, x0, y1, x1) != (*box.start, *box.stop):
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=1.1, ls="--", ec=c))
        (y0, x0), (y1, x1) = box.start, box.stop
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=2.0, ec=c, label=label))
    lo = [min([0, *(b.theoretical_start[k] for _, b in boxes)]) for k in range(2)]
    hi = [max([n, *(b.theoretical_stop[k] for _, b in boxes)]) for k, n in enumerate((h, w))]
    margin = 0.02 * max(h, w)
    ax.set_xlim(lo[1] - margin - 0.5, hi[1] + margin - 0.5)
    ax.set_ylim(hi[0] + margin - 0.5, lo[0] - margin - 0.5)
    ax.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, lw=0.8, ec="0.3"))
    ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    ax.set_xlabel("x (input pixels)")
    ax.set_ylabel("y (input pixels)")
    return fig


def _zoo_figure(model: nn.Module, name: str, size: int, image: np.ndarray) -> tuple[Any, list[RFRow]]:
    """Two panels: every layer's centre unit, and every layer's corner unit (where padding clips the field)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    shape = (1, 3, size, size)
    rows = receptive_field(model, shape)
    picks = [r for r in rows if r.kind != "input"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.9), layout="constrained")
    for ax, where in zip(axes, ("centre", "corner"), strict=True):
        requests = [(r.name, tuple(n // 2 for n in r.output_size) if where == "centre" else (0, 0)) for r in picks]
        labels = [f"{r.name} ({r.kind}) rf {r.rf[0]}" for r in picks]
        boxes = list(zip(labels, _boxes(model, shape, requests), strict=True))
        title = f"{name}: each layer's {where} unit" + (" (dashed: into the padding)" if where == "corner" else "")
        draw_fields(image, boxes, title=title, ax=ax, legend=where == "corner")
    return fig, rows


def tour_section(out_dir: Path, quick: bool = True) -> Any:
    """Tour: receptive-field tables and a figure for the AlexNet-like and VGG16-like networks."""
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from skimage import data  # noqa: PLC0415
    from skimage.transform import resize  # noqa: PLC0415

    from .tour import Section, img_tag, table_html  # noqa: PLC0415
    from .zoo import alexnet_like, vgg16_like  # noqa: PLC0415

    size = 224
    image = resize(data.astronaut(), (size, size), anti_aliasing=True)
    parts = [
        "<p>The receptive field of a unit is the input region its value depends on (seed 000 §3.3). "
        "Fields are found by tracing the network with <code>torch.fx</code>: <code>tconv.receptive_field</code> gives "
        "size <code>rf</code>, <code>jump</code> (input pixels between neighbouring units) and <code>start</code> "
        "(first input pixel of unit 0, negative inside the padding); <code>tconv.receptive_field_box</code> gives one "
        "unit's exact field clipped to the image. A test back-propagates from single units and checks the non-zero "
        "gradient region is exactly this box. Widths are thinned (geometry only matters); weights are seeded.</p>"
    ]
    seed_net = nn.Sequential(nn.Conv1d(1, 1, 3, padding=1), nn.Conv1d(1, 1, 5, padding=2))
    seed_rows = receptive_field(seed_net, (1, 1, 16))
    h8 = receptive_field_box(seed_net, (1, 1, 16), 1, 7)
    parts.append(
        "<h3>Seed 000's example: two same-padding convolutions, kernels 3 and 5</h3>"
        + table_html(
            ["layer", "rf", "seed 000 says", "field of unit 8 (1-based)"],
            [
                ["z (k=3)", seed_rows[1].rf[0], 3, "—"],
                ["h (k=5)", seed_rows[2].rf[0], 7, f"x_{h8.start[0] + 1} .. x_{h8.stop[0]} (seed: x_5 .. x_11)"],
            ],
        )
    )
    for name, model in (
        ("AlexNet-like", alexnet_like(seed=0, width=0.25)),
        ("VGG16-like", vgg16_like(seed=0, width=1 / 16)),
    ):
        fig, rows = _zoo_figure(model, name, size, image)
        table = table_html(
            ["layer", "kind", "output", "rf", "jump", "start"],
            [[r.name, r.kind, "×".join(map(str, r.output_size)), r.rf[0], str(r.jump[0]), r.start[0]] for r in rows],
        )
        parts.append(f"<h3>{name} on a {size}×{size} input</h3>")
        parts.append(img_tag(fig, alt=f"{name} receptive fields over an image", width=1000))
        parts.append(table)
        plt.close(fig)
    return Section("receptive", "Receptive fields", "\n".join(parts))
