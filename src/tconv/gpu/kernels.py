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

Both accumulate in fp32 with ``tl.dot`` (TF32 for fp32 inputs when torch allows it for convolutions, bf16/fp16 on
the tensor cores), add the bias in the epilogue and write every output element exactly once: deterministic, no
atomics, no zero-fill pass. Both lift 1-D and 2-D problems to 3-D with unit leading dimensions (a dimension of size
1, kernel 1 and stride 1 costs nothing but a few integer ops per tile), and both take arbitrary element strides, so
they read and write channels-last tensors (channel stride 1: the K and N axes of every tile are contiguous) without
a copy.

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
    # Axis 1 is the group. Axis 0 enumerates (phase, m-tile, n-tile) with the n-tile fastest, so neighbouring
    # programs share one A tile (the same input rows) and it stays in L2.
    pid = tl.program_id(0)
    g = tl.program_id(1)
    n_tiles = tl.cdiv(COUT_G, BLOCK_N)
    m_tiles = tl.cdiv(M_MAX, BLOCK_M)
    pid_n = pid % n_tiles
    pid_m = (pid // n_tiles) % m_tiles
    phase = pid // (n_tiles * m_tiles)

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
    w_ptr,
    b_ptr,
    y_ptr,
    CIN_G,
    COUT_G,
    NTAPS_W,
    ID,
    IH,
    IW,
    JD,  # rows per dimension: ceil((pad_before + out) / stride) >= in (extra rows only feed output_padding)
    JH,
    JW,
    OD,
    OH,
    OW,
    KD,
    KH,
    KW,
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
    M_TOTAL,  # NB * JD * JH * JW
    N_TOTAL,  # SD * SH * SW * COUT_G: one column per (residue, output channel)
    HAS_BIAS: tl.constexpr,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
    ACC: tl.constexpr,  # accumulator type: fp32 (fp64 for fp64 inputs)
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    # ---- which tile: axis 0 = (m-tile, n-tile), n fastest; axis 1 = group -------------------------------------
    pid = tl.program_id(0)
    g = tl.program_id(1)
    n_tiles = tl.cdiv(N_TOTAL, BLOCK_N)
    pid_n = pid % n_tiles
    pid_m = pid // n_tiles

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

    # ---- columns: c -> (residue (rd, rh, rw), co), co fastest; residue r is tap r when r < kernel --------------
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    co = offs_n % COUT_G
    r = offs_n // COUT_G
    rw = r % SW
    rh = (r // SW) % SH
    rd = r // (SW * SH)
    col_ok = offs_n < N_TOTAL
    has_tap = col_ok & (rd < KD) & (rh < KH) & (rw < KW)  # k < s: residues beyond the kernel get only the bias
    tap = (rd * KH + rh) * KW + rw
    w_cols = w_ptr + g.to(tl.int64) * NTAPS_W * CIN_G * COUT_G + tap * CIN_G * COUT_G + co

    # ---- the K loop over input channels: a plain GEMM -----------------------------------------------------------
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for k0 in range(0, CIN_G, BLOCK_K):
        ck = k0 + offs_k
        k_ok = ck < CIN_G
        a = tl.load(x_rows[:, None] + ck[None, :] * sxc, mask=a_ok[:, None] & k_ok[None, :], other=0.0)
        b = tl.load(w_cols[None, :] + ck[:, None] * COUT_G, mask=k_ok[:, None] & has_tap[None, :], other=0.0)
        if UPCAST:
            a = a.to(tl.float32)
            b = b.to(tl.float32)
        acc = tl.dot(a, b, acc, input_precision=PRECISION)

    # ---- epilogue: the shuffled store o = j * s + r - pad_before (a fused depth-to-space) ---------------------
    if HAS_BIAS:
        bias = tl.load(b_ptr + g * COUT_G + co, mask=col_ok, other=0.0)
        acc += bias.to(ACC)[None, :]
    o_d = jd[:, None] * SD + rd[None, :] - PD
    o_h = jh[:, None] * SH + rh[None, :] - PH
    o_w = jw[:, None] * SW + rw[None, :] - PW
    # every output has exactly one (j, r): j = (o + pad) // s, r = (o + pad) % s; cropped positions are masked off
    ok = (m_ok[:, None] & col_ok[None, :]) & (o_d >= 0) & (o_d < OD) & (o_h >= 0) & (o_h < OH) & (o_w >= 0) & (o_w < OW)
    y_off = (
        nb.to(tl.int64)[:, None] * syn
        + o_d.to(tl.int64) * syd
        + o_h.to(tl.int64) * syh
        + o_w.to(tl.int64) * syw
        + (g * COUT_G + co).to(tl.int64)[None, :] * syc
    )
    tl.store(y_ptr + y_off, acc.to(y_ptr.dtype.element_ty), mask=ok)


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
    n_cols = named_args.get("N_TOTAL", named_args["COUT_G"])
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
        key=["M_TOTAL", "CIN_G", "N_TOTAL"],
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


def _strides5(t: torch.Tensor) -> tuple[int, int, int, int, int]:
    """Element strides (n, c, d, h, w) of an (N, C, *spatial) tensor lifted to 3 spatial dims (unit dims: 0)."""
    s = t.stride()
    return (s[0], s[1], *(0,) * (5 - t.dim()), *s[2:])  # type: ignore[return-value]


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
    geo = lift(plan)
    nb, groups = x.shape[0], plan.groups
    cin_g, cout_g = plan.in_channels // groups, plan.out_channels // groups
    ntaps_w = math.prod(geo.kernel)

    nd = plan.nd
    y = torch.empty((nb, *plan.out_size, plan.out_channels), device=x.device, dtype=x.dtype)
    y = y.permute(0, nd + 1, *range(1, nd + 1))  # (N, C_out, *out), channels-last strides
    if nb == 0:
        return y
    xc = _channels_last(x)
    # (C_in, C_out/G, *k) -> (G, taps, C_in/G, C_out/G): one row-major K x N matrix per (group, tap)
    wp = w.reshape(groups, cin_g, cout_g, ntaps_w).permute(0, 3, 1, 2).contiguous()
    bp = b.contiguous() if b is not None else wp  # any pointer when there is no bias (never read)

    if x.dtype == torch.float32:
        precision = "tf32" if (tf32_allowed() and x.is_cuda) else "ieee"
    elif x.dtype == torch.float64:
        precision = "ieee"
    else:
        precision = "tf32"  # Triton's default; ignored for 16-bit inputs
    upcast = INTERPRET and x.dtype in (torch.float16, torch.bfloat16)
    acc = tl.float64 if x.dtype == torch.float64 else tl.float32
    common = {"HAS_BIAS": b is not None, "UPCAST": upcast, "PRECISION": precision, "ACC": acc}
    sx, sy = _strides5(xc), _strides5(y)

    kind = force or ("shuffle" if uses_shuffle(plan) else "phase")
    if kind == "shuffle":
        if not all(k <= s for k, s in zip(plan.kernel_size, plan.stride, strict=True)) or any(
            d != 1 for d in plan.dilation
        ):
            raise ConfigError("force", "shuffle", "needs kernel <= stride and dilation 1 in every dimension")
        rows = tuple(-(-(p + o) // s) for p, o, s in zip(geo.pad_before, geo.out_size, geo.stride, strict=True))
        m_total = nb * math.prod(rows)
        n_total = math.prod(geo.stride) * cout_g
        args = (xc, wp, bp, y, cin_g, cout_g, ntaps_w, *geo.in_size, *rows, *geo.out_size, *geo.kernel,
                *geo.stride, *geo.pad_before, *sx, *sy, m_total, n_total)  # fmt: skip
        if blocks is None and not INTERPRET:

            def grid(meta):
                return (triton.cdiv(m_total, meta["BLOCK_M"]) * triton.cdiv(n_total, meta["BLOCK_N"]), groups)

            _tuned("shuffle")[grid](*args, **common)
        else:
            bm, bn, bk = blocks or _interp_blocks(n_total, cin_g)
            grid = (triton.cdiv(m_total, bm) * triton.cdiv(n_total, bn), groups)
            _shuffle_kernel[grid](*args, **common, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
        return y

    table = phase_table(plan)
    tab = _table_tensor(plan, x.device)
    m_max = nb * table.max_count
    n_phases = len(table.rows)
    args = (xc, wp, bp, y, tab, cin_g, cout_g, ntaps_w, *geo.in_size, *geo.stride, *sx, *sy, nb, m_max,
            table.width, table.max_taps)  # fmt: skip
    if blocks is None and not INTERPRET:

        def grid(meta):
            return (n_phases * triton.cdiv(m_max, meta["BLOCK_M"]) * triton.cdiv(cout_g, meta["BLOCK_N"]), groups)

        _tuned("phase")[grid](*args, **common)
    else:
        bm, bn, bk = blocks or _interp_blocks(cout_g, cin_g)
        grid = (n_phases * triton.cdiv(m_max, bm) * triton.cdiv(cout_g, bn), groups)
        _phase_kernel[grid](*args, **common, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
    return y
