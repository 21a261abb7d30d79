"""PyTorch's own operator (``F.conv_transpose{1,2,3}d``), used as a peer and by "auto" where it is fastest."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..geometry import Plan

#: torch's operator by the number of spatial dimensions
TORCH_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def native(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Call torch's native transposed convolution; asymmetric padding is applied as a crop afterwards.

    >>> import torch, tconv
    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 3), (1, 1, 3), stride=2)
    >>> native(p, torch.ones(1, 1, 3), torch.ones(1, 1, 3), None).flatten().tolist()
    [1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 1.0]
    """
    if plan.nd > 3:
        raise NotImplementedError("torch has no conv_transpose beyond 3-d")
    fn = TORCH_FN[plan.nd]
    if plan.symmetric_padding is not None:
        return fn(x, w, b, plan.stride, plan.symmetric_padding, plan.output_padding, plan.groups, plan.dilation)
    # torch only crops symmetrically. Crop q = min(pb, pa - op) on both sides (never more than either side wants),
    # which keeps full-output indices [q, full - q); then slice [pb, pb + out) out of it, zero-filling any part
    # that lies beyond the full output (output_padding past the end of every kernel window).
    q = [max(0, min(pb, pa - op)) for (pb, pa), op in zip(plan.padding, plan.output_padding, strict=True)]
    y = fn(x, w, None, plan.stride, q, 0, plan.groups, plan.dilation)
    short = [
        max(0, pb + n - (f - qq))
        for (pb, _), n, f, qq in zip(plan.padding, plan.out_size, plan.full_size, q, strict=True)
    ]
    y = _pad_end(y, tuple(short))
    idx = (slice(None), slice(None)) + tuple(
        slice(pb - qq, pb - qq + n) for (pb, _), qq, n in zip(plan.padding, q, plan.out_size, strict=True)
    )
    y = y[idx]
    return y if b is None else y + b.view(1, -1, *([1] * plan.nd))


def _pad_end(y: torch.Tensor, extra: tuple[int, ...]) -> torch.Tensor:
    if not any(extra):
        return y
    pads: list[int] = []
    for e in reversed(extra):
        pads += [0, e]
    return F.pad(y, pads)
