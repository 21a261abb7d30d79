"""tconv.upsampling.gradients on tiny configurations (seconds, not minutes)."""

from __future__ import annotations

import numpy as np
import pytest

from tconv.upsampling import gradients


def test_gradient_checkerboards_control_is_flatter() -> None:
    img = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    res = gradients.gradient_checkerboards(img, seeds=4, channels=4)
    assert set(res) == set(gradients.GRADIENT_NETS)
    assert res["k3s2"]["uniform_ratio"] == 25.0 and res["k4s2"]["uniform_ratio"] == 1.0
    assert res["k3s2"]["score"] > res["k3s1+pool"]["score"]
    assert res["k3s2"]["energy"].shape == (8, 8) and res["k3s2"]["energy"].mean() == pytest.approx(1.0)
