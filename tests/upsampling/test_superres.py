"""tconv.upsampling.superres on tiny configurations (seconds, not minutes)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from tconv.errors import ConfigError
from tconv.upsampling import superres

from .configs import TINY


def test_super_resolution_runs_are_reproducible_and_scored() -> None:
    runs = [
        superres.SRRun("nearest", "nearest"),
        superres.SRRun("unpool", "unpool"),
        superres.SRRun("tconv k3", "tconv"),
    ]
    a = superres.run_super_resolution(TINY, runs, progress=False)
    b = superres.run_super_resolution(TINY, runs, progress=False)
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
        superres.SRConfig(patch=31)
    with pytest.raises(ConfigError, match="steps"):
        superres.SRConfig(steps=0)


def test_seeds_are_summarized_with_paired_intervals_and_resume(tmp_path) -> None:
    runs = [superres.SRRun("bilinear", "bilinear"), superres.SRRun("tconv k4", "tconv", (("kernel_size", 4),))]
    summ = superres.run_super_resolution_seeds(TINY, [0, 1, 2], tmp_path, runs, progress=False)
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
    again = superres.run_super_resolution_seeds(TINY, [0, 1, 2], tmp_path, runs, progress=False)
    assert again["rows"] == summ["rows"] and (tmp_path / "seed_1.json").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="another configuration"):
        superres.run_super_resolution_seeds(replace(TINY, steps=4), [0], tmp_path, runs, progress=False)
