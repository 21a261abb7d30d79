"""tconv.upsampling.photos on tiny configurations (seconds, not minutes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tconv.errors import ConfigError
from tconv.upsampling import photos


def test_compare_on_image_reconstructions() -> None:
    img = np.random.default_rng(0).random((12, 16)).astype(np.float32)
    out = photos.compare_on_image(img, factor=2)
    assert list(out) == [
        "original",
        "pooled",
        "unpool",
        "copy",
        "bilinear",
        "tconv k3 (least squares)",
        "tconv k4 (least squares)",
        "tconv k3 (random init)",
    ]
    x = torch.from_numpy(img)[None, None]
    pooled = F.max_pool2d(x, 2)
    np.testing.assert_array_equal(out["pooled"], pooled[0, 0].numpy())
    np.testing.assert_array_equal(out["copy"], F.interpolate(pooled, scale_factor=2, mode="nearest")[0, 0].numpy())
    # unpooling keeps the original value exactly where the max was, and zeros elsewhere
    kept = out["unpool"] != 0
    assert kept.sum() == pooled.numel() and np.array_equal(out["unpool"][kept], img[kept])
    # the least-squares kernel is at least as close as any other kernel, e.g. the nearest one (k3 can't hold it,
    # k4 can: ones in the centre 2x2)
    assert photos.psnr(out["tconv k4 (least squares)"], img) >= photos.psnr(out["copy"], img) - 1e-6
    with pytest.raises(ConfigError, match="image"):
        photos.compare_on_image(np.zeros((5, 6), np.float32))
    with pytest.raises(ConfigError, match="image"):
        photos.load_gray("no_such_photo")


def test_torch_threads_restores() -> None:
    before = torch.get_num_threads()
    with photos.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_no_transposed_convolution_unpools_but_one_copies() -> None:
    """The best least-squares k2 s2 kernel cannot reproduce unpooling (it writes the same kernel whatever the
    switches), except when every switch sits at the same position of its window; a kernel of ones copies."""
    rng = np.random.default_rng(1)
    img = rng.random((16, 16)).astype(np.float32)
    assert photos.unpool_tconv_error(img) > 0.6
    same_phase = img.copy()
    same_phase[::2, ::2] += 2.0  # every window's max at its top-left
    assert photos.unpool_tconv_error(same_phase) < 1e-5
    # copying is a transposed convolution: the least-squares fit to the copy is exact
    x = torch.from_numpy(img)[None, None]
    pooled = F.max_pool2d(x, 2)
    copy = F.interpolate(pooled, scale_factor=2, mode="nearest")
    w, b = photos._least_squares_tconv(pooled, copy, 2, 2)
    np.testing.assert_allclose(w[0, 0].numpy(), np.ones((2, 2)), atol=1e-5)
    assert abs(b) < 1e-5


def test_best_kernels_are_fitted_on_other_photos() -> None:
    """The k4 kernel that compare_on_image applies is the least-squares fit on FIT_IMAGES, not on the scored image:
    a one-pixel image (pooled: one 1) reads the kernel and the bias back out of its output."""
    delta = np.zeros((16, 16), np.float32)
    delta[8, 8] = 1.0
    out = photos.compare_on_image(delta)["tconv k4 (least squares)"]
    hi = [torch.from_numpy(photos._photo_crop(n))[None, None] for n in photos.FIT_IMAGES]
    w, b = photos._least_squares_tconv([F.max_pool2d(h, 2) for h in hi], hi, 4, 2)
    assert out[0, 0] == pytest.approx(b, abs=1e-5)
    np.testing.assert_allclose(out[7:11, 7:11] - b, w[0, 0].numpy(), atol=1e-5)
    assert set(photos.FIT_IMAGES).isdisjoint({"camera", "astronaut"})
