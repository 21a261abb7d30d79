"""Which relation each operation reads through: tables keyed by module type and by function object, never by name.

An operation that is not in the tables is refused by the tracer (:mod:`.tracing`), by name. The windows' padding goes
through :mod:`tconv.window`'s one "same" rule.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..window import same_pads
from .relations import (
    Adaptive,
    Broadcast,
    Cubic,
    Everything,
    Identity,
    Linear,
    Nearest,
    Rel,
    Shift,
    Stage,
    Transposed,
    Window,
)

__all__ = [
    "Adaptive", "Broadcast", "Cubic", "Everything", "Identity", "Linear", "Nearest", "Rel", "Shift", "Stage",
    "Transposed", "Window", "module_relation", "FUNCTIONS", "METHODS", "pointwise",
]  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------
# argument helpers
# ----------------------------------------------------------------------------------------------------------------
class DimMismatch(Exception):
    """A layer's parameters have a different number of spatial dimensions than the input shape."""


def per_dim(v: Any, nd: int) -> tuple[int, ...]:
    if isinstance(v, numbers.Integral):
        return (int(v),) * nd
    v = tuple(int(x) for x in v)
    v = v * nd if len(v) == 1 else v
    if len(v) != nd:
        raise DimMismatch(len(v))
    return v


def bind(args: tuple, kwargs: dict, names: Sequence[str], defaults: dict[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    out.update(dict(zip(names, args, strict=False)))
    out.update(kwargs)
    return out


def _pads_before(padding: Any, n_in: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...], d: tuple[int, ...]):
    """Padding before each dim, the string forms through tconv.window's one "same" rule."""
    nd = len(n_in)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * nd
        return tuple(pb for pb, _ in same_pads(n_in, k, s, d))
    return per_dim(padding, nd)


def _windows(n_in, n_out, k, s, d, p, pad_mode="zeros") -> Stage:
    return tuple(
        Window(n_in=a, n_out=b, k=kk, s=ss, d=dd, p=pp, pad_mode=pad_mode)
        for a, b, kk, ss, dd, pp in zip(n_in, n_out, k, s, d, p, strict=True)
    )


def _transposed(n_in, n_out, k, s, d, p) -> Stage:
    return tuple(
        Transposed(n_in=a, n_out=b, k=kk, s=ss, d=dd, p=pp)
        for a, b, kk, ss, dd, pp in zip(n_in, n_out, k, s, d, p, strict=True)
    )


def _each(cls: type[Rel], n_in, n_out, **kw: Any) -> Stage:
    return tuple(cls(n_in=a, n_out=b, **kw) for a, b in zip(n_in, n_out, strict=True))


def pointwise(n_in, n_out) -> Stage | None:
    """Identity per dim (or broadcast from size 1); None when the sizes do not match."""
    rels: list[Rel] = []
    for a, b in zip(n_in, n_out, strict=True):
        if a == b:
            rels.append(Identity(n_in=a, n_out=b))
        elif a == 1:
            rels.append(Broadcast(n_in=a, n_out=b))
        else:
            return None
    return tuple(rels)


def pad_stage(n_in, n_out, pad, mode) -> Stage:
    """F.pad order: (last dim before, last dim after, second-to-last before, ...)."""
    nd = len(n_in)
    pad = tuple(int(v) for v in pad)
    before = [0] * nd
    for i in range(len(pad) // 2):
        before[nd - 1 - i] = pad[2 * i]
    return tuple(Shift(n_in=a, n_out=b, p=pb, pad_mode=mode) for a, b, pb in zip(n_in, n_out, before, strict=True))


def resize_stage(n_in, n_out, mode: str, align_corners: bool | None) -> Stage:
    """Every ``F.interpolate`` mode."""
    ac = bool(align_corners)
    if mode in ("nearest", "nearest-exact"):
        return _each(Nearest, n_in, n_out, exact=mode == "nearest-exact", pad_mode="replicate")
    if mode in ("linear", "bilinear", "trilinear"):
        return _each(Linear, n_in, n_out, align_corners=ac, pad_mode="replicate")
    if mode == "bicubic":
        return _each(Cubic, n_in, n_out, align_corners=ac, pad_mode="replicate")
    if mode == "area":
        return _each(Adaptive, n_in, n_out)
    raise ConfigError("model", f"interpolation mode {mode!r}", "is not supported for receptive fields")


#: The result of a rule: the stages in order (an up-sampler may be two: resize, then convolve) and whether the layer
#: is geometric (a row of the default table); or "pointwise" (applies to every spatial source alike).
Result = tuple[list[Stage], bool]


# ----------------------------------------------------------------------------------------------------------------
# modules, by type
# ----------------------------------------------------------------------------------------------------------------
def _conv_module(mod, n_in, n_out) -> Result:
    nd = len(n_in)
    k, s, d = (per_dim(v, nd) for v in (mod.kernel_size, mod.stride, mod.dilation))
    if isinstance(mod, nn.modules.conv._ConvTransposeNd):
        return [_transposed(n_in, n_out, k, s, d, per_dim(mod.padding, nd))], True
    mode = mod.padding_mode
    return [_windows(n_in, n_out, k, s, d, _pads_before(mod.padding, n_in, k, s, d), mode)], True


def _pool_module(mod, n_in, n_out) -> Result:
    nd = len(n_in)
    k = per_dim(mod.kernel_size, nd)
    s = per_dim(mod.stride if mod.stride not in (None, (), []) else mod.kernel_size, nd)
    d = per_dim(getattr(mod, "dilation", 1), nd)
    return [_windows(n_in, n_out, k, s, d, per_dim(getattr(mod, "padding", 0), nd))], True


def _unpool_module(mod, n_in, n_out) -> Result:
    nd = len(n_in)
    k = per_dim(mod.kernel_size, nd)
    s = per_dim(mod.stride if mod.stride not in (None, (), []) else mod.kernel_size, nd)
    return [_transposed(n_in, n_out, k, s, (1,) * nd, per_dim(mod.padding, nd))], True


def _pixel_shuffle(mod, n_in, n_out) -> Result:
    return [_each(Nearest, n_in, n_out)], True  # output u comes from input u // factor


def _pixel_unshuffle(mod, n_in, n_out) -> Result:
    f = int(mod.downscale_factor)
    nd = len(n_in)
    return [_windows(n_in, n_out, (f,) * nd, (f,) * nd, (1,) * nd, (0,) * nd)], True


def _pad_module(mode: str) -> Callable[..., Result]:
    return lambda mod, n_in, n_out: ([pad_stage(n_in, n_out, mod.padding, mode)], True)


def _upsample_module(mod, n_in, n_out) -> Result:
    return [resize_stage(n_in, n_out, mod.mode, mod.align_corners)], True


def _same_conv(conv: nn.Module, n: tuple[int, ...]) -> Stage:
    nd = len(n)
    k, d = per_dim(conv.kernel_size, nd), per_dim(conv.dilation, nd)
    return _windows(n, n, k, (1,) * nd, d, _pads_before(conv.padding, n, k, (1,) * nd, d))


def _tconv_upsampler(mod, n_in, n_out) -> Result:
    """tconv.upsampling's own up-samplers, by their method (they are traced as single layers)."""
    nd = len(n_in)
    method = mod.method
    if method in ("nearest", "bilinear"):
        return [resize_stage(n_in, n_out, method, False)], True
    if method == "copy":  # copy_back: a transposed convolution of ones, kernel pool_kernel, stride factor
        return [_transposed(n_in, n_out, (mod.pool_kernel,) * nd, (mod.factor,) * nd, (1,) * nd, (0,) * nd)], True
    if method.startswith("tconv"):
        k, f, p = (mod.kernel_size,) * nd, (mod.factor,) * nd, per_dim(mod.padding, nd)
        return [_transposed(n_in, n_out, k, f, (1,) * nd, p)], True
    if method == "resize_conv":
        return [resize_stage(n_in, n_out, "nearest", None), _same_conv(mod.conv, n_out)], True
    if method == "pixel_shuffle":
        return [_same_conv(mod.conv, n_in), _each(Nearest, n_in, n_out)], True
    raise ConfigError(
        "model",
        f"{type(mod).__name__}(method={method!r})",
        "is not supported for receptive fields: its field is wherever the paired pool's switches point; use "
        "nn.MaxPool2d(return_indices=True) with nn.MaxUnpool2d, whose window is known",
    )


def _pointwise_module(mod, n_in, n_out) -> Result | None:
    st = pointwise(n_in, n_out)
    return None if st is None else ([st], False)


def _module_table() -> list[tuple[type, Callable[..., Result | None]]]:
    from ..upsampling.upsamplers import Upsampler  # noqa: PLC0415  (tconv.upsampling imports heavier things)

    pooling = nn.modules.pooling
    return [
        (nn.modules.conv._ConvNd, _conv_module),
        ((pooling._MaxPoolNd, pooling._AvgPoolNd, pooling._LPPoolNd), _pool_module),
        (pooling._MaxUnpoolNd, _unpool_module),
        ((pooling._AdaptiveAvgPoolNd, pooling._AdaptiveMaxPoolNd), lambda m, a, b: ([_each(Adaptive, a, b)], True)),
        (nn.modules.padding._ReflectionPadNd, _pad_module("reflect")),
        (nn.modules.padding._ReplicationPadNd, _pad_module("replicate")),
        (nn.modules.padding._ConstantPadNd, _pad_module("zeros")),
        (nn.modules.padding._CircularPadNd, _pad_module("circular")),
        (nn.Upsample, _upsample_module),
        (nn.PixelShuffle, _pixel_shuffle),
        (nn.PixelUnshuffle, _pixel_unshuffle),
        (Upsampler, _tconv_upsampler),
        (POINTWISE_MODULES, _pointwise_module),
    ]


def module_relation(mod: nn.Module, n_in: tuple[int, ...], n_out: tuple[int, ...]) -> Result | None:
    """The stages of a known module, or None when the module is not known."""
    for types, rule in _module_table():
        if isinstance(mod, types):
            return rule(mod, n_in, n_out)
    return None


def is_leaf(mod: nn.Module) -> bool:
    """Modules traced as one layer (besides torch.nn's own): tconv.upsampling's up-samplers."""
    from ..upsampling.upsamplers import Upsampler  # noqa: PLC0415

    return isinstance(mod, Upsampler)


# ----------------------------------------------------------------------------------------------------------------
# functions, by function object
# ----------------------------------------------------------------------------------------------------------------
def _conv_fn(transposed: bool) -> Callable[..., Result]:
    def rule(args, kwargs, n_in, n_out, shapes) -> Result:
        nd = len(n_out)
        names = (
            ["input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"]
            if transposed
            else ["input", "weight", "bias", "stride", "padding", "dilation", "groups"]
        )
        a = bind(args, kwargs, names, {"stride": 1, "padding": 0, "dilation": 1})
        k = tuple(shapes["weight"][2:])
        s, d = per_dim(a["stride"], nd), per_dim(a["dilation"], nd)
        if transposed:
            return [_transposed(n_in, n_out, k, s, d, per_dim(a["padding"], nd))], True
        return [_windows(n_in, n_out, k, s, d, _pads_before(a["padding"], n_in, k, s, d))], True

    return rule


def _pool_fn(has_dilation: bool) -> Callable[..., Result]:
    def rule(args, kwargs, n_in, n_out, shapes) -> Result:
        nd = len(n_out)
        names = ["input", "kernel_size", "stride", "padding"] + (["dilation"] if has_dilation else [])
        a = bind(args, kwargs, names, {"stride": None, "padding": 0, "dilation": 1})
        k = per_dim(a["kernel_size"], nd)
        s = per_dim(a["stride"] if a["stride"] not in (None, (), []) else k, nd)
        return [_windows(n_in, n_out, k, s, per_dim(a["dilation"], nd), per_dim(a["padding"], nd))], True

    return rule


def _unpool_fn(args, kwargs, n_in, n_out, shapes) -> Result:
    nd = len(n_out)
    a = bind(args, kwargs, ["input", "indices", "kernel_size", "stride", "padding"], {"stride": None, "padding": 0})
    k = per_dim(a["kernel_size"], nd)
    s = per_dim(a["stride"] if a["stride"] not in (None, (), []) else k, nd)
    return [_transposed(n_in, n_out, k, s, (1,) * nd, per_dim(a["padding"], nd))], True


def _pad_fn(args, kwargs, n_in, n_out, shapes) -> Result:
    a = bind(args, kwargs, ["input", "pad", "mode", "value"], {"mode": "constant"})
    mode = {"constant": "zeros"}.get(a["mode"], a["mode"])
    return [pad_stage(n_in, n_out, a["pad"], mode)], True


def _interpolate_fn(args, kwargs, n_in, n_out, shapes) -> Result:
    a = bind(args, kwargs, ["input", "size", "scale_factor", "mode", "align_corners"], {"mode": "nearest"})
    return [resize_stage(n_in, n_out, a["mode"], a.get("align_corners"))], True


def _roll_fn(args, kwargs, n_in, n_out, shapes) -> Result:
    nd = len(n_out)
    a = bind(args, kwargs, ["input", "shifts", "dims"], {"dims": None})
    if a["dims"] is None:
        raise ConfigError("model", "torch.roll without dims", "flattens the tensor: not supported for receptive fields")
    shifts = (a["shifts"],) if isinstance(a["shifts"], numbers.Integral) else tuple(a["shifts"])
    dims = (a["dims"],) if isinstance(a["dims"], numbers.Integral) else tuple(a["dims"])
    by_dim = [0] * nd
    for sh, dim in zip(shifts, dims, strict=True):
        dim = dim % (nd + 2)
        if dim >= 2:
            by_dim[dim - 2] += int(sh)
    return [
        tuple(Shift(n_in=a_, n_out=b, p=sh, pad_mode="circular") for a_, b, sh in zip(n_in, n_out, by_dim, strict=True))
    ], True


def _pixel_shuffle_fn(args, kwargs, n_in, n_out, shapes) -> Result:
    return [_each(Nearest, n_in, n_out)], True


def _pixel_unshuffle_fn(args, kwargs, n_in, n_out, shapes) -> Result:
    f = int(bind(args, kwargs, ["input", "downscale_factor"], {})["downscale_factor"])
    nd = len(n_in)
    return [_windows(n_in, n_out, (f,) * nd, (f,) * nd, (1,) * nd, (0,) * nd)], True


def _adaptive_fn(args, kwargs, n_in, n_out, shapes) -> Result:
    return [_each(Adaptive, n_in, n_out)], True


FUNCTIONS: dict[Any, Callable[..., Result]] = {
    **{f: _conv_fn(False) for f in (F.conv1d, F.conv2d, F.conv3d)},
    **{f: _conv_fn(True) for f in (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)},
    **{
        f: _pool_fn(True)
        for f in (
            F.max_pool1d, F.max_pool2d, F.max_pool3d, F.max_pool1d_with_indices, F.max_pool2d_with_indices,
            F.max_pool3d_with_indices, torch.max_pool1d, torch.max_pool2d, torch.max_pool3d,
        )
    },
    **{f: _pool_fn(False) for f in (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, torch.avg_pool1d)},
    **{f: _unpool_fn for f in (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)},
    **{
        f: _adaptive_fn
        for f in (
            F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d, F.adaptive_max_pool1d,
            F.adaptive_max_pool2d, F.adaptive_max_pool3d, torch.adaptive_avg_pool1d, torch.adaptive_max_pool1d,
        )
    },
    F.pad: _pad_fn,
    F.interpolate: _interpolate_fn,
    F.upsample: _interpolate_fn,
    torch.roll: _roll_fn,
    F.pixel_shuffle: _pixel_shuffle_fn,
    torch.pixel_shuffle: _pixel_shuffle_fn,
    F.pixel_unshuffle: _pixel_unshuffle_fn,
    torch.pixel_unshuffle: _pixel_unshuffle_fn,
}  # fmt: skip

#: Methods ``x.roll(...)`` etc. that have a function rule.
METHODS: dict[str, Callable[..., Result]] = {"roll": _roll_fn}

#: Reductions: over spatial dims with keepdim=True every output reads the whole dimension.
REDUCTIONS_FN = {torch.mean, torch.sum, torch.amax, torch.amin, torch.std, torch.var, torch.logsumexp, torch.prod}
REDUCTIONS_METHOD = {"mean", "sum", "amax", "amin", "std", "var", "logsumexp", "prod"}

#: Splits: the pieces are taken out by getitem; each piece is a crop of the source along ``dim``.
SPLITS_FN = {torch.chunk, torch.split, torch.tensor_split, torch.unbind}
SPLITS_METHOD = {"chunk", "split", "tensor_split", "unbind"}


def reduction_stage(dims: Any, n_in, n_out, nd: int) -> Stage | None:
    """Per-dim relations of a keepdim reduction over ``dims`` (None: not a reduction we can place)."""
    if dims is None:
        return None
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    spatial = {int(d) % (nd + 2) - 2 for d in dims}
    rels: list[Rel] = []
    for i, (a, b) in enumerate(zip(n_in, n_out, strict=True)):
        rels.append(Everything(n_in=a, n_out=b) if i in spatial else Identity(n_in=a, n_out=b))
    return tuple(rels)


def slice_stage(index: Any, n_in, n_out, nd: int) -> Stage | None:
    """``x[..., a:b, ::s]`` on the spatial dims as windows of one tap (start ``a``, stride ``s``); None otherwise."""
    idx = index if isinstance(index, tuple) else (index,)
    if any(i is None or isinstance(i, (torch.Tensor, list, numbers.Integral)) for i in idx):
        return None
    if idx.count(Ellipsis) > 1:
        return None
    if Ellipsis in idx:
        at = idx.index(Ellipsis)
        idx = idx[:at] + (slice(None),) * (nd + 2 - len(idx) + 1) + idx[at + 1 :]
    idx = idx + (slice(None),) * (nd + 2 - len(idx))
    if len(idx) != nd + 2 or not all(isinstance(i, slice) for i in idx):
        return None
    rels: list[Rel] = []
    for dim in range(nd):
        start, _, step = idx[dim + 2].indices(n_in[dim])
        if step < 1:
            return None
        rels.append(Window(n_in=n_in[dim], n_out=n_out[dim], k=1, s=step, p=-start))
    return tuple(rels)


# ----------------------------------------------------------------------------------------------------------------
# pointwise and shape-keeping operations
# ----------------------------------------------------------------------------------------------------------------
POINTWISE_MODULES: tuple[type, ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid,
    nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign, nn.Tanhshrink, nn.Threshold,
    nn.LogSigmoid, nn.Hardshrink, nn.Softshrink, nn.RReLU, nn.GLU, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
    nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout, nn.modules.batchnorm._NormBase, nn.GroupNorm,
    nn.LocalResponseNorm, nn.CrossMapLRN2d, nn.LayerNorm, nn.Softmax2d, nn.ChannelShuffle,
)  # fmt: skip


POINTWISE_FUNCTIONS: set[Any] = {
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


POINTWISE_METHODS = {
    "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "add", "add_", "sub", "sub_", "mul", "mul_", "div",
    "div_", "clamp", "clamp_", "clamp_min", "clamp_max", "abs", "exp", "log", "sqrt", "pow", "neg", "square",
    "contiguous", "clone", "float", "double", "half", "bfloat16", "to", "type", "type_as", "detach", "requires_grad_",
    "__add__", "__radd__", "__mul__", "__rmul__", "__sub__", "__rsub__", "__truediv__", "masked_fill", "expand_as", "expand",
}  # fmt: skip


RESHAPE_METHODS = {"view", "reshape", "flatten", "unflatten", "permute", "transpose", "squeeze", "unsqueeze", "t"}


SHAPE_KEEPING_MODULES = tuple(m for m in POINTWISE_MODULES if m is not nn.GLU)


SHAPE_KEEPING_FUNCTIONS = {
    torch.relu, torch.sigmoid, torch.tanh, F.relu, F.relu6, F.leaky_relu, F.elu, F.selu, F.celu, F.gelu, F.silu,
    F.mish, F.hardtanh, F.hardswish, F.hardsigmoid, F.softplus, F.softsign, F.sigmoid, F.tanh, F.dropout,
    F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.logsigmoid,
}  # fmt: skip


SHAPE_KEEPING_METHODS = {"relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "contiguous", "clone", "detach"}
