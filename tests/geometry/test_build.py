"""Building plans (tconv.geometry.build): the seed's worked cases for conv_plan, errors that name the parameter and
the rule, ONNX's SAME_LOWER."""

import pytest

from tconv.errors import ConfigError
from tconv.geometry import conv_plan, make_plan, plan_from_sizes


def test_seed001_cases():
    # seed 001: i=4 k=3 s=1 p=0 -> conv out 2; the transposed conv pads k-p-1=2 and returns 4
    assert conv_plan(4, 3).in_size == (2,)
    assert conv_plan(4, 3).equivalent_conv.pad == ((2, 2),)
    # i=5 k=4 s=1 p=2 -> 6; transpose pads 4-2-1 = 1
    assert conv_plan(5, 4, padding=2).in_size == (6,)
    assert conv_plan(5, 4, padding=2).equivalent_conv.pad == ((1, 1),)
    # i=5 k=3 s=2 p=0 -> 2; transpose inserts 1 zero between inputs, pads 2
    p = conv_plan(5, 3, stride=2)
    assert p.in_size == (2,) and p.equivalent_conv.zeros_between == (1,) and p.equivalent_conv.pad == ((2, 2),)
    # i=5 k=3 s=2 p=1 -> 3; pads 1
    p = conv_plan(5, 3, stride=2, padding=1)
    assert p.in_size == (3,) and p.equivalent_conv.pad == ((1, 1),)


def test_errors_name_parameter_and_rule():
    with pytest.raises(ConfigError, match=r"output_padding=\(2,\) must be smaller than max\(stride, dilation\)=\(2,\)"):
        make_plan((1, 1, 4), (1, 1, 3), stride=2, output_padding=2)
    with pytest.raises(ConfigError, match=r"stride=\(0,\) must be positive"):
        make_plan((1, 1, 4), (1, 1, 3), stride=0)
    with pytest.raises(ConfigError, match="output_size.*between 7 and 8"):
        make_plan((1, 1, 4), (1, 1, 1), stride=2, output_size=(100,))


def test_same_lower_follows_the_onnx_spec():
    """ONNX: total = s(i-1) + dk - out; SAME_LOWER puts total - total//2 first (negative totals pad both sides)."""
    for i, k, s in ((3, 3, 2), (4, 4, 2), (3, 1, 4), (2, 2, 5)):
        p = plan_from_sizes(i, k, s, "same_lower")
        total = s * (i - 1) + k - i * s
        assert p.padding == ((total - total // 2, total // 2),) and p.out_size == (i * s,)
        q = plan_from_sizes(i, k, s, "same")
        assert q.out_size == (i * s,)
        if total >= 0:
            assert q.padding[0][0] == total // 2
