"""The mirror network's steps (:mod:`tconv.zfnet.project`): one per supported forward layer, each knowing its forward
pass and its mirror, running on *windows* -- a batch of same-sized rectangles, each with its own start in
feature-map coordinates, that follow a seed's receptive field down the layers (see :mod:`tconv.zfnet.project` for
the recipe and :mod:`tconv.zfnet.mirror` for the network that chains the steps).

>>> import torch
>>> _fit(torch.tensor([[-2, 3]]), (6, 4), (5, 5))    # a window taller than its 5x5 map shrinks and moves inside
(tensor([[0, 1]]), (5, 4))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..ops.dispatch import conv_transpose
from ..window import reach, read_start

__all__ = ["METHODS", "UNPOOLS", "Trace", "Projections"]

Method = Literal["deconvnet", "gradient", "guided", "saliency"]
Unpool = Literal["sum", "overwrite"]

#: Projection methods: the deconvnet, its autograd form, guided backprop (Springenberg et al.) and saliency (Simonyan
#: et al., the plain gradient).
METHODS: tuple[str, ...] = ("deconvnet", "gradient", "guided", "saliency")
#: How unpooling treats pooled outputs that share a switch: add them, or let the last one win (``nn.MaxUnpool2d``).
UNPOOLS: tuple[str, ...] = ("sum", "overwrite")

#: Unpool CPU windows with the compiled kernel (numba); False takes the torch formulation used on other devices.
COMPILED_UNPOOL = True


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


def _check_method(method: str, unpool: str) -> None:
    if method not in METHODS:
        raise ConfigError("method", method, f"must be one of {METHODS}")
    if unpool not in UNPOOLS:
        raise ConfigError("unpool", unpool, f"must be one of {UNPOOLS}")
    if unpool == "overwrite" and method == "gradient":
        raise ConfigError("unpool", unpool, "must be 'sum' with method='gradient': autograd always sums")
