"""Zero insertion: a transposed convolution is an ordinary stride-1 convolution of a stretched, padded input.

Seed 000 §2.1–2.5 and seed 001 ("转置卷积的类型"), step by step:

1. **stride** (seed 000 §2.3): insert ``s - 1`` zeros between neighbouring input elements, so ``i`` elements
   become ``(i - 1) * s + 1``;
2. **padding** (§2.1–2.2): a transposed convolution without padding is a *full*-padding convolution, i.e. pad
   ``d * (k - 1)`` zeros on each side (``d * (k - 1) + 1`` is the dilated kernel's extent, §2.4). Padding ``p`` of the
   transposed convolution removes ``p`` of them: pad ``d * (k - 1) - p`` on each side — seed 001's ``k' - (p + 1)``
   for ``d = 1``. A negative amount (``p > d * (k - 1)``) crops instead;
3. **output_padding** (§2.3, formula 2.8): ``op`` more zeros at the end only;
4. **flip** the kernel (§2.1: "始终对 kernel 进行翻转, 而不是转置") and swap its two channel axes, because the
   transposed convolution's weight is stored as ``(C_in, C_out / groups, *k)`` and a convolution's as
   ``(C_out, C_in / groups, *k)``;
5. run a plain **stride-1 convolution** whose kernel is dilated by ``d`` (§2.4).

The output size is then formula (2.11): ``(i - 1) * s + op + d * (k - 1) + 1 - 2 * p``. This is the teaching form:
most of the multiplications are by the inserted zeros, which is why it is the slowest method (see
``docs/benchmarks.md``).

>>> import torch
>>> from tconv.geometry import make_plan
>>> p = make_plan((1, 1, 2), (1, 1, 3), stride=2)
>>> zero_insert(p, torch.tensor([[[1., 10.]]]), torch.tensor([[[1., 2., 3.]]]), None).flatten().tolist()
[1.0, 2.0, 13.0, 20.0, 30.0]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..geometry import Plan
from . import CONV_BY_NDIM as _CONV

__all__ = ["zero_insert", "insert_zeros", "pad_or_crop", "conv_weight"]


def insert_zeros(x: torch.Tensor, stride: tuple[int, ...]) -> torch.Tensor:
    """Step 1: put ``s - 1`` zeros between neighbouring elements along every spatial dimension.

    >>> insert_zeros(torch.tensor([[[1., 2., 3.]]]), (2,)).flatten().tolist()
    [1.0, 0.0, 2.0, 0.0, 3.0]
    """
    if all(s == 1 for s in stride):
        return x
    spatial = x.shape[2:]
    # (n - 1) * s + 1 spelled out on purpose (teaching form; Plan.equivalent_conv.upsampled_size is the same)
    up = x.new_zeros((*x.shape[:2], *((n - 1) * s + 1 for n, s in zip(spatial, stride, strict=True))))
    every_s = (slice(None), slice(None), *(slice(None, None, s) for s in stride))
    up[every_s] = x  # the original elements sit at multiples of s; everything else stays 0
    return up


def pad_or_crop(x: torch.Tensor, amounts: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """Steps 2–3: add ``(before, after)`` zeros along every spatial dimension; a negative amount crops instead.

    Padding is done first and cropping second, so an amount larger than the array is never asked of ``F.pad``.

    >>> pad_or_crop(torch.tensor([[[1., 2., 3.]]]), ((-1, 2),)).flatten().tolist()
    [2.0, 3.0, 0.0, 0.0]
    """
    pads: list[int] = []
    for before, after in reversed(amounts):  # F.pad lists the last dimension first
        pads += [max(before, 0), max(after, 0)]
    if any(pads):
        x = F.pad(x, pads)
    crop = [slice(None), slice(None)]
    for (before, after), n in zip(amounts, x.shape[2:], strict=True):
        crop.append(slice(max(-before, 0), n - max(-after, 0)))
    return x[tuple(crop)]


def conv_weight(w: torch.Tensor, groups: int, flip: bool = True) -> torch.Tensor:
    """Step 4: a transposed-conv weight ``(C_in, C_out/g, *k)`` as a conv weight ``(C_out, C_in/g, *k)``, flipped.

    Within each group the two channel axes swap places; the spatial axes are reversed when ``flip``.

    >>> conv_weight(torch.arange(6.).reshape(2, 1, 3), groups=1).tolist()
    [[[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]]
    """
    c_in, cout_g, *k = w.shape
    wg = w.reshape(groups, c_in // groups, cout_g, *k).transpose(1, 2)  # (g, C_out/g, C_in/g, *k)
    wc = wg.reshape(groups * cout_g, c_in // groups, *k)
    if flip:
        wc = wc.flip(tuple(range(2, wc.ndim)))
    return wc


def zero_insert(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Transposed convolution as zero insertion + padding + flipped-kernel stride-1 convolution (seed 000 §2, seed 001).

    The amounts come from ``plan.equivalent_conv``: ``pad[d] = (d(k-1) - p_before, d(k-1) - p_after + op)``.

    >>> import torch
    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 3), (1, 1, 3), stride=2, padding=1, output_padding=1)   # seed 001: i5 k3 s2 p1 -> 3
    >>> p.equivalent_conv.pad                       # k - p - 1 = 1 before, 1 + op = 2 after
    ((1, 2),)
    >>> zero_insert(p, torch.ones(1, 1, 3), torch.ones(1, 1, 3), None).flatten().tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0, 1.0]
    """
    if plan.nd not in _CONV:
        raise ConfigError("method", "zero_insert", f"supports 1-, 2- and 3-d inputs (got {plan.nd} spatial dims)")
    eq = plan.equivalent_conv
    stretched = insert_zeros(x, plan.stride)  # step 1
    padded = pad_or_crop(stretched, eq.pad)  # steps 2 and 3
    kernel = conv_weight(w, plan.groups, flip=eq.flip)  # step 4
    # step 5: stride-1 correlation with the flipped kernel dilated by d; plan.out_size outputs come out
    return _CONV[plan.nd](padded, kernel, b, stride=1, padding=0, dilation=eq.kernel_dilation, groups=plan.groups)
