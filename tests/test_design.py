"""tconv.design: solve_stack against brute force with count maps; decoder_for round trips on random encoders."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tconv
from tconv.design import decoder_for, solve_stack
from tconv.errors import ConfigError


def _layers_brute(i: int, kmax: int, smax: int):
    """Every (k, s, p, op) transposed layer from size i (d = 1, p <= k - 1, op < s), with its output size by torch."""
    for k in range(1, kmax + 1):
        for s in range(1, smax + 1):
            for p in range(k):
                for op in range(s):
                    try:
                        n = F.conv_transpose1d(torch.zeros(1, 1, i), torch.zeros(1, 1, k), None, s, p, op).shape[-1]
                    except RuntimeError:
                        continue
                    yield (k, s, p, op), n


def _paths(i: int, chain) -> np.ndarray:
    y = torch.ones(1, 1, i, dtype=torch.float64)
    for k, s, p, op in chain:
        y = F.conv_transpose1d(y, torch.ones(1, 1, k, dtype=torch.float64), None, s, p, op)
    return y[0, 0].round().long().numpy()


@pytest.mark.parametrize(("i", "o"), [(3, 12), (4, 9), (5, 5)])
def test_solve_stack_is_complete_and_ranked_by_the_count_map(i, o):
    kmax, smax = 4, 3
    got = solve_stack(i, o, layers=2, max_kernel=kmax, max_stride=smax)
    want = {}
    for l1, mid in _layers_brute(i, kmax, smax):
        ok_mid = (i < mid < o) if i < o else (mid == i == o)
        if not ok_mid:
            continue
        for l2, n in _layers_brute(mid, kmax, smax):
            if n == o:
                want[(l1, l2)] = _paths(i, (l1, l2))
    key = {tuple((s.kernel, s.stride, s.padding, s.output_padding) for s in st.layers_of(0)): st for st in got}
    assert set(key) == set(want) and len(got) == len(want)
    for chain, st in key.items():
        np.testing.assert_array_equal(st.count_map(), want[chain])
        c = want[chain]
        assert st.holes == int((c == 0).sum()) and st.even_overlap == (st.holes == 0 and c.min() == c.max())
    ranked = [
        (s.holes > 0, s.holes, not s.even_overlap, s.max_count / s.min_count if s.min_count else s.max_count)
        for s in got
    ]
    assert ranked == sorted(ranked)
    assert [s.rank for s in got] == list(range(len(got)))


def test_solve_stack_examples_and_nd():
    best = solve_stack(7, 28, layers=2)[0]
    assert [(s.kernel, s.stride) for s in best.layers_of(0)] == [(2, 2), (2, 2)] and best.even_overlap
    st = solve_stack((7, 5), (28, 20), layers=2, top=3)
    assert len(st) == 3
    for s in st:
        y = s.modules((2, 3, 1))(torch.zeros(1, 2, 7, 5))
        assert tuple(y.shape) == (1, 1, 28, 20)
        assert s.count_map().shape == (28, 20)
        cm = s.count_map()
        assert s.holes == int((cm == 0).sum()) and s.max_count == int(cm.max())
    with pytest.raises(ConfigError, match="^layers=0"):
        solve_stack(7, 28, layers=0)
    with pytest.raises(ConfigError, match="^output_size="):
        solve_stack((7, 7), 28)
    with pytest.raises(ConfigError, match="^max_kernel="):
        solve_stack(7, 28, max_kernel=10**5)
    assert tconv.solve_stack is solve_stack and tconv.decoder_for is decoder_for


# ----------------------------------------------------------------------------------------------------------------
# decoder_for
# ----------------------------------------------------------------------------------------------------------------
def _random_encoder(rng: random.Random):
    nd = rng.choice([1, 2])
    conv, pool, avg = (getattr(nn, f"{n}{nd}d") for n in ("Conv", "MaxPool", "AvgPool"))
    layers, ch = [], rng.randint(1, 3)
    c_in = ch
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["conv", "conv", "max", "avg"])
        k = rng.randint(1, 5)
        s = rng.randint(1, 3)
        if kind == "conv":
            out = rng.randint(1, 3)
            d = rng.randint(1, 2)
            p = rng.choice([rng.randint(0, 2), "same"]) if s == 1 else rng.randint(0, 2)
            layers += [conv(ch, out, k, stride=s, padding=p, dilation=d), nn.ReLU()]
            ch = out
        elif kind == "max":
            layers.append(pool(k, s, rng.randint(0, k // 2), ceil_mode=rng.random() < 0.5))
        else:
            layers.append(avg(k, s, rng.randint(0, k // 2), ceil_mode=rng.random() < 0.5))
        if rng.random() < 0.3:
            layers.append(getattr(nn, f"BatchNorm{nd}d")(ch))
    return nn.Sequential(*layers).eval(), nd, c_in


def _sizes(model: nn.Sequential, x: torch.Tensor) -> list[tuple[int, ...]]:
    out = [tuple(x.shape[2:])]
    for m in model:
        x = m(x)
        out.append(tuple(x.shape[2:]))
    return out


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
def test_decoder_for_round_trips_50_random_encoders():
    rng = random.Random(0)
    done = 0
    while done < 50:
        enc, nd, c_in = _random_encoder(rng)
        size = tuple(rng.randint(8, 40) for _ in range(nd))
        x = torch.zeros(1, c_in, *size)
        try:
            with torch.no_grad():
                enc_sizes = _sizes(enc, x)
        except RuntimeError:
            with pytest.raises(ConfigError):
                decoder_for(enc, size)
            continue
        dec = decoder_for(enc, size)
        with torch.no_grad():
            y = enc(x)
            dec_sizes = _sizes(dec, y)
        geometric = [
            s
            for s, m in zip(enc_sizes, [None, *enc], strict=True)
            if not isinstance(m, (nn.ReLU, nn.modules.batchnorm._NormBase))
        ]
        back = [s for s, m in zip(dec_sizes, [None, *dec], strict=True) if not isinstance(m, nn.ReLU)]
        assert back == geometric[::-1], (enc, size)
        assert dec_sizes[-1] == size and dec(y).shape[1] == c_in
        done += 1


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
def test_decoder_for_copy_weights_is_the_adjoint_and_traced_encoders():
    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(2, 3, 3, stride=2, padding=1)
            self.b = nn.Conv2d(3, 4, 3, stride=2)

        def forward(self, x):
            return self.b(self.a(x))

    torch.manual_seed(0)
    enc = Enc().double()
    dec = decoder_for(enc, (2, 17, 16), copy_weights=True).double()
    x = torch.randn(1, 2, 17, 16, dtype=torch.float64)
    y = torch.randn(enc(x).shape, dtype=torch.float64)
    # <C x, y> == <x, C^T y> with the biases out of the way
    for m in (enc.a, enc.b):
        m.bias.data.zero_()
    lhs = (enc(x) * y).sum()
    rhs = (x * dec(y)).sum()
    torch.testing.assert_close(lhs, rhs)
    # "same" with an even kernel pads (1, 2): the mirror crops by hand and is still the adjoint
    same = nn.Conv1d(1, 1, 4, padding="same", bias=False).double()
    dec = decoder_for(nn.Sequential(same), 9, copy_weights=True).double()
    x, y = torch.randn(1, 1, 9, dtype=torch.float64), torch.randn(1, 1, 9, dtype=torch.float64)
    torch.testing.assert_close((same(x) * y).sum(), (x * dec(y)).sum())

    class NotAChain(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(1, 1, 3)

        def forward(self, x):
            return self.a(x) + x[..., 1:-1, 1:-1]

    with pytest.raises(ConfigError, match="^encoder="):
        decoder_for(NotAChain(), 9)
    with pytest.raises(ConfigError, match=r"^encoder\[1\]='Linear'"):
        decoder_for(nn.Sequential(nn.Conv1d(1, 1, 3), nn.Linear(7, 3)), 9)
