"""Tracing a model into nodes: torch.fx on storage-less tensors, or forward hooks for a plain chain of layers.

Each node is one operation (a module call, a function or method call) with its output's spatial size and its edges:
the per-dimension relations (:mod:`.relations`, chosen by :mod:`.rules`) to the nodes it reads. An operation that the relations do not know is
refused by name (:class:`~tconv.errors.ConfigError`), never dropped; so is a model that fx cannot trace unless its
layers form a chain whose last layer's output is the model's output.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from . import rules as rel

#: An edge whose output depends on every input position (e.g. through a flatten).
GLOBAL = "global"


@dataclass
class Node:
    name: str  # the module's name, or the fx node name (a module called twice: one name per call)
    kind: str
    size: tuple[int, ...] | None  # spatial size; None when the tensor has no spatial layout
    depends: bool  # does it depend on the model input at all?
    edges: list[tuple[int, Any]] = field(default_factory=list)  # (source node index, Stage | GLOBAL)
    geometric: bool = True  # shown in the default table (pointwise layers are not)
    module: nn.Module | None = None
    jump: tuple[Fraction, ...] = ()
    aliases: tuple[str, ...] = ()  # other names that find it (its fx node name)
    pieces: list[tuple[int, ...]] | None = None  # shapes of a tuple output (split, chunk, pooling with indices)
    hidden: bool = False  # an inner stage of a layer (resize before the conv of a resize-conv)
    split: bool = False  # a chunk/split: its pieces (getitem) are crops of its source


def _meta_shape(meta: Any) -> tuple[int, ...] | None:
    """Shape of a node's fx tensor meta (the first element for tuples such as (values, indices))."""
    if meta is None:
        return None
    if isinstance(meta, list):
        return _meta_shape(meta[0]) if meta else None
    return tuple(int(s) for s in meta)


class _Tracer(torch.fx.Tracer):
    """fx's tracer, with tconv's up-samplers kept as single layers (their size checks defeat symbolic tracing)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return rel.is_leaf(m) or super().is_leaf_module(m, module_qualified_name)


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
        if isinstance(mod, rel.SHAPE_KEEPING_MODULES) and len(args) == 1 and isinstance(args[0], torch.Tensor):
            return args[0]  # same shape; running meta kernels of activations would import torch._dynamo
        if rel.is_leaf(mod):  # tconv's up-samplers: their own size rule, without running them
            x = args[0]
            size = mod._size(x, kwargs.get("output_size", args[2] if len(args) > 2 else None))
            return torch.empty((*x.shape[:2], *size), dtype=x.dtype, device="meta")
        if isinstance(mod, nn.modules.pooling._AdaptiveAvgPoolNd) and len(args) == 1:
            return _adaptive(args[0], mod.output_size)
        if isinstance(mod, nn.Linear) and len(args) == 1 and isinstance(args[0], torch.Tensor):
            x = args[0]
            return torch.empty((*x.shape[:-1], mod.out_features), dtype=x.dtype, device="meta")
        state = {k: _to_meta(v) for k, v in (*mod.named_parameters(), *mod.named_buffers())}
        return torch.func.functional_call(mod, state, tuple(args), dict(kwargs))

    def call_function(self, target: Any, args: Any, kwargs: Any) -> Any:
        if self.meta and args and isinstance(args[0], torch.Tensor):
            if target in rel.SHAPE_KEEPING_FUNCTIONS and not _tensors((*args[1:], *kwargs.values())):
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
            if target in rel.SHAPE_KEEPING_METHODS and not _tensors((*args[1:], *kwargs.values())):
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
    """A tensor's shape; a list of shapes for a tuple of tensors (pooling with indices, chunk, split)."""
    if isinstance(v, torch.Tensor):
        return tuple(v.shape)
    if isinstance(v, (tuple, list)) and v and all(isinstance(t, torch.Tensor) for t in v):
        return [tuple(t.shape) for t in v]
    return None


def _one_line(exc: BaseException) -> str:
    """The root cause of an exception, on one line."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = " ".join(str(exc).split()).split(" While executing ")[0]
    return f"{type(exc).__name__}: {text[:300]}"


def _input_dtype(model: nn.Module) -> torch.dtype:
    """The dtype the model computes in: its first floating-point parameter's (or buffer's), else float32.

    The traced input takes it, so a float64 (or float16) model is traced as it runs, whatever the default dtype.
    """
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def _trace(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[Node], dict[Any, Any]]:
    """Trace ``model`` into a list of :class:`Node` in execution order, and a map id(module) -> node index(es)."""
    nd = len(input_shape) - 2
    dtype = _input_dtype(model)
    try:
        graph = _Tracer().trace(model)
        gm = torch.fx.GraphModule(model, graph)
    except Exception:  # noqa: BLE001 - anything fx cannot trace: fall back to hooks on a plain chain
        return _trace_hooks(model, input_shape)
    try:
        with torch.no_grad():
            _ShapeRecorder(gm, meta=True).run(torch.empty(input_shape, dtype=dtype, device="meta"))
    except Exception as exc:  # noqa: BLE001 - e.g. a tensor created inside forward: retry with fake tensors
        if not any(w in _one_line(exc).lower() for w in ("meta", "device", "not implemented")):
            raise ConfigError("input_shape", input_shape, f"does not fit the model: {_one_line(exc)}") from None
        from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: PLC0415

        fake = FakeTensorMode(allow_non_fake_inputs=True)
        try:
            with torch.no_grad():
                _ShapeRecorder(gm, meta=False).run(fake.from_tensor(torch.empty(input_shape, dtype=dtype)))
        except Exception:  # noqa: BLE001
            raise ConfigError("input_shape", input_shape, f"does not fit the model: {_one_line(exc)}") from None

    nodes: list[Node] = []
    index: dict[Any, int] = {}  # fx node -> our index
    by_module: dict[Any, list[int]] = {}
    modules = dict(gm.named_modules())
    calls: dict[str, int] = {}
    for fxn in gm.graph.nodes:
        if fxn.op == "call_module":
            calls[fxn.target] = calls.get(fxn.target, 0) + 1
    first_input = True
    for fxn in gm.graph.nodes:
        meta = fxn.meta.get("tconv_shape")
        shape = _meta_shape(meta)
        spatial = shape[2:] if shape is not None and len(shape) == nd + 2 else None
        if fxn.op == "placeholder":
            node = Node("input", "input", spatial if first_input else None, depends=first_input)
            first_input = False
        elif fxn.op in ("get_attr", "output"):
            if fxn.op == "output":
                continue
            node = Node(fxn.name, "constant", None, depends=False)
        else:
            srcs = [index[a] for a in fxn.all_input_nodes if a in index]
            dep_srcs = [i for i in srcs if nodes[i].depends]
            mod = modules.get(fxn.target) if fxn.op == "call_module" else None
            kind = type(mod).__name__ if mod is not None else getattr(fxn.target, "__name__", str(fxn.target))
            # a module called once is named by its module name; one called more often by each call's fx name
            name = str(fxn.target) if fxn.op == "call_module" and calls[fxn.target] == 1 else fxn.name
            node = Node(name, kind, spatial, depends=bool(dep_srcs), module=mod, aliases=(fxn.name,))
            if isinstance(meta, list) and len(meta) > 1:
                node.pieces = [tuple(int(v) for v in m) for m in meta]
            if node.depends:
                try:
                    _connect(node, fxn, dep_srcs, nodes, index, nd, mod)
                except rel.DimMismatch as exc:
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
    return nodes, {k: v[0] if len(v) == 1 else v for k, v in by_module.items()}


def _refuse(node: Node, what: str, why: str = "") -> ConfigError:
    return ConfigError(
        "model",
        f"{node.name} ({what})",
        why
        or "is not supported for receptive fields: known are convolutions, transposed convolutions, poolings, "
        "unpooling, padding, every interpolation, pixel (un)shuffle, crops by slicing, chunk/split, roll, keepdim "
        "reductions, concatenation, tconv's up-samplers and pointwise layers",
    )


def _stages_into(node: Node, src: int, stages: list[rel.Stage], nodes: list[Node]) -> None:
    """Edges from ``src`` through ``stages``; the inner stages become hidden nodes appended before ``node``."""
    for st in stages[:-1]:
        mid = Node(f"{node.name}/{len(nodes)}", node.kind, tuple(r.n_out for r in st), depends=True, hidden=True)
        mid.edges.append((src, st))
        mid.geometric = False
        nodes.append(mid)
        src = len(nodes) - 1
    node.edges.append((src, stages[-1]))


def _connect(node: Node, fxn: Any, dep_srcs: list[int], nodes: list[Node], index, nd: int, mod) -> None:
    """Fill ``node.edges`` with the per-dimension relations to the sources it depends on."""
    target = fxn.target
    is_fn, is_method = fxn.op == "call_function", fxn.op == "call_method"
    if (is_fn and target in rel.SPLITS_FN) or (is_method and target in rel.SPLITS_METHOD):
        # the pieces keep the source's positions; getitem below crops each out
        src = dep_srcs[0]
        node.size = nodes[src].size
        node.geometric = False
        node.split = True
        if node.size is not None:
            node.edges.append((src, tuple(rel.Identity(n_in=n, n_out=n) for n in node.size)))
        else:
            node.edges.append((src, GLOBAL))
        return
    if node.size is None:  # no spatial layout (flattened, reduced, ...): depends on everything its sources see
        node.edges = [(i, GLOBAL) for i in dep_srcs]
        node.geometric = False
        return
    spatial_srcs = [i for i in dep_srcs if nodes[i].size is not None]
    flat_srcs = [i for i in dep_srcs if nodes[i].size is None]
    node.edges = [(i, GLOBAL) for i in flat_srcs]
    if not spatial_srcs or (is_method and target in rel.RESHAPE_METHODS):
        node.edges += [(i, GLOBAL) for i in spatial_srcs]  # positions re-arranged: conservatively, everything
        node.geometric = False
        return
    if is_fn and target in (torch.cat, torch.concat, torch.concatenate):
        _connect_cat(node, fxn, nodes, index, nd)
        return
    if is_fn and target is operator.getitem:
        _connect_getitem(node, fxn, spatial_srcs, nodes, nd)
        return
    if (is_fn and target in rel.REDUCTIONS_FN) or (is_method and target in rel.REDUCTIONS_METHOD):
        a = rel.bind(fxn.args, fxn.kwargs, ["input", "dim"], {"dim": None})
        st = rel.reduction_stage(a["dim"], nodes[spatial_srcs[0]].size, node.size, nd)
        if st is None:
            raise _refuse(node, str(target), "reduces without naming its dims: not supported for receptive fields")
        node.edges.append((spatial_srcs[0], st))
        return
    result = None
    if mod is not None:
        result = rel.module_relation(mod, nodes[spatial_srcs[0]].size, node.size)
    else:
        shapes = {}
        if is_fn and len(fxn.args) > 1 and hasattr(fxn.args[1], "meta"):
            shapes["weight"] = _meta_shape(fxn.args[1].meta.get("tconv_shape"))
        if is_fn and "weight" in fxn.kwargs and hasattr(fxn.kwargs["weight"], "meta"):
            shapes["weight"] = _meta_shape(fxn.kwargs["weight"].meta.get("tconv_shape"))
        rule = rel.FUNCTIONS.get(target) if is_fn else rel.METHODS.get(target) if is_method else None
        if rule is not None:
            result = rule(fxn.args, fxn.kwargs, nodes[spatial_srcs[0]].size, node.size, shapes)
        elif (is_fn and target in rel.POINTWISE_FUNCTIONS) or (is_method and target in rel.POINTWISE_METHODS):
            result = "pointwise"
    if result is None:
        what = type(mod).__name__ if mod is not None else getattr(target, "__name__", str(target))
        raise _refuse(node, what)
    if result == "pointwise" or (mod is not None and not result[1] and len(spatial_srcs) > 1):
        for i in spatial_srcs:
            pr = rel.pointwise(nodes[i].size, node.size)
            if pr is None:
                raise _refuse(node, node.kind, f"mixes feature maps of sizes {nodes[i].size} and {node.size}")
            node.edges.append((i, pr))
        node.geometric = len(spatial_srcs) > 1  # a merge (residual add) is worth a row
        return
    stages, node.geometric = result
    # every spatial source of the same size reads through the same window (max-unpooling's values and indices)
    first = nodes[spatial_srcs[0]].size
    for i in spatial_srcs:
        if nodes[i].size != first:
            raise _refuse(node, node.kind, f"reads feature maps of sizes {first} and {nodes[i].size}")
        _stages_into(node, i, stages, nodes)


def _connect_getitem(node: Node, fxn: Any, spatial_srcs: list[int], nodes: list[Node], nd: int) -> None:
    src = spatial_srcs[0]
    source = nodes[src]
    key = fxn.args[1]
    if source.pieces is not None and isinstance(key, int):  # a piece of a split, or (values, indices)
        node.geometric = False
        if not source.split:  # (values, indices) of a pooling: both at the pooled positions
            node.edges.append((src, tuple(rel.Identity(n_in=n, n_out=n) for n in node.size)))
            return
        shapes = source.pieces
        dim = next((d for d in range(nd + 2) if len({s[d] for s in shapes}) > 1), None)
        if dim is None:  # equal pieces: the dim is where the piece is smaller than the source
            dim = next((d + 2 for d in range(nd) if shapes[0][d + 2] != source.size[d]), 1)
        if dim < 2:  # split along channels: positions kept
            node.edges.append((src, tuple(rel.Identity(n_in=n, n_out=n) for n in node.size)))
            return
        offset = sum(s[dim] for s in shapes[: key % len(shapes)])
        rels = tuple(
            rel.Window(n_in=source.size[d], n_out=node.size[d], k=1, s=1, p=-offset if d == dim - 2 else 0)
            for d in range(nd)
        )
        node.edges.append((src, rels))
        return
    st = rel.slice_stage(key, source.size, node.size, nd)
    if st is None:
        raise _refuse(node, f"indexing {key!r}", "is not supported for receptive fields: only slices of a feature map")
    node.geometric = True
    node.edges.append((src, st))


def _connect_cat(node: Node, fxn: Any, nodes: list[Node], index, nd: int) -> None:
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
            node.edges.append((i, GLOBAL))
            continue
        others = [k for k in range(nd) if k != dim - 2]
        if any(src.size[k] != node.size[k] for k in others):
            raise _refuse(
                node,
                "cat",
                f"concatenates a feature map of spatial size {src.size} ({src.name}) into one of {node.size}: "
                "the sizes must match outside the concatenated dim",
            )
        if dim < 2:  # channels (or batch): every position keeps its place
            node.edges.append((i, tuple(rel.Identity(n_in=n, n_out=n) for n in src.size)))
            continue
        sd = dim - 2
        rels: list[rel.Rel] = []
        for k in range(nd):
            if k == sd:
                n = src.size[k]
                first, last = offset == 0, offset + n == node.size[k]
                rels.append(
                    rel.Shift(
                        n_in=n,
                        n_out=node.size[k],
                        p=offset,
                        lo=None if first else offset,
                        hi=None if last else offset + n,
                    )
                )
            else:
                rels.append(rel.Identity(n_in=src.size[k], n_out=node.size[k]))
        node.edges.append((i, tuple(rels)))
        offset += src.size[sd]


def _trace_hooks(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[Node], dict[Any, Any]]:
    """Fallback for models fx cannot trace: record leaf modules with forward hooks; they must form a chain whose last
    output is the model's output (anything computed between or after them would otherwise be silently dropped)."""
    nd = len(input_shape) - 2
    calls: list[tuple[str, nn.Module, Any, Any]] = []
    handles = []
    inner = {id(m) for leaf in model.modules() if rel.is_leaf(leaf) for m in leaf.modules() if m is not leaf}
    for name, mod in model.named_modules():
        if id(mod) in inner:  # a layer inside one of tconv's up-samplers: recorded as part of it
            continue
        if len(list(mod.children())) == 0 or rel.is_leaf(mod):
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
                dtype=_input_dtype(model),
                device=param.device if param is not None else "cpu",
            )
            result = model(x)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError("input_shape", input_shape, f"does not fit the model: {_one_line(exc)}") from None
    finally:
        for h in handles:
            h.remove()
    nodes = [Node("input", "input", tuple(input_shape[2:]), depends=True)]
    by_module: dict[Any, Any] = {}
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
        node = Node(name, type(mod).__name__, spatial, depends=True, module=mod)
        src = len(nodes) - 1
        if spatial is None or nodes[src].size is None:
            node.edges = [(src, GLOBAL)]
            node.geometric = False
        else:
            try:
                res = rel.module_relation(mod, nodes[src].size, spatial)
            except rel.DimMismatch as exc:
                raise ConfigError(
                    "input_shape", input_shape, f"has {nd} spatial dimensions but layer {name} has {exc.args[0]}"
                ) from None
            if res is None:
                raise _refuse(node, type(mod).__name__)
            _stages_into(node, src, res[0], nodes)
            node.geometric = res[1]
        by_module[id(mod)] = len(nodes)
        nodes.append(node)
        prev_out = out
    last = prev_out[0] if isinstance(prev_out, tuple) else prev_out
    if result is not prev_out and result is not last:
        raise ConfigError(
            "model",
            type(model).__name__,
            "cannot be traced by torch.fx, and its output is not the output of its last layer: it computes something "
            "between or after its layers (a functional call?) that a hook cannot see; make the model traceable "
            "(no data-dependent control flow) or wrap that computation in a module",
        )
    return nodes, by_module
