"""The ``tconv shape|invert|equiv|solve|rf`` commands, through typer's CliRunner, checking the printed numbers."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from tconv.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def as_json(*args: str):
    r = run(*args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def cells(output: str, first: str) -> list[str]:
    """The cells of the rich-table row whose first cell is ``first``."""
    for line in output.splitlines():
        parts = [p.strip() for p in re.split(r"[│┃]", line) if p.strip()]
        if parts and parts[0] == first:
            return parts
    raise AssertionError(f"no row {first!r} in\n{output}")


def test_shape_table_and_json():
    r = run("shape", "224", "11", "-s", "4", "-p", "2")
    assert r.exit_code == 0, r.output
    assert cells(r.stdout, "conv")[-1] == "55"
    assert cells(r.stdout, "conv_transpose")[-1] == str((224 - 1) * 4 - 4 + 10 + 1)
    assert as_json("shape", "55", "11", "-s", "4", "-p", "2", "--op", "1", "--mode", "transpose") == {
        "conv_transpose": 224
    }
    assert as_json("shape", "5x7", "3", "-s", "2", "-p", "same") == {"conv": [3, 4], "conv_transpose": [10, 14]}
    assert as_json("shape", "6", "3", "-s", "2", "--ceil-mode", "--mode", "conv") == {"conv": 3}
    assert as_json("shape", "5", "3", "-s", "2", "-p", "1:0", "--mode", "transpose") == {"conv_transpose": [10]}


def test_shape_impossible_conv_is_reported_in_both_mode():
    # the possible one is printed; "not possible" exits 2 in every mode
    r = run("shape", "3", "5", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout) == {"conv": None, "conv_transpose": 7}
    assert r.stderr.startswith("error: k=") and "spans 5 > the padded input 3" in r.stderr
    r = run("shape", "3", "5", "--mode", "conv")
    assert r.exit_code == 2 and r.stdout == ""
    # ceil_mode windows larger than the input: torch's pooling gives one
    assert as_json("shape", "3", "4", "-s", "4", "--ceil-mode", "--mode", "conv") == {"conv": 1}


def test_options_never_change_the_number_of_dimensions():
    r = run("shape", "5", "3", "-p", "1x2")
    assert r.exit_code == 2 and "padding='1x2' must have 1 entry" in r.stderr
    r = run("shape", "5x5", "3", "-s", "1x2x3")
    assert r.exit_code == 2 and "stride='1x2x3' must have 1 or 2 entries" in r.stderr
    r = run("invert", "Conv2d(3, 64, 11, 4, 2)", "--input", "224x224x3")
    assert r.exit_code == 2 and "input='224x224x3' must be the conv's 2 spatial size(s)" in r.stderr
    help_ = run("equiv", "--help").stdout
    for opt in ("--stride", "--dilation", "--output-padding"):
        line = next(ln for ln in help_.splitlines() if opt in ln)
        assert len(line.split(opt, 1)[1].strip(" │")) > 10, line  # every option has help text
    text = re.sub(r"[\s│]+", " ", run("shape", "--help").stdout)
    assert "would give 899" in text and "naive transpose of conv1's output: 223" in text


def test_invert_alexnet_conv1_and_the_trap():
    r = run("invert", "Conv2d(3, 64, 11, 4, 2)", "--input", "224x224")
    assert r.exit_code == 0, r.output
    assert cells(r.stdout, "output_padding")[-1] == "1x1"
    assert cells(r.stdout, "spatial size")[1:] == ["224x224 → 55x55", "55x55 → 224x224"]
    assert (
        "ConvTranspose2d(in_channels=64, out_channels=3, kernel_size=11, stride=4, padding=2, output_padding=1"
        in r.stdout
    )
    # seed 001: Conv2d(16,32,3,2,0,1) -- the 6th positional is dilation; the inverse depends on the input size
    odd = as_json("invert", "Conv2d(16,32,3,2,0,1)", "-i", "5")
    even = as_json("invert", "Conv2d(16,32,3,2,0,1)", "-i", "6")
    assert odd["output_padding"] == [0, 0] and odd["restored_size"] == [5, 5]
    assert even["output_padding"] == [1, 1] and even["restored_size"] == [6, 6]
    assert even["conv_output_size"] == [2, 2]


def test_equiv_seed001_case():
    got = as_json("equiv", "2", "3", "-s", "2")
    assert got["zeros_between"] == [1] and got["padding"] == [[2, 2]] and got["output_size"] == [5]
    r = run("equiv", "3", "3", "-s", "2", "-p", "1")
    assert r.exit_code == 0
    assert cells(r.stdout, "padding (before, after)")[1].startswith("(1, 1)")
    assert cells(r.stdout, "output size")[1] == "5"
    rev = as_json("equiv", "5", "3", "--reverse")
    assert rev["kind"] == "conv_transpose" and rev["padding"] == [[2, 2]] and rev["output_size"] == [3]


def test_solve_ranked():
    got = as_json("solve", "16", "32", "--transposed", "-n", "3")
    assert [(s["kernel"], s["stride"], s["padding"], s["output_padding"]) for s in got] == [
        (2, 2, 0, 0),
        (6, 2, 2, 0),
        (4, 2, 1, 0),
    ]
    r = run("solve", "224", "112", "--max-kernel", "3")
    assert r.exit_code == 0
    assert cells(r.stdout, "1")[1:4] == ["2", "2", "0"]
    r = run("solve", "5", "100")
    assert r.exit_code == 0 and "no solution" in r.stdout
    assert "even overlap (flat count map: 1 everywhere)" in cells(run("solve", "16", "32", "-t").stdout, "1")[-1]


def test_solve_layers_and_nd_sizes():
    got = as_json("solve", "7", "28", "-t", "--layers", "2", "-n", "1")
    assert got[0]["sizes"] == [[7], [14], [28]] and got[0]["even_overlap"]
    assert [layer[0]["kernel"] for layer in got[0]["layers"]] == [2, 2]
    r = run("solve", "7", "28", "-t", "--layers", "2", "-n", "2")
    assert r.exit_code == 0 and cells(r.stdout, "1")[1:3] == ["k2 s2 p0 | k2 s2 p0", "7 → 14 → 28"]
    got = as_json("solve", "16x16", "32x32", "-t", "-n", "1")
    assert got[0]["sizes"] == [[16, 16], [32, 32]]
    r = run("solve", "16x16", "32")
    assert r.exit_code == 2 and r.stderr.startswith("error: output_size='32'")
    r = run("solve", "16", "32", "-t", "--max-kernel", "100000")
    assert r.exit_code == 2 and "the limit is 2000" in r.stderr


def test_rf_builtin_table_and_unit():
    r = run("rf", "alexnet-like")
    assert r.exit_code == 0, r.output
    assert cells(r.stdout, "features.0")[1:] == ["Conv2d", "55x55", "11x11", "4x4", "-2x-2"]
    assert cells(r.stdout, "features.12")[1:] == ["MaxPool2d", "6x6", "195x195", "32x32", "-66x-66"]
    # what the table shows is what --layer takes
    assert as_json("rf", "alexnet-like", "--layer", "features.12", "--position", "0")["layer"] == "features.12"
    got = as_json("rf", "small-cnn", "--layer", "5", "--position", "0x6")
    # small-cnn: rf 10, jump 4, start -3: unit (0, 6) sees [-3, 7) x [21, 31), clipped to [0, 7) x [21, 28)
    assert got["start"] == [0, 21] and got["stop"] == [7, 28] and got["theoretical_start"] == [-3, 21]
    rows = as_json("rf", "vgg16-like", "--input", "1x3x64x64")
    assert rows[-1]["rf"] == [212, 212] and rows[-1]["jump"] == [32, 32] and rows[-1]["output_size"] == [2, 2]


def test_rf_module_attr(tmp_path, monkeypatch):
    rows = as_json("rf", "tconv.zoo:small_cnn", "--input", "1x1x28x28", "--all")
    assert len(rows) == 7 and rows[-1]["rf"] == [10, 10]
    # a module in the current directory, built under the seed like the zoo's
    (tmp_path / "my_local_net.py").write_text(
        "import torch.nn as nn\ndef build():\n    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2))\n"
    )
    monkeypatch.chdir(tmp_path)
    rows = as_json("rf", "my_local_net:build", "--input", "1x1x12x12")
    assert [r["rf"] for r in rows] == [[1, 1], [3, 3], [4, 4]]
    from tconv.zoo import import_model

    a, b = import_model("my_local_net:build", seed=3), import_model("my_local_net:build", seed=3)
    assert all((p == q).all() for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize(
    ("args", "param"),
    [
        (("shape", "5", "3", "-s", "0"), "s"),
        (("shape", "5", "3", "-p", "half"), "padding"),
        (("shape", "5x", "3"), "size"),
        (("shape", "3", "5", "--mode", "conv"), "k"),
        (("invert", "Conv2d(1, 1, 3)", "-i", "2"), "kernel_size"),
        (("invert", "os.system('x')", "-i", "5"), "module"),
        (("invert", "ConvTranspose2d(1, 1, 3)", "-i", "5"), "module"),
        (("equiv", "5", "3", "-s", "2", "--reverse"), "s"),
        (("solve", "0", "5"), "input_size"),
        (("rf", "resnet-ish"), "model"),
        (("rf", "small-cnn", "--layer", "2", "--position", "99x0"), "position"),
        (("rf", "small-cnn", "--layer", "2"), "position"),
        (("rf", "small-cnn", "--input", "1x3x28x28"), "input_shape"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, param):
    r = run(*args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {param}="), r.output
    assert "Traceback" not in r.output


def test_help_has_examples():
    for cmd in ("shape", "invert", "equiv", "solve", "rf"):
        r = run(cmd, "--help")
        assert r.exit_code == 0 and "Example" in r.stdout and "tconv " + cmd in r.stdout
