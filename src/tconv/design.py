"""Design tools: transposed stacks that reach a size, and the decoder that mirrors an encoder.

Both read the geometry: :func:`solve_stack` composes :func:`tconv.arith.solve`'s layers and ranks the stacks by their
composed count map (how many input-to-output paths reach each output: holes first out, then flat maps, then the
smallest max/min), as ``solve`` ranks single layers; :func:`decoder_for` walks an encoder's forward windows
(:mod:`tconv.window`) and builds each mirror layer with :func:`tconv.arith.inverse_of`, so every intermediate size is
restored exactly. (A module of its own: tconv.arith is past the size where a reader finds things.)

>>> [(x.kernel, x.stride, x.padding, x.output_padding) for x in solve_stack(7, 28, layers=2)[0].layers_of(0)]
[(2, 2, 0, 0), (2, 2, 0, 0)]
>>> import torch.nn as nn
>>> enc = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True))
>>> decoder_for(enc, (3, 33, 33))
Sequential(
  (0): Upsample(size=(16, 16), mode='nearest')
  (1): ReLU()
  (2): ConvTranspose2d(8, 3, kernel_size=(3, 3), stride=(2, 2))
)
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .arith import inverse_of
from .errors import ConfigError, ConfigTypeError
from .params import _is_int
from .solver import Solution, _bound, describe_counts, solve
from .window import forward_window

__all__ = ["Stack", "solve_stack", "decoder_for", "STACK_LIMIT"]

#: solve_stack refuses searches that would rank more stacks than this (per dimension).
STACK_LIMIT = 100_000


# ----------------------------------------------------------------------------------------------------------------
# solve_stack
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stack:
    """``n`` transposed convolutions in a row mapping ``input_size`` to ``output_size`` (all entries per dimension).

    ``layers[l][d]`` is layer ``l``'s :class:`~tconv.arith.Solution` along dimension ``d``; ``sizes`` the size before
    every layer and after the last. The composed count map (:meth:`count_map`: the stack applied to ones with kernels
    of ones) counts the input-to-output paths reaching each output: ``holes`` outputs no path reaches,
    ``even_overlap`` when it is flat and hole-free, ``min_count`` / ``max_count`` its extremes.
    """

    input_size: tuple[int, ...]
    output_size: tuple[int, ...]
    sizes: tuple[tuple[int, ...], ...]
    layers: tuple[tuple[Solution, ...], ...]
    holes: int
    min_count: int
    max_count: int
    even_overlap: bool
    rank: int = 0

    def layers_of(self, dim: int) -> tuple[Solution, ...]:
        """The stack's layers along one dimension."""
        return tuple(layer[dim] for layer in self.layers)

    def count_map(self) -> np.ndarray:
        """Paths from the input to each output (N-d: the outer product of the per-dimension maps)."""
        maps = [_chain_counts(self.layers_of(d)) for d in range(len(self.input_size))]
        return functools.reduce(np.multiply.outer, maps)

    def modules(self, channels: int | Sequence[int] = 1) -> nn.Sequential:
        """The stack as ``nn.ConvTranspose{nd}d`` layers (channels: one int, or one per boundary)."""
        nd = len(self.input_size)
        n = len(self.layers)
        ch = [int(channels)] * (n + 1) if _is_int(channels) else [int(c) for c in channels]  # type: ignore[union-attr]
        if len(ch) != n + 1:
            raise ConfigError("channels", channels, f"must be one int or {n + 1} ints (one per boundary)")
        cls = getattr(nn, f"ConvTranspose{nd}d")
        mods = []
        for i, layer in enumerate(self.layers):
            mods.append(
                cls(
                    ch[i],
                    ch[i + 1],
                    kernel_size=tuple(s.kernel for s in layer),
                    stride=tuple(s.stride for s in layer),
                    padding=tuple(s.padding for s in layer),
                    output_padding=tuple(s.output_padding for s in layer),
                    dilation=tuple(s.dilation for s in layer),
                )
            )
        return nn.Sequential(*mods)

    def describe(self) -> str:
        return describe_counts(self.holes, self.even_overlap, self.min_count, self.max_count)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_size": list(self.input_size),
            "output_size": list(self.output_size),
            "sizes": [list(s) for s in self.sizes],
            "layers": [[s.to_dict() for s in layer] for layer in self.layers],
            "holes": self.holes,
            "min_count": self.min_count,
            "max_count": self.max_count,
            "even_overlap": self.even_overlap,
            "rank": self.rank,
        }


def _chain_counts(chain: Sequence[Solution]) -> np.ndarray:
    """The transposed stack applied to ones, kernels of ones, read from each layer's plan."""
    counts = np.ones(chain[0].input_size, dtype=np.int64)
    for sol in chain:
        plan = sol.plan
        m = plan.index_map(0)
        ok = m >= 0
        weights = np.broadcast_to(counts[:, None], m.shape)[ok]
        counts = np.bincount(m[ok], weights=weights, minlength=plan.out_size[0]).astype(np.int64)
    return counts


def _sizes_arg(name: str, v: Any) -> tuple[int, ...]:
    if _is_int(v):
        return (_bound(name, v, 1),)
    if isinstance(v, (tuple, list)) and v and all(_is_int(x) for x in v):
        return tuple(_bound(name, x, 1) for x in v)
    raise ConfigTypeError(name, v, "must be an int or a sequence of ints (one per spatial dimension)")


def _chains_1d(i: int, o: int, n: int, bounds: tuple) -> list[tuple[Solution, ...]]:
    """Every n-layer chain i -> o in which every layer moves the size strictly towards o (none is wasted)."""

    def mids(a: int, m: int) -> range:
        if a < o:
            return range(a + 1, o - m + 2)  # leave room for the m - 1 layers after this one
        if a > o:
            return range(a - 1, o + m - 2, -1)
        return range(a, a + 1)

    @functools.cache
    def layer(a: int, b: int) -> tuple[Solution, ...]:
        return tuple(solve(a, b, True, *bounds))

    @functools.cache
    def chains(a: int, m: int) -> tuple[tuple[Solution, ...], ...]:
        if m == 1:
            return tuple((s,) for s in layer(a, o))
        out: list[tuple[Solution, ...]] = []
        for mid in mids(a, m):
            firsts = layer(a, mid)
            if not firsts:
                continue
            rests = chains(mid, m - 1)
            if len(out) + len(firsts) * len(rests) > STACK_LIMIT:
                raise ConfigError(
                    "layers",
                    n,
                    f"gives more than {STACK_LIMIT} stacks from {i} to {o} within the bounds: lower max_kernel / "
                    "max_stride / max_dilation or the number of layers",
                )
            out.extend((f, *r) for f in firsts for r in rests)
        return tuple(out)

    return list(chains(i, n))


def _summary(maps: Sequence[np.ndarray]) -> tuple[int, int, int, bool]:
    """(holes, min, max, flat) of the outer product of per-dimension count maps, without building it."""
    total = math.prod(len(m) for m in maps)
    reached = math.prod(int((m > 0).sum()) for m in maps)
    holes = total - reached
    lo = 0 if holes else math.prod(int(m.min()) for m in maps)
    hi = math.prod(int(m.max()) for m in maps)
    return holes, lo, hi, holes == 0 and lo == hi


def _stack_key(holes: int, lo: int, hi: int, flat: bool, layers: Sequence[Sequence[Solution]]) -> tuple:
    sols = [s for layer in layers for s in layer]
    return (
        holes > 0,
        holes,
        not flat,
        hi / lo if lo else float(hi),
        sum(s.holes > 0 for s in sols),  # a layer with holes relies on the next one to fill them
        sum(not s.exact for s in sols),
        sum(s.dilation > 1 for s in sols),
        sum(s.kernel for s in sols),
        tuple((s.kernel, s.stride, s.padding, s.output_padding, s.dilation) for s in sols),
    )


def solve_stack(
    input_size: int | Sequence[int],
    output_size: int | Sequence[int],
    layers: int = 2,
    max_kernel: int = 7,
    max_stride: int = 4,
    max_dilation: int = 1,
    max_padding: int | None = None,
    allow_output_padding: bool = True,
    top: int | None = None,
) -> list[Stack]:
    """Every ``layers``-deep stack of transposed convolutions mapping ``input_size`` to ``output_size``, ranked.

    Each layer is one of :func:`tconv.arith.solve`'s solutions (same bounds); intermediate sizes lie between the
    input and output sizes, every layer moving the size strictly towards the output (no wasted layer). Stacks are
    ranked like single layers, by their composed count map: no holes first, then
    a flat map, then the smallest max/min; then fewer layers with holes of their own, fewer needing output_padding, no dilation, the smallest total
    kernel. N-d sizes are solved per dimension and combined (the best ``top`` per dimension, default 10, when
    ``nd > 1``). ``top`` also cuts the returned list.

    >>> best = solve_stack(7, 28, layers=2)[0]
    >>> best.sizes, best.describe()
    (((7,), (14,), (28,)), 'even overlap (flat count map: 1 everywhere)')
    >>> s = solve_stack((4, 5), (16, 20), layers=2, top=1)[0]
    >>> s.modules(3)(torch.zeros(1, 3, 4, 5)).shape
    torch.Size([1, 3, 16, 20])
    """
    i_t, o_t = _sizes_arg("input_size", input_size), _sizes_arg("output_size", output_size)
    if len(i_t) != len(o_t):
        raise ConfigError("output_size", output_size, f"must have {len(i_t)} entries like input_size={input_size}")
    n = _bound("layers", layers, 1)
    if top is not None:
        _bound("top", top, 1)
    bounds = (max_kernel, max_stride, max_dilation, max_padding, allow_output_padding)
    solve(1, 1, True, *bounds)  # validates the bounds (and the search limit) once, before any work
    nd = len(i_t)
    per_dim: dict[tuple[int, int], list[tuple[tuple[Solution, ...], np.ndarray]]] = {}
    for a, b in zip(i_t, o_t, strict=True):
        if (a, b) not in per_dim:
            chains = _chains_1d(a, b, n, bounds)
            scored = [(c, _chain_counts(c)) for c in chains]
            scored.sort(key=lambda cm: _stack_key(*_summary([cm[1]]), [[s] for s in cm[0]]))
            per_dim[(a, b)] = scored if nd == 1 else scored[: top or 10]
    found = []
    for combo in _product([per_dim[(a, b)] for a, b in zip(i_t, o_t, strict=True)]):
        chains = [c for c, _ in combo]
        holes, lo, hi, flat = _summary([m for _, m in combo])
        lays = tuple(tuple(chains[d][layer] for d in range(nd)) for layer in range(n))
        sizes = tuple(tuple(chains[d][layer].input_size for d in range(nd)) for layer in range(n)) + (o_t,)
        found.append((_stack_key(holes, lo, hi, flat, lays), Stack(i_t, o_t, sizes, lays, holes, lo, hi, flat)))
    found.sort(key=lambda kv: kv[0])
    if top is not None:
        found = found[:top]
    return [Stack(**{**st.__dict__, "rank": r}) for r, (_, st) in enumerate(found)]


def _product(lists: list[list[Any]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [()]
    for lst in lists:
        out = [(*head, x) for head in out for x in lst]
    return out


# ----------------------------------------------------------------------------------------------------------------
# decoder_for
# ----------------------------------------------------------------------------------------------------------------
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_POOLS = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)
_ADAPTIVE = (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)
_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)
_POINTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh,
    nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
    nn.Dropout3d,
)  # fmt: skip


def _chain_of(encoder: nn.Module) -> list[tuple[str, nn.Module]]:
    """The encoder's layers in order: a (nested) Sequential, or a module fx traces into a plain chain of calls."""
    if isinstance(encoder, nn.Sequential):
        out = []
        for name, m in encoder.named_children():
            out += [(f"{name}.{n}", c) for n, c in _chain_of(m)] if isinstance(m, nn.Sequential) else [(name, m)]
        return out
    try:
        gm = torch.fx.symbolic_trace(encoder)
    except Exception as exc:  # noqa: BLE001 - any tracing failure becomes one clear error
        raise ConfigError(
            "encoder", type(encoder).__name__, f"is not an nn.Sequential and torch.fx cannot trace it ({exc})"
        ) from None
    mods = dict(gm.named_modules())
    out, prev = [], None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            prev = node
        elif node.op == "call_module":
            if list(node.all_input_nodes) != [prev]:
                raise ConfigError("encoder", type(encoder).__name__, f"is not a chain of layers (at {node.target!r})")
            out.append((str(node.target), mods[node.target]))
            prev = node
        elif node.op == "output":
            if node.args[0] is not prev:
                raise ConfigError("encoder", type(encoder).__name__, "does not return its last layer's output")
        else:
            raise ConfigError(
                "encoder",
                type(encoder).__name__,
                f"computes {node.name} outside a layer: decoder_for mirrors chains of Conv/Pool layers only",
            )
    return out


def _asymmetric_mirror(conv: nn.Module, win: Any, copy_weights: bool) -> nn.Sequential:
    """ "same" with an even kernel pads (p, p + 1): the same conv without padding on the padded input, inverted by
    inverse_of, then cropped (before, after) by a negative constant pad."""
    flat = copy.copy(conv)  # shallow: shares the weight; only this copy loses its padding
    flat.padding = (0,) * win.nd
    padded = tuple(n + pb + pa for n, (pb, pa) in zip(win.in_size, win.padding, strict=True))
    t = inverse_of(flat, padded, copy_weights=copy_weights)
    crop: list[int] = []
    for pb, pa in reversed(win.padding):  # F.pad's order: last dimension first
        crop += [-pb, -pa]
    return nn.Sequential(t, getattr(nn, f"ConstantPad{win.nd}d")(tuple(crop), 0.0))


def decoder_for(encoder: nn.Module, input_size: int | Sequence[int], copy_weights: bool = False) -> nn.Sequential:
    """The mirrored decoder skeleton of a Conv/Pool encoder: it restores every intermediate size exactly.

    ``encoder`` is an ``nn.Sequential`` (nested ones are flattened) or a module torch.fx traces into a chain of layer
    calls; ``input_size`` its input's spatial size (``(C, *spatial)`` and ``(N, C, *spatial)`` are accepted too). In
    reverse order, each ``Conv*d`` becomes the ``ConvTranspose*d`` of :func:`tconv.arith.inverse_of` (channels
    swapped, output_padding chosen for that layer's input size; with ``copy_weights=True`` it holds the conv's weight
    and computes its adjoint), each pooling an ``nn.Upsample`` to the pooling's input size, parameter-free pointwise
    layers are kept (the deconvnet's order), and normalization layers are left out. Anything else is refused.

    >>> import torch.nn as nn
    >>> enc = nn.Sequential(nn.Conv1d(1, 4, 5, stride=3, padding=1), nn.AvgPool1d(3, 2))
    >>> dec = decoder_for(enc, 50)
    >>> enc(torch.zeros(1, 1, 50)).shape, dec(enc(torch.zeros(1, 1, 50))).shape
    (torch.Size([1, 4, 7]), torch.Size([1, 1, 50]))
    """
    if not isinstance(encoder, nn.Module):
        raise ConfigTypeError("encoder", type(encoder).__name__, "must be a torch.nn.Module")
    layers = _chain_of(encoder)
    nd = next((len(m.kernel_size) for _, m in layers if isinstance(m, _CONVS)), None)
    if nd is None:
        nd = next((int(type(m).__name__[-2]) for _, m in layers if isinstance(m, (*_POOLS, *_ADAPTIVE))), None)
    if nd is None:
        raise ConfigError("encoder", type(encoder).__name__, "has no Conv or Pool layer to mirror")
    size = _sizes_arg("input_size", input_size)
    if len(size) in (nd + 1, nd + 2):
        size = size[-nd:]
    if len(size) != nd:
        raise ConfigError("input_size", input_size, f"must have {nd} spatial entries")
    mirror: list[nn.Module] = []
    for name, m in layers:
        if isinstance(m, _CONVS):
            if m.padding_mode != "zeros":
                raise ConfigError(f"encoder[{name}]", f"padding_mode={m.padding_mode!r}", "has no transposed mirror")
            pad = m.padding if isinstance(m.padding, str) else tuple(m.padding)
            win = forward_window(size, tuple(m.kernel_size), tuple(m.stride), pad, tuple(m.dilation))
            if all(a == b for a, b in win.padding):
                mirror.append(inverse_of(m, size, copy_weights=copy_weights))
            else:  # "same" with an even kernel pads one more after: crop the full transpose by hand
                mirror.append(_asymmetric_mirror(m, win, copy_weights))
            size = win.out_size
        elif isinstance(m, _POOLS):
            stride = m.stride if m.stride not in (None, (), []) else m.kernel_size
            dil = getattr(m, "dilation", 1)
            win = forward_window(size, m.kernel_size, stride, m.padding, dil, bool(m.ceil_mode))
            mirror.append(nn.Upsample(size=size, mode="nearest"))
            size = win.out_size
        elif isinstance(m, _ADAPTIVE):
            out = m.output_size
            out = (
                (out,) * nd
                if _is_int(out)
                else tuple(s if o is None else int(o) for s, o in zip(size, out, strict=True))
            )
            mirror.append(nn.Upsample(size=size, mode="nearest"))
            size = out
        elif isinstance(m, _NORMS):
            continue
        elif isinstance(m, _POINTWISE):
            mirror.append(copy.deepcopy(m))
        else:
            raise ConfigError(
                f"encoder[{name}]",
                type(m).__name__,
                "is not supported by decoder_for (Conv, MaxPool/AvgPool, adaptive pools, norms and activations are)",
            )
    return nn.Sequential(*reversed(mirror))
