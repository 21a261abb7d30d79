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
    got = as_json("shape", "3", "5")
    assert got == {"conv": None, "conv_transpose": 7}


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
        (4, 2, 1, 0),
        (6, 2, 2, 0),
    ]
    r = run("solve", "224", "112", "--max-kernel", "3")
    assert r.exit_code == 0
    assert cells(r.stdout, "1")[1:4] == ["2", "2", "0"]
    r = run("solve", "5", "100")
    assert r.exit_code == 0 and "no solution" in r.stdout


def test_rf_builtin_table_and_unit():
    r = run("rf", "alexnet-like")
    assert r.exit_code == 0, r.output
    assert cells(r.stdout, "1")[1:] == ["features.0", "Conv2d", "55x55", "11x11", "4x4", "-2x-2"]
    assert cells(r.stdout, "8")[1:] == ["features.12", "MaxPool2d", "6x6", "195x195", "32x32", "-66x-66"]
    got = as_json("rf", "small-cnn", "--layer", "5", "--position", "0x6")
    # small-cnn: rf 10, jump 4, start -3: unit (0, 6) sees [-3, 7) x [21, 31), clipped to [0, 7) x [21, 28)
    assert got["start"] == [0, 21] and got["stop"] == [7, 28] and got["theoretical_start"] == [-3, 21]
    rows = as_json("rf", "vgg16-like", "--input", "1x3x64x64")
    assert rows[-1]["rf"] == [212, 212] and rows[-1]["jump"] == [32, 32] and rows[-1]["output_size"] == [2, 2]


def test_rf_module_attr():
    rows = as_json("rf", "tconv.zoo:small_cnn", "--input", "1x1x28x28", "--all")
    assert len(rows) == 7 and rows[-1]["rf"] == [10, 10]


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
