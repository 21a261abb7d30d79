"""The plan (tconv.geometry.plan): index mapping, polyphase split, overlaps, contributors, negative padding and padding
modes, checked against brute force and torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from tconv.errors import ConfigError
from tconv.geometry import make_plan, plan_from_sizes


@st.composite
def configs_1d(draw):
    i, k = draw(st.integers(1, 7)), draw(st.integers(1, 5))
    s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    op = draw(st.integers(0, max(s, d) - 1))
    full = (i - 1) * s + d * (k - 1) + 1
    pb = draw(st.integers(0, full + 2))
    pa = draw(st.integers(0, full + 2))
    if full - pb - pa + op < 1:
        pb = pa = 0
    return i, k, s, d, (pb, pa), op


@given(configs_1d())
def test_index_map_matches_torch_one_hot(cfg):
    """Each (input, tap) pair hits exactly the output torch puts it at (one-hot input and one-hot kernel)."""
    i, k, s, d, (pb, pa), op = cfg
    p = plan_from_sizes(i, k, stride=s, padding=((pb, pa),), output_padding=op, dilation=d)
    m = p.index_map(0)
    for j in range(i):
        for t in range(k):
            x = torch.zeros(1, 1, i, dtype=torch.float64)
            x[0, 0, j] = 1
            w = torch.zeros(1, 1, k, dtype=torch.float64)
            w[0, 0, t] = 1
            full = F.conv_transpose1d(x, w, stride=s, dilation=d, output_padding=0)
            full = F.pad(full, (0, op))[0, 0, pb : pb + p.out_size[0]]
            hits = torch.nonzero(full).flatten().tolist()
            assert hits == ([m[j, t]] if m[j, t] >= 0 else [])


@given(configs_1d())
def test_phases_cover_every_pair_once(cfg):
    i, k, s, d, pad, op = cfg
    p = plan_from_sizes(i, k, stride=s, padding=(pad,), output_padding=op, dilation=d)
    seen = set()
    for ph in p.phases(0):
        for m in range(ph.count):
            o = ph.residue + m * s
            for t, off in zip(ph.taps, ph.offsets, strict=True):
                if 0 <= m + off < i:
                    seen.add((m + off, t, o))
    assert seen == {(j, t, o[0]) for (j,), (t,), o in p.iter_pairs()}


def test_overlap_counts_is_transposed_conv_of_ones():
    p = plan_from_sizes((4, 5), (3, 2), stride=(2, 3), padding=1, dilation=(1, 2))
    ones = F.conv_transpose2d(torch.ones(1, 1, 4, 5), torch.ones(1, 1, 3, 2), stride=(2, 3), padding=1, dilation=(1, 2))
    np.testing.assert_array_equal(p.overlap_counts(), ones[0, 0].numpy())


def test_contributors_and_reached_check_their_index():
    p = make_plan((1, 1, 3), (1, 1, 3), stride=2)  # out_size 7
    assert p.contributors((6,)) == [((2,), (2,))]
    for bad in ((7,), (-1,), (1, 1), ()):
        with pytest.raises(ConfigError, match="^out_index="):
            p.contributors(bad)
    with pytest.raises(ConfigError, match="^in_index="):
        p.reached((3,))


# ---- issue 16: phases bounded by the kernel, negative padding, padding modes --------------------------------------
@given(configs_1d())
def test_reached_phases_are_the_phases_with_taps(cfg):
    i, k, s, d, pads, op = cfg
    p = plan_from_sizes(i, k, s, (pads,), op, d)
    assert p.reached_phases(0) == tuple(ph for ph in p.phases(0) if ph.taps)


def test_reached_phases_of_a_huge_stride_cost_the_kernel():
    p = plan_from_sizes(2, 3, stride=2**30)  # a 2**30-long output: phases() would list 2**30 of them
    assert len(p.reached_phases(0)) == 3 and p.reached_phases(0)[2].offsets == (0,)


@given(
    i=st.integers(1, 6),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    d=st.integers(1, 2),
    pb=st.integers(-6, 6),
    pa=st.integers(-6, 6),
)
def test_negative_padding_is_zeros_outside_the_full_output(i, k, s, d, pb, pa):
    """Output o is full-output position o + pad_before; outside [0, full) it is zero (JAX's, ONNX's meaning)."""
    full = (i - 1) * s + d * (k - 1) + 1
    if full - pb - pa < 0:
        with pytest.raises(ConfigError, match="leaves an output of size"):
            plan_from_sizes(i, k, s, ((pb, pa),), 0, d)
        return
    p = plan_from_sizes(i, k, s, ((pb, pa),), 0, d)
    assert p.out_size == (full - pb - pa,)
    want = np.full((i, k), -1)
    for j in range(i):
        for t in range(k):
            o = j * s + t * d - pb
            if 0 <= o < p.out_size[0]:
                want[j, t] = o
    np.testing.assert_array_equal(p.index_map(0), want)
    core, around = p.inner
    if core is not None:
        assert around[0][0] == max(-pb, 0) and core.out_size[0] + sum(around[0]) == p.out_size[0]


def test_padding_modes_fold_as_f_pad_reads():
    """fold_index sends each full-output position to the output element F.pad(mode) copied there."""
    for mode in ("circular", "reflect", "replicate"):
        for n, k, pads in ((5, 3, (1, 1)), (4, 5, (2, 1)), (3, 4, (2, 2))):
            if mode == "reflect" and max(pads) >= n:
                continue
            # the conv of an n-input padded by pads, seen as its transpose: out_size == n
            p = make_plan((1, 1, n + sum(pads) - k + 1), (1, 1, k), padding=(pads,), padding_mode=mode)
            assert p.out_size == (n,)
            src = torch.arange(n, dtype=torch.float64).view(1, 1, n)
            read = F.pad(src, list(pads), mode=mode).flatten().long().tolist()
            assert p.fold_index(0).tolist() == read[: p.full_size[0]], (mode, n, k, pads)
