"""tconv.stats: intervals checked against closed forms and simulation; verdicts on every side of a threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tconv.errors import ConfigError
from tconv.stats import bootstrap_ci, mean_ci, proportion_ci, verdict


def test_mean_ci_matches_the_t_formula() -> None:
    x = np.array([3.0, 5.0, 4.0, 6.0])
    ci = mean_ci(x)
    half = 3.182446305284263 * x.std(ddof=1) / 2  # t(0.975, 3) * s / sqrt(4)
    assert (ci.mean, ci.n) == (4.5, 4)
    assert ci.lo == pytest.approx(4.5 - half) and ci.hi == pytest.approx(4.5 + half)
    one = mean_ci([2.0])
    assert one.lo == one.hi == 2.0


def test_mean_ci_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(0)
    cover = [(lambda c: c.lo <= 1.0 <= c.hi)(mean_ci(rng.normal(1.0, 2.0, 5))) for _ in range(2000)]
    assert 0.93 < np.mean(cover) < 0.97


def test_log_scale_interval_is_the_t_interval_of_the_logs() -> None:
    x = np.array([1.0, 2.0, 4.0])
    ci, lg = mean_ci(x, log=True), mean_ci(np.log(x))
    assert ci.mean == pytest.approx(2.0)
    assert (np.log(ci.lo), np.log(ci.hi)) == pytest.approx((lg.lo, lg.hi))
    with pytest.raises(ConfigError, match="positive"):
        mean_ci([1.0, -1.0], log=True)


def test_clopper_pearson_against_known_values() -> None:
    assert (proportion_ci(2, 5).lo, proportion_ci(2, 5).hi) == pytest.approx((0.0527, 0.8534), abs=1e-4)
    assert proportion_ci(0, 10).lo == 0.0 and proportion_ci(0, 10).hi == pytest.approx(0.3085, abs=1e-4)
    assert proportion_ci(20, 20).lo == pytest.approx(0.8316, abs=1e-4)
    with pytest.raises(ConfigError, match="k="):
        proportion_ci(6, 5)


@settings(max_examples=25)
@given(k=st.integers(0, 30), extra=st.integers(0, 30))
def test_clopper_pearson_brackets_the_proportion(k: int, extra: int) -> None:
    n = k + extra
    if n == 0:
        return
    ci = proportion_ci(k, n)
    assert 0.0 <= ci.lo <= k / n <= ci.hi <= 1.0


def test_bootstrap_of_a_mean_is_close_to_the_t_interval() -> None:
    x = np.random.default_rng(3).normal(0.0, 1.0, 40)
    b = bootstrap_ci(lambda i: float(x[i].mean()), len(x))
    t = mean_ci(x)
    assert b.mean == pytest.approx(t.mean)
    assert b.lo == pytest.approx(t.lo, abs=0.08) and b.hi == pytest.approx(t.hi, abs=0.08)


def test_verdicts() -> None:
    ci = mean_ci([1.0, 1.1, 0.9])
    assert verdict(ci, "<", 2.0) == "confirmed"
    assert verdict(ci, ">", 2.0) == "refuted"
    assert verdict(ci, "<", 1.0) == "not shown"  # the interval straddles the threshold
    assert verdict(ci, ">", 0.5) == "confirmed"
    with pytest.raises(ConfigError, match="side="):
        verdict(ci, "=", 1.0)
