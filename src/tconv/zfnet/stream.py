"""Data sets at scale: a folder of images decoded lazily, batches from a DataLoader with workers, and the shard of
the images that belongs to this process under ``torch.distributed``.

Memory stays flat in the number of images: only the file names are held, each batch is decoded when it is needed
(by ``workers`` processes when asked), and :func:`tconv.zfnet.top9.top_k` keeps a (channels, k) heap.

Sharding is by *batch*: batch ``j`` (images ``j * batch_size ...``) belongs to rank ``j % world_size``. Each image is
thus computed in exactly the batch it would be in a single process, so every rank's activations -- and, after the
heaps are gathered, every rank's result -- equal the single-process run's.

>>> import numpy as np
>>> from PIL import Image
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> for i in range(5):
...     Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(d / f"{i}.png")
>>> ds = ImageFolder(d, size=16, count=3)
>>> len(ds), ds.total, ds[2].shape, int(ds[2][0, 0, 0]), ds.names[:2]
(3, 5, (16, 16, 3), 80, ['0', '1'])
>>> [(j, b.shape) for j, b in batches(ds, 2)]
[(0, (2, 16, 16, 3)), (2, (1, 16, 16, 3))]
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from .images import _EXTENSIONS, _rgb, square

__all__ = ["ImageFolder", "batches", "my_batches", "world", "init_from_env", "gather_objects"]


class ImageFolder(Sequence[np.ndarray]):
    """The image files of a folder (sorted by name), decoded one at a time as square (size, size, 3) uint8 RGB.

    ``count`` keeps only the first ``count`` files (``total`` says how many there are). Only names are held.
    """

    def __init__(self, path: str | os.PathLike[str], size: int = 224, count: int | None = None) -> None:
        folder = Path(path)
        if not folder.is_dir():
            raise ConfigError("images", str(path), "must be a folder of image files (or 'builtin')")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ConfigError("count", count, "must be a positive int")
        if not isinstance(size, int) or size < 8:
            raise ConfigError("size", size, "must be an int >= 8")
        with os.scandir(folder) as it:
            files = sorted(e.name for e in it if e.is_file() and Path(e.name).suffix.lower() in _EXTENSIONS)
        if not files:
            raise ConfigError("images", str(path), f"holds no image files ({', '.join(sorted(_EXTENSIONS))})")
        self.folder, self.size, self.total = folder, size, len(files)
        self.files = files[:count] if count is not None else files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        from PIL import Image  # noqa: PLC0415

        with Image.open(self.folder / self.files[i]) as im:
            return square(_rgb(np.asarray(im.convert("RGB"))), self.size)

    @property
    def names(self) -> list[str]:
        return [Path(f).stem for f in self.files]

    def name(self, i: int) -> str:
        return Path(self.files[i]).stem


class _Batches(torch.utils.data.Dataset):
    """Batch ``j`` of the selected ones, decoded in the worker: (first image index, (B, H, W, 3) uint8)."""

    def __init__(self, dataset: Sequence[np.ndarray], spans: list[tuple[int, int]]) -> None:
        self.dataset, self.spans = dataset, spans

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, j: int) -> tuple[int, np.ndarray]:
        a, b = self.spans[j]
        return a, np.stack([np.asarray(self.dataset[i]) for i in range(a, b)])


def _as_is(item: Any) -> Any:
    return item


def batches(
    dataset: Sequence[np.ndarray], batch_size: int, workers: int = 0, rank: int = 0, world_size: int = 1
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first index, images)`` for this rank's batches, decoded by ``workers`` processes (0: in this one)."""
    spans = my_batches(len(dataset), batch_size, rank, world_size)
    if workers <= 0:
        for a, b in spans:
            yield a, np.stack([np.asarray(dataset[i]) for i in range(a, b)])
        return
    loader = torch.utils.data.DataLoader(
        _Batches(dataset, spans), batch_size=None, num_workers=workers, collate_fn=_as_is, prefetch_factor=2
    )
    yield from loader


def my_batches(n: int, batch_size: int, rank: int = 0, world_size: int = 1) -> list[tuple[int, int]]:
    """The (start, stop) of the batches that belong to ``rank``: batch ``j`` to rank ``j % world_size``.

    >>> my_batches(10, 3, rank=1, world_size=2)
    [(3, 6), (9, 10)]
    """
    spans = [(a, min(a + batch_size, n)) for a in range(0, n, batch_size)]
    return spans[rank::world_size]


# ----------------------------------------------------------------------------------------------------------------
# torch.distributed
# ----------------------------------------------------------------------------------------------------------------
def init_from_env() -> bool:
    """Join the process group that ``torchrun`` describes in the environment (gloo on CPU, nccl on CUDA); True
    when this process is one of several. Does nothing when already initialized or when WORLD_SIZE is 1 / unset."""
    import torch.distributed as dist  # noqa: PLC0415

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    backend = "nccl" if torch.cuda.is_available() and os.environ.get("TCONV_DIST_BACKEND") != "gloo" else "gloo"
    dist.init_process_group(backend=os.environ.get("TCONV_DIST_BACKEND", backend))
    return True


def world() -> tuple[int, int]:
    """``(rank, world_size)``: (0, 1) unless torch.distributed is initialized."""
    import torch.distributed as dist  # noqa: PLC0415

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank (just ``[obj]`` without torch.distributed)."""
    import torch.distributed as dist  # noqa: PLC0415

    rank, size = world()
    if size == 1:
        return [obj]
    out: list[Any] = [None] * size
    dist.all_gather_object(out, obj)
    return out
