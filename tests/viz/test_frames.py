"""Content tests for tconv.viz: every frame's geometry and numbers against the operator, the plan and C."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
from tconv import ConfigError
from tconv.geometry import conv_plan, plan_from_sizes
from tconv.viz import animate, frame_canvas, graph_edges, matrix_figure, render_frames, scene
from tconv.viz.layout import _layout, _num
from tconv.viz.style import INPUT_DARK, OUTPUT_DARK

CONFIGS = [
    # (in_size, kernel, stride, padding, output_padding, dilation)
    (3, 3, 1, 0, 0, 1),
    (3, 3, 2, 1, 1, 1),
    (4, 2, 3, ((2, 0),), 2, 1),
    (3, 3, 1, 0, 0, 2),
    (3, 2, 2, 3, 1, 2),  # padding > d(k-1): the equivalent convolution crops
    ((2, 3), 3, 2, 1, 0, 1),
    ((3, 2), (2, 3), (2, 1), ((1, 0), (0, 2)), (1, 0), 1),
    ((2, 2), 2, 1, 0, (1, 0), (2, 1)),
]


def _plan(cfg):
    i, k, s, p, op, d = cfg
    return plan_from_sizes(i, k, s, p, op, d)


def _values(plan, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=plan.in_size), rng.normal(size=plan.kernel_size)


def _reference(plan, x, w):
    return tconv.conv_transpose(
        x[None],
        w[None, None],
        stride=plan.stride,
        padding=plan.padding,
        output_padding=plan.output_padding,
        dilation=plan.dilation,
        method="scatter",
    )[0]


def _in_output(sc, cell):
    return all(0 <= c < n for c, n in zip(cell, sc.out_shape, strict=True))


@pytest.mark.parametrize("cfg", CONFIGS)
def test_scatter_frames_paint_the_operator_output(cfg):
    plan = _plan(cfg)
    x, w = _values(plan)
    sc = scene(plan, view="scatter", x=x, w=w)
    assert len(sc.frames) == math.prod(plan.in_size)  # one frame per input element
    assert [f.focus for f in sc.frames] == list(itertools.product(*map(range, plan.in_size)))
    painted = np.zeros(plan.out_size)
    for f in sc.frames:
        for cell, v in f.paint:
            if _in_output(sc, cell):
                painted[cell] += v
        # what the frame highlights is exactly what the plan says the input reaches (cropped cells aside)
        assert sorted((o, t) for _, t, o in f.pairs) == plan.reached(f.focus)
        assert len(f.kernel) == math.prod(plan.kernel_size)
        kept = [(c, t) for c, t in f.kernel if _in_output(sc, c)]
        assert sorted(kept) == sorted((o, t) for _, t, o in f.pairs)
    np.testing.assert_allclose(painted, _reference(plan, x, w), atol=1e-12)
    np.testing.assert_allclose(sc.output, _reference(plan, x, w), atol=1e-12)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_equivalent_frames_highlight_the_contributors(cfg):
    plan = _plan(cfg)
    x, w = _values(plan, 1)
    sc = scene(plan, view="equivalent", x=x, w=w)
    ref = _reference(plan, x, w)
    assert len(sc.frames) == math.prod(plan.out_size)  # one frame per output element
    for f in sc.frames:
        o = f.focus
        real = sorted(
            (tuple(u // s for u, s in zip(c, plan.stride, strict=True)), t)
            for c, t in f.kernel
            if sc.source.kind_at(c) == "input"
        )
        assert real == plan.contributors(o)
        assert [(j, t) for j, t, _ in f.pairs] == plan.contributors(o)
        assert f.paint == ((o, pytest.approx(ref[o])),)
        assert f.written[o] and f.counts[o] == len(plan.contributors(o))
        # the kernel lies flipped: flat taps run backwards over the window
        taps = [np.ravel_multi_index(t, plan.kernel_size) for _, t in f.kernel]
        assert taps == list(range(math.prod(plan.kernel_size)))[::-1]
    np.testing.assert_allclose(sc.output, ref, atol=1e-12)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_final_counts_are_the_overlap_counts(cfg):
    plan = _plan(cfg)
    for view in ("equivalent", "scatter"):
        sc = scene(plan, view=view)
        last = sc.frames[-1].counts
        sl = tuple(slice(-lo, -lo + n) for lo, n in zip(sc.target.lo, plan.out_size, strict=True))
        np.testing.assert_array_equal(last[sl], plan.overlap_counts())


@pytest.mark.parametrize("cfg", CONFIGS)
def test_equivalent_grid_is_the_plans_equivalent_conv(cfg):
    """Along each dimension: pad cells, then inputs with s - 1 zeros between, then pad cells, as the plan's equivalent
    convolution says; a negative padding crops cells instead (drawn as "cropped")."""
    plan = _plan(cfg)
    sc = scene(plan)
    eq = plan.equivalent_conv
    for d in range(plan.nd):
        line = list(sc.source.kind[tuple(slice(None) if e == d else 0 for e in range(plan.nd))])
        eb, ea = eq.pad[d]
        up, s = eq.upsampled_size[d], plan.stride[d]
        first_row = ["pad"] * max(eb, 0) + ["cropped"] * max(-eb, 0)
        middle = ["input" if u % s == 0 else "zero" for u in range(max(-eb, 0), up - max(-ea, 0))]
        last_row = ["cropped"] * max(-ea, 0) + ["pad"] * max(ea, 0)
        if plan.nd == 1:
            assert line == first_row + middle + last_row
        else:
            assert len(line) == len(first_row) + len(middle) + len(last_row)
    if all(min(p) >= 0 for p in eq.pad):
        assert (sc.source.kind == "input").sum() == math.prod(plan.in_size)
        assert (sc.source.kind == "zero").sum() == math.prod(eq.upsampled_size) - math.prod(plan.in_size)


@pytest.mark.parametrize(
    "args",
    [((4, 4), 3, 1, 0, 1), ((5, 5), 4, 1, 2, 1), ((6, 6), 3, 2, 1, 1), ((7, 7), 3, 1, 0, 2), (6, 3, 2, (1, 0), 1)],
)
def test_conv_view_matches_torch_conv(args):
    i, k, s, p, d = args
    plan = conv_plan(i, k, s, [p] if isinstance(p, tuple) else p, d)
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=plan.out_size), rng.normal(size=plan.kernel_size)
    sc = scene(plan, op="conv", x=x, w=w)
    assert len(sc.frames) == math.prod(plan.in_size)  # one frame per convolution output
    pads = [pp for pair in reversed(plan.padding) for pp in pair]
    xt = torch.nn.functional.pad(torch.from_numpy(x)[None, None], pads)
    f = torch.nn.functional.conv1d if plan.nd == 1 else torch.nn.functional.conv2d
    ref = f(xt, torch.from_numpy(w)[None, None], stride=plan.stride, dilation=plan.dilation)[0, 0].numpy()
    np.testing.assert_allclose(sc.output, ref, atol=1e-12)
    for fr in sc.frames:
        assert sorted((c, t) for _, t, c in fr.pairs) == plan.reached(fr.focus)


def test_conv_and_transposed_views_are_transposes_via_the_matrix():
    """Row j of C (conv_matrix) is the window of conv frame j; column o is the contributors of transposed frame o."""
    plan = conv_plan((5, 5), 3, 2, 1)
    C = tconv.conv_matrix(plan).toarray()
    conv = scene(plan, op="conv")
    for j, fr in enumerate(conv.frames):
        cols = sorted(np.ravel_multi_index(c, plan.out_size) for _, _, c in fr.pairs)
        assert cols == list(np.flatnonzero(C[j]))
    tr = scene(plan)
    for o, fr in enumerate(tr.frames):
        rows = sorted(np.ravel_multi_index(j, plan.in_size) for j, _, _ in fr.pairs)
        assert rows == list(np.flatnonzero(C[:, o]))


@settings(max_examples=40, deadline=None)
@given(
    nd=st.integers(1, 2),
    data=st.data(),
)
def test_random_configurations(nd, data):
    i = tuple(data.draw(st.integers(1, 4)) for _ in range(nd))
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    p = tuple((data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))) for _ in range(nd))
    op = tuple(data.draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d, strict=True))
    try:
        plan = plan_from_sizes(i, k, s, p, op, d)
    except ConfigError:
        return
    if 0 in plan.out_size:  # an empty output (allowed since issue 16) has nothing to animate: refused by name
        with pytest.raises(ConfigError, match="leaves an empty output"):
            scene(plan)
        return
    x, w = _values(plan, 3)
    ref = _reference(plan, x, w)
    for view in ("equivalent", "scatter"):
        sc = scene(plan, view=view, x=x, w=w)
        np.testing.assert_allclose(sc.output, ref, atol=1e-12)
    eq = scene(plan, x=x, w=w)
    for f in eq.frames:
        assert [(j, t) for j, t, _ in f.pairs] == plan.contributors(f.focus)


def test_rendered_frames_show_the_scene():
    """The picture itself: the output being written is outlined, the scattered input is filled, numbers are drawn."""
    sc = animate("transposed", (2, 3), 3, stride=2, padding=1)
    frames = render_frames(sc, scale=1)
    assert len(frames) == len(sc.frames)
    assert len({f.shape for f in frames}) == 1
    L = _layout(sc, False, None)
    dark = np.array([int(OUTPUT_DARK[i : i + 2], 16) for i in (1, 3, 5)])
    for fr, img in zip(sc.frames, frames, strict=True):
        x, y = L.target_xy[fr.focus]
        border = img[round(y) + 1, round(x + L.cell / 2)].astype(int)  # on the 3-px outline of the focus cell
        assert np.abs(border - dark).max() < 40
    scs = animate("transposed", (2, 3), 3, stride=2, view="scatter")
    img = render_frames(scs, scale=1)[4]
    L = _layout(scs, False, None)
    x, y = L.source_xy[scs.frames[4].focus]
    edge = img[round(y), round(x + L.cell / 2)].astype(int)
    assert np.abs(edge - np.array([int(INPUT_DARK[i : i + 2], 16) for i in (1, 3, 5)])).max() < 40


def test_numbers_drawn_are_the_frame_values():
    sc = animate("transposed", (2, 2), 3, stride=2, view="scatter")
    L = _layout(sc, True, None)
    for step in (0, len(sc.frames) - 1):
        cv = frame_canvas(sc, step, numbers=True)
        fr = sc.frames[step]
        texts = {(round(op[1]), round(op[2])): op[3] for op in cv.ops if op[0] == "text"}
        for cell, (x, y) in L.target_xy.items():
            ix = tuple(c - lo for c, lo in zip(cell, sc.target.lo, strict=True))
            if fr.counts[ix]:
                centre = [
                    v for (tx, ty), v in texts.items() if abs(tx - (x + L.cell / 2)) <= 1 and y < ty < y + L.cell * 0.7
                ]
                assert _num(fr.values[ix]) in centre
    # the input values are written in the input cells
    cv = frame_canvas(sc, 0, numbers=True)
    shown = [op[3] for op in cv.ops if op[0] == "text"]
    for j in itertools.product(*map(range, sc.plan.in_size)):
        assert _num(sc.x[j]) in shown


def test_one_dimensional_rows_line_up():
    """1-D: each output sits over the middle of its window (equivalent) and each input over the middle of its reach."""
    plan = plan_from_sizes(3, 3, stride=2, padding=1)
    sc = scene(plan)
    for f in sc.frames:
        xs = [sc.source.pos[c[0] - sc.source.lo[0]] for c, _ in f.kernel]
        assert sc.target.pos[f.focus[0]] == pytest.approx((min(xs) + max(xs)) / 2)
    sc = scene(plan, view="scatter")
    for f in sc.frames:
        xs = [sc.target.pos[c[0] - sc.target.lo[0]] for c, _ in f.kernel]
        assert sc.source.pos[f.focus[0]] == pytest.approx((min(xs) + max(xs)) / 2)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("plan", [conv_plan((4, 4), 3), conv_plan((5, 5), 3, 2, 1), plan_from_sizes(3, 3, 2)])
def test_matrix_figure_nonzeros_are_conv_matrix(plan, transposed):
    fig = matrix_figure(plan, transposed=transposed)
    ax = next(a for a in fig.axes if a.get_label() == ("CT" if transposed else "C"))
    drawn = {}
    for t in ax.texts:
        x, y = t.get_position()
        drawn[(int(y), int(x))] = t.get_text()
    C = tconv.conv_matrix(plan)
    C = (C.T if transposed else C).tocoo()
    expected = {}
    for r, c, v in zip(C.row, C.col, C.data, strict=True):
        tap = np.unravel_index(int(v) - 1, plan.kernel_size)
        expected[(int(r), int(c))] = "$w_{" + ",".join(str(int(a)) for a in tap) + "}$"
    assert drawn == expected


def test_graph_edges_are_the_index_map():
    plan = plan_from_sizes(3, 3, stride=2, padding=((1, 0),), output_padding=1)
    pb = plan.pad_before[0]
    solid = sorted((round(b), t) for _, b, t, style in graph_edges(plan, "transposed") if style == "solid")
    assert solid == sorted((o[0], t[0]) for _, t, o in plan.iter_pairs())
    eq = [e for e in graph_edges(plan, "equivalent") if e[3] == "solid"]
    assert len(eq) == sum(1 for _ in plan.iter_pairs())
    conv = sorted((round(a), t) for a, _, t, style in graph_edges(plan, "conv") if style == "solid")
    assert conv == sorted((o[0], t[0]) for _, t, o in plan.iter_pairs())
    dashed = [e for e in graph_edges(plan, "transposed") if e[3] == "dashed"]
    assert len(dashed) == math.prod(plan.in_size) * 3 - len(solid)  # the cropped ones
    assert pb == 1
    dil = graph_edges(plan_from_sizes(3, 3, dilation=2), "conv")
    assert sum(1 for e in dil if e[3] == "zero-weight") == 3 * 2  # 3 windows x (5 - 3) skipped elements


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"op": "deconv"}, "op"),
        ({"view": "sideways"}, "view"),
        ({"op": "conv", "view": "scatter"}, "view"),
        ({"x": np.ones(4)}, "x"),
        ({"w": np.ones((2, 2))}, "w"),
    ],
)
def test_bad_input_raises_config_error(kwargs, param):
    with pytest.raises(ConfigError) as e:
        scene(plan_from_sizes(3, 3), **kwargs)
    assert e.value.param == param


def test_limits_and_dimensions():
    with pytest.raises(ConfigError, match="1-D or 2-D"):
        scene(plan_from_sizes((2, 2, 2), 2))
    with pytest.raises(ConfigError, match="frames"):
        scene(plan_from_sizes((40, 40), 3))
    with pytest.raises(ConfigError, match="output_padding"):
        animate("conv", 5, 3, output_padding=1)
    with pytest.raises(ConfigError):
        matrix_figure(plan_from_sizes((40, 40), 3))
    from tconv.viz import graph_figure

    with pytest.raises(ConfigError, match="1-D"):
        graph_figure(plan_from_sizes((2, 2), 2))
