"""PyTorch's own operator (``F.conv_transpose{1,2,3}d``), used as a peer and by "auto" where it is fastest."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..geometry import Plan

_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def native(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Call torch's native transposed convolution; asymmetric padding is applied as a crop afterwards.

    >>> import torch, tconv
    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 3), (1, 1, 3), stride=2)
    >>> native(p, torch.ones(1, 1, 3), torch.ones(1, 1, 3), None).flatten().tolist()
    [1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 1.0]
    """
    sym = [min(pb, pa) for pb, pa in plan.padding]
    # torch pads symmetrically; crop what remains of the larger side ourselves. Extra output_padding-like growth
    # is expressed through output_padding only when it stays below max(stride, dilation).
    extra_before = [pb - m for (pb, _), m in zip(plan.padding, sym, strict=True)]
    extra_after = [pa - m for (_, pa), m in zip(plan.padding, sym, strict=True)]
    if plan.nd > 3:
        raise NotImplementedError("torch has no conv_transpose beyond 3-d")
    if any(extra_after) or any(extra_before):
        # compute with the symmetric part and the requested output_padding, then crop the asymmetric rest
        y = _FN[plan.nd](x, w, None, plan.stride, sym, 0, plan.groups, plan.dilation)
        y = _pad_end(y, plan.output_padding)
        idx = [slice(None), slice(None)] + [
            slice(eb, eb + n) for eb, n in zip(extra_before, plan.out_size, strict=True)
        ]
        y = y[tuple(idx)]
        return y if b is None else y + b.view(1, -1, *([1] * plan.nd))
    return _FN[plan.nd](x, w, b, plan.stride, sym, plan.output_padding, plan.groups, plan.dilation)


def _pad_end(y: torch.Tensor, extra: tuple[int, ...]) -> torch.Tensor:
    if not any(extra):
        return y
    pads: list[int] = []
    for e in reversed(extra):
        pads += [0, e]
    return F.pad(y, pads)
