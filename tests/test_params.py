"""The parameter rules every geometry shares (tconv.params): what is an int, one value per spatial dimension, sizes."""

import numpy as np
import pytest
import torch

from tconv.errors import ConfigError, ConfigTypeError
from tconv.params import MAX_DIM, check_sizes, is_int, normalize_tuple


def test_ints_from_python_numpy_and_0d_tensors_broadcast_per_dimension():
    assert normalize_tuple("stride", 2, 3) == (2, 2, 2)
    assert normalize_tuple("stride", np.int64(2), 2) == (2, 2)
    assert normalize_tuple("stride", torch.tensor(3), 1) == (3,)
    assert normalize_tuple("kernel_size", [1, 2], 2) == (1, 2)
    assert all(type(v) is int for v in normalize_tuple("stride", np.int32(4), 2))


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (True, ConfigTypeError, "stride=True must be an int or a sequence of ints (True is a bool)"),
        (1.5, ConfigTypeError, "stride=1.5 must be an int or a sequence of ints (1.5 is a float)"),
        ((1, 2, 3), ConfigError, "stride=(1, 2, 3) must have 2 entries, one per spatial dimension (got 3)"),
    ],
)
def test_refusals_name_the_parameter_its_value_and_the_rule(value, error, message):
    with pytest.raises(error) as info:
        normalize_tuple("stride", value, 2)
    assert str(info.value) == message


def test_is_int_excludes_bools_and_floats():
    assert [is_int(v) for v in (3, np.int32(1), True, 1.0, "1")] == [True, True, False, False, False]


def test_sizes_are_bounded_on_both_sides():
    check_sizes("stride", (1, MAX_DIM))
    with pytest.raises(ConfigError, match=r"stride=\(1, 0\) must be between 1 and 2147483648"):
        check_sizes("stride", (1, 0))
    check_sizes("padding", (0, 0), lo=0)
