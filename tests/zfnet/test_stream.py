"""tconv.zfnet.stream: lazy folders, DataLoader workers, and torchrun with 2 processes (gloo) against 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tconv.errors import ConfigError
from tconv.zfnet.stream import ImageFolder, my_batches
from tconv.zfnet.top9 import top_k
from tconv.zoo import alexnet_like


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i in range(11):
        h, w = rng.integers(70, 90, size=2)
        yy, xx = np.mgrid[:h, :w]
        img = np.sin(xx / rng.uniform(2, 9) + yy / rng.uniform(2, 9))[..., None] * rng.uniform(40, 120, 3) + 128
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(d / f"img{i:02d}.png")
    (d / "notes.txt").write_text("not an image")
    return d


def test_image_folder_is_lazy_and_counted(folder):
    ds = ImageFolder(folder, size=64, count=4)
    assert len(ds) == 4 and ds.total == 11 and ds.names == ["img00", "img01", "img02", "img03"]
    assert ds[3].shape == (64, 64, 3) and ds[3].dtype == np.uint8
    assert not hasattr(ds, "images")  # only names are held
    for kwargs, param in (({"count": 0}, "count"), ({"size": 4}, "size")):
        with pytest.raises(ConfigError) as info:
            ImageFolder(folder, **kwargs)
        assert info.value.param == param
    with pytest.raises(ConfigError):
        ImageFolder(folder / "nope")


def test_batches_shard_by_rank():
    spans = my_batches(23, 4)
    shards = [my_batches(23, 4, r, 3) for r in range(3)]
    assert sorted(s for sh in shards for s in sh) == spans


def test_top_k_over_a_folder_with_workers_equals_in_memory(folder):
    model = alexnet_like(seed=0, width=0.25).eval()
    ds = ImageFolder(folder, size=64)
    in_memory = [ds[i] for i in range(len(ds))]
    a = top_k(model, in_memory, 5, [0, 2, 5], k=4, batch_size=3, progress=False)
    b = top_k(model, ds, 5, [0, 2, 5], k=4, batch_size=3, progress=False, workers=2)
    assert a.entries == b.entries
    for pa, pb in zip(a.projections, b.projections, strict=True):
        np.testing.assert_array_equal(np.stack(pa), np.stack(pb))


def test_cli_count_says_so(folder, tmp_path):
    from tconv.cli import app

    res = CliRunner().invoke(
        app,
        ["zfnet", "top9", "--model", "alexnet-like", "--images", str(folder), "--layer", "relu2", "--count", "5",
         "--size", "64", "--k", "2", "--n-channels", "2", "--json", str(tmp_path / "r.json"),
         "--out", str(tmp_path / "r.png")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "reading the first 5 of 11 images" in res.output
    assert json.loads((tmp_path / "r.json").read_text())["images_seen"] == 5


def test_torchrun_two_processes_equal_one(folder, tmp_path):
    """torchrun --nproc_per_node=2 -m tconv zfnet top9 (gloo): both ranks write the single-process result."""
    args = ["zfnet", "top9", "--model", "alexnet-like", "--images", str(folder), "--layer", "pool2", "--size", "64",
            "--k", "3", "--n-channels", "3", "--batch-size", "2"]  # fmt: skip
    from tconv.cli import app

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1", TCONV_DIST_BACKEND="gloo")
    one = CliRunner().invoke(app, [*args, "--json", str(tmp_path / "one.json"), "--out", str(tmp_path / "one.png")])
    assert one.exit_code == 0, one.output
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "tconv", *args,
         "--json", str(tmp_path / "two{rank}.json"), "--out", str(tmp_path / "two{rank}.png")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr
    assert "rank 1 of 2" in two.stderr
    want = json.loads((tmp_path / "one.json").read_text())
    assert want["images_seen"] == 11
    for rank in (0, 1):
        assert json.loads((tmp_path / f"two{rank}.json").read_text()) == want
        assert (tmp_path / f"two{rank}.png").read_bytes() == (tmp_path / "one.png").read_bytes()
