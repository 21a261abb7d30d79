"""tconv.viz export (GIF, MP4, PNG/SVG sheets), the gallery and the tour section; the CLI commands."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image, ImageSequence
from typer.testing import CliRunner

from tconv import ConfigError
from tconv.cli import app
from tconv.cli.viz import parse_padding
from tconv.viz import CASES, animate, build_gallery, contact_sheet, render_frames, save_animation
from tconv.viz.gallery import _cli

runner = CliRunner()


@pytest.fixture(scope="module")
def small_scene():
    return animate("transposed", (2, 2), 3, stride=2, padding=1, output_padding=1, view="scatter")


def test_gif_has_one_frame_per_step_and_holds_the_last(tmp_path, small_scene):
    path = save_animation(small_scene, tmp_path / "a.gif", fps=4)
    frames, durations = [], []
    for f in ImageSequence.Iterator(Image.open(path)):
        frames.append(f.convert("RGB"))
        durations.append(f.info["duration"])
    assert len(frames) == len(small_scene.frames)
    assert durations[0] == 250 and durations[-1] == 750
    # the GIF shows the rendered frames (up to palette quantization)
    ref = render_frames(small_scene)
    got = np.asarray(frames[-1]).astype(int)
    assert got.shape == ref[-1].shape
    assert np.abs(got - ref[-1]).mean() < 6


def test_png_and_svg_contact_sheets(tmp_path, small_scene):
    n = len(small_scene.frames)
    png = Image.open(save_animation(small_scene, tmp_path / "s.png", columns=2))
    h, w = render_frames(small_scene)[0].shape[:2]
    assert png.size == (2 * w + 8, math.ceil(n / 2) * (h + 8) - 8)
    np.testing.assert_array_equal(np.asarray(png.convert("RGB")), contact_sheet(small_scene, columns=2))
    root = ET.parse(save_animation(small_scene, tmp_path / "s.svg")).getroot()
    groups = [g for g in root if g.tag.endswith("g")]
    assert len(groups) == n
    texts = ["".join(t.itertext()) for t in root.iter() if t.tag.endswith("text")]
    assert f"step {n} / {n}" in texts


def test_mp4(tmp_path, small_scene):
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v2 as iio

    path = save_animation(small_scene, tmp_path / "a.mp4", fps=5)
    reader = iio.get_reader(path, format="FFMPEG")
    frames = [f for f in reader]  # noqa: C416 - len(reader) is inf, so list(reader) would not stop
    reader.close()
    assert len(frames) == len(small_scene.frames) + 2  # the last frame is held
    assert frames[0].shape[0] % 16 == 0 and frames[0].shape[1] % 16 == 0


def test_save_rejects_bad_arguments(tmp_path, small_scene):
    with pytest.raises(ConfigError, match="out"):
        save_animation(small_scene, tmp_path / "a.jpg")
    with pytest.raises(ConfigError, match="fps"):
        save_animation(small_scene, tmp_path / "a.gif", fps=0)
    assert not list(tmp_path.iterdir())


def test_gallery_cases_cover_conv_arithmetic():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    arith = [
        "no_padding_no_strides",
        "arbitrary_padding_no_strides",
        "same_padding_no_strides",
        "full_padding_no_strides",
        "no_padding_strides",
        "padding_strides",
        "padding_strides_odd",
        "dilation",
    ]
    for n in arith:
        assert n in names and f"{n}_transposed" in names and f"{n}_transposed_scatter" in names
    by = {c.name: c for c in CASES}
    # conv_arithmetic's sizes: e.g. padding_strides_odd is i=6 -> o=3, and its transpose needs output_padding 1
    assert by["padding_strides_odd"].plan.in_size == (3, 3)
    assert by["padding_strides_odd_transposed"].plan.output_padding == (1, 1)
    assert by["full_padding_no_strides"].plan.in_size == (7, 7)
    for c in CASES:  # every case is a valid plan and every animation has a CLI command
        assert c.plan.nd in (1, 2)
        assert (_cli(c) != "") == (c.kind == "animation")
    kinds = {c.kind for c in CASES}
    assert kinds == {"animation", "graph", "matrix"}


def test_gallery_cli_commands_redraw_the_same_scene(tmp_path):
    """The command shown under each gallery animation really redraws it (checked for a few)."""
    for name in ("padding_strides_odd", "asymmetric_padding_scatter", "seed000_dilated"):
        case = next(c for c in CASES if c.name == name)
        args = _cli(case).split()[1:]
        args[-1] = str(tmp_path / case.filename)
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        assert case.plan.describe().split("->")[0] != ""
        n = len(list(ImageSequence.Iterator(Image.open(tmp_path / case.filename))))
        expected = math.prod(case.plan.in_size if case.op == "conv" or case.view == "scatter" else case.plan.out_size)
        assert n == expected


def test_build_gallery_writes_an_index(tmp_path):
    chosen = [c for c in CASES if c.name in ("no_padding_strides", "seed000_basic_graph", "matrix_seed001_C")]
    index = build_gallery(tmp_path, cases=chosen)
    text = index.read_text()
    for c in chosen:
        assert (tmp_path / c.filename).exists()
        assert f"src='{c.filename}'" in text
    assert "tconv animate conv -i 5x5 -k 3 -s 2 -o no_padding_strides.gif" in text


def test_parse_padding():
    assert parse_padding("2") == (2,)
    assert parse_padding("1x0") == (1, 0)
    assert parse_padding("1:0") == ((1, 0),)
    assert parse_padding("1:0x2") == ((1, 0), (2, 2))
    with pytest.raises(ConfigError, match="padding"):
        parse_padding("1:a")
    with pytest.raises(ConfigError, match="padding"):
        parse_padding("1:2:3")


def test_cli_animate_and_friends(tmp_path):
    out = tmp_path / "t.gif"
    res = runner.invoke(
        app,
        ["animate", "transposed", "-i", "2x3", "-k", "3", "-s", "2", "-p", "1", "--view", "scatter", "-o", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert len(list(ImageSequence.Iterator(Image.open(out)))) == 6
    res = runner.invoke(
        app, ["animate", "conv", "-i", "5", "-k", "3", "-p", "1:0", "--numbers", "-o", str(tmp_path / "c.png")]
    )
    assert res.exit_code == 0, res.output
    assert "o=4" in res.output
    res = runner.invoke(app, ["graph", "-i", "3", "-k", "3", "-s", "2", "--op", "1", "-o", str(tmp_path / "g.svg")])
    assert res.exit_code == 0 and (tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")
    res = runner.invoke(app, ["matrix", "conv", "-i", "4x4", "-k", "3", "-T", "-o", str(tmp_path / "m.png")])
    assert res.exit_code == 0 and Image.open(tmp_path / "m.png").size[1] > Image.open(tmp_path / "m.png").size[0]
    res = runner.invoke(app, ["gallery", "--out", str(tmp_path / "gal"), "--only", "seed000_basic_graph"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "gal").iterdir()) == ["index.html", "seed000_basic_graph.png"]


@pytest.mark.parametrize(
    "args, param",
    [
        (["animate", "conv", "-i", "5", "--op", "1"], "output_padding"),
        (["animate", "conv", "-i", "5", "--view", "scatter"], "view"),
        (["animate", "transposed", "-i", "5", "-s", "0"], "stride"),
        (["animate", "transposed", "-i", "5x5x5"], "input"),
        (["animate", "transposed", "-i", "five"], "input"),
        (["animate", "deconv", "-i", "5"], "op"),
        (["animate", "transposed", "-i", "5", "-p", "9"], "padding"),
        (["gallery", "--only", "nothing_like_this"], "only"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, args, param):
    if args[0] == "animate":
        args = [*args, "-o", str(tmp_path / "x.gif")]
    else:
        args = [*args, "--out", str(tmp_path / "g")]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {param}=")
    assert not (tmp_path / "x.gif").exists()


def test_output_padding_cells_are_dotted_and_in_the_legend():
    from tconv.viz.layout import _is_extra, _legend_items

    sc = animate("transposed", (3, 3), 2, stride=2, dilation=2, output_padding=1, view="scatter")
    # full result (3-1)*2 + 2*(2-1) + 1 = 7 per dimension; output_padding adds row 7 and column 7
    extra = {c for c in sc.target.cells() if _is_extra(sc, c)}
    assert extra == {(r, c) for r in range(8) for c in range(8) if r == 7 or c == 7}
    assert not any(sc.frames[-1].counts[c] for c in extra)  # no input reaches them (the plan's own counts)
    assert ("extra", "output_padding: no input reaches it") in _legend_items(sc, False)
    plain = animate("transposed", (3, 3), 3, stride=2, padding=1, output_padding=1)  # op cancels padding: none
    assert not any(_is_extra(plain, c) for c in plain.target.cells())
    assert all(kind != "extra" for kind, _ in _legend_items(plain, False))
    conv = animate("conv", 5, 3, stride=2)
    assert not any(_is_extra(conv, c) for c in conv.target.cells())
