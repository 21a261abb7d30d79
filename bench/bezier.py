"""Benchmark: seed 002's training loop against tconv.bezier's batched trainer, same machine, same run.

* the seed's own loop (``tests/bezier/seedport.py``'s ``seed_train_model``: DataLoader, modules, Adam) timed for a few
  epochs of one seed and extrapolated to its protocol (5 seeds × 5000 epochs);
* the three ways of batching the seeds, per optimizer step of 5 stacked models: a hand-fused NumPy step with analytic
  gradients, ``torch.func.vmap`` of ``torch.func.grad``, and the compiled kernel that ``train`` uses;
* tconv's full protocol end to end (5 seeds × 5000 epochs, batch 128, 16384 patches; data, RNG replay, training and
  the final evaluation), with the final mean 7-point patch MSE;
* the fast preset (300 epochs) and, with ``--with-noise``, the default ``--preset seed`` training (plain, code
  noise, code + input noise, the 15-point model: 20 models).

Run from the repository root::

    .venv/bin/python bench/bezier.py                  # about 2 minutes on an idle 2-core machine
    .venv/bin/python bench/bezier.py --with-noise     # adds the 20-model default run

It prints a table and writes ``bench/results/bezier.json``. The load average is recorded next to every timing: on a
shared machine the wall times are inflated, the CPU times less so.
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
    ap.add_argument("--seed-epochs", type=int, default=2, help="epochs of the seed's loop to time (one seed)")
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
    torch.set_num_threads(args.torch_threads)

    res: dict = {
        "machine": f"{platform.machine()} {platform.processor()} cores={os.cpu_count()}",
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    curves = make_dataset()
    patches = make_patches(curves)

    # ---- 1. the seed's own loop, extrapolated
    out, t = timed(seed_train_model, patches, 11, args.seed_epochs)
    per_epoch = t["wall_s"] / args.seed_epochs
    res["seed_loop"] = {
        **t,
        "epochs_timed": args.seed_epochs,
        "s_per_epoch": per_epoch,
        "extrapolated_protocol_s": per_epoch * EPOCHS * len(SEEDS),
        "extrapolated_protocol_cpu_s": t["cpu_s"] / args.seed_epochs * EPOCHS * len(SEEDS),
    }
    print(
        f"seed loop: {per_epoch:.3f} s/epoch -> protocol ≈ {res['seed_loop']['extrapolated_protocol_s'] / 3600:.2f} h"
    )

    # ---- 2. per-step cost of the three batching strategies (5 stacked plain models)
    p0 = np.concatenate([init_params(s)[0].flat() for s in SEEDS])
    perms = np.stack([np.random.default_rng(s).permutation(len(patches)) for s in SEEDS])
    engines = {}
    for name, fn, n in (("numpy fused step", numpy_steps, 2000), ("torch.func vmap(grad)", torch_vmap_steps, 100)):
        fn(p0, patches, perms, 3)
        _, t = timed(fn, p0, patches, perms, n)
        engines[name] = {**t, "steps": n, "us_per_step": t["wall_s"] / n * 1e6}
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
    engines["compiled kernel (numba)"] = {**t, "steps": 1280, "us_per_step": t["wall_s"] / 1280 * 1e6}
    res["engines_5_models"] = engines
    for k, v in engines.items():
        print(f"{k:24s} {v['us_per_step']:10.1f} µs per step of 5 models   (load {v['load_before']})")

    # ---- 3. tconv: the full protocol end to end
    def protocol(epochs: int, noise: list[str], full: bool):
        cfg = TrainConfig(seeds=SEEDS, variants=variants_for(noise, full=full), epochs=epochs)
        r = train(cfg, progress=False)
        mse = patch_mse(r.of("plain"), make_patches(make_dataset()))
        return r, mse

    (r, mse), t = timed(protocol, EPOCHS, ["none"], False)
    res["tconv_protocol"] = {
        **t,
        "train_loop_s": r.seconds,
        "models": len(r.config.models),
        "final_patch_mse_mean": float(mse.mean()),
        "patch_mse_per_seed": mse.tolist(),
        "final_train_loss_mean": float(r.losses[:, -1].mean()),
        "speedup_vs_seed_loop": res["seed_loop"]["extrapolated_protocol_s"] / t["wall_s"],
    }
    first = int(np.argmax(r.losses.mean(axis=0) < 1e-4)) + 1
    res["tconv_protocol"]["first_epoch_mean_loss_below_1e-4"] = first

    (rf, msef), t = timed(protocol, 300, ["none"], False)
    res["fast_plain"] = {**t, "final_patch_mse_mean": float(msef.mean()), "patch_mse_per_seed": msef.tolist()}
    (rf, msef), t = timed(protocol, 300, ["seed-code", "seed-text"], True)
    res["fast_preset_30_models"] = {**t, "final_patch_mse_mean": float(msef.mean()), "models": len(rf.config.models)}
    if args.with_noise:
        (rn, msen), t = timed(protocol, EPOCHS, ["seed-code"], True)
        res["seed_preset_20_models"] = {**t, "final_patch_mse_mean": float(msen.mean()), "models": 20}
    res["load_after"] = load()
    write_json(args.out, res)

    print()
    print(f"{'what':46s} {'wall s':>9s} {'cpu s':>8s}  {'plain patch MSE':>15s}  load before")
    s = res["seed_loop"]
    print(
        f"{'seed loop, 5 seeds × 5000 epochs (extrapolated)':46s} {s['extrapolated_protocol_s']:9.0f} "
        f"{s['extrapolated_protocol_cpu_s']:8.0f}  {'':>15s}  {s['load_before']}"
    )
    rows = [
        ("tconv, 5 seeds × 5000 epochs (end to end)", "tconv_protocol"),
        ("tconv fast: 5 seeds × 300 epochs", "fast_plain"),
        ("tconv fast preset: 30 models × 300 epochs", "fast_preset_30_models"),
        ("tconv seed preset: 20 models × 5000 epochs", "seed_preset_20_models"),
    ]
    for label, key in rows:
        if key in res:
            v = res[key]
            print(
                f"{label:46s} {v['wall_s']:9.1f} {v['cpu_s']:8.1f}  {v['final_patch_mse_mean']:15.3e}  {v['load_before']}"
            )
    print(f"speed-up of the protocol: {res['tconv_protocol']['speedup_vs_seed_loop']:.0f}×; wrote {args.out}")


if __name__ == "__main__":
    main()
