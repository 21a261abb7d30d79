"""tconv.solver: complete against brute force with torch, ranked by the count map, bounded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tconv import solver
from tconv.errors import ConfigError
from tconv.solver import solve


@pytest.mark.parametrize(("i", "o", "transposed"), [(16, 32, True), (7, 14, True), (224, 112, False), (9, 4, False)])
def test_solve_is_complete_and_ranked(i, o, transposed):
    sols = solve(i, o, transposed=transposed, max_kernel=6, max_stride=3, max_dilation=2)
    got = {(x.kernel, x.stride, x.padding, x.output_padding, x.dilation) for x in sols}
    want = set()
    for k in range(1, 7):
        for dd in range(1, 3 if k > 1 else 2):
            for s in range(1, 4):
                for p in range(0, dd * (k - 1) + 1):
                    if transposed:
                        for op in range(max(s, dd)):
                            n = (i - 1) * s - 2 * p + dd * (k - 1) + op + 1
                            if n == o:
                                y = F.conv_transpose1d(
                                    torch.zeros(1, 1, i), torch.zeros(1, 1, k), None, s, p, op, 1, dd
                                )
                                assert y.shape[-1] == o
                                want.add((k, s, p, op, dd))
                    elif dd * (k - 1) + 1 <= i + 2 * p:
                        y = F.conv1d(torch.zeros(1, 1, i), torch.zeros(1, 1, k), None, s, p, dd)
                        if y.shape[-1] == o:
                            want.add((k, s, p, 0, dd))
    assert got == want and len(sols) == len(got)
    assert [x.rank for x in sols] == list(range(len(sols)))
    # the count map by brute force: transposed convolution of ones (for a conv: its gradient w.r.t. the input)
    for x in sols:
        w = torch.ones(1, 1, x.kernel, dtype=torch.float64)
        if transposed:
            counts = F.conv_transpose1d(
                torch.ones(1, 1, i, dtype=torch.float64), w, None, x.stride, x.padding, x.output_padding, 1, x.dilation
            )[0, 0]
        else:
            xin = torch.ones(1, 1, i, dtype=torch.float64, requires_grad=True)
            F.conv1d(xin, w, None, x.stride, x.padding, x.dilation).sum().backward()
            counts = xin.grad[0, 0]
        counts = counts.round().long()
        np.testing.assert_array_equal(x.count_map(), counts.numpy())
        assert x.holes == int((counts == 0).sum())
        assert x.even_overlap == (x.holes == 0 and int(counts.min()) == int(counts.max()))
        assert (x.min_count, x.max_count) == (int(counts.min()), int(counts.max()))
    keys = [(x.holes > 0, x.holes, not x.even_overlap, x.max_count / x.min_count if x.min_count else x.max_count)
            for x in sols]  # fmt: skip
    assert keys == sorted(keys)
    best = sols[0]
    assert best.holes == 0
    m = best.module(1, 1, nd=1)
    assert m(torch.zeros(1, 1, i)).shape[-1] == o


def test_solve_examples():
    assert [(x.kernel, x.stride, x.padding) for x in solve(16, 32, transposed=True)[:3]] == [
        (2, 2, 0),
        (6, 2, 2),
        (4, 2, 1),
    ]
    assert solve(16, 32, transposed=True, allow_output_padding=False)[-1].output_padding == 0
    assert solve(5, 100) == []
    # the complaints: holes rank last, "even overlap" only for flat maps
    sols = solve(7, 28, transposed=True)
    assert (sols[0].kernel, sols[0].stride) == (4, 4)
    assert [(x.kernel, x.stride) for x in sols[-4:]] == [(3, 4), (3, 4), (2, 4), (1, 4)]  # the most holes last
    holey = [x.holes > 0 for x in sols]
    assert holey == sorted(holey)  # every hole-free layer first
    sols = solve(8, 17, transposed=True, max_dilation=2)
    k2s2d2 = next(x for x in sols if (x.kernel, x.stride, x.dilation) == (2, 2, 2))
    assert k2s2d2.holes > 0 and all(x.holes == 0 for x in sols[:5])
    assert solve(16, 32, transposed=True)[2].describe() == "uneven overlap (count map 1..2)"  # k4 s2: k % s == 0


def test_solve_search_is_bounded(monkeypatch):
    def no_search(*args):
        raise AssertionError("the search ran")

    monkeypatch.setattr(solver, "_candidates", no_search)  # refused before any work (no timed assertion)
    with pytest.raises(ConfigError, match=r"^max_kernel=100000 .* 400000 .*the limit is 2000"):
        solve(16, 32, transposed=True, max_kernel=10**5)
