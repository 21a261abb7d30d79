"""Spread over seeds, and verdicts that say "not shown" when the spread does not decide them.

Every comparative claim of the experiments (Bezier, upsampling) is a statistic computed per seed (or a proportion of
seeds, or a statistic of the whole set of seeds), a threshold, and the side of the threshold the claim needs:

* :func:`mean_ci` — mean and two-sided 95% Student-t interval of per-seed values (optionally on a log scale, for
  ratios; then the centre is the geometric mean);
* :func:`proportion_ci` — a count of seeds out of ``n`` with its exact (Clopper-Pearson) 95% interval;
* :func:`bootstrap_ci` — a statistic of the whole set of seeds (e.g. a mean over pairs of seeds) with a percentile
  bootstrap interval over seeds (resampled with replacement, fixed generator seed);
* :func:`verdict` — "confirmed" when the interval lies wholly on the claimed side of the threshold, "refuted" when it
  lies wholly on the other side, "not shown" when it straddles the threshold.

>>> ci = mean_ci([1.0, 1.2, 0.9, 1.1, 1.0])
>>> ci.n, round(ci.mean, 2), round(ci.lo, 3), round(ci.hi, 3)
(5, 1.04, 0.898, 1.182)
>>> verdict(ci, "<", 1.5), verdict(ci, ">", 1.0), verdict(ci, "<", 0.5)
('confirmed', 'not shown', 'refuted')
>>> proportion_ci(2, 5).text()
'2 of 5 (95% CI 0.05-0.85, Clopper-Pearson)'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .errors import ConfigError

__all__ = ["Interval", "mean_ci", "proportion_ci", "bootstrap_ci", "verdict", "LEVEL"]

LEVEL = 0.95  #: the confidence level of every interval


@dataclass(frozen=True)
class Interval:
    """A point estimate with a 95% interval, the number of seeds and how the interval was obtained."""

    mean: float
    lo: float
    hi: float
    n: int
    method: str

    def as_dict(self) -> dict:
        return asdict(self)

    def text(self, fmt: str = ".3g") -> str:
        """``"1.04 (95% CI 0.896-1.18, n=5)"``-style text."""
        if self.method == "clopper-pearson":
            k = round(self.mean * self.n)
            return f"{k} of {self.n} (95% CI {self.lo:.2f}-{self.hi:.2f}, Clopper-Pearson)"
        return f"{self.mean:{fmt}} (95% CI {self.lo:{fmt}} to {self.hi:{fmt}}, n={self.n})"


def _values(values: Sequence[float] | np.ndarray, name: str = "values") -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ConfigError(name, v.tolist(), "must be a non-empty sequence of finite numbers")
    return v


def mean_ci(values: Sequence[float] | np.ndarray, log: bool = False) -> Interval:
    """Mean of per-seed ``values`` and its two-sided 95% Student-t interval (``n - 1`` degrees of freedom).

    ``log=True`` works on ``log(values)`` (all must be positive) and returns the geometric mean and the interval
    mapped back — the right scale for ratios. With one value the interval is that value (no spread known).

    >>> ci = mean_ci([2.0, 8.0], log=True)
    >>> round(ci.mean, 6), ci.lo < 2 < 8 < ci.hi
    (4.0, True)
    """
    from scipy.stats import t  # noqa: PLC0415

    v = _values(values)
    if log:
        if np.any(v <= 0):
            raise ConfigError("values", v.tolist(), "must be positive for a log-scale interval")
        v = np.log(v)
    n = v.size
    m = float(v.mean())
    half = float(t.ppf(0.5 + LEVEL / 2, n - 1) * v.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    lo, hi = m - half, m + half
    if log:
        return Interval(float(np.exp(m)), float(np.exp(lo)), float(np.exp(hi)), n, "t, log scale")
    return Interval(m, lo, hi, n, "t")


def proportion_ci(k: int, n: int) -> Interval:
    """``k`` seeds of ``n`` with the exact two-sided 95% Clopper-Pearson interval of the proportion.

    >>> proportion_ci(20, 20).lo > 0.83
    True
    """
    from scipy.stats import beta  # noqa: PLC0415

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError("n", n, "must be a positive int")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ConfigError("k", k, f"must be an int in [0, {n}]")
    a = (1 - LEVEL) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return Interval(k / n, lo, hi, int(n), "clopper-pearson")


def bootstrap_ci(stat: Callable[[np.ndarray], float], n: int, resamples: int = 2000, seed: int = 0) -> Interval:
    """A statistic of ``n`` seeds, ``stat(idx)`` for an index array (``arange(n)`` for the estimate), with a
    percentile bootstrap 95% interval: ``stat`` of ``resamples`` index arrays drawn with replacement.

    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> ci = bootstrap_ci(lambda i: float(x[i].mean()), 4)
    >>> ci.mean, 1.0 <= ci.lo < ci.hi <= 4.0
    (2.5, True)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError("n", n, "must be a positive int")
    est = float(stat(np.arange(n)))
    if n == 1:
        return Interval(est, est, est, 1, "bootstrap")
    rng = np.random.default_rng(seed)
    boots = np.array([stat(rng.integers(0, n, n)) for _ in range(resamples)], dtype=np.float64)
    boots = boots[np.isfinite(boots)]
    a = (1 - LEVEL) / 2
    lo, hi = np.quantile(boots, [a, 1 - a]) if boots.size else (est, est)
    return Interval(est, float(lo), float(hi), int(n), f"bootstrap over seeds ({resamples} resamples)")


def verdict(ci: Interval, side: str, threshold: float) -> str:
    """``"confirmed"`` when the whole interval is on ``side`` (``"<"`` or ``">"``) of ``threshold``, ``"refuted"``
    when it is wholly on the other side, ``"not shown"`` when it straddles (or touches) the threshold."""
    if side not in ("<", ">"):
        raise ConfigError("side", side, "must be '<' or '>'")
    below, above = ci.hi < threshold, ci.lo > threshold
    if side == "<":
        return "confirmed" if below else ("refuted" if above else "not shown")
    return "confirmed" if above else ("refuted" if below else "not shown")
