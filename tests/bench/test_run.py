"""bench/run.py's pairing of torch and auto calls, on a fake clock (nothing here depends on this machine's speed)."""

import importlib.util
import random
import sys
import types
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "run.py"
    spec = importlib.util.spec_from_file_location("tconv_bench_run", path)
    mod = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(mod, "time_pair"):
        spec.loader.exec_module(mod)  # dataclasses need the module registered first
    return mod


@pytest.fixture
def clock(bench, monkeypatch):
    """A fake perf_counter: each fake call advances it by its own duration."""
    now = [0.0]
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))

    def call(seconds, jitter=0.0, seed=0):
        rng = random.Random(seed)

        def fn():
            now[0] += seconds * (1 + rng.uniform(-jitter, jitter))

        return fn

    return call


def test_rows_that_may_lose_get_pairs_until_precise(bench, clock):
    # torch against torch: true ratio 1, each call within ±5%: the base budget leaves the interval wide
    r = bench.time_pair(clock(0.1, 0.05, 1), clock(0.1, 0.05, 2), seconds=1.0, min_runs=5, more_seconds=60.0)
    assert r["pairs_base"] == 5
    assert r["pairs"] > r["pairs_base"]
    assert (r["ratio_hi"] - r["ratio_lo"]) / 2 <= 0.01 * r["ratio"]
    assert r["ratio_lo"] <= 1.0 <= r["ratio_hi"]


def test_more_pairs_stop_at_the_time_given(bench, clock):
    r = bench.time_pair(clock(0.1, 0.3, 1), clock(0.1, 0.3, 2), seconds=1.0, min_runs=5, more_seconds=4.0)
    assert r["pairs"] <= 20  # 0.2 s pairs within 4 s (a pair that would end past the limit is not started)
    assert r["pairs"] > r["pairs_base"]


def test_a_clear_win_keeps_the_short_budget(bench, clock):
    r = bench.time_pair(clock(0.1, 0.05, 1), clock(0.05, 0.05, 2), seconds=1.0, min_runs=5, more_seconds=60.0)
    assert r["pairs"] == r["pairs_base"]
    assert r["ratio_lo"] >= 1.0 and 1.8 < r["ratio"] < 2.2


def test_long_calls_get_two_pairs(bench, clock):
    r = bench.time_pair(clock(30.0, 0.05, 1), clock(30.0, 0.05, 2), seconds=3.0, min_runs=5, more_seconds=20.0)
    assert r["pairs"] == r["pairs_base"] == 2


def test_median_interval_is_seeded_and_covers_the_median(bench):
    values = [1.0 + 0.01 * ((7 * i) % 13 - 6) for i in range(40)]
    lo, hi = bench.median_interval(values)
    assert (lo, hi) == bench.median_interval(values)
    assert lo <= sorted(values)[20] <= hi and hi - lo < 0.06


def test_a_row_undecided_against_the_target_gets_pairs_until_decided(bench, clock):
    """True ratio 0.985 (torch 0.1 s, auto 0.1015 s, each ±5%): after the precision budget its interval still holds
    0.97; with time to decide, pairs go on until the interval leaves the target."""
    short = bench.time_pair(clock(0.1, 0.05, 1), clock(0.1015, 0.05, 2), seconds=1.0, min_runs=5, more_seconds=2.0)
    assert short["ratio_lo"] < 0.97 <= short["ratio_hi"]
    r = bench.time_pair(
        clock(0.1, 0.05, 1),
        clock(0.1015, 0.05, 2),
        seconds=1.0,
        min_runs=5,
        more_seconds=2.0,
        target=0.97,
        decide_seconds=600.0,
    )
    assert r["pairs"] > short["pairs"]
    assert r["ratio_lo"] >= 0.97 and 0.97 < r["ratio"] < 1.0
