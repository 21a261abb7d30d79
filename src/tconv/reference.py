"""Seed 000's list-based ``vector_tconv``: a pure-Python teaching reference for 1-D transposed convolution.

Seed 000 §2.5 chose plain Python lists over NumPy/PyTorch "because inserting elements into tensors makes the code
unreadable". This module keeps that choice and the seed's six steps, with three changes:

- no ``len(vector) >= len(kernel)`` restriction (a transposed convolution of a 1-element input is just the kernel);
- ``padding`` may be an int or a ``(before, after)`` pair, and a padding larger than the full-padding border is
  allowed (it crops into the result, as PyTorch does);
- every parameter is validated by the plan (:func:`tconv.geometry.plan_from_sizes`) before any work, with the same
  messages as :func:`tconv.conv_transpose`.

The semantics are PyTorch's ``F.conv_transpose1d`` for one channel:

>>> vector_tconv([1, 2, 3], [1, 1], stride=2)
[1, 1, 2, 2, 3, 3]
>>> vector_tconv([1.0], [1.0, 2.0, 3.0])                # shorter than the kernel: fine
[1.0, 2.0, 3.0]
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from .errors import ConfigTypeError
from .geometry import plan_from_sizes

__all__ = ["vector_tconv"]


def vector_tconv(
    vector: Sequence[float],
    kernel: Sequence[float],
    padding: int | tuple[int, int] = 0,
    stride: int = 1,
    dilation: int = 1,
    output_padding: int = 0,
) -> list:
    """1-D transposed convolution of ``vector`` with ``kernel`` on plain lists (seed 000 §2.5, formula 2.11).

    Output length: ``(n - 1) * stride + output_padding + dilation * (k - 1) + 1 - p_before - p_after``.

    >>> vector_tconv([1, 2], [1, 2, 3], stride=2)
    [1, 2, 5, 4, 6]
    >>> vector_tconv([1, 1, 1], [1, 1, 1], padding=1, stride=2, output_padding=1)   # seed 001: i5 k3 s2 p1
    [1, 2, 1, 2, 1, 1]
    >>> vector_tconv([1, 2], [1, 1], dilation=2)
    [1, 2, 1, 2]
    """
    for name, seq in (("vector", vector), ("kernel", kernel)):
        if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
            raise ConfigTypeError(name, type(seq).__name__, "must be a list (or tuple) of numbers")
        if not all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in seq):
            raise ConfigTypeError(name, list(seq), "must contain only numbers")
    # the plan validates every parameter (and the sizes) with the library's messages
    pad = (padding,) if isinstance(padding, tuple) else padding
    plan = plan_from_sizes(len(vector), len(kernel), stride, pad, output_padding, dilation)
    (p_before, p_after) = plan.padding[0]

    # step 1: put stride - 1 zeros between neighbouring elements, and output_padding zeros after the last one
    new_vector: list = []
    for idx, element in enumerate(vector):
        new_vector.append(element)
        if idx != len(vector) - 1:
            new_vector.extend([0] * (stride - 1))
        else:
            new_vector.extend([0] * output_padding)

    # step 2: put dilation - 1 zeros between neighbouring kernel taps
    new_kernel: list = []
    for idx, element in enumerate(kernel):
        new_kernel.append(element)
        if idx != len(kernel) - 1:
            new_kernel.extend([0] * (dilation - 1))

    # step 3: full padding, len(new_kernel) - 1 zeros on both sides
    border = [0] * (len(new_kernel) - 1)
    new_vector = border + new_vector + border

    # step 4: flip the kernel
    new_kernel = list(reversed(new_kernel))

    # step 5: the basic (valid, stride-1) convolution
    result = []
    for start in range(len(new_vector) - len(new_kernel) + 1):
        window = new_vector[start : start + len(new_kernel)]
        result.append(sum(a * b for a, b in zip(window, new_kernel, strict=True)))

    # step 6: drop the padding from both ends (slicing with an explicit end, so padding 0 keeps everything)
    return result[p_before : len(result) - p_after]
