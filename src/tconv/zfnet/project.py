"""ZFNet's deconvnet (seed 000 §3.3): project one activation back to pixel space through a mirror network.

The recipe of seed 000's ``cal_vis_data``, done exactly and batched:

1. Forward the images through ``model[: layer + 1]``, recording the max-pool switches (the argmax of every window).
2. Keep only the strongest activation of one channel: a one-hot "seed" at that position.
3. Run the seed back through the mirror of every layer, last to first:

   ======================  ==================================================================================
   forward layer           mirror layer
   ======================  ==================================================================================
   Conv2d                  transposed convolution with the *same* weights, no bias (seed 000 §2; the plan)
   MaxPool2d               unpooling: each value goes to its switch, values whose switches coincide are **summed**
   ReLU / LeakyReLU        ReLU of the signal (the deconvnet rule; "guided" and "saliency" differ only here)
   AvgPool2d               its transpose: spread each value over its window, divided by the window's divisor
   BatchNorm2d             folded into the preceding convolution (or a per-channel scale)
   Dropout / Identity      nothing
   ======================  ==================================================================================

Two details make the result exact where the seed's code is not. Every mirror layer returns exactly the size of the
forward layer's input (the seed builds ``ConvTranspose2d`` without ``output_size``, so AlexNet's conv1 on a 224 image
comes back as 223). And unpooling *sums* where several pooled outputs share a switch, as the true gradient of
max-pooling does; ``nn.MaxUnpool2d`` overwrites, which is what ``unpool="overwrite"`` reproduces. With summing
unpools the deconvnet is exactly backpropagation with seed 000's "revised ReLU" (``method="gradient"``).

Speed comes from two facts. One forward pass serves every channel and image (seed 000 repeats it per call). And the
signal of a one-hot seed never leaves the unit's receptive field, so the mirror runs on a *window* that follows the
receptive field down the layers, not on whole feature maps: each seed carries its window's start, all windows of a
batch share one size, and a transposed convolution of a window of size ``W`` starting at ``a`` covers the input
positions ``a * stride - pad_before + [0, (W - 1) * stride + dilation * (k - 1] + 1)`` -- the plan's index mapping
``o = j * stride + t * dilation - pad_before``. Positions that fall outside the feature map are the ones the plan
crops; they are zeroed, which makes every mirror layer return exactly the forward layer's input size.

>>> import torch, torch.nn as nn
>>> from tconv.zfnet import project
>>> torch.manual_seed(0) and None
>>> net = nn.Sequential(nn.Conv2d(3, 8, 5, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(8, 4, 3))
>>> img = torch.rand(3, 40, 40)
>>> proj, ch = project(net, img, layer=3)
>>> proj.shape == img.shape, 0 <= ch < 4
(True, True)
>>> grad, _ = project(net, img, layer=3, channel=ch, method="gradient")
>>> torch.allclose(proj, grad, atol=1e-5)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ConfigTypeError
from ..ops.dispatch import conv_transpose
from ..window import forward_window, reach, read_start, same_pads

__all__ = [
    "METHODS",
    "UNPOOLS",
    "Mirror",
    "Trace",
    "Projections",
    "project",
    "project_channels",
    "features_of",
    "ROUTES",
]

Method = Literal["deconvnet", "gradient", "guided", "saliency"]
Unpool = Literal["sum", "overwrite"]

#: Projection methods: the deconvnet, its autograd form, guided backprop (Springenberg et al.) and saliency (Simonyan
#: et al., the plain gradient).
METHODS: tuple[str, ...] = ("deconvnet", "gradient", "guided", "saliency")
#: How unpooling treats pooled outputs that share a switch: add them, or let the last one win (``nn.MaxUnpool2d``).
UNPOOLS: tuple[str, ...] = ("sum", "overwrite")

#: Layers the mirror network understands; anything else raises a ValueError naming its type and index.
SUPPORTED = "Conv2d, ReLU, LeakyReLU, MaxPool2d, AvgPool2d, BatchNorm2d, Dropout and Identity"

#: Unpool CPU windows with the compiled kernel (numba); False takes the torch formulation used on other devices.
COMPILED_UNPOOL = True

# Default memory budget of one mirror chunk, in tensor elements (float32: 4 bytes each).
_MAX_ELEMENTS = 1 << 25


# ----------------------------------------------------------------------------------------------------------------
# windows: a batch of same-sized rectangles, each with its own start in feature-map coordinates
# ----------------------------------------------------------------------------------------------------------------
def _axis_rows(start: Tensor, size: int, limit: int) -> tuple[Tensor, Tensor]:
    """Absolute indices ``start[s] + u`` (u < size) clamped into ``[0, limit)``, and which of them were in range."""
    rows = start[:, None] + torch.arange(size, device=start.device)
    valid = (rows >= 0) & (rows < limit)
    return rows.clamp(0, limit - 1), valid


def _gather_window(t: Tensor, owner: Tensor, start: Tensor, size: tuple[int, int]) -> Tensor:
    """``t[owner[s], :, start[s, 0] + u, start[s, 1] + v]`` for a window of ``size``; positions outside ``t`` give 0.

    ``t.unfold`` views every window of ``size`` at once (no copy); one advanced index then picks each seed's.
    """
    limit = torch.tensor(t.shape[-2:], device=start.device)
    lo = (-start).clamp(min=0).amax(0).tolist() if len(start) else [0, 0]
    hi = (
        (start + torch.tensor(size, device=start.device) - limit).clamp(min=0).amax(0).tolist()
        if len(start)
        else [0, 0]
    )
    if any(lo) or any(hi):
        t = F.pad(t, (lo[1], hi[1], lo[0], hi[0]))
    view = t.unfold(2, size[0], 1).unfold(3, size[1], 1)  # (B, C, H', W', h, w)
    return view[owner, :, start[:, 0] + lo[0], start[:, 1] + lo[1]]  # (S, C, h, w)


def _move_window(
    r: Tensor, start: Tensor, new_start: Tensor, size: tuple[int, int], out: Tensor | None = None
) -> Tensor:
    """Re-cut a batch of windows: same absolute positions, new starts and size; uncovered positions are 0.

    One slice copy per seed: cheaper than padding the whole batch for a gather when the new window is large.
    ``out``, when given, is a zero-filled destination of the right shape.
    """
    out = r.new_zeros(r.shape[0], r.shape[1], *size) if out is None else out
    h, w = r.shape[-2:]
    for s_, ((a0, a1), (b0, b1)) in enumerate(zip(start.tolist(), new_start.tolist(), strict=True)):
        # absolute rows covered by both windows
        y0, y1 = max(a0, b0), min(a0 + h, b0 + size[0])
        x0, x1 = max(a1, b1), min(a1 + w, b1 + size[1])
        if y1 > y0 and x1 > x0:
            out[s_, :, y0 - b0 : y1 - b0, x0 - b1 : x1 - b1] = r[s_, :, y0 - a0 : y1 - a0, x0 - a1 : x1 - a1]
    return out


def _crop_to_map(r: Tensor, start: Tensor, n: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Zero the window positions outside the ``n``-sized map; shrink windows larger than the map to the map."""
    _, vr = _axis_rows(start[:, 0], r.shape[-2], n[0])
    _, vc = _axis_rows(start[:, 1], r.shape[-1], n[1])
    if not (bool(vr.all()) and bool(vc.all())):  # some window reaches past the map: zero those rows / columns
        r = r * (vr[:, None, :, None] & vc[:, None, None, :])
    new_start, size = _fit(start, tuple(r.shape[-2:]), n)
    if size != tuple(r.shape[-2:]):
        r, start = _move_window(r, start, new_start, size), new_start
    return r, start


def _fit(start: Tensor, size: tuple[int, int], n: tuple[int, int]) -> tuple[Tensor, tuple[int, int]]:
    """A window larger than the ``n``-sized map shrinks to the map and moves inside it; others stay as they are."""
    if size[0] <= n[0] and size[1] <= n[1]:
        return start, size
    fit = (min(size[0], n[0]), min(size[1], n[1]))
    limit = torch.tensor([n[0] - fit[0], n[1] - fit[1]], device=start.device)
    return torch.minimum(start.clamp(min=0), limit), fit


def _reach(start: Tensor, size: tuple[int, int], k, s, d, pad_before) -> tuple[Tensor, tuple[int, int]]:
    """The input window a layer's output window reads (tconv.window: ``read_start`` and ``reach``)."""
    new_start = read_start(start, torch.tensor(s, device=start.device), torch.tensor(pad_before, device=start.device))
    return new_start, _reach_size(size, k, s, d)


def _reach_size(size: Sequence[int], k, s, d) -> tuple[int, int]:
    return tuple(reach(w, ki, si, di) for w, ki, si, di in zip(size, k, s, d, strict=True))  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------------------------
# the steps: one per supported forward layer, each knowing its forward and its mirror
# ----------------------------------------------------------------------------------------------------------------
class _RevisedReLU(torch.autograd.Function):
    """Seed 000's revised ReLU: forward is (leaky) ReLU, backward is the (leaky) ReLU *of the gradient*."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, slope: float) -> Tensor:
        ctx.slope = slope
        return F.leaky_relu(x, slope) if slope else F.relu(x)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, None]:
        return (F.leaky_relu(g, ctx.slope) if ctx.slope else F.relu(g)), None


@dataclass(eq=False)
class _Conv:
    index: int
    weight: Tensor  # (C_out, C_in / groups, kh, kw): also the transposed convolution's weight, as is
    bias: Tensor | None
    stride: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]  # (before, after) per dimension
    dilation: tuple[int, int]
    groups: int

    @property
    def kernel(self) -> tuple[int, int]:
        return tuple(self.weight.shape[2:])  # type: ignore[return-value]

    def forward(self, x: Tensor, trace: Trace, i: int, autograd: bool) -> Tensor:
        (pt, pb), (pl, pr) = self.padding
        if pt == pb and pl == pr:
            return F.conv2d(x, self.weight, self.bias, self.stride, (pt, pl), self.dilation, self.groups)
        return F.conv2d(F.pad(x, (pl, pr, pt, pb)), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def mirror(self, r: Tensor, start: Tensor, ctx: _MirrorContext, i: int) -> tuple[Tensor, Tensor]:
        n = ctx.trace.sizes[i]
        # On a window the transposed convolution crops nothing (padding 0); the window's padding is _crop_to_map's.
        pad_before = tuple(p[0] for p in self.padding)
        start, _ = _reach(start, tuple(r.shape[-2:]), self.kernel, self.stride, self.dilation, pad_before)
        r = conv_transpose(r, self.weight, None, self.stride, 0, 0, self.groups, self.dilation)
        return _crop_to_map(r, start, n)


@dataclass(eq=False)
class _Scale:
    """A BatchNorm2d that follows no convolution: a per-channel affine map, whose mirror is the scale."""

    index: int
    scale: Tensor
    shift: Tensor

    def forward(self, x: Tensor, trace: Trace, i: int, autograd: bool) -> Tensor:
        return x * self.scale[:, None, None] + self.shift[:, None, None]

    def mirror(self, r: Tensor, start: Tensor, ctx: _MirrorContext, i: int) -> tuple[Tensor, Tensor]:
        return r * self.scale[:, None, None], start


@dataclass(eq=False)
class _ReLU:
    index: int
    slope: float = 0.0

    def forward(self, x: Tensor, trace: Trace, i: int, autograd: bool) -> Tensor:
        if trace.keep_signs:
            trace.signs[i] = x > 0
        if autograd:
            return _RevisedReLU.apply(x, self.slope)
        return F.leaky_relu(x, self.slope) if self.slope else F.relu(x)

    def mirror(self, r: Tensor, start: Tensor, ctx: _MirrorContext, i: int) -> tuple[Tensor, Tensor]:
        if ctx.rule == "deconvnet":  # ZFNet: rectify the reconstruction, ignore the forward pass (in place: the
            # mirror owns every intermediate window)
            return (F.leaky_relu_(r, self.slope) if self.slope else F.relu_(r)), start
        positive = _gather_window(ctx.trace.signs[i], ctx.owner, start, r.shape[-2:])
        slope = torch.where(positive, 1.0, self.slope).to(r.dtype)
        if ctx.rule == "guided":  # Springenberg et al.: both the forward sign and the signal's sign
            r = F.relu(r)
        return r * slope, start  # saliency: the true derivative


@dataclass(eq=False)
class _MaxPool:
    index: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    ceil_mode: bool

    def forward(self, x: Tensor, trace: Trace, i: int, autograd: bool) -> Tensor:
        y, idx = F.max_pool2d(x, self.kernel, self.stride, self.padding, self.dilation, self.ceil_mode, True)
        trace.switches[i] = idx
        return y

    @staticmethod
    def last_writers(switches: Tensor, n: tuple[int, int]) -> Tensor:
        """Which pooled outputs ``nn.MaxUnpool2d`` lets win: the last one, in raster order, pointing at each switch.

        Overwriting unpooling writes every pooled value to its switch, later ones over earlier ones, so the value
        that stays at a switch is its last writer's. It is therefore a *summing* unpool of the values masked to the
        last writers -- and the mask depends on the switches alone, so it is computed once per image, not per seed.
        """
        flat = switches.flatten(2)
        order = torch.arange(flat.shape[-1], device=flat.device).expand_as(flat)
        last = torch.full((*flat.shape[:2], n[0] * n[1]), -1, dtype=flat.dtype, device=flat.device)
        last.scatter_reduce_(2, flat, order, "amax")
        return (last.gather(2, flat) == order).view_as(switches)

    def mirror(self, r: Tensor, start: Tensor, ctx: _MirrorContext, i: int) -> tuple[Tensor, Tensor]:
        n = ctx.trace.sizes[i]
        size = tuple(r.shape[-2:])
        if r.device.type == "cpu" and COMPILED_UNPOOL:  # one pass over the pooled values (tconv.zfnet._unpool)
            from ._unpool import unpool_windows  # noqa: PLC0415

            keep = None
            if ctx.unpool == "overwrite":
                if i not in ctx.trace.last_writers:
                    ctx.trace.last_writers[i] = self.last_writers(ctx.trace.switches[i], n).contiguous()
                keep = ctx.trace.last_writers[i]
            in_start, in_size = _reach(start, size, self.kernel, self.stride, self.dilation, self.padding)
            # every switch lies inside the map, so window positions outside it simply receive nothing (they are the
            # ones the plan crops); only a window larger than the map must shrink
            in_start, fit = _fit(in_start, in_size, n)
            out = unpool_windows(
                r, ctx.owner, start.contiguous(), ctx.trace.switches[i], keep, in_start.contiguous(), fit, n[1]
            )
            return out, in_start
        if ctx.unpool == "overwrite":
            if i not in ctx.trace.last_writers:
                ctx.trace.last_writers[i] = self.last_writers(ctx.trace.switches[i], n)
            r = r * _gather_window(ctx.trace.last_writers[i], ctx.owner, start, size)
        switches = _gather_window(ctx.trace.switches[i], ctx.owner, start, size)  # flat indices into n
        in_start, in_size = _reach(start, size, self.kernel, self.stride, self.dilation, self.padding)
        local = (switches // n[1] - in_start[:, 0, None, None, None]) * in_size[1] + (
            switches % n[1] - in_start[:, 1, None, None, None]
        )
        # Outside the map r is 0 and the gathered switch a padding 0: keep its local index in range (it adds 0).
        local = local.clamp(0, in_size[0] * in_size[1] - 1).flatten(2)
        out = torch.zeros(*r.shape[:2], in_size[0] * in_size[1], dtype=r.dtype, device=r.device)
        out.scatter_add_(2, local, r.flatten(2))
        return _crop_to_map(out.view(*r.shape[:2], *in_size), in_start, n)


@dataclass(eq=False)
class _AvgPool:
    index: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    ceil_mode: bool
    count_include_pad: bool
    divisor_override: int | None

    def forward(self, x: Tensor, trace: Trace, i: int, autograd: bool) -> Tensor:
        return F.avg_pool2d(
            x, self.kernel, self.stride, self.padding, self.ceil_mode, self.count_include_pad, self.divisor_override
        )

    def divisors(self, n: tuple[int, int], m: tuple[int, int], device: torch.device) -> Tensor:
        """The divisor of every output window, by PyTorch's rule (padding counts, the overhang past it does not)."""
        if self.divisor_override:
            return torch.full(m, float(self.divisor_override), device=device)
        per_dim = []
        for size_in, size_out, k, s, p in zip(n, m, self.kernel, self.stride, self.padding, strict=True):
            lo = read_start(torch.arange(size_out, device=device), s, p)
            hi = torch.clamp(lo + k, max=size_in + p)
            if not self.count_include_pad:
                lo, hi = lo.clamp(min=0), hi.clamp(max=size_in)
            per_dim.append((hi - lo).double())
        return per_dim[0][:, None] * per_dim[1][None, :]

    def mirror(self, r: Tensor, start: Tensor, ctx: _MirrorContext, i: int) -> tuple[Tensor, Tensor]:
        n, m = ctx.trace.sizes[i], ctx.trace.sizes[i + 1]
        div = self.divisors(n, m, r.device).to(r.dtype)[None, None]
        r = r / _gather_window(div, torch.zeros_like(ctx.owner), start, r.shape[-2:]).clamp(min=1)
        ones = torch.ones(r.shape[1], 1, *self.kernel, dtype=r.dtype, device=r.device)
        start, _ = _reach(start, tuple(r.shape[-2:]), self.kernel, self.stride, (1, 1), self.padding)
        r = conv_transpose(r, ones, None, self.stride, 0, 0, r.shape[1], 1)
        return _crop_to_map(r, start, n)


_Step = _Conv | _Scale | _ReLU | _MaxPool | _AvgPool


@dataclass
class Trace:
    """What a forward pass records for the mirror: sizes, switches and (for guided/saliency) ReLU input signs.

    ``activations`` is the output of module ``layer``, shape ``(B, C_layer, h, w)``; ``sizes[i]`` is the spatial
    input size of step ``i`` (``sizes[-1]`` is the activations' size).
    """

    images: Tensor
    activations: Tensor = None  # type: ignore[assignment]
    sizes: list[tuple[int, int]] = field(default_factory=list)
    switches: dict[int, Tensor] = field(default_factory=dict)
    signs: dict[int, Tensor] = field(default_factory=dict)
    keep_signs: bool = False
    last_writers: dict[int, Tensor] = field(default_factory=dict)  # for unpool="overwrite", made on first use


@dataclass
class _MirrorContext:
    trace: Trace
    owner: Tensor  # (S,) the image of each seed
    rule: str
    unpool: str


@dataclass
class Projections:
    """``K`` channels x ``B`` images projected in one pass.

    ``projection`` is ``(B, K, C, H, W)``; ``channels`` ``(K,)``; ``positions`` ``(B, K, 2)`` the (row, col) of the
    strongest activation of each channel in each image, whose value is ``values`` ``(B, K)``.
    """

    projection: Tensor
    channels: Tensor
    positions: Tensor
    values: Tensor


# ----------------------------------------------------------------------------------------------------------------
# the mirror network
# ----------------------------------------------------------------------------------------------------------------
def features_of(model: nn.Module) -> nn.Sequential:
    """The ``nn.Sequential`` whose indices ``layer`` refers to: ``model`` itself, or its ``.features``.

    >>> features_of(nn.Sequential(nn.ReLU()))[0]
    ReLU()
    """
    if isinstance(model, nn.Sequential):
        return model
    feats = getattr(model, "features", None)
    if isinstance(feats, nn.Sequential):
        return feats
    raise ConfigError(
        "model", type(model).__name__, "must be an nn.Sequential or have a .features nn.Sequential (torchvision style)"
    )


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv_padding(m: nn.Conv2d) -> tuple[tuple[int, int], tuple[int, int]]:
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return ((0, 0), (0, 0))
        return same_pads((1, 1), m.kernel_size, 1, m.dilation)  # type: ignore[return-value]  (stride 1: no size)
    return tuple((p, p) for p in _pair(m.padding))  # type: ignore[return-value]


def _bn_affine(m: nn.BatchNorm2d, index: int) -> tuple[Tensor, Tensor]:
    if m.running_mean is None or m.running_var is None:
        raise ConfigError(
            f"model[{index}]", "BatchNorm2d(track_running_stats=False)", "has no running statistics to fold"
        )
    scale = torch.rsqrt(m.running_var + m.eps)
    if m.weight is not None:
        scale = scale * m.weight
    shift = -m.running_mean * scale
    if m.bias is not None:
        shift = shift + m.bias
    return scale.detach(), shift.detach()


def _build_steps(layers: Sequence[nn.Module]) -> list[_Step]:
    steps: list[_Step] = []
    for i, m in enumerate(layers):
        if isinstance(m, nn.Conv2d):
            if m.padding_mode != "zeros":
                raise ConfigError(
                    f"model[{i}]",
                    f"Conv2d(padding_mode={m.padding_mode!r})",
                    "is not supported: only zero padding has a transposed convolution as its mirror",
                )
            steps.append(
                _Conv(
                    i,
                    m.weight.detach(),
                    None if m.bias is None else m.bias.detach(),
                    _pair(m.stride),
                    _conv_padding(m),
                    _pair(m.dilation),
                    m.groups,
                )
            )
        elif isinstance(m, nn.BatchNorm2d):
            scale, shift = _bn_affine(m, i)
            prev = steps[-1] if steps else None
            if isinstance(prev, _Conv):  # fold: conv(x, w) * a + b == conv(x, w * a) with bias bias * a + b
                bias = shift if prev.bias is None else prev.bias * scale + shift
                steps[-1] = _Conv(
                    prev.index,
                    prev.weight * scale[:, None, None, None],
                    bias,
                    prev.stride,
                    prev.padding,
                    prev.dilation,
                    prev.groups,
                )
            else:
                steps.append(_Scale(i, scale, shift))
        elif isinstance(m, nn.ReLU):
            steps.append(_ReLU(i))
        elif isinstance(m, nn.LeakyReLU):
            steps.append(_ReLU(i, float(m.negative_slope)))
        elif isinstance(m, nn.MaxPool2d):
            steps.append(
                _MaxPool(
                    i,
                    _pair(m.kernel_size),
                    _pair(m.stride or m.kernel_size),
                    _pair(m.padding),
                    _pair(m.dilation),
                    bool(m.ceil_mode),
                )
            )
        elif isinstance(m, nn.AvgPool2d):
            steps.append(
                _AvgPool(
                    i,
                    _pair(m.kernel_size),
                    _pair(m.stride or m.kernel_size),
                    _pair(m.padding),
                    bool(m.ceil_mode),
                    bool(m.count_include_pad),
                    m.divisor_override,
                )
            )
        elif isinstance(m, (nn.Dropout, nn.Dropout2d, nn.Identity)):
            continue
        else:
            raise ConfigError(
                f"model[{i}]", type(m).__name__, f"is not supported by the deconvnet (supported: {SUPPORTED})"
            )
    return steps


def _step_out(step: _Step, n: tuple[int, int]) -> tuple[int, int]:
    if isinstance(step, _Conv):
        return forward_window(n, step.kernel, step.stride, step.padding, step.dilation).out_size  # type: ignore[return-value]
    if isinstance(step, (_MaxPool, _AvgPool)):
        d = step.dilation if isinstance(step, _MaxPool) else 1
        return forward_window(n, step.kernel, step.stride, step.padding, d, step.ceil_mode).out_size  # type: ignore[return-value]
    return n


class Mirror:
    """The deconvnet of ``model[: layer + 1]``: built once (BatchNorm folded), then applied to any batch.

    >>> import torch, torch.nn as nn
    >>> m = Mirror(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2)), layer=2)
    >>> m.sizes((9, 9))
    [(9, 9), (7, 7), (7, 7), (3, 3)]
    >>> m.out_channels
    4
    """

    def __init__(self, model: nn.Module, layer: int) -> None:
        feats = features_of(model)
        if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool):
            raise ConfigTypeError("layer", layer, "must be an int (an index into the model's layers)")
        if not -len(feats) <= layer < len(feats):
            raise ConfigError(
                "layer", layer, f"must index one of the model's {len(feats)} layers (0..{len(feats) - 1})"
            )
        self.layer = int(layer) % len(feats)
        with torch.no_grad():
            self.steps: list[_Step] = _build_steps(list(feats)[: self.layer + 1])
        convs = [s for s in self.steps if isinstance(s, _Conv)]
        self.in_channels: int | None = convs[0].weight.shape[1] * convs[0].groups if convs else None
        self.out_channels: int | None = convs[-1].weight.shape[0] if convs else self.in_channels
        params = [p for p in model.parameters()]
        # the images follow the model's dtype and device (a model without parameters follows the images)
        self.dtype: torch.dtype | None = params[0].dtype if params else None
        self.device: torch.device | None = params[0].device if params else None

    # -- geometry ---------------------------------------------------------------------------------------------
    def sizes(self, image_size: tuple[int, int]) -> list[tuple[int, int]]:
        """Spatial size before every step and after the last one (raises ConfigError if something vanishes)."""
        sizes = [tuple(image_size)]
        for step in self.steps:
            try:
                out = _step_out(step, sizes[-1])
            except ConfigError as exc:  # the window (tconv.window) has no output on this map
                raise ConfigError(
                    "images", tuple(image_size), f"are too small: layer {step.index} on {sizes[-1]}: {exc}"
                ) from None
            sizes.append(out)
        return sizes  # type: ignore[return-value]

    def channels(self, image_channels: int) -> list[int]:
        """Channel count before every step and after the last one."""
        chans = [image_channels]
        for step in self.steps:
            chans.append(step.weight.shape[0] if isinstance(step, _Conv) else chans[-1])
        return chans

    def window_elements(self, image_shape: tuple[int, int, int]) -> int:
        """The largest per-seed tensor of the mirror, in elements (to size the chunks)."""
        sizes, chans = self.sizes(tuple(image_shape[1:])), self.channels(image_shape[0])
        size, worst = (1, 1), chans[-1]
        for i in reversed(range(len(self.steps))):
            step = self.steps[i]
            if isinstance(step, (_Conv, _MaxPool, _AvgPool)):
                dil = (1, 1) if isinstance(step, _AvgPool) else step.dilation
                full = _reach_size(size, step.kernel, step.stride, dil)
                worst = max(worst, chans[i] * math.prod(full) * 3)  # the result and the int64 switches / gathers
                size = tuple(min(f, n) for f, n in zip(full, sizes[i], strict=True))
        return max(worst, math.prod(image_shape))

    def work(self, image_shape: tuple[int, int, int]) -> tuple[int, int]:
        """Multiply-adds of one seed-000 call and of one windowed projection: ``(per_call, per_window)``.

        A seed-000 call runs the convolutions forward on whole maps and their transposes back on whole maps; a
        windowed projection runs only the transposes, each on the window its receptive field covers (at most the
        map). Their ratio bounds what batching can gain per projection when both run equally fast.

        >>> m = Mirror(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3)), layer=3)
        >>> m.work((3, 12, 12))      # 2 * (10*10*4*3*9 + 3*3*8*4*9) and 1*1*8*4*9 + 6*6*4*3*9
        (26784, 4176)
        """
        sizes = self.sizes(tuple(image_shape[1:]))
        per_call = per_window = 0
        size = (1, 1)
        for i in reversed(range(len(self.steps))):
            step = self.steps[i]
            if isinstance(step, (_Conv, _MaxPool, _AvgPool)):
                if isinstance(step, _Conv):
                    per_tap = step.weight.shape[0] * step.weight.shape[1] * math.prod(step.kernel)
                    per_call += 2 * math.prod(sizes[i + 1]) * per_tap
                    per_window += math.prod(size) * per_tap
                dil = (1, 1) if isinstance(step, _AvgPool) else step.dilation
                size = tuple(
                    min(f, n) for f, n in zip(_reach_size(size, step.kernel, step.stride, dil), sizes[i], strict=True)
                )
        return per_call, per_window

    def gradient_elements(self, image_shape: tuple[int, int, int]) -> int:
        """What autograd keeps per seed: every intermediate of the forward pass."""
        sizes, chans = self.sizes(tuple(image_shape[1:])), self.channels(image_shape[0])
        return 2 * sum(c * math.prod(n) for c, n in zip(chans, sizes, strict=True))

    # -- forward ----------------------------------------------------------------------------------------------
    def check_images(self, images: Tensor) -> None:
        """Raise ConfigError unless ``images`` is a float batch (B, C, H, W) this model can take."""
        if images.ndim != 4:
            raise ConfigError("images", tuple(images.shape), "must be (C, H, W) or (B, C, H, W)")
        if not images.is_floating_point():
            raise ConfigTypeError("images", f"tensor(dtype={images.dtype})", "must be floating point")
        if self.in_channels is not None and images.shape[1] != self.in_channels:
            raise ConfigError(
                "images", tuple(images.shape), f"must have {self.in_channels} channels, as the first convolution"
            )
        self.sizes(tuple(images.shape[-2:]))

    def trace(self, images: Tensor, signs: bool = False) -> Trace:
        """Forward ``images`` (B, C, H, W) to the layer, recording switches (and ReLU input signs if ``signs``)."""
        self.check_images(images)
        trace = Trace(images=images.to(self.device or images.device, self.dtype or images.dtype), keep_signs=signs)
        x = trace.images
        with torch.no_grad():
            for i, step in enumerate(self.steps):
                trace.sizes.append(tuple(x.shape[-2:]))
                x = step.forward(x, trace, i, autograd=False)
        trace.sizes.append(tuple(x.shape[-2:]))
        trace.activations = x
        return trace

    @staticmethod
    def strongest(activations: Tensor) -> tuple[Tensor, Tensor]:
        """Position (row, col) and value of the largest activation of every channel in every image.

        Returns ``positions`` (B, C, 2) and ``values`` (B, C); ties go to the first maximum in raster order, as
        ``torch.argmax`` and seed 000's ``np.unravel_index`` do.
        """
        values, flat = activations.flatten(2).max(dim=2)
        w = activations.shape[-1]
        return torch.stack([flat // w, flat % w], dim=-1), values

    # -- backward ---------------------------------------------------------------------------------------------
    def _mirror_chunk(
        self, trace: Trace, owner: Tensor, channels: Tensor, positions: Tensor, rule: str, unpool: str, out: Tensor
    ) -> Tensor:
        acts = trace.activations
        r = torch.zeros(len(owner), acts.shape[1], 1, 1, dtype=acts.dtype, device=acts.device)
        r[torch.arange(len(owner)), channels] = 1.0  # the one-hot seed, as seed 000 (value 1, not the activation)
        start = positions.clone()
        ctx = _MirrorContext(trace, owner, rule, unpool)
        for i in reversed(range(len(self.steps))):
            r, start = self.steps[i].mirror(r, start, ctx, i)
        return _move_window(r, start, torch.zeros_like(start), trace.sizes[0], out)

    def _gradient_chunk(self, trace: Trace, owner: Tensor, channels: Tensor, positions: Tensor) -> Tensor:
        x = trace.images[owner].detach().clone().requires_grad_(True)
        scratch = Trace(images=x)
        with torch.enable_grad():
            y = x
            for i, step in enumerate(self.steps):
                y = step.forward(y, scratch, i, autograd=True)
            picked = y[torch.arange(len(owner)), channels, positions[:, 0], positions[:, 1]]
            (grad,) = torch.autograd.grad(picked.sum(), x)
        return grad

    def backward(
        self,
        trace: Trace,
        owner: Tensor,
        channels: Tensor,
        positions: Tensor,
        method: str = "deconvnet",
        unpool: str = "sum",
        max_elements: int = _MAX_ELEMENTS,
        progress: bool = False,
    ) -> Tensor:
        """Project seeds (image ``owner[s]``, channel ``channels[s]``, position ``positions[s]``) to (S, C, H, W)."""
        _check_method(method, unpool)
        if method in ("guided", "saliency") and not trace.signs and any(isinstance(s, _ReLU) for s in self.steps):
            raise ConfigError("method", method, "needs a trace made with signs=True")
        shape = tuple(trace.images.shape[1:])
        per_seed = self.gradient_elements(shape) if method == "gradient" else self.window_elements(shape)
        chunk = max(1, max_elements // per_seed)
        out = torch.zeros(len(owner), *trace.images.shape[1:], dtype=trace.images.dtype, device=trace.images.device)
        spans = [(a, min(a + chunk, len(owner))) for a in range(0, len(owner), chunk)]
        with _progress(progress and len(spans) > 1, f"{method} projections", len(spans)) as advance:
            for a, b in spans:
                args = (trace, owner[a:b], channels[a:b], positions[a:b])
                if method == "gradient":
                    out[a:b] = self._gradient_chunk(*args)
                else:
                    with torch.no_grad():
                        self._mirror_chunk(*args, method, unpool, out[a:b])
                advance()
        return out


class _progress:
    """Progress when ``enabled`` (a context manager yielding an ``advance()`` callable, called after each step): a
    rich bar on a terminal, one plain line per step otherwise (:func:`tconv.progress.steps`)."""

    def __init__(self, enabled: bool, label: str, total: int) -> None:
        self.enabled, self.label, self.total = enabled, label, total

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.enabled:
            return lambda: None
        from ..progress import steps  # noqa: PLC0415

        self.ctx = steps(self.label, self.total)
        step = self.ctx.__enter__()
        done = [0]

        def advance() -> None:
            done[0] += 1
            step(f"{done[0]} of {self.total} done")

        return advance

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.ctx.__exit__(*exc)


# ----------------------------------------------------------------------------------------------------------------
# the public functions
# ----------------------------------------------------------------------------------------------------------------
def _check_method(method: str, unpool: str) -> None:
    if method not in METHODS:
        raise ConfigError("method", method, f"must be one of {METHODS}")
    if unpool not in UNPOOLS:
        raise ConfigError("unpool", unpool, f"must be one of {UNPOOLS}")
    if unpool == "overwrite" and method == "gradient":
        raise ConfigError("unpool", unpool, "must be 'sum' with method='gradient': autograd always sums")


def _as_images(images: Any) -> tuple[Tensor, bool, bool]:
    """(batch tensor, was unbatched, was numpy)."""
    from_np = isinstance(images, np.ndarray)
    if from_np:
        if images.dtype not in (np.float32, np.float64):
            raise ConfigTypeError("images", f"ndarray(dtype={images.dtype})", "must be float32 or float64")
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, Tensor):
        raise ConfigTypeError("images", type(images).__name__, "must be a torch.Tensor or a numpy.ndarray")
    if images.ndim not in (3, 4):
        raise ConfigError("images", tuple(images.shape), "must be (C, H, W) or (B, C, H, W)")
    unbatched = images.ndim == 3
    return (images[None] if unbatched else images), unbatched, from_np


def _channel_tensor(name: str, channel: Any, count: int, limit: int, device: torch.device) -> Tensor:
    from .objective import as_channels  # noqa: PLC0415

    return as_channels(name, channel, count, limit).to(device)  # type: ignore[union-attr]


Route = Literal["auto", "mirror", "graph"]
#: How :func:`project` computes: ``"mirror"`` (the explicit deconvnet of an ``nn.Sequential``), ``"graph"``
#: (autograd on the torch.fx graph with each activation's backward rule, :mod:`tconv.zfnet.traced`), ``"auto"``.
ROUTES: tuple[str, ...] = ("auto", "mirror", "graph")


def _mirror_or_name(model: nn.Module, layer: Any, kind: str, unpool: str, route: str) -> tuple[Mirror | None, Any]:
    """The Sequential mirror when it applies, else the layer's name for the graph route."""
    if route not in ROUTES:
        raise ConfigError("route", route, f"must be one of {ROUTES}")
    if layer is not None and not isinstance(layer, (str, int, np.integer)) or isinstance(layer, bool):
        raise ConfigTypeError("layer", layer, "must be an int index, a module's qualified name or an fx node name")
    if isinstance(layer, (int, np.integer)):
        try:
            feats = features_of(model)
        except ConfigError:
            raise ConfigError(
                "layer", layer, "is an index, which needs an nn.Sequential (or .features); name a module or fx node"
            ) from None
        if not -len(feats) <= layer < len(feats):
            raise ConfigError(
                "layer", layer, f"must index one of the model's {len(feats)} layers (0..{len(feats) - 1})"
            )
        if route != "graph" and kind == "unit":
            try:
                return Mirror(model, int(layer)), None
            except ConfigError as exc:
                if route == "mirror" or not exc.param.startswith("model["):
                    raise
        prefix = "" if feats is model else "features."
        return None, f"{prefix}{int(layer) % len(feats)}"
    if route == "mirror":
        raise ConfigError("route", route, "needs an int layer of an nn.Sequential and objective='unit'")
    if unpool != "sum":
        raise ConfigError("unpool", unpool, "must be 'sum' on the graph route (autograd always sums)")
    return None, layer


def _graph_setup(model: nn.Module, x: Tensor, name: Any, method: str, max_elements: int) -> tuple[Any, Tensor, int]:
    from .traced import build  # noqa: PLC0415

    net = build(model, name, method)
    params = list(model.parameters())
    if params:
        x = x.to(params[0].device, params[0].dtype)
    if x.ndim != 4 or not x.is_floating_point():
        raise ConfigError("images", tuple(x.shape), "must be a float (C, H, W) image or (B, C, H, W) batch")
    chunk = max(1, max_elements // max(1, 16 * x[0].numel()))
    return net, x, chunk


def _graph_interior(model: nn.Module, net: Any, shape: tuple[int, ...]) -> Any:
    from .objective import interior_mask  # noqa: PLC0415
    from .traced import Traced  # noqa: PLC0415

    if isinstance(net, Traced):
        return interior_mask(model, shape, node_name=net.layer)
    return interior_mask(model, shape, layer_module=net.module)


def project(
    model: nn.Module,
    images: Tensor | np.ndarray,
    layer: int | str | None = None,
    channel: int | Sequence[int] | Tensor | None = None,
    method: Method = "deconvnet",
    unpool: Unpool = "sum",
    *,
    objective: str | int = "unit",
    position: Any = None,
    inside: bool = True,
    route: Route = "auto",
    max_elements: int = _MAX_ELEMENTS,
    progress: bool = False,
) -> tuple[Tensor | np.ndarray, Any]:
    """Project one unit, channel or class of ``layer`` back to pixel space (seed 000 §3.3), on any traceable model.

    ``images`` is one image (C, H, W) or a batch (B, C, H, W); the projection has exactly their shape (and their
    type: tensor or ndarray). ``layer`` is an index into an ``nn.Sequential`` (or its ``.features``), a module's
    qualified name (``"layer3.1.relu"``; a module called twice means its last call), an fx node name
    (``"layer3_1_relu_1"``, ``"add_3"``) or None for the model's output. ``method`` is one of :data:`METHODS`.

    ``objective`` (:mod:`tconv.zfnet.objective`): ``"unit"`` -- the strongest unit of ``channel``, by default only
    among units whose receptive field lies inside the image (``inside``), or the unit at ``position``; ``"channel"``
    -- the channel's whole map; ``"logit"`` or an int -- one output entry (a class). ``channel`` is an int, one int per
    image, what a previous call returned, or None for the strongest; the chosen channel(s) come back as the second
    result (an int for one image, else a tensor).

    ``route="auto"`` runs an ``nn.Sequential`` of the classic layers through the explicit mirror network
    (``unpool="overwrite"`` reproduces ``nn.MaxUnpool2d``), and anything else through autograd on the torch.fx
    graph with every ReLU-family activation's backward rule (:mod:`tconv.zfnet.traced`); both give the same numbers.
    The model is used in eval semantics (BatchNorm with running statistics, no dropout).

    >>> import torch, torch.nn as nn
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.ReLU())
    >>> with torch.no_grad(): _ = net[0].weight.fill_(1.0)
    >>> p, ch = project(net, torch.ones(1, 7, 7), layer=1, channel=0, inside=False)
    >>> p[0].tolist()[:4]                                   # the 3x3 receptive field of the unit at (0, 0)
    [[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
    >>> q, _ = project(net, torch.ones(1, 7, 7), layer="1", channel=ch, inside=False)   # the graph route
    >>> torch.equal(p, q)
    True
    """
    from .objective import as_channels, forward_all, gradients, interior_mask, parse_objective, select  # noqa: PLC0415

    _check_method(method, unpool)
    kind, channel = parse_objective(objective, channel)
    x, unbatched, from_np = _as_images(images)
    mirror, name = _mirror_or_name(model, layer, kind, unpool, route)
    if mirror is not None:
        mirror.check_images(x)
        trace = mirror.trace(x, signs=method in ("guided", "saliency"))
        limit = mirror.out_channels or x.shape[1]
        chosen = as_channels("channel", channel, len(x), limit)
        region = None
        if inside and position is None:
            feats = features_of(model)
            region = interior_mask(feats, tuple(x.shape[1:]), layer_module=feats[mirror.layer])
        chosen, positions = select(trace.activations.cpu(), "unit", chosen, position, region)
        dev = trace.activations.device
        owner = torch.arange(len(x), device=dev)
        proj = mirror.backward(trace, owner, chosen.to(dev), positions.to(dev), method, unpool, max_elements, progress)
    else:
        net, xg, chunk = _graph_setup(model, x, name, method, max_elements)
        acts = forward_all(net, xg, chunk)
        chosen = as_channels("channel", channel, len(x), acts.shape[1] if acts.ndim > 1 else 1)
        region = _graph_interior(model, net, tuple(x.shape[1:])) if kind == "unit" and inside else None
        chosen, positions = select(acts.cpu(), kind, chosen, position, region)
        spans = -(-len(x) // chunk)
        with _progress(progress and spans > 1, f"{method} projections", spans) as advance:
            proj = gradients(net, xg, torch.arange(len(x)), kind, chosen, positions, chunk, advance)
    proj = proj.to(x.device, x.dtype)
    chosen = chosen.cpu()
    if unbatched:
        proj, chosen_out = proj[0], int(chosen[0])
    else:
        chosen_out = chosen
    return (proj.numpy() if from_np else proj), chosen_out


def project_channels(
    model: nn.Module,
    images: Tensor | np.ndarray,
    layer: int | str | None,
    channels: Sequence[int] | None = None,
    method: Method = "deconvnet",
    unpool: Unpool = "sum",
    *,
    inside: bool = True,
    route: Route = "auto",
    max_elements: int = _MAX_ELEMENTS,
    progress: bool = False,
) -> Projections:
    """Project the strongest unit of ``K`` channels (default: all of the layer's) for each of ``B`` images, from one
    forward pass (``inside`` and ``route`` as in :func:`project`).

    >>> import torch, torch.nn as nn
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(3, 2))
    >>> res = project_channels(net, torch.rand(2, 3, 16, 16), layer=2)
    >>> tuple(res.projection.shape), tuple(res.positions.shape)
    ((2, 4, 3, 16, 16), (2, 4, 2))
    """
    from .objective import forward_all, gradients, interior_grid, interior_mask  # noqa: PLC0415

    _check_method(method, unpool)
    x, _, _ = _as_images(images)
    mirror, name = _mirror_or_name(model, layer, "unit", unpool, route)
    if mirror is not None:
        mirror.check_images(x)
        trace = mirror.trace(x, signs=method in ("guided", "saliency"))
        acts = trace.activations
        feats = features_of(model)
        region = interior_mask(feats, tuple(x.shape[1:]), layer_module=feats[mirror.layer]) if inside else None
    else:
        net, xg, chunk = _graph_setup(model, x, name, method, max_elements)
        acts = forward_all(net, xg, chunk)
        region = _graph_interior(model, net, tuple(x.shape[1:])) if inside else None
    if acts.ndim != 4:
        raise ConfigError("layer", layer, f"gives {tuple(acts.shape)}: project_channels needs (B, C, h, w) maps")
    limit = acts.shape[1]
    chans = (
        torch.arange(limit)
        if channels is None
        else _channel_tensor("channels", channels, len(channels), limit, torch.device("cpu"))
    )
    masked = acts if region is None else acts.masked_fill(~interior_grid(region).to(acts.device), -torch.inf)
    b, k = len(x), len(chans)
    owner = torch.arange(b).repeat_interleave(k)
    seeds = chans.repeat(b)
    positions, values = (t[owner, seeds] for t in Mirror.strongest(masked.cpu()))
    if region is not None:
        values = acts.cpu()[owner, seeds, positions[:, 0], positions[:, 1]]
    if mirror is not None:
        dev = acts.device
        proj = mirror.backward(
            trace, owner.to(dev), seeds.to(dev), positions.to(dev), method, unpool, max_elements, progress
        )
    else:
        spans = -(-len(owner) // chunk)
        with _progress(progress and spans > 1, f"{method} projections", spans) as advance:
            proj = gradients(net, xg, owner, "unit", seeds, positions, chunk, advance)
    return Projections(
        projection=proj.view(b, k, *x.shape[1:]).to(x.device, x.dtype),
        channels=chans.cpu(),
        positions=positions.view(b, k, 2).cpu(),
        values=values.view(b, k).cpu(),
    )
