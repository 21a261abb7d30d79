"""tconv: transposed convolution computed every way, explained with exact pictures.

>>> import numpy as np, tconv
>>> tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), stride=2).ravel().tolist()
[1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 1.0]
"""

from . import interop, nn, reference, upsampling, zoo
from .arith import conv_output_size, conv_transpose_output_size, equivalent_conv, inverse_of, solve
from .design import decoder_for, solve_stack
from .errors import ConfigError, ConfigTypeError
from .geometry import Plan, conv_plan, make_plan, plan_from_sizes
from .ops import METHODS
from .ops.dispatch import conv_transpose
from .ops.matrix import conv_matrix
from .receptive import RFBox, RFRow, UnitFields, receptive_field, receptive_field_box, unit_fields
from .upsampling import make_upsampler
from .window import Window, forward_window, same_pads
from .zfnet import project

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ConfigTypeError",
    "Plan",
    "make_plan",
    "plan_from_sizes",
    "conv_plan",
    "Window",
    "forward_window",
    "same_pads",
    "METHODS",
    "conv_transpose",
    "conv_matrix",
    "nn",
    "interop",
    "reference",
    "project",
    "conv_output_size",
    "conv_transpose_output_size",
    "equivalent_conv",
    "inverse_of",
    "solve",
    "solve_stack",
    "decoder_for",
    "zoo",
    "receptive_field",
    "receptive_field_box",
    "unit_fields",
    "UnitFields",
    "RFRow",
    "RFBox",
    "upsampling",
    "make_upsampler",
]
