"""Triton kernels for the forward transposed convolution: polyphase implicit GEMM.

The plan's polyphase split (seed 000 §2 read backwards) says that, along each dimension, the outputs
``o = r + m * stride`` of one residue ``r`` only ever meet the taps ``t`` with ``(r + pad_before - t * dilation) % stride
== 0``, and tap ``t`` reads input ``m + offset[t]``. So every output *phase* is an ordinary stride-1 correlation
with a sub-kernel, and no multiplication ever touches an inserted zero. In N-d, a phase is one residue per dimension;
its taps are the products of the per-dimension taps.

Each phase is a GEMM without materializing anything (an *implicit* GEMM)::

    rows    m = (n, md, mh, mw)          one output position of the phase        M = N * count_d * count_h * count_w
    columns co                           one output channel of the group         N = C_out / groups
    depth   (tap, ci)                    one tap of the phase and input channel  K = taps * C_in / groups

    Y[m, co] = sum_{tap, ci} X[n, ci, md + off_d[tap], mh + off_h[tap], mw + off_w[tap]] * W[ci, co, tap]

Two kernels compute this:

* :func:`_phase_kernel` — the general case (any kernel, stride, dilation, padding, output_padding). One launch
  covers every phase: the host writes a small *phase table* (residues, counts and the list of taps with their input
  offsets, all read from the :class:`~tconv.geometry.Plan`), and each program reads its phase's row. With stride 1
  there is a single phase holding every tap, and the kernel is a plain implicit-GEMM direct convolution.
* :func:`_shuffle_kernel` — ``kernel <= stride`` and no dilation (U-Net's k2 s2, 3-D k2 s2). Then every output has
  at most one contributor, ``o = j * s + t - pad_before``, and all phases read the *same* input element ``j``. So
  the whole operator is one GEMM ``X (rows j, depth ci) @ W (depth ci, columns (t, co))`` whose columns are then
  stored to the shuffled positions ``j * s + t - pad_before``: a depth-to-space fused into the GEMM's epilogue.
  The input is read once (the programs sharing an input tile run side by side), not once per phase. With
  ``kernel < stride`` the weight is padded with zeros up to the stride, so the residues no tap reaches get the bias.

Both accumulate in fp32 with ``tl.dot`` (TF32 for fp32 inputs when torch allows it for convolutions, bf16/fp16 on
the tensor cores), add the bias in the epilogue and write every output element exactly once: deterministic, no
atomics, no zero-fill pass. Both lift 1-D and 2-D problems to 3-D with unit leading dimensions (a dimension of size
1, kernel 1 and stride 1 costs nothing but a few integer ops per tile). Both take arbitrary element strides; the
wrapper hands them channels-last tensors (channel stride 1, so the K and N axes of every tile are contiguous and
loads and stores vectorize), copying an NCHW input once, and returns the output channels-last. fp64 inputs
accumulate in fp64.

This module imports Triton at the top; :mod:`tconv.gpu` imports it lazily, only when a kernel is needed.

>>> import torch, tconv                                                  # doctest: +SKIP
>>> x, w = torch.randn(2, 8, 5, 5, device="cuda"), torch.randn(8, 4, 3, 3, device="cuda")      # doctest: +SKIP
>>> y = conv_transpose(tconv.make_plan(x.shape, w.shape, stride=2), x, w, None)                # doctest: +SKIP
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from ..errors import ConfigError
from ..geometry import Phase, Plan
from .dispatch_table import tf32_allowed

__all__ = [
    "INTERPRET",
    "Lifted",
    "lift",
    "phase_table",
    "uses_shuffle",
    "kernel_kind",
    "launch_scalars",
    "grid_size",
    "constexprs",
    "channels_last_strides",
    "conv_transpose",
]

#: True when Triton runs its CPU interpreter (``TRITON_INTERPRET=1`` when this module was first imported). The
#: kernels then run on CPU tensors, slowly, which is how the tests check the indexing without a GPU.
INTERPRET: bool = os.environ.get("TRITON_INTERPRET", "0") == "1"

_SUPPORTED = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


# ----------------------------------------------------------------------------------------------------------------
# host side: the plan lifted to 3-D, and the phase table
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lifted:
    """The plan's spatial geometry with unit leading dimensions added, so that every problem is 3-D."""

    in_size: tuple[int, int, int]
    out_size: tuple[int, int, int]
    kernel: tuple[int, int, int]
    stride: tuple[int, int, int]
    dilation: tuple[int, int, int]
    pad_before: tuple[int, int, int]
    phases: tuple[tuple[Phase, ...], tuple[Phase, ...], tuple[Phase, ...]]


@functools.lru_cache(maxsize=1024)
def lift(plan: Plan) -> Lifted:
    """Lift a 1-D, 2-D or 3-D plan to 3-D (unit dimensions in front).

    >>> from tconv.geometry import make_plan
    >>> lift(make_plan((1, 2, 7), (2, 3, 4), stride=2, padding=1)).out_size
    (1, 1, 14)
    """
    if not 1 <= plan.nd <= 3:
        raise ConfigError("method", "triton", f"supports 1-D, 2-D and 3-D transposed convolutions, not {plan.nd}-D")
    pad = 3 - plan.nd
    unit = (Phase(residue=0, count=1, taps=(0,), offsets=(0,)),)
    return Lifted(
        in_size=(1,) * pad + plan.in_size,
        out_size=(1,) * pad + plan.out_size,
        kernel=(1,) * pad + plan.kernel_size,
        stride=(1,) * pad + plan.stride,
        dilation=(1,) * pad + plan.dilation,
        pad_before=(0,) * pad + plan.pad_before,
        phases=(unit,) * pad + tuple(plan.phases(d) for d in range(plan.nd)),  # type: ignore[arg-type]
    )


#: Columns of a phase-table row before the taps: rd, rh, rw, count_d, count_h, count_w, number of taps.
_HEAD = 7


@dataclass(frozen=True)
class PhaseTable:
    """Every 3-D phase as one int row: ``rd rh rw cd ch cw ntaps`` then ``ntaps`` groups ``tap od oh ow``.

    ``tap`` is the flat kernel index ``(td * KH + th) * KW + tw``; ``od oh ow`` the input offsets. Taps that cannot
    reach the input for any output of the phase (they fall wholly in the padding) are left out. Rows are padded to
    ``width`` ints.
    """

    rows: tuple[tuple[int, ...], ...]
    width: int
    max_taps: int
    max_count: int  # the largest count_d * count_h * count_w over the phases


@functools.lru_cache(maxsize=1024)
def phase_table(plan: Plan) -> PhaseTable:
    """The phase table of a plan (cached; the kernel reads one row per program).

    >>> from tconv.geometry import make_plan
    >>> t = phase_table(make_plan((1, 1, 4), (1, 1, 3), stride=2))    # out 9: even outputs tap 0 and 2, odd tap 1
    >>> [r[:7] for r in t.rows]
    [(0, 0, 0, 1, 1, 5, 2), (0, 0, 1, 1, 1, 4, 1)]
    >>> t.rows[0][7:15]      # tap 0 reads input m, tap 2 reads input m - 1
    (0, 0, 0, 0, 2, 0, 0, -1)
    """
    g = lift(plan)
    kh, kw = g.kernel[1], g.kernel[2]
    rows = []
    for pd, ph, pw in itertools.product(*g.phases):
        taps = []
        for (td, od), (th, oh), (tw, ow) in itertools.product(
            *[_live_taps(p, n) for p, n in zip((pd, ph, pw), g.in_size, strict=True)]
        ):
            taps += [(td * kh + th) * kw + tw, od, oh, ow]
        rows.append((pd.residue, ph.residue, pw.residue, pd.count, ph.count, pw.count, len(taps) // 4, *taps))
    max_taps = max(r[6] for r in rows)
    width = _HEAD + 4 * max(max_taps, 1)
    rows = [r + (0,) * (width - len(r)) for r in rows]
    return PhaseTable(rows=tuple(rows), width=width, max_taps=max_taps, max_count=max(r[3] * r[4] * r[5] for r in rows))


def _live_taps(p: Phase, n_in: int) -> list[tuple[int, int]]:
    """(tap, offset) pairs of one phase whose input ``m + offset`` is inside ``[0, n_in)`` for some ``m < count``."""
    return [(t, o) for t, o in zip(p.taps, p.offsets, strict=True) if o < n_in and o + p.count - 1 >= 0]


def uses_shuffle(plan: Plan) -> bool:
    """Whether the one-GEMM kernel applies: ``kernel <= stride`` and dilation 1 everywhere, at most half the
    columns wasted on taps that do not exist (``prod(kernel) * 2 >= prod(stride)``).

    >>> from tconv.geometry import make_plan
    >>> uses_shuffle(make_plan((1, 8, 4, 4), (8, 4, 2, 2), stride=2)), uses_shuffle(make_plan((1, 8, 4), (8, 4, 3), stride=2))
    (True, False)
    """
    return (
        all(k <= s for k, s in zip(plan.kernel_size, plan.stride, strict=True))
        and all(d == 1 for d in plan.dilation)
        and 2 * math.prod(plan.kernel_size) >= math.prod(plan.stride)
    )


@functools.lru_cache(maxsize=256)
def _table_tensor(plan: Plan, device: torch.device) -> torch.Tensor:
    return torch.tensor(phase_table(plan).rows, dtype=torch.int32, device=device).contiguous()


# ----------------------------------------------------------------------------------------------------------------
# the general kernel: every phase in one launch
# ----------------------------------------------------------------------------------------------------------------
@triton.jit
def _phase_kernel(
    x_ptr,
    w_ptr,
    b_ptr,
    y_ptr,
    tab_ptr,
    CIN_G,
    COUT_G,
    NTAPS_W,  # kernel taps in total (KD * KH * KW): the weight's tap stride
    ID,
    IH,
    IW,
    SD,
    SH,
    SW,
    sxn,
    sxc,
    sxd,
    sxh,
    sxw,
    syn,
    syc,
    syd,
    syh,
    syw,
    NB,
    M_MAX,  # the largest phase's row count: NB * max(count_d * count_h * count_w)
    N_PHASES,  # rows of the phase table: prod(min(stride, out))
    TAB_W,
    MAX_TAPS,  # only used as an autotuning key
    HAS_BIAS: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
    ACC: tl.constexpr,  # accumulator type: fp32 (fp64 for fp64 inputs)
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    # ---- which tile -------------------------------------------------------------------------------------------
    # Axis 1 is the group. Axis 0 enumerates (m-tile, phase, n-tile) with the n-tile fastest, then the phase:
    # programs running side by side read the same input rows (tile m of every phase reads inputs m + offset,
    # the offsets differing by a tap or two), so the input comes from HBM about once and then from L2.
    pid = tl.program_id(0)
    g = tl.program_id(1)
    n_tiles = tl.cdiv(COUT_G, BLOCK_N)
    pid_n = pid % n_tiles
    phase = (pid // n_tiles) % N_PHASES
    pid_m = pid // (n_tiles * N_PHASES)

    # ---- this program's phase: its residues, sizes and number of taps (one row of the phase table) -----------
    row = tab_ptr + phase * TAB_W
    rd = tl.load(row + 0)
    rh = tl.load(row + 1)
    rw = tl.load(row + 2)
    cd = tl.load(row + 3)
    ch = tl.load(row + 4)
    cw = tl.load(row + 5)
    ntaps = tl.load(row + 6)
    m_count = NB * cd * ch * cw  # rows of this phase's GEMM (phases differ by at most one position per dim)

    # ---- the tile's rows: m -> (n, md, mh, mw), mw fastest --------------------------------------------------------
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = offs_m < m_count
    mw = offs_m % cw
    t = offs_m // cw
    mh = t % ch
    t = t // ch
    md = t % cd
    nb = t // cd
    # int64 for the batch term: a batch of large outputs passes 2**31 elements.
    x_rows = x_ptr + nb.to(tl.int64) * sxn + (g * CIN_G).to(tl.int64) * sxc

    # ---- the tile's columns: output channels of group g --------------------------------------------------------
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n_ok = offs_n < COUT_G
    offs_k = tl.arange(0, BLOCK_K)
    # The weight was laid out on the host as (G, taps, C_in/G, C_out/G): for one tap it is a row-major K x N matrix.
    w_grp = w_ptr + g.to(tl.int64) * NTAPS_W * CIN_G * COUT_G

    # ---- the K loop: one flat loop over (tap, channel chunk), so the pipeliner sees a single loop --------------
    # A tile that lies wholly past its phase's rows (the shorter phases) does no iterations at all.
    k_chunks = tl.cdiv(CIN_G, BLOCK_K)
    n_iters = tl.where(pid_m * BLOCK_M < m_count, ntaps * k_chunks, 0)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for it in range(0, n_iters):
        tap_i = it // k_chunks
        k0 = (it - tap_i * k_chunks) * BLOCK_K
        tap_row = row + 7 + 4 * tap_i
        tap = tl.load(tap_row)  # flat kernel index of this tap
        i_d = md + tl.load(tap_row + 1)  # the input element this tap reads for each row
        i_h = mh + tl.load(tap_row + 2)
        i_w = mw + tl.load(tap_row + 3)
        # rows whose input falls in the (virtual) zero padding contribute nothing: masked loads give 0
        a_ok = m_ok & (i_d >= 0) & (i_d < ID) & (i_h >= 0) & (i_h < IH) & (i_w >= 0) & (i_w < IW)
        a_off = i_d.to(tl.int64) * sxd + i_h.to(tl.int64) * sxh + i_w.to(tl.int64) * sxw
        ck = k0 + offs_k
        k_ok = ck < CIN_G
        # A tile [BLOCK_M, BLOCK_K]: input rows x channel chunk (contiguous along K in channels-last)
        a = tl.load(x_rows[:, None] + a_off[:, None] + ck[None, :] * sxc, mask=a_ok[:, None] & k_ok[None, :], other=0.0)
        # B tile [BLOCK_K, BLOCK_N]: this tap's weights (contiguous along N)
        b = tl.load(
            w_grp + (tap * CIN_G + ck)[:, None] * COUT_G + offs_n[None, :],
            mask=k_ok[:, None] & n_ok[None, :],
            other=0.0,
        )
        if UPCAST:  # the CPU interpreter multiplies half types wrongly; the GPU never takes this branch
            a = a.to(tl.float32)
            b = b.to(tl.float32)
        acc = tl.dot(a, b, acc, input_precision=PRECISION)

    # ---- epilogue: bias, cast, one store per output element ---------------------------------------------------
    if HAS_BIAS:
        bias = tl.load(b_ptr + g * COUT_G + offs_n, mask=n_ok, other=0.0)
        acc += bias.to(ACC)[None, :]
    # row m of phase (rd, rh, rw) is output position (rd + md * SD, rh + mh * SH, rw + mw * SW)
    y_row = (
        nb.to(tl.int64) * syn
        + (rd + md * SD).to(tl.int64) * syd
        + (rh + mh * SH).to(tl.int64) * syh
        + (rw + mw * SW).to(tl.int64) * syw
    )
    y_col = (g * COUT_G + offs_n).to(tl.int64) * syc
    tl.store(
        y_ptr + y_row[:, None] + y_col[None, :], acc.to(y_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :]
    )


# ----------------------------------------------------------------------------------------------------------------
# kernel <= stride: one GEMM, shuffled store
# ----------------------------------------------------------------------------------------------------------------
@triton.jit
def _shuffle_kernel(
    x_ptr,
    w_ptr,  # weights expanded on the host to (G, C_in/G, prod(stride), C_out/G); zero for residues >= kernel
    b_ptr,
    y_ptr,
    CIN_G,
    COUT_G,
    ID,
    IH,
    IW,
    JD,  # rows per dimension: ceil((pad_before + out) / stride) >= in (extra rows only feed output_padding)
    JH,
    JW,
    OD,
    OH,
    OW,
    SD,
    SH,
    SW,
    PD,
    PH,
    PW,
    sxn,
    sxc,
    sxd,
    sxh,
    sxw,
    syn,
    syc,
    syd,
    syh,
    syw,
    M_TOTAL,  # NB * JD * JH * JW: the GEMM's rows
    N_TOTAL,  # SD * SH * SW * COUT_G: the GEMM's columns, one per (residue, output channel)
    HAS_BIAS: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    # ---- which tile ---------------------------------------------------------------------------------------------
    # Axis 1 is the group. Axis 0 enumerates (m-tile, residue, co-tile) with the co-tile fastest and then the
    # residue: the prod(stride) * ceil(C_out/G / BLOCK_N) programs that share one A tile (the same input rows) run
    # next to each other, so the input is read from HBM about once. A tile never straddles two residues, which
    # keeps its output channels contiguous in memory (vector stores).
    pid = tl.program_id(0)
    g = tl.program_id(1)
    co_tiles = tl.cdiv(COUT_G, BLOCK_N)
    n_res = SD * SH * SW
    pid_co = pid % co_tiles
    res = (pid // co_tiles) % n_res
    pid_m = pid // (co_tiles * n_res)
    rw = res % SW  # the residue (rd, rh, rw): which of the prod(stride) output phases this tile writes
    rh = (res // SW) % SH
    rd = res // (SW * SH)

    # ---- rows: m -> (n, jd, jh, jw), one input position each (rows past the input read zeros) ----------------
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    m_ok = offs_m < M_TOTAL
    jw = offs_m % JW
    t = offs_m // JW
    jh = t % JH
    t = t // JH
    jd = t % JD
    nb = t // JD
    a_ok = m_ok & (jd < ID) & (jh < IH) & (jw < IW)
    x_rows = (
        x_ptr
        + nb.to(tl.int64) * sxn
        + (g * CIN_G).to(tl.int64) * sxc
        + jd.to(tl.int64) * sxd
        + jh.to(tl.int64) * sxh
        + jw.to(tl.int64) * sxw
    )

    # ---- columns: output channels co of residue res -----------------------------------------------------------
    co = pid_co * BLOCK_N + tl.arange(0, BLOCK_N)
    co_ok = co < COUT_G
    w_cols = w_ptr + g.to(tl.int64) * CIN_G * N_TOTAL + res * COUT_G + co

    # ---- the K loop over input channels: a plain GEMM -----------------------------------------------------------
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for k0 in range(0, CIN_G, BLOCK_K):
        ck = k0 + offs_k
        k_ok = ck < CIN_G
        # A tile [BLOCK_M, BLOCK_K]: input positions x channel chunk; B tile [BLOCK_K, BLOCK_N]: tap res's weights
        a = tl.load(x_rows[:, None] + ck[None, :] * sxc, mask=a_ok[:, None] & k_ok[None, :], other=0.0)
        b = tl.load(w_cols[None, :] + ck[:, None] * N_TOTAL, mask=k_ok[:, None] & co_ok[None, :], other=0.0)
        if UPCAST:
            a = a.to(tl.float32)
            b = b.to(tl.float32)
        acc = tl.dot(a, b, acc, input_precision=PRECISION)

    # ---- epilogue: the shuffled store o = j * s + r - pad_before (a fused depth-to-space) ---------------------
    if HAS_BIAS:
        bias = tl.load(b_ptr + g * COUT_G + co, mask=co_ok, other=0.0)
        acc += bias.to(ACC)[None, :]
    o_d = jd * SD + rd - PD
    o_h = jh * SH + rh - PH
    o_w = jw * SW + rw - PW
    # every output has exactly one (j, r): j = (o + pad) // s, r = (o + pad) % s; cropped positions are masked off
    row_ok = m_ok & (o_d >= 0) & (o_d < OD) & (o_h >= 0) & (o_h < OH) & (o_w >= 0) & (o_w < OW)
    y_row = nb.to(tl.int64) * syn + o_d.to(tl.int64) * syd + o_h.to(tl.int64) * syh + o_w.to(tl.int64) * syw
    y_col = (g * COUT_G + co).to(tl.int64) * syc
    tl.store(
        y_ptr + y_row[:, None] + y_col[None, :], acc.to(y_ptr.dtype.element_ty), mask=row_ok[:, None] & co_ok[None, :]
    )


# ----------------------------------------------------------------------------------------------------------------
# autotuning (GPU only; the interpreter runs one fixed tile)
# ----------------------------------------------------------------------------------------------------------------
#: (BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages): the candidates; pruned per problem before timing.
TILE_CONFIGS: tuple[tuple[int, int, int, int, int], ...] = (
    (128, 256, 64, 8, 3),
    (256, 128, 64, 8, 3),
    (128, 128, 64, 8, 3),
    (128, 128, 32, 4, 4),
    (128, 64, 64, 4, 4),
    (64, 128, 64, 4, 4),
    (64, 64, 64, 4, 4),
    (128, 32, 64, 4, 4),
    (128, 16, 64, 4, 3),
    (64, 32, 32, 4, 4),
)

_SMEM_LIMIT = 200 * 1024


def _prune(configs: list, named_args: dict, **kwargs) -> list:
    """Drop tiles far wider than the problem, or too large for shared memory at the problem's element size."""
    n_cols = named_args["COUT_G"]  # both kernels tile N over one group's output channels
    cin = named_args["CIN_G"]
    esize = named_args["x_ptr"].element_size()
    n_cap = max(16, triton.next_power_of_2(n_cols))
    k_cap = max(16, triton.next_power_of_2(cin))
    keep = []
    for c in configs:
        bm, bn, bk = c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.kwargs["BLOCK_K"]
        smem = (bm * bk + bk * bn) * max(esize, 2) * c.num_stages
        if bn <= n_cap and bk <= k_cap and smem <= _SMEM_LIMIT:
            keep.append(c)
    return keep or [min(configs, key=lambda c: c.kwargs["BLOCK_N"] * c.kwargs["BLOCK_M"])]


def _configs() -> list:
    return [
        triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk}, num_warps=w, num_stages=s)
        for bm, bn, bk, w, s in TILE_CONFIGS
    ]


@functools.cache
def _tuned(which: str):
    """The autotuned launcher of a kernel (built on first use, so importing this module compiles nothing)."""
    if which == "phase":
        return triton.autotune(
            configs=_configs(),
            key=["M_MAX", "CIN_G", "COUT_G", "MAX_TAPS"],
            prune_configs_by={"early_config_prune": _prune},
        )(_phase_kernel)
    return triton.autotune(
        configs=_configs(),
        key=["M_TOTAL", "CIN_G", "COUT_G", "N_TOTAL"],
        prune_configs_by={"early_config_prune": _prune},
    )(_shuffle_kernel)


def _interp_blocks(n_cols: int, cin: int) -> tuple[int, int, int]:
    """A fixed tile for the interpreter: as few programs as a small problem allows (each costs Python time)."""
    return 64, min(64, max(16, triton.next_power_of_2(n_cols))), min(64, max(16, triton.next_power_of_2(cin)))


# ----------------------------------------------------------------------------------------------------------------
# the host wrapper
# ----------------------------------------------------------------------------------------------------------------
def _channels_last(t: torch.Tensor) -> torch.Tensor:
    """The same values with the channel stride 1 (a copy only when the tensor is not already laid out so)."""
    nd = t.dim() - 2
    perm = (0, *range(2, nd + 2), 1)
    inv = (0, nd + 1, *range(1, nd + 1))
    return t.permute(perm).contiguous().permute(inv)


def kernel_kind(plan: Plan, force: str | None = None) -> str:
    """``"shuffle"`` (one GEMM, for kernel <= stride) or ``"phase"`` (the general kernel) for this plan."""
    if force == "shuffle" and (
        any(k > s for k, s in zip(plan.kernel_size, plan.stride, strict=True)) or any(d != 1 for d in plan.dilation)
    ):
        raise ConfigError("force", "shuffle", "needs kernel <= stride and dilation 1 in every dimension")
    if force is not None and force not in ("phase", "shuffle"):
        raise ConfigError("force", force, "must be 'phase' or 'shuffle'")
    return force or ("shuffle" if uses_shuffle(plan) else "phase")


def channels_last_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a channels-last tensor of ``shape`` (N, C, *spatial): C fastest, then the last spatial dim.

    >>> channels_last_strides((2, 3, 4, 5))
    (60, 1, 15, 3)
    """
    n, c, *sp = shape
    strides = [0] * len(shape)
    acc = c
    strides[1] = 1
    for i in range(len(sp) - 1, -1, -1):
        strides[2 + i] = acc
        acc *= sp[i]
    strides[0] = acc
    return tuple(strides)


def launch_scalars(
    plan: Plan, kind: str, nb: int, x_strides: tuple[int, ...], y_strides: tuple[int, ...]
) -> dict[str, int]:
    """The integer arguments of kernel ``kind`` by name, for a batch of ``nb`` and the given element strides.

    Shared by :func:`conv_transpose` and the compile-only report (``bench/gpu_aot.py``), which compiles the kernels
    for a GPU this machine does not have.
    """
    geo = lift(plan)
    groups = plan.groups
    cin_g, cout_g = plan.in_channels // groups, plan.out_channels // groups
    sx = _lift_strides(x_strides)
    sy = _lift_strides(y_strides)
    common = {"CIN_G": cin_g, "COUT_G": cout_g}
    strides = dict(zip(("sxn", "sxc", "sxd", "sxh", "sxw"), sx, strict=True))
    strides |= dict(zip(("syn", "syc", "syd", "syh", "syw"), sy, strict=True))
    if kind == "shuffle":
        rows = tuple(-(-(p + o) // s) for p, o, s in zip(geo.pad_before, geo.out_size, geo.stride, strict=True))
        return {
            **common,
            **dict(zip(("ID", "IH", "IW"), geo.in_size, strict=True)),
            **dict(zip(("JD", "JH", "JW"), rows, strict=True)),
            **dict(zip(("OD", "OH", "OW"), geo.out_size, strict=True)),
            **dict(zip(("SD", "SH", "SW"), geo.stride, strict=True)),
            **dict(zip(("PD", "PH", "PW"), geo.pad_before, strict=True)),
            **strides,
            "M_TOTAL": nb * math.prod(rows),
            "N_TOTAL": math.prod(geo.stride) * cout_g,
        }
    table = phase_table(plan)
    return {
        **common,
        "NTAPS_W": math.prod(geo.kernel),
        **dict(zip(("ID", "IH", "IW"), geo.in_size, strict=True)),
        **dict(zip(("SD", "SH", "SW"), geo.stride, strict=True)),
        **strides,
        "NB": nb,
        "M_MAX": nb * table.max_count,
        "N_PHASES": len(table.rows),
        "TAB_W": table.width,
        "MAX_TAPS": table.max_taps,
    }


def grid_size(kind: str, sc: dict[str, int], groups: int, block_m: int, block_n: int) -> tuple[int, int]:
    """Programs on axis 0 (tiles, n fastest) and axis 1 (groups) for one launch."""
    if kind == "shuffle":
        n_res = sc["N_TOTAL"] // sc["COUT_G"]
        return triton.cdiv(sc["M_TOTAL"], block_m) * n_res * triton.cdiv(sc["COUT_G"], block_n), groups
    return sc["N_PHASES"] * triton.cdiv(sc["M_MAX"], block_m) * triton.cdiv(sc["COUT_G"], block_n), groups


def _lift_strides(s: tuple[int, ...]) -> tuple[int, int, int, int, int]:
    """Element strides (n, c, d, h, w) of an (N, C, *spatial) tensor lifted to 3 spatial dims (unit dims: 0)."""
    return (s[0], s[1], *(0,) * (5 - len(s)), *s[2:])  # type: ignore[return-value]


def constexprs(dtype: torch.dtype, has_bias: bool, on_cuda: bool) -> dict:
    """The kernels' compile-time switches for a dtype: bias, interpreter upcast, dot precision, accumulator."""
    if dtype == torch.float32:
        precision = "tf32" if (tf32_allowed() and on_cuda) else "ieee"
    elif dtype == torch.float64:
        precision = "ieee"
    else:
        precision = "tf32"  # Triton's default; ignored for 16-bit inputs
    return {
        "HAS_BIAS": has_bias,
        "UPCAST": INTERPRET and dtype in (torch.float16, torch.bfloat16),
        "PRECISION": precision,
        "ACC": tl.float64 if dtype == torch.float64 else tl.float32,
    }


def conv_transpose(
    plan: Plan,
    x: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None,
    *,
    blocks: tuple[int, int, int] | None = None,
    force: str | None = None,
) -> torch.Tensor:
    """Run the Triton kernels for ``plan``: ``x`` (N, C_in, *in), ``w`` (C_in, C_out/G, *k), ``b`` (C_out,) or None.

    Returns ``plan.output_shape`` in channels-last memory layout (values as ``F.conv_transpose*d``). ``blocks`` fixes
    (BLOCK_M, BLOCK_N, BLOCK_K) instead of autotuning and ``force`` picks ``"phase"`` or ``"shuffle"``; both exist
    for the tests. Not differentiable by itself: :func:`tconv.gpu.triton_method` wraps it for autograd.

    >>> import torch, tconv                                                              # doctest: +SKIP
    >>> x, w = torch.randn(1, 4, 3, device="cuda"), torch.randn(4, 2, 3, device="cuda")  # doctest: +SKIP
    >>> conv_transpose(tconv.make_plan(x.shape, w.shape, stride=2), x, w, None).shape     # doctest: +SKIP
    torch.Size([1, 2, 7])
    """
    if x.dtype not in _SUPPORTED:
        raise ConfigError("input", f"tensor(dtype={x.dtype})", f"must be one of {_SUPPORTED} for method='triton'")
    if not (x.is_cuda or INTERPRET):
        raise ConfigError("method", "triton", "needs CUDA tensors (or TRITON_INTERPRET=1 for the CPU interpreter)")
    if plan.groups > 65535:
        raise ConfigError("groups", plan.groups, "must be at most 65535 for method='triton' (one grid row per group)")
    kind = kernel_kind(plan, force)
    nb, groups, nd = x.shape[0], plan.groups, plan.nd
    cin_g, cout_g = plan.in_channels // groups, plan.out_channels // groups

    y = torch.empty((nb, *plan.out_size, plan.out_channels), device=x.device, dtype=x.dtype)
    y = y.permute(0, nd + 1, *range(1, nd + 1))  # (N, C_out, *out), channels-last strides
    if nb == 0:
        return y
    xc = _channels_last(x)
    sc = launch_scalars(plan, kind, nb, xc.stride(), y.stride())
    meta = constexprs(x.dtype, b is not None, x.is_cuda)
    if kind == "shuffle":
        # (C_in, C_out/G, *k) -> (G, C_in/G, *stride, C_out/G): kernel padded with zeros up to the stride, so
        # column (residue, co) of the GEMM is tap `residue` (or nothing); row-major K x N per group
        wq = F.pad(
            w, [v for k, s in zip(reversed(plan.kernel_size), reversed(plan.stride), strict=True) for v in (0, s - k)]
        )
        wq = wq.reshape(groups, cin_g, cout_g, -1).permute(0, 1, 3, 2).contiguous()
        fn, ptrs = _shuffle_kernel, (xc, wq, b if b is not None else wq, y)
    else:
        # (C_in, C_out/G, *k) -> (G, taps, C_in/G, C_out/G): one row-major K x N matrix per (group, tap)
        wp = w.reshape(groups, cin_g, cout_g, -1).permute(0, 3, 1, 2).contiguous()
        fn, ptrs = _phase_kernel, (xc, wp, b if b is not None else wp, y, _table_tensor(plan, x.device))
    ints = [sc[name] for name in fn.arg_names[len(ptrs) :] if name in sc]

    if blocks is None and not INTERPRET:
        _tuned(kind)[lambda m: grid_size(kind, sc, groups, m["BLOCK_M"], m["BLOCK_N"])](*ptrs, *ints, **meta)
    else:
        bm, bn, bk = blocks or _interp_blocks(cout_g, cin_g)
        fn[grid_size(kind, sc, groups, bm, bn)](*ptrs, *ints, **meta, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
    return y
