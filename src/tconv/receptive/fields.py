"""Field propagation: the theoretical field of every layer (:func:`receptive_field`) and the exact field of one unit
(:func:`receptive_field_box`), from the traced nodes (:mod:`.tracing`) and their relations (:mod:`.relations`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, ConfigTypeError
from .tracing import GLOBAL, Node, _trace

_EMPTY_LO = np.iinfo(np.int64).max // 4


_EMPTY_HI = -_EMPTY_LO


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
    input's borders. ``slices`` indexes the box out of an input tensor's spatial dimensions. ``mask`` is the exact
    field (an N-d boolean array over the input), which a union of branches need not fill (``pixels`` counts it).
    """

    layer: str
    position: tuple[int, ...]
    start: tuple[int, ...]
    stop: tuple[int, ...]
    indices: tuple[tuple[int, ...], ...]
    theoretical_start: tuple[int, ...]
    theoretical_stop: tuple[int, ...]
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def pixels(self) -> int:
        """How many input positions the field holds exactly (a union of branches need not fill its box)."""
        if self.mask is None:
            return int(np.prod([len(ix) for ix in self.indices]))
        return int(self.mask.sum())

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
            "pixels": self.pixels,
        }


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


def _theoretical(nodes: list[Node], input_size: tuple[int, ...]) -> list[list[tuple[np.ndarray, np.ndarray, int]]]:
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
            if rels is GLOBAL or need[src] is None:
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
                if rels is GLOBAL:
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


def _jumps(nodes: list[Node], nd: int) -> None:
    for node in nodes:
        if node.kind == "input":
            node.jump = (Fraction(1),) * nd
            continue
        js = []
        for d in range(nd):
            cands = [
                rels[d].jump(nodes[src].jump[d]) for src, rels in node.edges if rels is not GLOBAL and nodes[src].jump
            ]
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
        if node.hidden or node.size is None or not node.depends:
            continue
        if not (node.geometric or all_layers or node.kind == "input"):
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


def _resolve_layer(model: nn.Module, nodes: list[Node], by_module: dict[Any, Any], layer: Any) -> int:
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
            if not n.hidden and n.name == layer:
                return i
        for i, n in enumerate(nodes):
            if not n.hidden and layer in n.aliases:
                return i
        mods = dict(model.named_modules())
        if layer not in mods:
            names = [n.name for n in nodes if n.size is not None and n.depends and not n.hidden]
            raise ConfigError("layer", layer, f"is not a module or layer name of the model (e.g. {names[:6]})")
        target_mod = mods[layer]
    else:
        raise ConfigTypeError("layer", layer, "must be an int index, a module name or an nn.Module")
    hit = by_module.get(id(target_mod))
    if hit is None:
        raise ConfigError("layer", layer, "is not called in the model's forward pass")
    if isinstance(hit, list):
        calls = [nodes[i].name for i in hit]
        raise ConfigError("layer", layer, f"is called {len(hit)} times; name one call: {calls}")
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


@dataclass(frozen=True)
class UnitFields:
    """The theoretical field of every unit of one layer, per spatial dimension (see :func:`unit_fields`).

    ``start[d][u]`` / ``stop[d][u]``: first / one-past-last input index of unit ``u``'s field along dimension ``d``,
    ignoring the input's borders (``start < 0`` or ``stop > input_size`` reaches into padding). A unit's field is
    the box of these per-dimension ranges (its exact pixels may have holes; :func:`receptive_field_box` lists them).
    """

    name: str
    output_size: tuple[int, ...]
    input_size: tuple[int, ...]
    start: tuple[np.ndarray, ...]
    stop: tuple[np.ndarray, ...]

    @property
    def inside(self) -> tuple[np.ndarray, ...]:
        """Per dimension, which units' fields lie wholly inside the input (no padding reached)."""
        return tuple((a >= 0) & (b <= n) for a, b, n in zip(self.start, self.stop, self.input_size, strict=True))

    @property
    def inside_grid(self) -> np.ndarray:
        """:attr:`inside` as one boolean array of the layer's spatial output shape."""
        grid = np.ones(self.output_size, dtype=bool)
        for d, m in enumerate(self.inside):
            grid = grid & m.reshape([-1 if a == d else 1 for a in range(len(self.inside))])
        return grid


def unit_fields(model: nn.Module, input_shape: Sequence[int], layer: int | str | nn.Module) -> UnitFields:
    """Every unit's theoretical field in one layer, from one trace (vectorized :func:`receptive_field_box` bounds).

    ``layer`` as in :func:`receptive_field_box`. Traced in the model's own dtype (float64 models included).

    >>> import torch.nn as nn
    >>> net = nn.Sequential(nn.Conv2d(3, 2, 5), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1))
    >>> f = unit_fields(net, (1, 3, 12, 12), layer=2)
    >>> f.output_size, f.start[0].tolist(), f.stop[0].tolist()
    ((8, 8), [-1, 0, 1, 2, 3, 4, 5, 6], [6, 7, 8, 9, 10, 11, 12, 13])
    >>> f.inside[0].tolist()                     # padding 1: the first and last units reach outside the image
    [False, True, True, True, True, True, True, False]
    """
    model = _check_model(model)
    shape = _check_input_shape(input_shape)
    nodes, by_module = _trace(model, shape)
    ti = _resolve_layer(model, nodes, by_module, layer)
    node = nodes[ti]
    if node.size is None or not node.depends:
        raise ConfigError("layer", layer, "has no spatial output depending on the input (pick a conv or pool layer)")
    theo = _theoretical(nodes, shape[2:])
    start, stop = [], []
    for d, n in enumerate(node.size):
        lo, hi, a = theo[ti][d]
        start.append(lo[-a : n - a].copy())
        stop.append(hi[-a : n - a] + 1)
    return UnitFields(node.name, tuple(node.size), tuple(shape[2:]), tuple(start), tuple(stop))


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

    # backward pass of N-d masks: exact for unions of branches (a 1x7 and a 7x1 branch give a cross, not a square)
    masks: list[np.ndarray | None] = [None] * len(nodes)
    masks[ti] = np.zeros(tnode.size, dtype=bool)
    masks[ti][pos] = True
    in_size = shape[2:]
    everything = False
    for i in range(ti, -1, -1):
        if masks[i] is None or not masks[i].any():
            continue
        for src, rels in nodes[i].edges:
            if rels is GLOBAL:
                everything = True
                continue
            pushed = _push(masks[i], rels)
            masks[src] = pushed if masks[src] is None else masks[src] | pushed
    inp = masks[0] if masks[0] is not None else np.zeros(in_size, dtype=bool)
    if everything:
        inp = np.ones(in_size, dtype=bool)
    indices = tuple(
        tuple(int(v) for v in np.flatnonzero(inp.any(axis=tuple(a for a in range(nd) if a != d)))) for d in range(nd)
    )
    if all(indices):
        start, stop = tuple(ix[0] for ix in indices), tuple(ix[-1] + 1 for ix in indices)
    else:
        start, stop, indices = (0,) * nd, (0,) * nd, ((),) * nd
    t_start, t_stop = [], []
    for d in range(nd):
        lo, hi, a = theo[ti][d]
        t_start.append(int(lo[pos[d] - a]))
        t_stop.append(int(hi[pos[d] - a]) + 1)
    return RFBox(tnode.name, pos, start, stop, indices, tuple(t_start), tuple(t_stop), inp)


def _push(mask: np.ndarray, rels: Sequence[Any]) -> np.ndarray:
    """The input positions an N-d output mask reads through one edge: per dim, a (n_out x n_in) read matrix."""
    out = mask.astype(np.float32)
    for d, r in enumerate(rels):
        rows = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != d)))
        p_, v_ = r.taps(rows)
        p_, v_ = r.resolve(p_, v_)
        read = np.zeros((mask.shape[d], r.n_in), dtype=np.float32)
        rr = np.broadcast_to(rows[:, None], p_.shape)
        read[rr[v_], p_[v_]] = 1.0
        out = np.moveaxis(np.tensordot(np.moveaxis(out, d, -1), read, axes=([out.ndim - 1], [0])), -1, d)
        out = (out > 0).astype(np.float32)
    return out > 0
