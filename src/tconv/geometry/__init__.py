"""The plan: the one place where the geometry of a transposed convolution lives.

A transposed convolution is an index mapping. Along each spatial dimension, input element ``j`` reaches output
element ``o`` through kernel tap ``t`` exactly when::

    o = j * stride + t * dilation - pad_before          and   0 <= o < out_size

(seed 000 §2: every input element scatters its scaled, dilated kernel into the output, the first ``pad_before``
outputs are cropped, and ``output_padding`` extra positions are kept at the end). Everything in tconv — the six
formulations, the fast kernels, the pictures, the explorer, receptive fields, the ZFNet mirror network and the
overlap maps — reads that mapping from a :class:`Plan` (:mod:`tconv.geometry.plan`).

:func:`make_plan` (:mod:`tconv.geometry.build`) normalizes and validates every parameter (raising
:class:`~tconv.errors.ConfigError` before any work is done) and caches the result, so calling it on every forward
pass costs a dictionary look-up::

    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 5), (1, 1, 3), stride=2, padding=1)
    >>> p.out_size                      # (5 - 1) * 2 - 2 * 1 + 1 * (3 - 1) + 0 + 1
    (9,)
    >>> p.equivalent_conv.pad           # seed 001: pad k - p - 1 = 1 on each side after inserting s - 1 zeros
    ((1, 1),)
    >>> [(ph.residue, ph.taps) for ph in p.phases(0)]   # polyphase: even outputs use tap 1, odd ones taps 0 and 2
    [(0, (1,)), (1, (0, 2))]
"""

from ..padding import PADDING_MODES, PADDING_RULES
from ..params import check_sizes, is_int, normalize_tuple
from .build import conv_plan, make_plan, plan_from_sizes
from .plan import EquivalentConv, PaddingSpec, Phase, Plan

__all__ = [
    "Plan",
    "Phase",
    "EquivalentConv",
    "make_plan",
    "plan_from_sizes",
    "conv_plan",
    "normalize_tuple",
    "check_sizes",
    "PADDING_MODES",
    "PADDING_RULES",
    "is_int",
    "PaddingSpec",
]
