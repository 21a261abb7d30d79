"""The memory budget and the GEMM rate (tconv.ops.budget); the budget's use by "auto" is tested in test_autotune.py."""

import math

import pytest
import torch

import tconv
from tconv.ops import autotune, budget, registry


@pytest.fixture(autouse=True)
def private_cache(tmp_path):
    with autotune.settings(cache_dir=tmp_path, memory_factor=1.5, memory_slack=0):
        yield


def test_budget_is_the_factor_times_torchs_peak_or_unlimited():
    plan = tconv.make_plan((2, 8, 16, 16), (8, 4, 4, 4), stride=2, padding=1)
    peak = registry.memory_bytes(registry.get_route("torch"), plan, torch.float32)
    assert budget.budget_bytes(plan, torch.float32) == 1.5 * peak
    with autotune.settings(memory_slack=10 * peak):  # the slack wins where it is more
        assert budget.budget_bytes(plan, torch.float32) == 11 * peak
    with autotune.settings(memory_factor=None):
        assert budget.budget_bytes(plan, torch.float32) == math.inf


def test_fit_slices_the_batch_only_without_gradients():
    plan = tconv.make_plan((8, 16, 6, 6), (16, 3, 4, 4), stride=2, padding=1)
    sub = registry.get_route("subpixel")
    need = registry.memory_bytes(sub, plan, torch.float32)
    assert budget._fit(sub, plan, torch.float32, False, need) == 1
    out = 8 * 3 * 12 * 12 * 4
    chunks = budget._fit(sub, plan, torch.float32, False, out + need / 3)
    assert chunks is not None and 1 < chunks <= 8
    assert budget._fit(sub, plan, torch.float32, True, out + need / 3) is None


def test_gemm_rate_is_measured_once_and_kept_in_the_cache_file():
    budget._gemm_rate.cache_clear()
    rate = budget.gemm_rate()
    assert 1e8 < rate < 1e14
    budget._gemm_rate.cache_clear()
    autotune.clear_memory_cache()
    assert budget.gemm_rate() == rate  # read back from the file, not measured again
