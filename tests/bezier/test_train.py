"""tconv.bezier against a direct port of seed 002's loops (tests/bezier/seedport.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import torch

import tconv
from tconv.bezier import (
    Params,
    TrainConfig,
    Variant,
    align,
    align_params,
    assemble,
    decode,
    encode,
    halving_scale,
    make_dataset,
    make_patches,
    overlap_counts,
    train,
    variants_for,
)
from tconv.bezier.analysis import ablation, alignment_stats, patch_mse, roughness
from tconv.errors import ConfigError

from .seedport import seed_cut, seed_make_dataset, seed_train_model


# ---- data -------------------------------------------------------------------------------------------------------
def test_data_identical_to_the_seed_loop():
    ref = seed_make_dataset(300)
    got = make_dataset(300)
    assert got.dtype == np.float64 and got.shape == (300, 15)
    assert np.array_equal(got, ref)  # bit-identical
    assert np.array_equal(make_dataset(16384)[:300], ref)  # the first 300 of the seed's 16384
    assert np.array_equal(make_patches(got), seed_cut(ref).astype(np.float32))


def test_data_rejects_bad_sizes():
    with pytest.raises(ConfigError, match="n="):
        make_dataset(0)
    with pytest.raises(ConfigError, match="patch="):
        make_patches(np.zeros((3, 7)), patch=7)


# ---- models -----------------------------------------------------------------------------------------------------
def test_encode_decode_match_torch_and_tconv():
    torch.manual_seed(0)
    p = Params.from_modules([(tconv.bezier.Encoder(3, 7), tconv.bezier.Decoder(3, 7)) for _ in range(2)])
    x = make_dataset(64).astype(np.float32)
    code = encode(p, x)
    out = decode(p, code)
    for m in range(2):
        enc, dec = p.to_modules(m)
        with torch.no_grad():
            ref_code = enc(torch.from_numpy(x)[:, None])
            ref = dec(ref_code)
        np.testing.assert_allclose(code[m], ref_code.numpy(), atol=1e-6)
        np.testing.assert_allclose(out[m], ref.numpy(), atol=1e-6)
        via_tconv = tconv.conv_transpose(code[m], p.dec_w[m][:, None], bias=p.dec_b[m : m + 1], stride=4)
        np.testing.assert_allclose(out[m], via_tconv, atol=1e-6)


# ---- training: the batched kernel against the seed's own loop ------------------------------------------------------
CASES = [
    (Variant("plain"), {}),
    (Variant("code", "seed-code"), {"code_noise": (0.1, 0.01, 0.001), "sliced": True}),
    (Variant("code", "seed-text"), {"code_noise": (0.1, 0.01, 0.001), "sliced": False}),
    (Variant("code+input", "seed-code"), {"code_noise": (0.1, 0.01, 0.001), "sliced": True, "input_noise": 0.01}),
    (Variant("full"), {}),
]


def test_batched_training_equals_the_seed_loop():
    """All variants × 2 seeds in one batched run = the seed's DataLoader/Adam loop run once per model: same shuffles,
    same noise draws, same Adam update (3 epochs of 3 steps each, with a last partial batch)."""
    n, epochs, seeds = 300, 3, (11, 22)
    cfg = TrainConfig(seeds=seeds, variants=tuple(v for v, _ in CASES), epochs=epochs, n_samples=n)
    res = train(cfg, progress=False)
    curves = make_dataset(n)
    patches = make_patches(curves)
    for (v, kw), i0 in zip(CASES, range(0, len(cfg.models), len(seeds)), strict=True):
        for j, s in enumerate(seeds):
            data = curves if v.kind == "full" else patches
            ref = seed_train_model(data, s, epochs, **kw)
            ref_p = Params.from_modules([(ref["enc"], ref["dec"])]).flat()[0]
            got = res.params.flat()[i0 + j]
            np.testing.assert_allclose(got, ref_p, atol=2e-6, rtol=0, err_msg=f"{v.name} seed {s}")
            np.testing.assert_allclose(res.losses[i0 + j], ref["losses"], rtol=1e-5, err_msg=f"{v.name} seed {s}")


def test_one_step_equals_the_seed_step():
    cfg = TrainConfig(seeds=(33,), variants=(Variant("code+input", "seed-text"),), epochs=1, n_samples=128)
    res = train(cfg, progress=False)
    ref = seed_train_model(make_patches(make_dataset(128)), 33, 1, (0.1, 0.01, 0.001), False, 0.01, max_steps=1)
    assert ref["steps"] == 1
    np.testing.assert_allclose(
        res.params.flat()[0], Params.from_modules([(ref["enc"], ref["dec"])]).flat()[0], atol=1e-7
    )


def test_checkpoint_stop_and_resume_is_identical(tmp_path):
    cfg = TrainConfig(seeds=(11, 22), variants=variants_for(["seed-code"]), epochs=6, n_samples=256, checkpoint_every=2)
    whole = train(cfg, progress=False)
    part = train(cfg, tmp_path, progress=False, stop_after=3)  # "killed" after epoch 3: last checkpoint at 2
    assert part.epochs_done == 3
    ck = np.load(tmp_path / "checkpoint.npz")
    assert int(ck["epoch"]) == 2  # the last checkpoint before the "kill"
    resumed = train(cfg, tmp_path, resume=True, progress=False)
    assert resumed.resumed_from == 2
    assert np.array_equal(resumed.params.flat(), whole.params.flat())
    assert np.array_equal(resumed.losses, whole.losses)


def test_killed_process_resumes_to_the_same_result(tmp_path):
    """SIGKILL a training process right after its epoch-4 checkpoint, resume in this process, compare."""
    cfg_src = "TrainConfig(seeds=(5,), variants=variants_for(['seed-text'], full=False), epochs=8, n_samples=256, checkpoint_every=2)"
    script = textwrap.dedent(f"""
        import os, signal
        from tconv.bezier import TrainConfig, train, variants_for
        def die(epoch, losses):
            if epoch == 4:
                os.kill(os.getpid(), signal.SIGKILL)
        train({cfg_src}, {str(tmp_path)!r}, progress=False, on_chunk=die)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert int(np.load(tmp_path / "checkpoint.npz")["epoch"]) == 4
    cfg = eval(cfg_src)  # noqa: S307 - the same literal as above
    resumed = train(cfg, tmp_path, resume=True, progress=False)
    whole = train(cfg, progress=False)
    assert resumed.resumed_from == 4
    assert np.array_equal(resumed.params.flat(), whole.params.flat())


def test_resume_refuses_another_configuration(tmp_path):
    cfg = TrainConfig(seeds=(1,), variants=variants_for(["none"], full=False), epochs=2, n_samples=128)
    train(cfg, tmp_path, progress=False)
    with pytest.raises(ConfigError, match="resume"):
        train(replace(cfg, lr=1e-3), tmp_path, resume=True, progress=False)


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"seeds": ()}, "seeds"),
        ({"seeds": (1, 1)}, "seeds"),
        ({"epochs": 0}, "epochs"),
        ({"lr": 2.0}, "lr"),
        ({"batch": -1}, "batch"),
    ],
)
def test_config_errors_name_the_parameter(kwargs, param):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**kwargs)
    assert e.value.param == param


def test_noise_settings_are_checked():
    with pytest.raises(ConfigError, match="noise="):
        variants_for(["seed-txt"])


# ---- analysis ---------------------------------------------------------------------------------------------------
def test_alignment_recovers_a_known_permutation_and_sign_flip():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((3, 7))
    perms = [np.array(p) for p in ([0, 1, 2], [2, 0, 1], [1, 2, 0], [0, 2, 1])]
    signs = [np.array(s, float) for s in ([1, 1, 1], [-1, 1, -1], [1, -1, -1], [-1, -1, 1])]
    sets = []
    for p, s in zip(perms, signs, strict=True):
        f = np.empty_like(base)
        f[p] = s[:, None] * base  # channel i of the base sits at p[i] with sign s[i]
        sets.append(f + 0.01 * rng.standard_normal(f.shape))
    a = align(np.stack(sets))
    for k, (p, s) in enumerate(zip(perms, signs, strict=True)):
        assert a.perm[k].tolist() == p.tolist()
        assert a.sign[k].tolist() == s.tolist()
    assert a.cosine.min() > 0.99
    stats = alignment_stats(np.stack(sets))
    assert max(stats["spread"]) < 0.02 < min(stats["raw_spread"])


def test_align_params_keeps_every_model_function():
    torch.manual_seed(3)
    p = Params.from_modules([(tconv.bezier.Encoder(3, 7), tconv.bezier.Decoder(3, 7)) for _ in range(3)])
    q = align_params(p, align(p.dec_w))
    x = make_patches(make_dataset(50))
    np.testing.assert_allclose(decode(q, encode(q, x)), decode(p, encode(p, x)), atol=1e-6)


def test_overlap_fix_reconstructs_exactly():
    """A decoder that rebuilds every 7-point window perfectly (7 channels, identity filters, codes = the windows):
    the plain transposed convolution double-counts, the seed's halving breaks the first and last three points, and
    dividing by the overlap-count map gives the curve back exactly."""
    curves = make_dataset(20).astype(np.float32)
    counts = overlap_counts(3, 7)
    assert counts.tolist() == [1, 1, 1, 1, 2, 2, 2, 1, 2, 2, 2, 1, 1, 1, 1]
    assert counts.tolist() == tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 7)), stride=4).ravel().tolist()
    eye = Params(np.zeros((1, 7, 7), np.float32), np.zeros((1, 7), np.float32), np.eye(7, dtype=np.float32)[None],
                 np.zeros(1, np.float32))  # fmt: skip
    windows = np.stack([curves[:, 4 * q : 4 * q + 7] for q in range(3)], axis=-1)  # (n, 7 channels, 3 positions)
    summed = decode(eye, windows[None])[0, :, 0]
    np.testing.assert_allclose(summed, curves * counts, atol=1e-6)  # the doubling
    halved = decode(eye, windows[None], weight_scale=halving_scale())[0, :, 0]
    assert np.allclose(halved[:, 3:12], curves[:, 3:12], atol=1e-6)
    assert not np.allclose(halved[:, :3], curves[:, :3], atol=1e-3)  # the boundary problem
    # the exact fix through the public assemble(): a linear "encoder" that copies the window into 7 channels
    p = Params(
        np.eye(7, dtype=np.float32)[None] * 0.01,
        np.zeros((1, 7), np.float32),
        np.eye(7, dtype=np.float32)[None] * 100,
        np.zeros(1, np.float32),
    )  # fmt: skip  (tanh(0.01 x) * 100 = x to ~1e-5 for |x| < 1)
    exact = assemble(p, curves, "exact")[0]
    np.testing.assert_allclose(exact, curves, atol=1e-4)
    assert np.abs(assemble(p, curves, "sum")[0] - curves).max() > 0.05


def test_halving_scale_is_the_seed_taps():
    # the seed halves taps 0, -1, 1, -2, 2, -3 and keeps the middle one
    assert halving_scale().tolist() == [0.5, 0.5, 0.5, 1.0, 0.5, 0.5, 0.5]


def test_ablation_and_roughness_shapes():
    torch.manual_seed(0)
    p = Params.from_modules([(tconv.bezier.Encoder(3, 7), tconv.bezier.Decoder(3, 7))])
    x = make_patches(make_dataset(40))
    a = ablation(p, x)
    assert a.shape == (1, 4) and np.isclose(a[0, 0], patch_mse(p, x)[0])
    assert roughness(np.ones((2, 7))).tolist() == [0.0, 0.0]


# ---- report and CLI ---------------------------------------------------------------------------------------------
def test_run_writes_metrics_and_page(tmp_path):
    from tconv.bezier.report import preset, run

    cfg = replace(preset("fast", seeds=[11, 22], noise=["seed-code"]), epochs=2, n_samples=256, checkpoint_every=1)
    out = run(cfg, tmp_path, progress=False, frames=2)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert set(m["patch_mse"]) == {"plain", "code/seed-code", "code+input/seed-code"}
    assert len(m["patch_mse"]["plain"]) == 2
    assert m["config"]["seeds"] == [11, 22] and m["config"]["data_seed"] == 22
    assert {"sum", "halve", "exact", "end-to-end"} <= set(m["assembly"])
    assert (tmp_path / "index.html").read_text().count("<img") >= 10
    assert (tmp_path / "figures" / "anim_all.gif").read_bytes()[:3] == b"GIF"
    assert out.result.epochs_done == 2
    # every claim carries its test, threshold and number of seeds; verdicts come from the interval rule
    for c in m["claims"]:
        assert {"test", "threshold", "n_seeds", "verdict"} <= set(c) and c["n_seeds"] == 2
    v = m["variants"]["plain"]["patch_mse"]
    assert v["n"] == 2 and v["ci95"][0] <= v["mean"] <= v["ci95"][1]
    # the seed's §5 loop: 256 curves are 2 batches, both added (cnt <= 4), divided by 2
    se = m["seed_eval"]
    assert se["seed"] == 22 and (se["as_is"]["batches_summed"], se["as_is"]["divided_by"]) == (2, 2)
    assert se["as_is"]["printed"] == pytest.approx(se["as_is"]["mean_of_summed_batches"])
    for name in ("seed_eval", "output_vs_label", "same_point"):
        assert (tmp_path / "figures" / f"{name}.png").exists()
    assert m["assembly"]["figure_seed"] == 22


def test_cli_bad_input_exits_2(tmp_path):
    from typer.testing import CliRunner

    from tconv.cli import app

    r = CliRunner().invoke(app, ["bezier", "run", "--preset", "fast", "--noise", "bogus", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "noise='bogus'" in r.output


@pytest.mark.skipif(os.environ.get("TCONV_SKIP_CLI_RUN") == "1", reason="asked to skip")
def test_cli_runs_a_tiny_experiment(tmp_path):
    from typer.testing import CliRunner

    from tconv.cli import app

    args = ["bezier", "run", "--preset", "fast", "--epochs", "1", "--seeds", "11", "--noise", "none", "--frames", "0"]
    r = CliRunner().invoke(app, [*args, "--quiet", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert list(m["patch_mse"]) == ["plain"] and len(m["patch_mse"]["plain"]) == 1
    assert "trained 2 models × 1 epochs" in r.output  # plain and the 15-point model
    # resuming a complete checkpoint says so instead of "trained ... in 0.0 s"
    r = CliRunner().invoke(app, [*args, "--quiet", "--resume", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "resumed from epoch 1 of 1" in r.output and "nothing was trained" in r.output


def test_training_text_says_where_a_run_resumed():
    from tconv.bezier.report import training_text

    def m(r: int) -> dict:
        timing = {"resumed_from_epoch": r, "train_seconds": 1.5, "load_before": "0.1"}
        return {"config": {"seeds": [1, 2], "variants": ["plain"], "epochs": 10}, "timing": timing}

    assert training_text(m(0)).startswith("trained 2 models × 10 epochs in 1.5 s")
    assert training_text(m(4)).startswith("resumed from epoch 4: trained epochs 5-10 of 2 models in 1.5 s")
    assert "nothing was trained" in training_text(m(10))
