"""Errors raised by tconv.

Every configuration error is a :class:`ConfigError` (a ``ValueError``) raised while the plan is built, before any
array is allocated. Its message names the parameter, the value it was given and the rule it broke::

    >>> from tconv.errors import ConfigError
    >>> raise ConfigError("stride", (0,), "must be positive in every dimension")
    Traceback (most recent call last):
    ...
    tconv.errors.ConfigError: stride=(0,) must be positive in every dimension
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "ConfigTypeError"]


class ConfigError(ValueError):
    """A parameter value that breaks a rule of (transposed) convolution geometry.

    Attributes ``param``, ``value`` and ``rule`` hold the three parts of the message, so that the CLI and the
    explorer can show them without parsing text.
    """

    def __init__(self, param: str, value: Any, rule: str) -> None:
        self.param = param
        self.value = value
        self.rule = rule
        super().__init__(f"{param}={value!r} {rule}")


class ConfigTypeError(TypeError):
    """A parameter of the wrong type (e.g. a float stride, or a list where an array is needed)."""

    def __init__(self, param: str, value: Any, rule: str) -> None:
        self.param = param
        self.value = value
        self.rule = rule
        super().__init__(f"{param}={value!r} {rule}")
