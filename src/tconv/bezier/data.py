"""The Bezier-curve data set of seed 002, vectorized and identical to the seed's loop.

Each curve is a cubic Bezier curve with the control points (0, 0), (0.5, p1), (0.5, p2), (1, 0); ``p1`` and ``p2`` are
drawn ``uniform() * 2 - 1`` one curve after another from ``numpy.random.seed(22)``. The seed evaluates the curve at
``10 * points`` values of ``t`` and keeps, for each of ``points`` equally spaced ``x``, the ``y`` of the dense point
whose ``x`` is nearest. The dense ``x`` values do not depend on ``p1`` and ``p2``, so the nearest-``x`` indices are the
same for every curve: one index vector resamples the whole data set at once.

The training script then cuts each curve into one ``patch``-point crop at a random start drawn from
``numpy.random.seed(22)`` with ``randint(0, points - patch)`` (so, like the seed, the last start ``points - patch`` is
never drawn).

>>> curves = make_dataset(4)
>>> curves.shape, curves.dtype
((4, 15), dtype('float64'))
>>> patches = make_patches(curves)
>>> patches.shape, patches.dtype
((4, 7), dtype('float32'))
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["DATASIZE", "POINTS", "PATCH", "SEED", "bezier_curves", "make_dataset", "crop_starts", "make_patches"]

DATASIZE = 1024 * 16  #: the seed's number of curves
POINTS = 15  #: points per curve
PATCH = 7  #: points per training crop (the convolution window)
SEED = 22  #: the seed's numpy seed, for the curves and for the crops
DENSE = 10  #: dense points per resampled point


def _check_int(name: str, value: object, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(name, value, "must be an int")
    if value < lo:
        raise ConfigError(name, value, f"must be >= {lo}")
    return int(value)


def bezier_curves(p1: np.ndarray, p2: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` dense points (x, y) of each curve, evaluated exactly as the seed's ``get_curve_points``.

    The expression keeps the seed's operation order term by term, so the values are bit-identical.

    >>> xs, ys = bezier_curves(np.array([0.5]), np.array([-0.5]), 3)
    >>> xs.tolist(), ys.round(3).tolist()
    ([0.0, 0.5, 1.0], [[0.0, 0.0, 0.0]])
    """
    n = _check_int("n", n, 2)
    t = np.linspace(0, 1, n)
    a = (1 - t) ** 3
    b = 3 * (1 - t) ** 2 * t
    c = 3 * (1 - t) * t**2
    d = t**3
    xs = a * 0 + b * 0.5 + c * 0.5 + d * 1
    p1 = np.asarray(p1, dtype=np.float64)[:, None]
    p2 = np.asarray(p2, dtype=np.float64)[:, None]
    ys = a * 0 + b * p1 + c * p2 + d * 0
    return xs, ys


def make_dataset(n: int = DATASIZE, points: int = POINTS, seed: int = SEED) -> np.ndarray:
    """``n`` curves of ``points`` values each, float64, identical to the seed's data-generation loop.

    >>> make_dataset(2)[:, :3].round(4).tolist()
    [[0.0, -0.0749, -0.1508], [0.0, -0.0158, -0.0186]]
    """
    n = _check_int("n", n, 1)
    points = _check_int("points", points, 2)
    seed = _check_int("seed", seed, 0)
    # The seed draws p1 then p2 for each curve in turn: one stream of 2n uniforms, read in pairs.
    u = np.random.RandomState(seed).uniform(size=(n, 2)) * 2 - 1
    xs, ys = bezier_curves(u[:, 0], u[:, 1], points * DENSE)
    grid = np.linspace(0, 1, points)
    # nearest dense x for each grid x (argmin keeps the first of equal distances, as the seed's loop does)
    idx = np.argmin((xs[None, :] - grid[:, None]) ** 2, axis=1)
    return ys[:, idx]


def crop_starts(n: int, points: int = POINTS, patch: int = PATCH, seed: int = SEED) -> np.ndarray:
    """The seed's random crop starts: ``randint(0, points - patch, n)`` after ``numpy.random.seed(seed)``.

    >>> crop_starts(5).tolist()
    [5, 4, 4, 0, 4]
    """
    n = _check_int("n", n, 1)
    patch = _check_int("patch", patch, 1)
    points = _check_int("points", points, patch + 1)
    seed = _check_int("seed", seed, 0)
    return np.random.RandomState(seed).randint(0, points - patch, n)


def make_patches(curves: np.ndarray, patch: int = PATCH, seed: int = SEED) -> np.ndarray:
    """One random ``patch``-point crop of each curve, as float32 ``(n, patch)`` (the seed's ``inputs_cut``).

    >>> make_patches(np.arange(30.0).reshape(2, 15), patch=7, seed=22).tolist()
    [[5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], [19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0]]
    """
    curves = np.asarray(curves)
    if curves.ndim != 2:
        raise ConfigError("curves", curves.shape, "must be a 2-d array (n, points)")
    patch = _check_int("patch", patch, 1)
    if curves.shape[1] <= patch:
        raise ConfigError("patch", patch, f"must be smaller than the curve length {curves.shape[1]}")
    starts = crop_starts(curves.shape[0], curves.shape[1], patch, seed)
    rows = np.arange(curves.shape[0])[:, None]
    return curves[rows, starts[:, None] + np.arange(patch)[None, :]].astype(np.float32)
