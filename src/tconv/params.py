"""Parameter rules shared by every geometry: ints (Python, NumPy or 0-d tensors), tuples of one per spatial
dimension, sizes and indices, each refused with a :class:`~tconv.errors.ConfigError` that names the parameter, its
value and the rule. :mod:`tconv.geometry` (the transposed plan), :mod:`tconv.window` (the forward windows) and
:mod:`tconv.arith` read them from here.

>>> normalize_tuple("stride", 2, 3)
(2, 2, 2)
>>> check_sizes("stride", (1, 0))
Traceback (most recent call last):
...
tconv.errors.ConfigError: stride=(1, 0) must be between 1 and 2147483648 in every dimension
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ConfigError, ConfigTypeError

__all__ = ["MAX_DIM", "MAX_ELEMENTS", "is_int", "normalize_tuple", "check_sizes"]

# Output sizes larger than this (per dimension) are refused as absurd before anything is allocated.
MAX_DIM = 1 << 31
# ... and outputs with more elements than this in all (N * C_out * prod(out_size); 4 TiB of float32).
MAX_ELEMENTS = 1 << 40


# ----------------------------------------------------------------------------------------------------------------
# small helpers for normalizing parameters
# ----------------------------------------------------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


is_int = _is_int  # public name for the modules that share these rules (arith, the forward windows)

# what each parameter may be, for the messages of ConfigTypeError
_EXPECTED = {
    "padding": "an int, one int or (before, after) pair of ints per dimension, 'same', 'same_lower' or 'valid'",
    "output_size": "an int or a sequence of ints",
    "groups": "an int",
}


def _expected(name: str) -> str:
    return _EXPECTED.get(name, "an int or a sequence of ints")


def _tensor_scalar(name: str, value: Any, top: Any) -> int:
    """A 0-d integer tensor as an int (torch's own layers accept them); any other tensor is refused by name."""
    if value.ndim == 0 and _is_int(value.item()):
        return int(value.item())
    raise ConfigTypeError(
        name,
        top,
        f"must be {_expected(name)}, not a tensor of shape {tuple(value.shape)} and dtype {value.dtype} "
        "(pass tuple(t.tolist()); 0-d integer tensors are accepted)",
    )


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _freeze(name: str, value: Any, top: Any = None) -> Any:
    """Make a parameter hashable (lists -> tuples, NumPy ints and 0-d int tensors -> int) so plans can be cached.

    Anything that is not an int, a string or a (nested) sequence of ints is refused here, naming the parameter and
    the whole value it was given (``padding=(True, 1)``, not ``padding=True``): floats (even ``2.0``), bools,
    tensors other than 0-d integer ones, NaN.

    >>> _freeze("stride", [2, 3])
    (2, 3)
    >>> _freeze("padding", (True, 1))
    Traceback (most recent call last):
    ...
    tconv.errors.ConfigTypeError: padding=(True, 1) must be an int, one int or (before, after) pair of ints per dimension, 'same', 'same_lower' or 'valid' (True is a bool)
    """
    if type(value) is int:  # the common cases first, cheaply (a call's whole overhead is microseconds)
        return value
    if isinstance(value, tuple) and all(type(v) is int for v in value):
        return tuple(value)  # torch.Size -> tuple
    top = value if top is None else top
    if value is None or isinstance(value, str):
        return value
    if _is_int(value):
        return int(value)
    if isinstance(value, (bool, np.bool_)):
        raise ConfigTypeError(name, top, f"must be {_expected(name)} ({value!r} is a bool)")
    if _is_tensor(value):
        return _tensor_scalar(name, value, top)
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _freeze(name, value.item(), top)
        return tuple(_freeze(name, v, top) for v in value)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return tuple(_freeze(name, v, top) for v in value)
    if hasattr(value, "__index__") and not isinstance(value, float):  # e.g. a user int type
        return int(value.__index__())
    kind = type(value).__name__
    raise ConfigTypeError(name, top, f"must be {_expected(name)} ({value!r} is a {kind})")


def normalize_tuple(name: str, value: Any, nd: int) -> tuple[int, ...]:
    """Turn an int or a length-``nd`` sequence of ints into a tuple of ``nd`` Python ints.

    A 1-entry sequence is repeated (as torch does); any other length is refused, naming the parameter.

    >>> normalize_tuple("stride", 2, 3)
    (2, 2, 2)
    >>> normalize_tuple("stride", (1, 2), 2)
    (1, 2)
    """
    value = _freeze(name, value)
    if _is_int(value):
        return (int(value),) * nd
    if not isinstance(value, tuple):
        raise ConfigTypeError(name, value, f"must be an int or a sequence of {nd} ints")
    vals = value
    if len(vals) == 1 and nd != 1:
        vals = vals * nd
    if len(vals) != nd:
        raise ConfigError(name, value, f"must have {nd} entries, one per spatial dimension (got {len(vals)})")
    if not all(_is_int(v) for v in vals):
        raise ConfigTypeError(name, value, f"must be an int or a sequence of {nd} ints")
    return tuple(int(v) for v in vals)


def check_sizes(name: str, values: tuple[int, ...], lo: int = 1) -> None:
    """Refuse sizes below ``lo`` or above :data:`MAX_DIM`, naming the parameter the caller was given.

    >>> check_sizes("i", (10**30,))
    Traceback (most recent call last):
    ...
    tconv.errors.ConfigError: i=1000000000000000000000000000000 must be between 1 and 2147483648 in every dimension
    """
    if any(v < lo or v > MAX_DIM for v in values):
        raise ConfigError(
            name, values[0] if len(values) == 1 else values, f"must be between {lo} and {MAX_DIM} in every dimension"
        )


def _check_index(name: str, index: Any, size: tuple[int, ...]) -> tuple[int, ...]:
    """A spatial position: one int per dimension, each inside ``size``."""
    if isinstance(index, (str, bytes)) or not isinstance(index, Sequence | np.ndarray):
        raise ConfigTypeError(name, index, f"must be a sequence of {len(size)} ints")
    idx = tuple(index)
    if len(idx) != len(size) or not all(_is_int(v) for v in idx):
        raise ConfigError(name, index, f"must be {len(size)} ints, one per spatial dimension")
    if any(not 0 <= v < n for v, n in zip(idx, size, strict=True)):
        raise ConfigError(name, index, f"must lie inside the spatial size {size}")
    return tuple(int(v) for v in idx)
