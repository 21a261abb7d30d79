"""The mirror network of ZFNet's deconvnet (:mod:`tconv.zfnet.project`): a model's layers as the steps of
:mod:`tconv.zfnet.mirror_steps`, run forward once (recording switches and windows) and back per seed.

>>> import torch.nn as nn
>>> m = Mirror(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2)), layer=2)
>>> len(m.steps)
3
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError, ConfigTypeError
from ..window import forward_window, same_pads
from .mirror_steps import (
    Trace,
    _AvgPool,
    _check_method,
    _Conv,
    _MaxPool,
    _MirrorContext,
    _move_window,
    _reach_size,
    _ReLU,
    _Scale,
    _Step,
)

__all__ = ["Mirror", "features_of"]

#: Layers the mirror network understands; anything else raises a ValueError naming its type and index.
SUPPORTED = "Conv2d, ReLU, LeakyReLU, MaxPool2d, AvgPool2d, BatchNorm2d, Dropout and Identity"

# Default memory budget of one mirror chunk, in tensor elements (float32: 4 bytes each).
_MAX_ELEMENTS = 1 << 25


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
