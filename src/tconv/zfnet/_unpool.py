"""The deconvnet's unpooling on windows, compiled (numba): one pass over the pooled values, no index tensors.

Seed ``s`` carries a window of pooled values ``r[s]`` that starts at ``start[s]`` in the pooled map of image
``owner[s]``. Each nonzero value goes to its switch (the argmax recorded by the forward pass, a flat index into the
pool's input map), expressed in the coordinates of the seed's output window, which starts at ``in_start[s]``.
Values that share a switch are added (the exact gradient of max-pooling); with ``keep`` only the pooled outputs
marked there write (``nn.MaxUnpool2d``'s last writers, see ``_MaxPool.last_writers``).

The torch formulation needs a gathered int64 switch window, the local index arithmetic and a ``scatter_add_`` per
layer: four passes over int64 data the size of the window. Here every value is read once and written once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numba
import numpy as np
import torch
from numba import njit, prange

__all__ = ["unpool_windows", "torch_threads_kept"]

# numba's default threading layer must not be entered from two threads at once
_LOCK = threading.Lock()


@contextlib.contextmanager
def torch_threads_kept() -> Iterator[None]:
    """Run numba's parallel code with as many threads as torch is set to use, and leave torch's setting as it was.

    numba's OpenMP threading layer starts its own OpenMP runtime threads, which resets the count that
    ``torch.get_num_threads()`` reports (found: a user's ``torch.set_num_threads(1)`` became 2 after one
    ``tconv.project`` call). The user's choice is read first and put back afterwards.
    """
    wanted = torch.get_num_threads()
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(wanted, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(previous)
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)


@njit(parallel=True, cache=True)
def _unpool(r, owner, start, switches, keep, use_keep, in_start, map_w, out):  # pragma: no cover - compiled
    n_seed, n_ch, h, w = r.shape
    big_h, big_w = switches.shape[2], switches.shape[3]
    out_h, out_w = out.shape[2], out.shape[3]
    for sc in prange(n_seed * n_ch):
        s = sc // n_ch
        c = sc - s * n_ch
        b = owner[s]
        y0, x0 = start[s, 0], start[s, 1]
        oy, ox = in_start[s, 0], in_start[s, 1]
        for i in range(h):
            y = y0 + i
            if y < 0 or y >= big_h:
                continue
            for j in range(w):
                x = x0 + j
                if x < 0 or x >= big_w:
                    continue
                v = r[s, c, i, j]
                if v == 0:
                    continue
                if use_keep and not keep[b, c, y, x]:
                    continue
                sw = switches[b, c, y, x]
                row = sw // map_w
                ly = row - oy
                lx = sw - row * map_w - ox
                if 0 <= ly < out_h and 0 <= lx < out_w:
                    out[s, c, ly, lx] += v


def unpool_windows(
    r: torch.Tensor,
    owner: torch.Tensor,
    start: torch.Tensor,
    switches: torch.Tensor,
    keep: torch.Tensor | None,
    in_start: torch.Tensor,
    in_size: tuple[int, int],
    map_width: int,
) -> torch.Tensor:
    """Unpool windows ``r`` (S, C, h, w) to windows of ``in_size`` starting at ``in_start`` (S, 2); CPU tensors.

    >>> import torch
    >>> sw = torch.tensor([[[[0, 3]]]])            # one image, one channel, pooled 1x2; switches into a 2x2 map
    >>> r = torch.tensor([[[[2.0, 5.0]]]])
    >>> z = torch.zeros(1, 2, dtype=torch.long)
    >>> unpool_windows(r, torch.zeros(1, dtype=torch.long), z, sw, None, z, (2, 2), 2)[0, 0].tolist()
    [[2.0, 0.0], [0.0, 5.0]]
    """
    out = torch.zeros(r.shape[0], r.shape[1], *in_size, dtype=r.dtype)
    if r.numel() == 0:
        return out
    keep_np = keep.numpy() if keep is not None else np.zeros((1, 1, 1, 1), dtype=np.bool_)
    with _LOCK, torch_threads_kept():
        _unpool(
            r.contiguous().numpy(),
            owner.numpy(),
            start.numpy(),
            switches.numpy(),
            keep_np,
            keep is not None,
            in_start.numpy(),
            int(map_width),
            out.numpy(),
        )
    return out
