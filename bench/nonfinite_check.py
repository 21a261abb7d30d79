"""Benchmark: what "auto"'s non-finite input check costs next to the sub-pixel call it guards.

"auto" runs the sub-pixel route only after one sum of the input says it holds no NaN or inf (where the stride does
not divide the kernel, the route's zero-padded taps would meet them). This times that check, the alternative
``torch.isfinite(x).all()``, ``autotune.choose`` with the check, and the sub-pixel call itself, on a 16x64x32x32
float32 input through a k11 s4 p2 layer to 3 channels (best and median of the runs, in ms).

Run from the repository root::

    .venv/bin/python bench/nonfinite_check.py
"""

from __future__ import annotations

import os
import time

import torch

from tconv.geometry import make_plan
from tconv.ops import autotune
from tconv.ops.fastcpu import subpixel


def _ms(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return round(times[0] * 1e3, 3), round(times[len(times) // 2] * 1e3, 3)


def main() -> None:
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(16, 64, 32, 32, generator=g), torch.randn(64, 3, 11, 11, generator=g)
    plan = make_plan(tuple(x.shape), tuple(w.shape), stride=4, padding=2)
    print(f"threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    with torch.no_grad(), autotune.settings(enabled=False):
        route = autotune.choose(plan, x, w).route
        print(f"auto's route: {route.name} (exact on non-finite inputs: {route.nonfinite_exact(plan)})")
        print("check (one sum), best/median ms:", _ms(lambda: autotune._all_finite(x), 50))
        print("torch.isfinite(x).all(), ms:    ", _ms(lambda: bool(torch.isfinite(x).all()), 50))
        print("autotune.choose incl. check, ms:", _ms(lambda: autotune.choose(plan, x, w), 50))
        print("sub-pixel call, ms:             ", _ms(lambda: subpixel(plan, x, w, None), 9))


if __name__ == "__main__":
    main()
