"""The seed's §5 evaluation loop (``eval_model(22)``), ported as written, held to the value it prints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tconv.bezier.analysis import assemble
from tconv.bezier.data import make_dataset
from tconv.bezier.models import Params
from tconv.bezier.seedeval import seed_eval_loop

FIXTURE = Path(__file__).with_name("seed22_plain_5000.json")


def seed22() -> Params:
    """The plain 7-point model of seed 22 after the seed's 5000 epochs (trained by ``tconv.bezier.train``, which the
    training tests hold to the seed's DataLoader/Adam loop)."""
    d = json.loads(FIXTURE.read_text())
    flat = np.array([float.fromhex(x) for x in d["params_float32_hex"]], dtype=np.float32)[None]
    return Params.from_flat(flat, 3, 7)


@pytest.fixture(scope="module")
def curves() -> np.ndarray:
    return make_dataset()


def test_eval_model_22_prints_what_the_seed_prints(curves: np.ndarray) -> None:
    """``eval_model(22)`` prints 9.38e-4; the MSE over every curve is 3.09e-2: it adds the first 4 of 128 batches."""
    p = seed22()
    r = seed_eval_loop(p, 0, curves)
    assert r["printed"] == pytest.approx(9.38e-4, abs=5e-7)
    assert (r["batches_summed"], r["divided_by"]) == (4, 128)
    assert r["true_mse"] == pytest.approx(3.09e-2, abs=5e-5)
    # independent arithmetic: the first 4 batches of 128 curves through the numpy assembly ("sum"), / 128
    rec = assemble(p, curves[:512], "sum")[0]
    batch_mse = ((rec - curves[:512].astype(np.float32)) ** 2).reshape(4, 128, 15).mean(axis=(1, 2))
    assert r["printed"] == pytest.approx(batch_mse.sum() / 128, rel=1e-5)
    assert r["true_mse"] == pytest.approx(float(((assemble(p, curves, "sum")[0] - curves) ** 2).mean()), rel=1e-5)
    # the seed's 2x2 grid plots the first curve of each of those batches
    assert len(r["examples"]) == 4
    np.testing.assert_allclose(r["examples"][1][1], curves[128], atol=1e-7)
    np.testing.assert_allclose(r["examples"][1][0], rec[128], atol=1e-5)


def test_eval_model_22_with_the_halving_fix(curves: np.ndarray) -> None:
    """After halving the six overlapping taps it prints 3.11e-5 where the MSE is 1.00e-3."""
    p = seed22()
    r = seed_eval_loop(p, 0, curves, halve=True)
    assert r["printed"] == pytest.approx(3.11e-5, abs=5e-8)
    assert r["true_mse"] == pytest.approx(float(((assemble(p, curves, "halve")[0] - curves) ** 2).mean()), rel=1e-5)
    assert r["true_mse"] == pytest.approx(1.00e-3, abs=5e-6)


def test_bad_model_index_is_refused(curves: np.ndarray) -> None:
    from tconv.errors import ConfigError

    with pytest.raises(ConfigError, match="i="):
        seed_eval_loop(seed22(), 1, curves)


@pytest.mark.slow
def test_the_fixture_is_seed_22_after_5000_epochs() -> None:
    """Training seed 22's plain model for the seed's 5000 epochs gives the fixture's parameters bit for bit."""
    from tconv.bezier import TrainConfig, train, variants_for

    cfg = TrainConfig(seeds=(22,), variants=variants_for(["none"], full=False), epochs=5000)
    got = train(cfg, progress=False).params.flat()
    np.testing.assert_array_equal(got, seed22().flat())
