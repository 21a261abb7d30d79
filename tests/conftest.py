"""Shared test configuration: hypothesis profiles sized for CI's 2 cores."""

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# matplotlib's backend and auto's private cache are set for every collected item in the root conftest.py

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], derandomize=False
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def small_tensor_speed():
    """Thousands of tiny convolutions: one thread and torch's own kernels (oneDNN's per-shape set-up costs ~2 ms).

    Modules that run many tiny operators use it with ``pytestmark = pytest.mark.usefixtures("small_tensor_speed")``.
    """
    threads, mkldnn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    yield
    torch.backends.mkldnn.enabled = mkldnn
    torch.set_num_threads(threads)
