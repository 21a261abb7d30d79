"""The deconvnet, guided backprop and saliency on any network torch.fx can trace: autograd on a rewritten graph.

The Sequential mirror (:mod:`tconv.zfnet.project`) spells the deconvnet out layer by layer. For networks with
branches -- residual additions, concatenations, functional ``F.relu`` calls, a ReLU module used twice -- the same
result comes from one observation (seed 000 §3.3): the deconvnet *is* backpropagation in which every ReLU passes
back the ReLU of the signal instead of the signal masked by the forward pass. Max-pooling's gradient sends each
value to its switch and sums where switches coincide: the summing unpool. So this module:

1. traces the model with ``torch.fx`` and cuts the graph at the chosen layer (a module's qualified name, an fx node
   name, or the model's output);
2. replaces every ReLU-family call -- ``nn.ReLU`` modules (also reused and in-place ones), ``F.relu``,
   ``torch.relu``, ``x.relu_()``, ``F.leaky_relu``, ... -- by a module that applies the method's backward rule;
3. runs autograd from the objective (a unit, a whole channel, a class logit) to the image.

The rule for each method, for an activation ``f`` with input ``x`` and incoming signal ``g``:

==========================  ==================================================================================
method                      what goes back through ``f``
==========================  ==================================================================================
``deconvnet``/``gradient``  ``relu(g)``; for LeakyReLU ``leaky_relu(g, slope)`` (ZFNet: the forward is ignored)
``guided``                  ``f'(x) * relu(g)`` (Springenberg et al.; for ReLU: ``relu(g)`` where ``x > 0``)
``saliency``                ``f'(x) * g``, the true gradient (Simonyan et al.)
==========================  ==================================================================================

This covers ReLU, ReLU6, LeakyReLU, and the smooth rectifiers GELU, SiLU, ELU, CELU, SELU, Mish, Hardswish and
Softplus, which the deconvnet treats like the ReLU they approximate. Other nonlinearities (sigmoid, tanh, softmax,
attention) keep their true gradient under every method.

>>> import torch, torch.nn as nn, torch.nn.functional as F
>>> class Block(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.conv, self.relu = nn.Conv2d(3, 3, 3, padding=1), nn.ReLU(inplace=True)
...     def forward(self, x):
...         return self.relu(self.conv(x) + x)          # a residual block with an in-place ReLU
>>> t = Traced(nn.Sequential(Block(), Block()), "1.relu", "deconvnet")
>>> t.layer, [n for n in t.activations]
('_1_relu', ['_0_relu', '_1_relu'])
>>> t.forward(torch.rand(2, 3, 8, 8)).shape
torch.Size([2, 3, 8, 8])
"""

from __future__ import annotations

import contextlib
import inspect
import linecache
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ..errors import ConfigError

__all__ = ["ACTIVATION_MODULES", "ACTIVATION_FUNCTIONS", "Traced", "HookedModel", "untraceable_construct"]

#: ReLU-family modules; each gets the method's backward rule.
ACTIVATION_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ELU, nn.CELU, nn.SELU, nn.Mish, nn.Hardswish, nn.Softplus,
)  # fmt: skip

#: ReLU-family functions (and their in-place forms, replaced by the out-of-place ones).
_OUT_OF_PLACE: dict[Callable[..., Any], Callable[..., Any]] = {
    F.relu: F.relu, torch.relu: torch.relu, F.relu_: F.relu, torch.relu_: torch.relu, F.relu6: F.relu6,
    F.leaky_relu: F.leaky_relu, F.leaky_relu_: F.leaky_relu, F.gelu: F.gelu, F.silu: F.silu, F.elu: F.elu,
    F.elu_: F.elu, F.celu: F.celu, F.selu: F.selu, F.mish: F.mish, F.hardswish: F.hardswish,
    F.softplus: F.softplus,
}  # fmt: skip
ACTIVATION_FUNCTIONS: tuple[Callable[..., Any], ...] = tuple(_OUT_OF_PLACE)
_IN_PLACE_FUNCTIONS = (F.relu_, torch.relu_, F.leaky_relu_, F.elu_)
_METHODS = {"relu": torch.relu, "relu_": torch.relu}  # Tensor methods


# ----------------------------------------------------------------------------------------------------------------
# the backward rules
# ----------------------------------------------------------------------------------------------------------------
class _Rule(torch.autograd.Function):
    """Forward ``fn(x)``; backward by the method's rule (see the module docstring)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, fn: Callable[[Tensor], Tensor], rule: str, slope: float) -> Tensor:
        ctx.fn, ctx.rule, ctx.slope = fn, rule, slope
        if rule == "guided":
            ctx.save_for_backward(x)
        return fn(x)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, None, None, None]:
        if ctx.rule != "guided":  # deconvnet: the ReLU (or leaky ReLU) of the signal
            return (F.leaky_relu(g, ctx.slope) if ctx.slope else F.relu(g)), None, None, None
        (x,) = ctx.saved_tensors
        if ctx.fn is F.relu:  # the common case, without a second autograd pass
            return F.relu(g) * (x > 0).to(g.dtype), None, None, None
        with torch.enable_grad():
            xx = x.detach().requires_grad_(True)
            (dx,) = torch.autograd.grad(ctx.fn(xx), xx, F.relu(g))
        return dx, None, None, None


def apply_rule(x: Tensor, fn: Callable[[Tensor], Tensor], rule: str, slope: float = 0.0) -> Tensor:
    """``fn(x)`` whose backward follows ``rule`` (``saliency``: the true gradient, no custom backward)."""
    if rule == "saliency":
        return fn(x)
    return _Rule.apply(x, fn, "guided" if rule == "guided" else "deconvnet", slope)


class RuleActivation(nn.Module):
    """An activation with the backward rule of a projection method: what each ReLU-family call becomes."""

    def __init__(self, fn: Callable[[Tensor], Tensor], rule: str, slope: float, source: str) -> None:
        super().__init__()
        self.fn, self.rule, self.slope, self.source = fn, rule, slope, source

    def forward(self, x: Tensor) -> Tensor:
        return apply_rule(x, self.fn, self.rule, self.slope)

    def extra_repr(self) -> str:
        return f"{self.source}, rule={self.rule!r}"


def _module_fn(m: nn.Module) -> tuple[Callable[[Tensor], Tensor], float]:
    """An out-of-place callable for an activation module, and its negative slope (LeakyReLU) or 0."""
    if isinstance(m, nn.ReLU):
        return F.relu, 0.0
    if isinstance(m, nn.LeakyReLU):
        slope = float(m.negative_slope)
        return (lambda t: F.leaky_relu(t, slope)), slope
    clone = type(m).__new__(type(m))
    clone.__dict__.update(m.__dict__)
    if hasattr(clone, "inplace"):
        clone.inplace = False
    return clone, 0.0


def _function_fn(target: Callable[..., Any], args: tuple, kwargs: dict, where: str) -> tuple[Callable, float]:
    """An out-of-place one-argument callable for a functional activation call ``target(x, *args, **kwargs)``."""
    fn = _OUT_OF_PLACE.get(target, target)
    if any(isinstance(a, fx.Node) for a in (*args, *kwargs.values())):
        raise ConfigError("model", where, "passes a tensor as an activation's parameter: not supported")
    try:
        bound = inspect.signature(fn).bind_partial(None, *args, **kwargs).arguments
    except (TypeError, ValueError):  # builtins without a signature (torch.relu): no parameters to keep
        bound = {}
    params = {k: v for k, v in list(bound.items())[1:] if k != "inplace"}
    slope = float(params.get("negative_slope", 0.01)) if fn is F.leaky_relu else 0.0
    if fn is F.relu or fn is torch.relu:
        return F.relu, 0.0
    return (lambda t: fn(t, **params)), slope


# ----------------------------------------------------------------------------------------------------------------
# tracing
# ----------------------------------------------------------------------------------------------------------------
def untraceable_construct(exc: BaseException) -> str:
    """Where tracing failed: the user's source line (outside torch) and fx's reason, e.g.
    ``"model.py:41 'if x.sum() > 0:' (symbolically traced variables cannot be used as inputs to control flow)"``."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/torch/" not in f.filename.replace("\\", "/")]
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not frames:
        return reason
    f = frames[-1]
    line = (f.line or linecache.getline(f.filename, f.lineno)).strip()
    return f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {line!r} ({reason})"


def _trace(model: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - every tracing failure is reported with its construct
        raise _Untraceable(untraceable_construct(exc)) from exc


class _Untraceable(Exception):
    """torch.fx could not trace the model; the message names the construct."""


def _is_activation(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(gm.get_submodule(str(node.target)), ACTIVATION_MODULES)
    if node.op == "call_function":
        return node.target in _OUT_OF_PLACE
    if node.op == "call_method":
        return node.target in _METHODS
    return False


def _in_place(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return bool(getattr(gm.get_submodule(str(node.target)), "inplace", False))
    if node.op == "call_method":
        return node.target == "relu_"
    if node.target in _IN_PLACE_FUNCTIONS:
        return True
    try:  # F.relu(x, True), F.leaky_relu(x, 0.1, True), F.elu(x, inplace=True), ...
        bound = inspect.signature(node.target).bind_partial(*node.args, **node.kwargs).arguments
    except (TypeError, ValueError):
        return False
    return bool(bound.get("inplace", False))


def _stack_name(entry: Any) -> str | None:
    return entry[0] if isinstance(entry, tuple) and entry and isinstance(entry[0], str) else None


def _module_calls(gm: fx.GraphModule, name: str) -> list[fx.Node]:
    """The nodes that belong to the call(s) of module ``name``: the leaf itself, or the nodes inside a block."""
    nodes = []
    for node in gm.graph.nodes:
        if node.op == "call_module" and node.target == name:
            nodes.append(node)
        elif any(_stack_name(v) == name for v in (node.meta.get("nn_module_stack") or {}).values()):
            nodes.append(node)
    return nodes


def resolve_layer(model: nn.Module, gm: fx.GraphModule, layer: str | None) -> fx.Node:
    """The graph node whose value is ``layer``: None for the model's output, an fx node name, or a module's
    qualified name (a module called several times -- a shared ReLU -- means its *last* call; name an earlier one by
    its node name, e.g. ``layer1_0_relu``)."""
    nodes = {n.name: n for n in gm.graph.nodes}
    if layer is None:
        out = next(n for n in gm.graph.nodes if n.op == "output")
        value = out.args[0]
        if not isinstance(value, fx.Node):
            raise ConfigError("layer", None, "needs a model that returns one tensor (name a layer instead)")
        return value
    if layer in nodes and nodes[layer].op not in ("placeholder", "output", "get_attr"):
        return nodes[layer]
    modules = dict(model.named_modules())
    if layer in modules:
        calls = _module_calls(gm, layer)
        if not calls:
            raise ConfigError("layer", layer, "is a module the traced forward pass never calls")
        return calls[-1]
    names = [n.name for n in gm.graph.nodes if n.op in ("call_module", "call_function", "call_method")]
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    raise ConfigError("layer", layer, f"must be a module's qualified name or an fx node name (nodes: {shown})")


class Traced:
    """``model`` traced, cut at ``layer``, with every ReLU-family call following ``method``'s backward rule.

    ``gm`` is the rewritten :class:`torch.fx.GraphModule` (``print(t.gm.code)`` shows it); ``layer`` the name of the
    node whose value is the result; ``activations`` names every ReLU-family call that was replaced (node name ->
    what it was).
    """

    def __init__(self, model: nn.Module, layer: str | None, method: str) -> None:
        self.model = model
        self.method = method
        gm = _trace(model)
        target = resolve_layer(model, gm, layer)
        graph = gm.graph
        order = {n: i for i, n in enumerate(graph.nodes)}
        self.activations: dict[str, str] = {}
        replaced: dict[fx.Node, fx.Node] = {}
        for k, node in enumerate([n for n in graph.nodes if _is_activation(gm, n)]):
            x = node.args[0]
            if node.op == "call_module":
                mod = gm.get_submodule(str(node.target))
                fn, slope = _module_fn(mod)
                source = f"{node.target} ({type(mod).__name__})"
            elif node.op == "call_method":
                fn, slope, source = F.relu, 0.0, f".{node.target}()"
            else:
                fn, slope = _function_fn(node.target, tuple(node.args[1:]), dict(node.kwargs), node.name)
                source = getattr(node.target, "__name__", str(node.target))
            in_place = _in_place(gm, node)
            sub = f"_tconv_rule_{k}"
            gm.add_submodule(sub, RuleActivation(fn, method, slope, source))
            with graph.inserting_after(node):
                new = graph.call_module(sub, (x,))
            new.meta = dict(node.meta)
            node.replace_all_uses_with(new)
            if in_place and isinstance(x, fx.Node):
                # the call mutated x: later readers of x read the activation's result
                for user in list(x.users):
                    if user is not new and order.get(user, -1) > order[node]:
                        user.replace_input_with(x, new)
            graph.erase_node(node)
            replaced[node] = new
            order[new] = order[node]
            self.activations[node.name] = source
        self.layer = target.name
        target = replaced.get(target, target)
        out = next(n for n in graph.nodes if n.op == "output")
        out.args = (target,)
        graph.eliminate_dead_code()
        graph.lint()
        gm.recompile()
        self.gm = gm
        alive = {n for n in graph.nodes}
        self.activations = {
            k: v for k, v in self.activations.items() if any(r in alive for o, r in replaced.items() if o.name == k)
        }

    def forward(self, x: Tensor) -> Tensor:
        """The layer's value for images ``x``, in eval semantics (training flags are restored afterwards)."""
        with eval_mode(self.model):
            return self.gm(x)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Run ``model`` in eval mode (BatchNorm's running statistics, no dropout) and restore every module's flag."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, t in flags:
            m.training = t


# ----------------------------------------------------------------------------------------------------------------
# the fallback for models fx cannot trace: intercept the activation functions, stop at the layer's module
# ----------------------------------------------------------------------------------------------------------------
class _Stop(Exception):
    pass


class _RuleMode(TorchFunctionMode):
    """Every ReLU-family *function* call (``nn.ReLU`` and friends call them too) follows ``rule``."""

    def __init__(self, rule: str) -> None:
        super().__init__()
        self.rule = rule

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if func in _OUT_OF_PLACE or func in (Tensor.relu, Tensor.relu_):
            x = args[0]
            if isinstance(x, Tensor) and x.requires_grad:
                target = torch.relu if func in (Tensor.relu, Tensor.relu_) else func
                fn, slope = _function_fn(target, tuple(args[1:]), dict(kwargs), getattr(func, "__name__", "?"))
                return apply_rule(x, fn, self.rule, slope)  # the mode is off inside its own handler
        return func(*args, **kwargs)


class HookedModel:
    """The fallback route: ``model``'s own forward, the layer's module output caught by a hook, activations
    intercepted with a :class:`torch.overrides.TorchFunctionMode`. In-place activations run out of place; a check
    against the plain forward pass refuses the model if its result depended on that mutation."""

    def __init__(self, model: nn.Module, layer: str, method: str, construct: str) -> None:
        modules = dict(model.named_modules())
        if layer not in modules:
            raise ConfigError(
                "model", type(model).__name__,
                f"cannot be traced by torch.fx: {construct}; the hook-based fallback needs layer= to be a module's "
                "qualified name",
            )  # fmt: skip
        self.model, self.module, self.method, self.layer, self.construct = (
            model,
            modules[layer],
            method,
            layer,
            construct,
        )

    def _run(self, x: Tensor, mode: TorchFunctionMode | None) -> Tensor:
        caught: list[Tensor] = []

        def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
            caught.append(out if isinstance(out, Tensor) else out[0])
            raise _Stop

        handle = self.module.register_forward_hook(hook)
        try:
            with eval_mode(self.model), mode if mode is not None else contextlib.nullcontext():
                self.model(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        if not caught:
            raise ConfigError("layer", self.layer, "is a module the model's forward pass never calls")
        return caught[0]

    def forward(self, x: Tensor) -> Tensor:
        value = self._run(x, _RuleMode(self.method))
        with torch.no_grad():
            plain = self._run(x.detach(), None)
        if plain.shape != value.shape or not torch.allclose(plain, value.detach(), rtol=1e-4, atol=1e-6):
            raise ConfigError(
                "model", type(self.model).__name__,
                f"cannot be traced by torch.fx ({self.construct}) and its result depends on an in-place activation "
                "that the hook-based fallback runs out of place",
            )  # fmt: skip
        return value


def build(model: nn.Module, layer: str | None, method: str) -> Traced | HookedModel:
    """The traced route, or (with a warning naming the construct) the hook-based fallback."""
    try:
        return Traced(model, layer, method)
    except _Untraceable as exc:
        construct = str(exc)
        if layer is None:
            raise ConfigError(
                "model", type(model).__name__, f"cannot be traced by torch.fx: {construct}; name the layer's module"
            ) from None
        fallback = HookedModel(model, layer, method, construct)
        warnings.warn(
            f"{type(model).__name__} cannot be traced by torch.fx ({construct}); using the hook-based fallback "
            "(activation modules and functions are handled; layer must be a module)",
            stacklevel=3,
        )
        return fallback
