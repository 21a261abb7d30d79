"""Benchmark: seed 002's training loop against tconv.bezier's batched trainer, in one run on one machine.

The speed-up (the default, about a minute on an idle 2-core machine, at most a few minutes):

* the seed's own loop (``tests/bezier/seedport.py``'s ``seed_train_model``: DataLoader, modules, Adam) timed for
  ``--seed-epochs`` epochs of *each* of the five seeds, then extrapolated to its protocol (5 seeds × 5000 epochs);
* tconv's full protocol end to end (5 seeds × 5000 epochs, batch 128, 16384 patches; data, RNG replay, training and
  the final evaluation), with the final mean 7-point patch MSE;
* the speed-up in wall and in CPU time, with the load average before and after each part and a warning when the
  machine was not idle (1-minute load above 0.5 before the run).

Optional parts: ``--engines`` (the three ways of batching the seeds, per optimizer step of 5 stacked models: a
hand-fused NumPy step, ``torch.func.vmap`` of ``torch.func.grad``, and the compiled kernel ``train`` uses),
``--presets`` (the fast preset, 5 and 30 models × 300 epochs) and ``--with-noise`` (the default ``--preset seed``
training: plain, code noise, code + input noise, the 15-point model: 20 models × 5000 epochs).

Run from the repository root, on an idle machine::

    .venv/bin/python bench/bezier.py                                  # the speed-up only
    .venv/bin/python bench/bezier.py --engines --presets --with-noise # everything (about 5 minutes idle)

It prints a table and writes ``bench/results/bezier.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "src"):  # tconv, and tests/ for the seed's port
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from tests.bezier.seedport import seed_train_model  # noqa: E402

from bezier_engines import numpy_steps, torch_vmap_steps  # noqa: E402  (this folder is sys.path[0])
from tconv.bezier.analysis import patch_mse  # noqa: E402
from tconv.bezier.data import make_dataset, make_patches  # noqa: E402
from tconv.bezier.train import TrainConfig, init_params, train, variants_for  # noqa: E402
from tconv.files import write_json  # noqa: E402

SEEDS = (11, 22, 33, 44, 55)
EPOCHS = 5000


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(fn, *args, **kwargs):
    l0 = load()
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0, "load_before": l0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed-epochs", type=int, default=10, help="epochs of the seed's loop timed per seed (5 seeds)")
    ap.add_argument("--protocol-epochs", type=int, default=EPOCHS, help="tconv's epochs (5000; less: a smoke test)")
    ap.add_argument("--engines", action="store_true", help="also time the three batching engines per step")
    ap.add_argument("--presets", action="store_true", help="also time the fast preset (5 and 30 models)")
    ap.add_argument("--with-noise", action="store_true", help="also time the default 20-model --preset seed run")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bezier.json")
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: the seed's tiny ops gain nothing from more, and on a busy machine "
        "spinning threads make them many times slower)",
    )
    args = ap.parse_args()
    if args.protocol_epochs != EPOCHS:
        print(f"smoke test: tconv runs {args.protocol_epochs} epochs, not 5000: the speed-up below is not the claim")
    if args.seed_epochs < 1:
        raise SystemExit(f"--seed-epochs must be >= 1, got {args.seed_epochs}")
    torch.set_num_threads(args.torch_threads)

    load0 = os.getloadavg()[0]
    res: dict = {
        "machine": f"{platform.machine()} {platform.processor()} cores={os.cpu_count()}",
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_at_start": load(),
        "idle": load0 <= 0.5,
    }
    if load0 > 0.5:
        print(f"warning: the machine is not idle (load average {load()}): the timings below are inflated")
    curves = make_dataset()
    patches = make_patches(curves)

    # ---- 1. the seed's own loop: every seed for --seed-epochs epochs, extrapolated to 5 seeds × 5000 epochs
    seed_train_model(patches, SEEDS[0], 1, max_steps=3)  # first-call costs (imports, allocator) outside the timing
    per_seed = []
    for seed in SEEDS:
        _, t = timed(seed_train_model, patches, seed, args.seed_epochs)
        per_seed.append(t)
        print(f"seed loop, seed {seed}: {t['wall_s'] / args.seed_epochs:.3f} s/epoch (load {t['load_before']})")
    wall = sum(t["wall_s"] for t in per_seed)
    cpu = sum(t["cpu_s"] for t in per_seed)
    scale = EPOCHS / args.seed_epochs
    res["seed_loop"] = {
        "wall_s": wall,
        "cpu_s": cpu,
        "epochs_timed_per_seed": args.seed_epochs,
        "seeds": list(SEEDS),
        "s_per_epoch": [t["wall_s"] / args.seed_epochs for t in per_seed],
        "load_before": per_seed[0]["load_before"],
        "load_after": load(),
        "extrapolated_protocol_s": wall * scale,
        "extrapolated_protocol_cpu_s": cpu * scale,
    }
    print(f"seed loop: protocol ≈ {wall * scale:.0f} s wall, {cpu * scale:.0f} s CPU (extrapolated x{scale:g})")

    # ---- 2. tconv: the full protocol end to end
    def protocol(epochs: int, noise: list[str], full: bool):
        cfg = TrainConfig(seeds=SEEDS, variants=variants_for(noise, full=full), epochs=epochs)
        r = train(cfg, progress=False)
        mse = patch_mse(r.of("plain"), make_patches(make_dataset()))
        return r, mse

    protocol(2, ["none"], False)  # compile (or load the cached kernel) outside the timing
    (r, mse), t = timed(protocol, args.protocol_epochs, ["none"], False)
    res["tconv_protocol"] = {
        **t,
        "load_after": load(),
        "train_loop_s": r.seconds,
        "models": len(r.config.models),
        "final_patch_mse_mean": float(mse.mean()),
        "patch_mse_per_seed": mse.tolist(),
        "final_train_loss_mean": float(r.losses[:, -1].mean()),
        "epochs": args.protocol_epochs,
        "speedup_vs_seed_loop": res["seed_loop"]["extrapolated_protocol_s"] / t["wall_s"],
        "cpu_speedup_vs_seed_loop": res["seed_loop"]["extrapolated_protocol_cpu_s"] / t["cpu_s"],
        "first_epoch_mean_loss_below_1e-4": int(np.argmax(r.losses.mean(axis=0) < 1e-4)) + 1,
    }

    if args.engines:
        res["engines_5_models"] = engines(patches)
    if args.presets:
        (rf, msef), t = timed(protocol, 300, ["none"], False)
        res["fast_plain"] = {**t, "final_patch_mse_mean": float(msef.mean()), "patch_mse_per_seed": msef.tolist()}
        (rf, msef), t = timed(protocol, 300, ["seed-code", "seed-text"], True)
        res["fast_preset_30_models"] = {
            **t,
            "final_patch_mse_mean": float(msef.mean()),
            "models": len(rf.config.models),
        }
    if args.with_noise:
        (rn, msen), t = timed(protocol, EPOCHS, ["seed-code"], True)
        res["seed_preset_20_models"] = {**t, "final_patch_mse_mean": float(msen.mean()), "models": 20}
    res["load_after"] = load()
    write_json(args.out, res)

    print()
    print(f"{'what':50s} {'wall s':>9s} {'cpu s':>8s}  {'plain patch MSE':>15s}  load before")
    s = res["seed_loop"]
    print(
        f"{'seed loop, 5 seeds × 5000 epochs (extrapolated)':50s} {s['extrapolated_protocol_s']:9.0f} "
        f"{s['extrapolated_protocol_cpu_s']:8.0f}  {'':>15s}  {s['load_before']}"
    )
    rows = [
        (f"tconv, 5 seeds × {args.protocol_epochs} epochs (end to end)", "tconv_protocol"),
        ("tconv fast: 5 seeds × 300 epochs", "fast_plain"),
        ("tconv fast preset: 30 models × 300 epochs", "fast_preset_30_models"),
        ("tconv seed preset: 20 models × 5000 epochs", "seed_preset_20_models"),
    ]
    for label, key in rows:
        if key in res:
            v = res[key]
            print(
                f"{label:50s} {v['wall_s']:9.1f} {v['cpu_s']:8.1f}  {v['final_patch_mse_mean']:15.3e}  {v['load_before']}"
            )
    tp = res["tconv_protocol"]
    print(
        f"speed-up of the protocol: {tp['speedup_vs_seed_loop']:.0f}x wall, {tp['cpu_speedup_vs_seed_loop']:.0f}x CPU "
        f"(load at start {res['load_at_start']}, at end {res['load_after']}); wrote {args.out}"
    )


def engines(patches: np.ndarray) -> dict:
    """Per-step cost of the three batching strategies (5 stacked plain models)."""
    p0 = np.concatenate([init_params(s)[0].flat() for s in SEEDS])
    perms = np.stack([np.random.default_rng(s).permutation(len(patches)) for s in SEEDS])
    out = {}
    for name, fn, n in (("numpy fused step", numpy_steps, 2000), ("torch.func vmap(grad)", torch_vmap_steps, 100)):
        fn(p0, patches, perms, 3)
        _, t = timed(fn, p0, patches, perms, n)
        out[name] = {**t, "steps": n, "us_per_step": t["wall_s"] / n * 1e6}
    # the compiled kernel on the same pre-drawn orders (no RNG replay), 10 epochs
    from tconv.bezier._kernel import train_chunk  # noqa: PLC0415

    def kernel_steps(epochs: int) -> np.ndarray:
        m = len(SEEDS)
        flat, m1, m2 = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
        ep_perms = np.ascontiguousarray(np.repeat(perms[:, None].astype(np.int32), epochs, axis=1))
        zeros_m = np.zeros(m, np.float32)
        train_chunk(
            patches, np.zeros(m, np.int64), np.full(m, 7, np.int64), ep_perms, np.zeros(1, np.float32),
            np.zeros(m, np.int64), zeros_m, np.zeros((m, 3), np.float32), zeros_m > 0, zeros_m > 0,
            flat, m1, m2, np.zeros(m, np.int64), 1e-4, 128, 3, 7, 4, np.zeros((m, epochs)),
        )  # fmt: skip
        return flat

    kernel_steps(1)  # compile / load the cache
    _, t = timed(kernel_steps, 10)
    out["compiled kernel (numba)"] = {**t, "steps": 1280, "us_per_step": t["wall_s"] / 1280 * 1e6}
    for k, v in out.items():
        print(f"{k:24s} {v['us_per_step']:10.1f} µs per step of 5 models   (load {v['load_before']})")
    return out


if __name__ == "__main__":
    main()
