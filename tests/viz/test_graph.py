"""The graph diagram's output_padding cells and notes, the matrix command's default, the CLI's progress lines."""

from __future__ import annotations

import io

import pytest
from typer.testing import CliRunner

from tconv.cli import app
from tconv.geometry import plan_from_sizes
from tconv.progress import steps
from tconv.viz.graph import _notes, _panel, graph_figure

runner = CliRunner()


def _kinds(plan, panel):
    return {int(x): kind for x, kind, _ in _panel(plan, panel)[1]}


@pytest.mark.parametrize("panel", ["transposed", "equivalent"])
def test_output_padding_cells_past_the_full_result_are_extra(panel):
    # i=4 k=3 s=3 p=1 op=2: full result 3*3+3 = 12 positions, crop 1 before -> outputs 0..10 are reached; padding 1
    # after is cancelled by output_padding, and output 11 lies past the full result: no input reaches it
    plan = plan_from_sizes(4, 3, stride=3, padding=1, output_padding=2)
    kinds = _kinds(plan, panel)
    extra = sorted(o for o, k in kinds.items() if k == "extra")
    assert extra == [11]
    reached = {o for pairs in (plan.reached((j,)) for j in range(4)) for (o,), _ in pairs}
    assert reached == set(range(11))  # exactly the non-extra outputs, computed by the plan itself
    assert all(kinds[o] == "output" for o in reached)


def test_transposed_notes_say_what_is_drawn():
    plan = plan_from_sizes(4, 3, stride=3, padding=1, output_padding=2)
    text = _notes(plan, "transposed")
    assert "crops 1 output before (dashed)" in text and "1 output past the full result" in text
    assert "1 after (dashed)" not in text  # the old text promised a crop after that is not there
    kinds = _kinds(plan, "transposed")
    assert [k for k in kinds.values()].count("cropped") == 1  # the one crop the text mentions (before)
    # padding larger than output_padding: the rest is cropped after, and drawn dashed
    plan2 = plan_from_sizes(4, 3, stride=2, padding=2, output_padding=1)
    assert "p=2 after, op=1: 1 output cropped after (dashed)" in _notes(plan2, "transposed")
    assert [k for k in _kinds(plan2, "transposed").values()].count("cropped") == 3  # 2 before, 1 after
    plain = plan_from_sizes(3, 3, stride=2, padding=1)
    assert _notes(plain, "transposed").endswith("padding crops 1 output after (dashed)")
    assert "extra" not in _kinds(plain, "transposed").values()


def test_graph_with_numbers_shows_the_sums_the_plan_gives():
    from tconv.viz import example_values

    plan = plan_from_sizes(4, 3, stride=2, padding=1, output_padding=1)
    fig = graph_figure(plan, numbers=True, seed=3)
    x, w = example_values((4,), "input", 3), example_values((3,), "kernel", 3)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    for o in range(plan.out_size[0]):
        y = sum(x[j] * w[t] for (j,), (t,) in plan.contributors((o,)))
        assert texts.count(f"y[{o}]") == 2  # tagged in panels (b) and (c)
        assert f"{y:g}" in texts
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [f"$w_{{{t}}}$ = {w[t]:g}" for t in range(3)]
    assert "y[0]" not in [t.get_text() for ax in graph_figure(plan).axes for t in ax.texts]


def test_graph_figure_draws_the_dotted_extra_node():
    fig = graph_figure(plan_from_sizes(4, 3, stride=3, padding=1, output_padding=2))
    dotted = [p for ax in fig.axes for p in ax.patches if p.get_linestyle() not in ("-", "solid", "--", "dashed")]
    # one extra node in panel (b) and one in panel (c), plus the dashed zero/pad nodes
    whites = [p for p in dotted if p.get_facecolor()[:3] == (1.0, 1.0, 1.0) and p.get_linewidth() > 1.1]
    assert len(whites) == 2


@pytest.mark.parametrize(
    "args, expect",
    [
        (["matrix", "transposed", "-i", "2x2", "-k", "3"], True),
        (["matrix", "conv", "-i", "4x4", "-k", "3"], False),
        (["matrix", "transposed", "-i", "2x2", "-k", "3", "-F"], False),
        (["matrix", "conv", "-i", "4x4", "-k", "3", "-T"], True),
    ],
)
def test_matrix_draws_ct_for_a_transposed_convolution_by_default(tmp_path, monkeypatch, args, expect):
    import tconv.viz as viz

    seen = []
    real = viz.matrix_figure

    def spy(plan, transposed=False):
        seen.append((plan.in_size, plan.out_size, transposed))
        return real(plan, transposed=transposed)

    monkeypatch.setattr(viz, "matrix_figure", spy)
    res = runner.invoke(app, [*args, "-o", str(tmp_path / "m.png")])
    assert res.exit_code == 0, res.output
    assert seen[0][2] is expect


def test_progress_lines_when_not_a_terminal(tmp_path):
    buf = io.StringIO()
    with steps("job", 3, stream=buf) as step:
        for name in ("a", "b", "c"):
            step(name)
    assert buf.getvalue().splitlines() == ["job [1/3] a", "job [2/3] b", "job [3/3] c"]
    res = runner.invoke(app, ["gallery", "--out", str(tmp_path / "g"), "--only", "seed000_basic_graph"])
    assert res.exit_code == 0, res.output
    assert "gallery [1/1] seed000_basic_graph" in res.output
