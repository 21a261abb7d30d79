"""Benchmark: top-9 mining streamed over a folder -- peak memory against the number of images.

Generates ``max(--counts)`` JPEG images of ``--size``² (smooth random patterns, so they compress like photos) in a
temporary folder (``--dir`` to keep / reuse one), then for each count runs, in a fresh process, ``top_k`` over an
:class:`tconv.zfnet.stream.ImageFolder` of that many images with ``--workers`` DataLoader processes, while a sampler
reads the resident memory (VmRSS) of that process and all its children every 50 ms. Peak memory must not grow with
the count: only file names are held, each batch is decoded when needed, and the heap is (channels, k).

Run from the repository root::

    .venv/bin/python bench/zfnet_stream.py                                   # 500, 2000, 10000 images at 512²
    .venv/bin/python bench/zfnet_stream.py --counts 100,400 --size 256       # a quick check

It prints a markdown table and writes ``bench/results/zfnet_stream.json``. The model is the zoo's AlexNet-like
network at a quarter of its width (random weights, seed 0), mined at ``--layer`` (default relu1, so that the run
time goes to decoding and streaming rather than to convolutions).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))


def make_images(folder: Path, count: int, size: int, seed: int = 0) -> int:
    """``count`` JPEGs named 000000.jpg ...; existing ones are kept. Returns the folder's size in bytes."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    t0 = time.perf_counter()
    for i in range(count):
        path = folder / f"{i:06d}.jpg"
        f = rng.uniform(2, 14, size=(3, 2))
        ph = rng.uniform(0, 6.3, size=3)
        img = np.stack([np.sin(f[c, 0] * 6.3 * xx + f[c, 1] * 6.3 * yy + ph[c]) for c in range(3)], -1)
        img = (img * 90 + 128 + rng.normal(0, 6, size=(size, size, 1))).clip(0, 255).astype(np.uint8)
        if not path.exists():
            Image.fromarray(img).save(path, quality=90)
        if (i + 1) % 1000 == 0:
            print(f"generated {i + 1}/{count} images ({time.perf_counter() - t0:.0f} s)", flush=True)
    return sum(p.stat().st_size for p in folder.iterdir())


def _rss_tree(pid: int) -> tuple[int, int]:
    """(resident KiB of ``pid``, of ``pid`` and all its descendants)."""

    def rss(p: int) -> int:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def children(p: int) -> list[int]:
        out = []
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                out += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
        return out

    own = rss(pid)
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss(p)
        todo += children(p)
    return own, total


def measure(args: argparse.Namespace, folder: Path, count: int) -> dict:
    cmd = [sys.executable, __file__, "--child", str(folder), "--count", str(count), "--size", str(args.size),
           "--workers", str(args.workers), "--batch-size", str(args.batch_size), "--layer", args.layer]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    peak_own = peak_all = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_own, peak_all
        while not done.is_set():
            own, total = _rss_tree(proc.pid)
            peak_own, peak_all = max(peak_own, own), max(peak_all, total)
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    done.set()
    th.join()
    if proc.returncode:
        raise SystemExit(f"child failed for count {count}")
    child = json.loads(out.strip().splitlines()[-1])
    return {"count": count, "seconds": round(time.perf_counter() - t0, 1), "peak_rss_main_mib": round(peak_own / 1024),
            "peak_rss_all_mib": round(peak_all / 1024), **child}  # fmt: skip


def child(args: argparse.Namespace) -> None:
    import torch

    from tconv.zfnet.stream import ImageFolder
    from tconv.zfnet.top9 import top_k
    from tconv.zoo import alexnet_like

    model = alexnet_like(seed=0, width=0.25).eval()
    names = ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]
    ds = ImageFolder(args.child, size=args.size, count=args.count)
    t0 = time.perf_counter()
    res = top_k(model, ds, names.index(args.layer), k=9, n_channels=4, batch_size=args.batch_size,
                workers=args.workers, progress=False)  # fmt: skip
    print(json.dumps({"images_seen": res.images_seen, "top_k_seconds": round(time.perf_counter() - t0, 1),
                      "torch_threads": torch.get_num_threads()}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="500,2000,10000")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--layer", default="relu1")
    ap.add_argument("--dir", default=None, help="Folder for the generated images (kept; default: a temporary one).")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    counts = [int(c) for c in args.counts.split(",")]
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="tconv_stream_"))
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    print(f"images in {folder} ({free / 2**30:.0f} GiB free)", flush=True)
    size_bytes = make_images(folder, max(counts), args.size)
    load = os.getloadavg()[0]
    rows = [measure(args, folder, n) for n in counts]
    load_after = os.getloadavg()[0]
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_1min_before_after": [round(load, 2), round(load_after, 2)],
        "size": args.size, "workers": args.workers, "batch_size": args.batch_size, "layer": args.layer,
        "folder_mib": round(size_bytes / 2**20), "rows": rows,
    }  # fmt: skip
    out = ROOT / "bench" / "results" / "zfnet_stream.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("| images | peak RSS, main process (MiB) | peak RSS, with workers (MiB) | time (s) |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['count']} | {r['peak_rss_main_mib']} | {r['peak_rss_all_mib']} | {r['seconds']} |")
    print(f"load average {load:.2f} before, {load_after:.2f} after; wrote {out}")
    if not args.dir:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
