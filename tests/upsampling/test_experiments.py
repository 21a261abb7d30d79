"""tconv.upsampling experiments, CLI and tour section, on tiny configurations (seconds, not minutes)."""

from __future__ import annotations

import json
from dataclasses import replace

from typer.testing import CliRunner

from tconv.cli import app
from tconv.upsampling import experiments as ex

from .configs import TINY

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


def test_quick_mode_says_plainly_that_it_ranks_differently() -> None:
    from tconv.upsampling import _quick_note

    sr = {
        "config": {"steps": 200},
        "reference": {"bilinear, no network": {"psnr": 24.6}},
        "rows": [{"label": "a", "psnr": 24.0}, {"label": "b", "psnr": 25.0}, {"label": "c", "psnr": 20.0}],
    }
    note = _quick_note(sr)
    assert "ranks differently from the full run" in note and "2 of 3" in note and "24.60 dB" in note
