"""Benchmark: batched deconvnet projections against seed 000's per-call procedure.

The task: project *every* channel of a layer for every image of a batch (what ZFNet's Figure 2 and top-9 mining
need). The baseline is ``cal_vis_data`` in ``tests/zfnet/seedport.py``, a faithful port of seed 000's code (one forward
pass and a freshly built mirror network per (image, channel)), with the output-size fix so that its images have the
input's size; it unpools with ``nn.MaxUnpool2d`` (overwrite), so the batched side runs ``unpool="overwrite"`` and
the two must give the same numbers. Then the batched side again with ``unpool="sum"`` (the exact deconvnet), to
measure how much the overwriting changes the pictures.

Run from the repository root (CPU; a few minutes on 2 cores)::

    .venv/bin/python bench/zfnet.py              # AlexNet-like (zoo, seed 0) on 224x224, batch 2, all channels
    .venv/bin/python bench/zfnet.py --quick      # the seed port on a subset of channels, time extrapolated

It prints a table and rewrites the numbers section of ``docs/zfnet.md`` (between the ``zfnet-bench`` markers).
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "src"):  # tconv, and tests/ for the seed's port
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from tests.zfnet.seedport import cal_vis_data  # noqa: E402

from run import cpu_name  # noqa: E402  (bench/run.py: this folder is the script's sys.path[0])
from tconv.files import write_text  # noqa: E402
from tconv.zfnet import Mirror, project_channels  # noqa: E402
from tconv.zfnet.images import builtin_images  # noqa: E402
from tconv.zfnet.models import load_model  # noqa: E402

DOC = ROOT / "docs" / "zfnet.md"
BEGIN, END = "<!-- zfnet-bench:begin -->", "<!-- zfnet-bench:end -->"


def seed_all_channels(x: torch.Tensor, sub: torch.nn.Sequential, chans: list[int]) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    out = torch.stack([torch.stack([cal_vis_data(img, sub, c, output_size=True)[0] for c in chans]) for img in x])
    return out, time.perf_counter() - t0


def one_thread_seed(img: torch.Tensor, sub: torch.nn.Sequential, c: int) -> torch.Tensor:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return cal_vis_data(img, sub, c, output_size=True)[0]
    finally:
        torch.set_num_threads(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="alexnet-like")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--layers", default="1,2,4,5,7,11,12")
    ap.add_argument("--quick", action="store_true", help="time the seed port on 32 channels and extrapolate")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/zfnet.md")
    ap.add_argument("--repeat", type=int, default=3, help="batched runs per layer (the median is reported)")
    args = ap.parse_args()

    load = os.getloadavg()[0]
    torch.manual_seed(0)
    net = load_model(args.model, seed=0)
    names = net.layer_names
    photos = builtin_images(args.size)
    picks = list(photos.values())[: args.batch]
    x = net.preprocess(np.stack(picks))
    rows = []
    print(f"{net.name}, {args.batch} images of {args.size}x{args.size}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    header = (
        f"{'layer':>10} {'ch':>4} {'calls':>6} {'seed s':>8} {'batched s':>9} {'speedup':>8} {'work':>7} "
        f"{'max|diff|':>10} {'differ(f64)':>11} {'sum vs ovw':>10} {'zeroed':>7}"
    )
    print(header)
    for layer in [int(v) for v in args.layers.split(",")]:
        sub = net.features[: layer + 1]
        n_ch = [m for m in sub if isinstance(m, torch.nn.Conv2d)][-1].out_channels
        chans = list(range(n_ch))
        timed = chans[:32] if args.quick else chans

        gc.collect()
        project_channels(net.features, x[:1], layer, chans[:2], unpool="overwrite", inside=False)  # warm-up
        times = []
        for _ in range(args.repeat):  # the median of a few runs: the batched side is short and the machine shared
            ours = None
            gc.collect()
            t0 = time.perf_counter()
            ours = project_channels(net.features, x, layer, unpool="overwrite", inside=False).projection
            times.append(time.perf_counter() - t0)
        t_ours = sorted(times)[len(times) // 2]
        t0 = time.perf_counter()
        exact = project_channels(net.features, x, layer, unpool="sum", inside=False).projection
        t_sum = time.perf_counter() - t0
        per_call, per_window = Mirror(net.features, layer).work(tuple(x.shape[1:]))

        seed, t_seed = seed_all_channels(x, sub, timed)
        t_seed_all = t_seed * len(chans) / len(timed)
        ours_t = ours[:, : len(timed)]
        err = (ours_t - seed).abs().amax(dim=(2, 3, 4))  # per (image, channel)
        scale = float(seed.abs().max())
        # nn.MaxUnpool2d overwrites in a race when several threads share one plane: re-check mismatches on 1 thread
        for b, c in (err > 1e-5 * scale).nonzero().tolist():
            seed[b, c] = one_thread_seed(x[b], sub, c)
        err = (ours_t - seed).abs().amax(dim=(2, 3, 4))
        max_diff = float(err.max()) / scale
        # what still differs: a max-pool switch that float32 rounding flips between the batched and the unbatched
        # forward pass (two nearly equal values in one window). Check each such pair again in float64.
        mismatched = (err > 1e-5 * scale).nonzero().tolist()
        resolved = 0
        for b, c in mismatched:
            sub64 = copy.deepcopy(sub).double()
            ours64 = project_channels(
                sub64, x[b : b + 1].double(), layer, [c], unpool="overwrite", inside=False
            ).projection[0, 0]
            seed64 = one_thread_seed(x[b].double(), sub64, c)
            resolved += bool(torch.allclose(ours64, seed64, rtol=1e-9, atol=1e-12 * float(seed64.abs().max())))

        rel = float((exact - ours).flatten(2).norm(dim=2).sum() / exact.flatten(2).norm(dim=2).sum())
        zeroed = float((ours.flatten(2).abs().amax(dim=2) == 0).float().mean())
        row = {
            "layer": f"{names[layer]} ({layer})",
            "channels": n_ch,
            "calls": args.batch * n_ch,
            "seed_s": t_seed_all,
            "extrapolated": len(timed) < len(chans),
            "ours_s": t_ours,
            "sum_s": t_sum,
            "speedup": t_seed_all / t_ours,
            "work_ratio": per_call / per_window,
            "max_diff": max_diff,
            "mismatched": len(mismatched),
            "resolved": resolved,
            "compared": err.numel(),
            "sum_vs_overwrite": rel,
            "zeroed": zeroed,
        }
        rows.append(row)
        star = "*" if row["extrapolated"] else " "
        print(
            f"{row['layer']:>10} {n_ch:>4} {row['calls']:>6} {t_seed_all:>7.2f}{star} {t_ours:>9.3f} "
            f"{row['speedup']:>7.1f}x {row['work_ratio']:>6.0f}x {max_diff:>10.1e} {f'{len(mismatched)} ({resolved})':>9} {rel:>10.3f} {zeroed:>7.1%}"
        )
    if not args.no_doc:
        write_doc(rows, args, net.name, load)


def write_doc(rows: list[dict], args: argparse.Namespace, name: str, load: float) -> None:
    lines = [
        BEGIN,
        "",
        f"Measured by `bench/zfnet.py{' --quick' if args.quick else ''}` on {cpu_name()}, {os.cpu_count()} cores "
        f"({torch.get_num_threads()} torch threads, torch {torch.__version__}), {time.strftime('%Y-%m-%d %H:%M')}, "
        f"1-min load average {load:.2f} before the run: **{name}** (zoo, seed 0), "
        f"{args.batch} bundled photos at {args.size}x{args.size}, *every* channel of the layer projected for every "
        "image. *seed* = one `cal_vis_data` call per (image, channel) (with the output-size fix); *batched* = "
        '`project_channels(..., unpool="overwrite")`, one forward pass and windowed, batched mirror passes '
        f"(median of {args.repeat} runs). *work* is the ratio of multiply-adds, one seed call (forward and mirror "
        "on whole maps) over one windowed mirror (`Mirror.work`): what batching can gain if both ran equally fast. "
        "*max diff* is the largest difference between the two, relative to the largest projection value; *differ* "
        "counts the projections that differ by more than 1e-5 of it, and how many of those agree exactly when "
        "recomputed in float64 (a max-pool switch flipped by float32 rounding between the batched and the "
        "unbatched forward pass: two nearly equal values in one pooling window).",
        "",
        "| layer | channels | calls | seed (s) | batched (s) | speedup | work | max diff | differ (equal in float64) "
        "| sum vs overwrite | zeroed by overwrite |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        star = "*" if r["extrapolated"] else ""
        lines.append(
            f"| {r['layer']} | {r['channels']} | {r['calls']} | {r['seed_s']:.2f}{star} | {r['ours_s']:.3f} | "
            f"{r['speedup']:.1f}x | {r['work_ratio']:.0f}x | {r['max_diff']:.1e} | {r['mismatched']} ({r['resolved']}) | "
            f"{r['sum_vs_overwrite']:.3f} | {r['zeroed']:.1%} |"
        )
    lines += [
        "",
        "*sum vs overwrite* is the relative L2 difference between the exact (summing) deconvnet and the "
        "`nn.MaxUnpool2d` one, over all projections; *zeroed* is the share of projections that overwriting "
        "erases completely (the one-hot seed, unpooled to its switch, is overwritten by a zero from a later "
        "pooled output that shares the switch)." + (" `*`: extrapolated from 32 channels." if args.quick else ""),
        "",
        END,
    ]
    block = "\n".join(lines)
    text = DOC.read_text() if DOC.exists() else "# ZFNet-style visualization\n\n## Numbers\n\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    write_text(DOC, text)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
