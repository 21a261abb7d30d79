"""The matrix picture: a convolution is a sparse matrix C, and the transposed convolution multiplies by Cᵀ.

Seed 001 ("convolution as a matrix operation") and seed 003: unroll the forward convolution's input and output
row-major into vectors. The convolution is then ``y_conv = C @ x_conv`` for a sparse matrix ``C`` whose row ``j`` (one
convolution output) holds the kernel taps at the columns of the inputs that output reads. The transposed
convolution goes the other way: ``y = Cᵀ @ x``. The name is literal: same matrix, transposed.

Here rows are the forward convolution's outputs (= the transposed convolution's inputs, ``plan.in_size``) and
columns are its inputs (= the transposed convolution's outputs, ``plan.out_size``). Row ``j`` has ``w[t]`` in
column ``o`` for every pair ``(j, t) -> o`` of the plan's index map, so the matrix *is* the index mapping.

>>> from tconv.geometry import plan_from_sizes
>>> C = conv_matrix(plan_from_sizes(2, 3, stride=2))      # labels: tap index + 1
>>> C.toarray().astype(int)
array([[1, 2, 3, 0, 0],
       [0, 0, 1, 2, 3]])
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import ConfigError, ConfigTypeError
from ..geometry import Plan

__all__ = ["conv_matrix", "matrix", "stored_entries", "MAX_NNZ"]

#: The largest matrix (stored entries) built here: beyond it the index arrays alone would need gigabytes.
MAX_NNZ = 1 << 27
# plans whose pattern is at most this big keep it cached between calls
_CACHE_NNZ = 1 << 20


def stored_entries(plan: Plan, channels: bool = True) -> int:
    """Number of stored entries of C: reaching (input, tap) pairs, times ``C_in * C_out/groups`` if ``channels``.

    >>> from tconv.geometry import plan_from_sizes
    >>> stored_entries(plan_from_sizes((2, 2), 3))            # seed 001: 4 outputs x 9 taps
    36
    """
    pairs = math.prod(int((plan.index_map(d) >= 0).sum()) for d in range(plan.nd))
    return pairs * (plan.in_channels * (plan.out_channels // plan.groups) if channels else 1)


def _check_size(plan: Plan, entries: int, what: str) -> None:
    if entries > MAX_NNZ:
        raise ConfigError(
            "method" if what == "matrix" else "plan",
            "matrix" if what == "matrix" else plan.describe(),
            f"needs a sparse matrix with {entries} stored entries (limit {MAX_NNZ}); use 'polyphase', 'col2im' or "
            "'auto' for layers this large",
        )


def _pattern(plan: Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sparsity pattern of the single-channel C: (row, column, flat tap index) for every reaching triple.

    Built dimension by dimension from :meth:`Plan.index_map` and combined with broadcasting, so there is no Python
    loop over pixels. Rows and columns are row-major flat indices of ``plan.in_size`` and ``plan.out_size``.
    """
    rows = np.zeros(1, dtype=np.int64)
    cols = np.zeros(1, dtype=np.int64)
    taps = np.zeros(1, dtype=np.int64)
    valid = np.ones(1, dtype=bool)
    for dim in range(plan.nd):
        m = plan.index_map(dim)  # (in, k): output index or -1
        n_in, k = m.shape
        j = np.repeat(np.arange(n_in), k)
        t = np.tile(np.arange(k), n_in)
        o = m.ravel()
        # outer product with what we have so far: row-major, so the new dimension varies fastest
        rows = (rows[:, None] * n_in + j[None, :]).ravel()
        cols = (cols[:, None] * plan.out_size[dim] + np.maximum(o, 0)[None, :]).ravel()
        taps = (taps[:, None] * k + t[None, :]).ravel()
        valid = (valid[:, None] & (o >= 0)[None, :]).ravel()
    return rows[valid], cols[valid], taps[valid]


def conv_matrix(plan: Plan, weight: Any = None) -> sp.csr_matrix:
    """The forward convolution's matrix C (scipy.sparse CSR) for ``plan``; the transposed convolution is ``Cᵀ``.

    - ``weight=None``: single-channel C of shape ``(prod(in_size), prod(out_size))`` whose entries are the flat tap
      index + 1 (row-major over ``kernel_size``), so a picture can label each entry ``w_ij``.
    - ``weight`` of shape ``plan.kernel_size``: the same C with the weight values.
    - ``weight`` of shape ``(C_in, C_out/groups, *kernel_size)``: the channel block matrix of shape
      ``(C_in * prod(in_size), C_out * prod(out_size))``, channel-major then spatial; blocks between channels of
      different groups are zero.

    Rows are the forward convolution's outputs (the transposed convolution's inputs), columns its inputs.

    >>> from tconv.geometry import plan_from_sizes
    >>> p = plan_from_sizes(2, 3, stride=1)                 # seed 001 style: i=4, k=3 conv <-> 2 -> 4 transpose
    >>> conv_matrix(p, np.array([1.0, 2.0, 3.0])).toarray()
    array([[1., 2., 3., 0.],
           [0., 1., 2., 3.]])
    """
    if not isinstance(plan, Plan):
        raise ConfigTypeError("plan", type(plan).__name__, "must be a tconv.geometry.Plan")
    full_weight = weight is not None and np.ndim(weight) == plan.nd + 2
    _check_size(plan, stored_entries(plan, channels=full_weight), "conv_matrix")
    rows, cols, taps = _pattern(plan)
    n_in, n_out = math.prod(plan.in_size), math.prod(plan.out_size)
    if weight is None:
        return sp.csr_matrix(((taps + 1).astype(np.float64), (rows, cols)), shape=(n_in, n_out))
    if isinstance(weight, torch.Tensor):
        weight = weight.detach().cpu().numpy()
    w = np.asarray(weight)
    if not np.issubdtype(w.dtype, np.number):
        raise ConfigTypeError("weight", f"array(dtype={w.dtype})", "must be numeric")
    if w.shape == tuple(plan.kernel_size):
        return sp.csr_matrix((w.reshape(-1)[taps], (rows, cols)), shape=(n_in, n_out))
    if w.ndim != plan.nd + 2 or w.shape[2:] != tuple(plan.kernel_size):
        raise ConfigError(
            "weight",
            w.shape,
            f"must have shape kernel_size={plan.kernel_size} or (C_in, C_out/groups, *{plan.kernel_size})",
        )
    c_in, cout_g = w.shape[0], w.shape[1]
    g = plan.groups
    if c_in % g != 0:
        raise ConfigError("weight", w.shape, f"must have C_in divisible by groups={g}")
    cin_g = c_in // g
    wf = w.reshape(c_in, cout_g, -1)
    # every (input channel ci, output channel co of the same group) pair gets one copy of the pattern
    ci = np.arange(c_in)
    co = (ci // cin_g)[:, None] * cout_g + np.arange(cout_g)[None, :]  # (c_in, cout_g) global output channel
    nnz = len(rows)
    all_rows = (ci[:, None, None] * n_in + rows[None, None, :]).repeat(cout_g, axis=1)
    all_cols = co[:, :, None] * n_out + cols[None, None, :]
    all_vals = wf[:, :, taps]  # (c_in, cout_g, nnz)
    shape = (c_in * n_in, cout_g * g * n_out)
    return sp.csr_matrix(
        (all_vals.reshape(-1), (all_rows.reshape(-1), np.broadcast_to(all_cols, (c_in, cout_g, nnz)).reshape(-1))),
        shape=shape,
    )


@functools.lru_cache(maxsize=64)
def _cached_pattern(plan: Plan) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    return _transposed_pattern(plan)


def _transposed_pattern(plan: Plan) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """Indices of Cᵀ's non-zeros and, for each, the flat index into the full weight tensor it takes its value from.

    Built once per plan with :func:`conv_matrix` fed a weight whose entries are their own flat index + 1.
    """
    labels = np.arange(1, math.prod(plan.weight_shape) + 1, dtype=np.float64).reshape(plan.weight_shape)
    c = conv_matrix(plan, labels).tocoo()
    # normal tensors even when first built under torch.inference_mode(): they are cached and later saved for backward
    with torch.inference_mode(False):
        idx = torch.from_numpy(np.vstack([c.col, c.row]).astype(np.int64))  # transposed: (column, row)
        src = torch.from_numpy(c.data.astype(np.int64) - 1)
    return idx, src, (c.shape[1], c.shape[0])


def matrix(plan: Plan, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """Transposed convolution as ``y = Cᵀ x`` with C the forward convolution's sparse matrix (seed 001, seed 003).

    Each batch element's input is unrolled channel-major into one vector of length ``C_in * prod(in_size)``; the
    result ``Cᵀ x`` is the output unrolled the same way. The whole batch is one sparse-dense product (the batch
    elements are the columns). The non-zeros of Cᵀ are gathered from ``w`` with torch indexing, so the product is
    differentiable in both ``x`` and ``w``.

    >>> import torch
    >>> from tconv.geometry import make_plan
    >>> p = make_plan((1, 1, 2), (1, 1, 3), stride=2)
    >>> matrix(p, torch.tensor([[[1., 10.]]]), torch.tensor([[[1., 2., 3.]]]), None).flatten().tolist()
    [1.0, 2.0, 13.0, 20.0, 30.0]
    """
    n = x.shape[0]
    key = plan if plan.batch is None else dataclasses.replace(plan, batch=None)  # C does not depend on the batch
    entries = stored_entries(key)
    _check_size(key, entries, "matrix")  # refuse before building index arrays of gigabytes
    idx, src, shape = _cached_pattern(key) if entries <= _CACHE_NNZ else _transposed_pattern(key)
    vals = w.reshape(-1)[src.to(w.device)]
    ct = torch.sparse_coo_tensor(idx.to(x.device), vals, shape, check_invariants=False)
    xs = x.reshape(n, plan.in_channels * math.prod(plan.in_size)).T  # one column per batch element
    ys = torch.sparse.mm(ct, xs)  # (C_out * prod(out_size), N)
    y = ys.T.reshape(n, plan.out_channels, *plan.out_size)
    if b is not None:
        y = y + b.view(1, -1, *([1] * plan.nd))
    return y
