"""Upsampling compared: unpooling, copying, interpolation, transposed convolution, sub-pixel — and checkerboards.

>>> from tconv.upsampling import Layer, interior_pattern
>>> interior_pattern(Layer(3, 2)).tolist()
[2, 1]
"""

from __future__ import annotations

from .overlap import (
    COMMON_CASES,
    Layer,
    OverlapStats,
    checkerboard_score,
    count_map,
    interior_pattern,
    overlap_figure,
    overlap_stats,
    overlap_table,
    ripple,
    stack_plans,
)
from .upsamplers import (
    LEARNABLE,
    METHODS,
    Upsampler,
    bilinear_kernel,
    copy_back,
    make_upsampler,
    max_pool_with_switches,
    tconv_padding,
    unpool,
)

__all__ = [
    "METHODS",
    "LEARNABLE",
    "Upsampler",
    "make_upsampler",
    "max_pool_with_switches",
    "unpool",
    "copy_back",
    "bilinear_kernel",
    "tconv_padding",
    "Layer",
    "COMMON_CASES",
    "OverlapStats",
    "stack_plans",
    "count_map",
    "interior_pattern",
    "checkerboard_score",
    "ripple",
    "overlap_stats",
    "overlap_table",
    "overlap_figure",
]
