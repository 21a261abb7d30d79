"""The padding rules of the transposed plan (tconv.padding): ints and pairs, refusals, and the padding modes' limit."""

import pytest

import tconv
from tconv.errors import ConfigError, ConfigTypeError
from tconv.padding import PADDING_MODES, PADDING_RULES, _check_padding_mode, _normalize_padding


def test_ints_and_pairs_become_one_pair_per_dimension():
    assert _normalize_padding(1, 2) == ((1, 1), (1, 1))
    assert _normalize_padding((1, 2), 2) == ((1, 1), (2, 2))
    assert _normalize_padding(((0, 1), (2, 3)), 2) == ((0, 1), (2, 3))


@pytest.mark.parametrize(
    ("value", "error", "fragment"),
    [
        ((1, 2, 3), ConfigError, "must have 2 entries, one per spatial dimension (got 3)"),
        ("x", ConfigTypeError, "'same', 'same_lower' or 'valid'"),
        (1.5, ConfigTypeError, "pair of ints per dimension"),
    ],
)
def test_bad_padding_is_refused_with_the_rule(value, error, fragment):
    with pytest.raises(error) as info:
        _normalize_padding(value, 2)
    assert str(info.value).startswith(f"padding={value!r}") and fragment in str(info.value)


def test_padding_modes_fold_at_most_the_output():
    assert PADDING_MODES == ("zeros", "circular", "reflect", "replicate")
    assert PADDING_RULES == ("same", "same_lower", "valid")
    _check_padding_mode("circular", ((1, 1),), (6,))  # fine: the crop fits in the output
    with pytest.raises(ConfigError, match="at most the output size 3 with padding_mode='circular'"):
        _check_padding_mode("circular", ((5, 5),), (3,))


def test_the_plan_applies_the_rules():
    p = tconv.make_plan((1, 1, 5), (1, 1, 3), stride=2, padding=((0, 2),))
    assert p.padding == ((0, 2),) and p.out_size == ((5 - 1) * 2 + 3 - 2,)
