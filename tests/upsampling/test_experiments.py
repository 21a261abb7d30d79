"""tconv.upsampling experiments, CLI and tour section, on tiny configurations (seconds, not minutes)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from tconv.cli import app
from tconv.errors import ConfigError
from tconv.upsampling import experiments as ex

TINY = ex.SRConfig(
    steps=3, batch=4, n_train=16, n_test=8, channels=4, train_images=("coins", "page"), test_images=("camera",)
)


def test_compare_on_image_reconstructions() -> None:
    img = np.random.default_rng(0).random((12, 16)).astype(np.float32)
    out = ex.compare_on_image(img, factor=2)
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
    assert ex.psnr(out["tconv k4 (least squares)"], img) >= ex.psnr(out["copy"], img) - 1e-6
    with pytest.raises(ConfigError, match="image"):
        ex.compare_on_image(np.zeros((5, 6), np.float32))
    with pytest.raises(ConfigError, match="image"):
        ex.load_gray("no_such_photo")


def test_super_resolution_runs_are_reproducible_and_scored() -> None:
    runs = [ex.SRRun("nearest", "nearest"), ex.SRRun("unpool", "unpool"), ex.SRRun("tconv k3", "tconv")]
    a = ex.run_super_resolution(TINY, runs, progress=False)
    b = ex.run_super_resolution(TINY, runs, progress=False)
    strip = ("train_seconds", "train_cpu_seconds")
    assert [{k: v for k, v in r.items() if k not in strip} for r in a.rows] == [
        {k: v for k, v in r.items() if k not in strip} for r in b.rows
    ]
    rows = {r["label"]: r for r in a.rows}
    assert rows["nearest"]["flat_ripple"] == 0.0 and rows["nearest"]["flat_ripple_init"] == 0.0
    assert rows["unpool"]["flat_ripple_init"] > 1e-3  # a flat image unpooled is a grid of dots
    assert rows["tconv k3"]["params"] == 4 * 4 * 9 + 4 and rows["nearest"]["params"] == 0
    assert all(np.isfinite(r["psnr"]) and r["phase_mse_ratio"] >= 1 for r in a.rows)
    assert a.snapshots["tconv k3"]["view_trained"].shape == (64, 64)
    js = json.loads(json.dumps(a.to_json()))
    assert js["config"]["seed"] == 0 and len(js["rows"]) == 3
    with pytest.raises(ConfigError, match="patch"):
        ex.SRConfig(patch=31)
    with pytest.raises(ConfigError, match="steps"):
        ex.SRConfig(steps=0)


def test_gradient_checkerboards_control_is_flatter() -> None:
    img = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    res = ex.gradient_checkerboards(img, seeds=4, channels=4)
    assert set(res) == set(ex.GRADIENT_NETS)
    assert res["k3s2"]["uniform_ratio"] == 25.0 and res["k4s2"]["uniform_ratio"] == 1.0
    assert res["k3s2"]["score"] > res["k3s1+pool"]["score"]
    assert res["k3s2"]["energy"].shape == (8, 8) and res["k3s2"]["energy"].mean() == pytest.approx(1.0)


def test_torch_threads_restores() -> None:
    before = torch.get_num_threads()
    with ex.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


runner = CliRunner()


def test_cli_overlap() -> None:
    r = runner.invoke(app, ["upsample", "overlap", "k7s4"])
    assert r.exit_code == 0, r.output
    assert "[2, 2, 2, 1]" in r.output and "max/min: 2" in r.output
    r = runner.invoke(app, ["upsample", "overlap", "k3s2", "k3s2", "--dims", "2", "--in", "3", "--json"])
    data = json.loads(r.output)
    assert data["interior_max_over_min"] == 9.0 and len(data["count_map"]) == 15
    r = runner.invoke(app, ["upsample", "overlap", "--table", "--json"])
    assert {row["layer"] for row in json.loads(r.output)} >= {"k3s2p1o1", "k4s2p1", "k7s4p2o1"}
    for bad in (["k3x2"], ["k0s2"], ["k3s2", "--dims", "3"], []):
        r = runner.invoke(app, ["upsample", "overlap", *bad])
        assert r.exit_code == 2 and "error:" in r.output and "Traceback" not in r.output


def test_cli_compare_and_train(tmp_path, monkeypatch) -> None:
    r = runner.invoke(app, ["upsample", "compare", "--out", str(tmp_path / "c.png"), "--json"])
    assert r.exit_code == 0, r.output
    scores = json.loads(r.output)["psnr_db"]
    assert scores["tconv k4 (least squares)"] > scores["bilinear"] > scores["unpool"]
    assert (tmp_path / "c.png").stat().st_size > 10_000
    monkeypatch.setattr(ex, "QUICK", TINY)
    r = runner.invoke(app, ["upsample", "train", "--out", str(tmp_path / "t"), "--method", "bilinear"])
    assert r.exit_code == 0, r.output
    assert "bilinear, no network" in r.output and (tmp_path / "t" / "results.json").exists()
    r = runner.invoke(app, ["upsample", "train", "--method", "nope"])
    assert r.exit_code == 2


def test_tour_section(tmp_path, monkeypatch) -> None:
    from tconv.upsampling import tour_section

    monkeypatch.setattr(ex, "QUICK", replace(TINY, steps=2))
    section = tour_section(tmp_path, quick=True)
    assert section.id == "upsampling"
    for needle in ("k3s2p1o1", "pixel shuffle ICNR", "bilinear, no network", "k3s1+pool", "<img"):
        assert needle in section.html
    res = json.loads((tmp_path / "upsampling" / "results.json").read_text())
    assert res["quick"] is True and res["seed"] == 0 and len(res["super_resolution"]["rows"]) == len(ex.SR_RUNS)
    for name in ("overlap", "comparison", "init_vs_trained", "super_resolution", "gradients"):
        assert (tmp_path / "upsampling" / f"{name}.png").exists()


def test_no_transposed_convolution_unpools_but_one_copies() -> None:
    """The best least-squares k2 s2 kernel cannot reproduce unpooling (it writes the same kernel whatever the
    switches), except when every switch sits at the same position of its window; a kernel of ones copies."""
    rng = np.random.default_rng(1)
    img = rng.random((16, 16)).astype(np.float32)
    assert ex.unpool_tconv_error(img) > 0.6
    same_phase = img.copy()
    same_phase[::2, ::2] += 2.0  # every window's max at its top-left
    assert ex.unpool_tconv_error(same_phase) < 1e-5
    # copying is a transposed convolution: the least-squares fit to the copy is exact
    x = torch.from_numpy(img)[None, None]
    pooled = F.max_pool2d(x, 2)
    copy = F.interpolate(pooled, scale_factor=2, mode="nearest")
    w, b = ex._least_squares_tconv(pooled, copy, 2, 2)
    np.testing.assert_allclose(w[0, 0].numpy(), np.ones((2, 2)), atol=1e-5)
    assert abs(b) < 1e-5


def test_best_kernels_are_fitted_on_other_photos() -> None:
    """The k4 kernel that compare_on_image applies is the least-squares fit on FIT_IMAGES, not on the scored image:
    a one-pixel image (pooled: one 1) reads the kernel and the bias back out of its output."""
    delta = np.zeros((16, 16), np.float32)
    delta[8, 8] = 1.0
    out = ex.compare_on_image(delta)["tconv k4 (least squares)"]
    hi = [torch.from_numpy(ex._photo_crop(n))[None, None] for n in ex.FIT_IMAGES]
    w, b = ex._least_squares_tconv([F.max_pool2d(h, 2) for h in hi], hi, 4, 2)
    assert out[0, 0] == pytest.approx(b, abs=1e-5)
    np.testing.assert_allclose(out[7:11, 7:11] - b, w[0, 0].numpy(), atol=1e-5)
    assert set(ex.FIT_IMAGES).isdisjoint({"camera", "astronaut"})


def test_seeds_are_summarized_with_paired_intervals_and_resume(tmp_path) -> None:
    runs = [ex.SRRun("bilinear", "bilinear"), ex.SRRun("tconv k4", "tconv", (("kernel_size", 4),))]
    summ = ex.run_super_resolution_seeds(TINY, [0, 1, 2], tmp_path, runs, progress=False)
    assert summ["seeds"] == [0, 1, 2] and [r["label"] for r in summ["rows"]] == ["bilinear", "tconv k4"]
    per = {s: json.loads((tmp_path / f"seed_{s}.json").read_text()) for s in (0, 1, 2)}
    for row in summ["rows"]:
        vals = [next(r for r in per[s]["rows"] if r["label"] == row["label"])["psnr"] for s in (0, 1, 2)]
        assert row["psnr"]["per_seed"] == vals
        assert row["psnr"]["ci95"][0] < np.mean(vals) < row["psnr"]["ci95"][1]
        ref = [per[s]["reference"]["bilinear, no network"]["psnr"] for s in (0, 1, 2)]
        assert row["vs_bilinear"]["mean"] == pytest.approx(np.mean(np.subtract(vals, ref)))
    other = next(r for r in summ["rows"] if "vs_best" in r)
    assert other["label"] != summ["best"] and other["vs_best"]["verdict"] in ("confirmed", "not shown", "refuted")
    # a second call reads the seeds' files instead of training again
    stamp = (tmp_path / "seed_1.json").stat().st_mtime_ns
    again = ex.run_super_resolution_seeds(TINY, [0, 1, 2], tmp_path, runs, progress=False)
    assert again["rows"] == summ["rows"] and (tmp_path / "seed_1.json").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="another configuration"):
        ex.run_super_resolution_seeds(replace(TINY, steps=4), [0], tmp_path, runs, progress=False)


def test_quick_mode_says_plainly_that_it_ranks_differently() -> None:
    from tconv.upsampling import _quick_note

    sr = {
        "config": {"steps": 200},
        "reference": {"bilinear, no network": {"psnr": 24.6}},
        "rows": [{"label": "a", "psnr": 24.0}, {"label": "b", "psnr": 25.0}, {"label": "c", "psnr": 20.0}],
    }
    note = _quick_note(sr)
    assert "ranks differently from the full run" in note and "2 of 3" in note and "24.60 dB" in note
