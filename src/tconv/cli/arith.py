"""``tconv shape | invert | equiv | solve | rf``: convolution arithmetic and receptive fields on the command line.

Thin wrappers over :mod:`tconv.arith` and :mod:`tconv.receptive`. Sizes are written ``5``, ``5x7`` or ``5,7``;
padding also as ``same`` / ``valid`` or ``before:after`` pairs per dimension (``1:2x0:1``). Every command prints a
rich table, or JSON with ``--json``; bad input exits with code 2 and one line naming the parameter.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer

from ..errors import ConfigError
from .common import emit_json, friendly, parse_sizes

JSON = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


def _one_or_tuple(name: str, text: str) -> int | tuple[int, ...]:
    vals = parse_sizes(name, text)
    return vals[0] if len(vals) == 1 else vals


def _padding(text: str) -> Any:
    """'1', '1x2', 'same', 'valid', '1:2' (before:after), '1:2x0:1'."""
    t = text.strip().lower()
    if t in ("same", "valid"):
        return t
    parts = t.replace(",", "x").split("x")
    out: list[Any] = []
    try:
        for part in parts:
            if ":" in part:
                a, b = part.split(":")
                out.append((int(a), int(b)))
            else:
                out.append(int(part))
    except ValueError:
        raise ConfigError(
            "padding", text, "must be an int, ints separated by 'x', before:after pairs (1:2x0:1), same or valid"
        ) from None
    if len(out) == 1:
        return out[0] if isinstance(out[0], int) else (out[0],)
    return tuple(out)


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        return "x".join(_fmt(x) for x in v)
    return str(v)


def _table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title)
    for h in header:
        table.add_column(h, overflow="fold")
    for r in rows:
        table.add_row(*[str(c) for c in r])
    Console(width=140).print(table)


def _load_model(spec: str, seed: int) -> tuple[Any, tuple[int, ...]]:
    """A built-in zoo network or ``package.module:attr`` (a module instance, or a class/function called with no args)."""
    import torch  # noqa: PLC0415

    from .. import zoo  # noqa: PLC0415

    key = spec.lower().replace("_", "-")
    if key in zoo.BUILTINS:
        default = (1, 1, 28, 28) if key == "small-cnn" else (1, 3, 224, 224)
        return zoo.get(key, seed=seed), default
    if ":" not in spec:
        raise ConfigError("model", spec, f"must be one of {', '.join(zoo.BUILTINS)} or 'package.module:attr'")
    mod_name, attr = spec.split(":", 1)
    try:
        obj: Any = importlib.import_module(mod_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError("model", spec, f"cannot be loaded: {exc}") from None
    if not isinstance(obj, torch.nn.Module) and callable(obj):
        torch.manual_seed(seed)
        obj = obj()
    if not isinstance(obj, torch.nn.Module):
        raise ConfigError("model", spec, "must name an nn.Module or something that returns one when called")
    return obj, (1, 3, 224, 224)


def register(app: typer.Typer) -> None:
    @app.command("shape")
    @friendly
    def shape(
        size: str = typer.Argument(..., help="Input size: 5, 5x7 (one per spatial dimension)."),
        kernel: str = typer.Argument(..., help="Kernel size: 3 or 3x5."),
        stride: str = typer.Option("1", "--stride", "-s", help="Stride: 2 or 2x1."),
        padding: str = typer.Option("0", "--padding", "-p", help="1, 1x2, same, valid, or before:after (1:2)."),
        dilation: str = typer.Option("1", "--dilation", "-d", help="Dilation: 1 or 2x1."),
        output_padding: str = typer.Option("0", "--output-padding", "--op", help="Transposed only: 0 or 1x0."),
        mode: str = typer.Option("both", "--mode", "-m", help="conv, transpose or both."),
        ceil_mode: bool = typer.Option(False, "--ceil-mode", help="Conv only: round up like pooling's ceil_mode."),
        as_json: bool = JSON,
    ) -> None:
        """Output size of a convolution and of a transposed convolution.

        Examples:

          tconv shape 224 11 -s 4 -p 2          # AlexNet conv1: 55, and its naive transpose

          tconv shape 5x7 3 -s 2 -p same --mode transpose
        """
        from ..arith import conv_output_size, conv_transpose_output_size  # noqa: PLC0415

        if mode not in ("conv", "transpose", "both"):
            raise ConfigError("mode", mode, "must be conv, transpose or both")
        i, k = _one_or_tuple("size", size), _one_or_tuple("kernel", kernel)
        s, d = _one_or_tuple("stride", stride), _one_or_tuple("dilation", dilation)
        op, p = _one_or_tuple("output_padding", output_padding), _padding(padding)
        result: dict[str, Any] = {}
        rows = []
        first_error: ConfigError | None = None
        if mode in ("conv", "both"):
            try:
                o = conv_output_size(i, k, s, p, d, ceil_mode=ceil_mode)
                result["conv"] = list(o) if isinstance(o, tuple) else o
                rnd = "ceil" if ceil_mode else "floor"
                rows.append(["conv", f"{rnd}((i + p_before + p_after - d(k-1) - 1) / s) + 1", _fmt(o)])
            except ConfigError as exc:
                if mode == "conv":
                    raise
                first_error = exc
                result["conv"] = None
                rows.append(["conv", "not possible", str(exc)])
        if mode in ("transpose", "both"):
            try:
                o = conv_transpose_output_size(i, k, s, p, d, op)
                result["conv_transpose"] = list(o) if isinstance(o, tuple) else o
                rows.append(["conv_transpose", "(i - 1) s - p_before - p_after + d(k-1) + op + 1", _fmt(o)])
            except ConfigError as exc:
                if mode == "transpose":
                    raise
                first_error = first_error or exc
                result["conv_transpose"] = None
                rows.append(["conv_transpose", "not possible", str(exc)])
        if result and all(v is None for v in result.values()):  # neither is possible: the input itself is wrong
            raise first_error
        if as_json:
            emit_json(result)
            return
        params = f"i={_fmt(i)} k={_fmt(k)} s={_fmt(s)} p={padding} d={_fmt(d)} op={_fmt(op)}"
        _table(params, ["operation", "formula", "output size"], rows)

    @app.command("invert")
    @friendly
    def invert(
        module: str = typer.Argument(..., help="A Conv constructor, e.g. 'Conv2d(3, 64, 11, 4, 2)'."),
        input_size: str = typer.Option(..., "--input", "-i", help="The conv's input spatial size: 224 or 224x224."),
        as_json: bool = JSON,
    ) -> None:
        """The ConvTranspose that maps a Conv's output back to exactly its input size (output_padding solved).

        Positional arguments are read in PyTorch's order for the class you name: the 6th of Conv2d is dilation, of
        ConvTranspose2d output_padding (seed 001's trap). The answer is printed with keywords.

        Examples:

          tconv invert 'Conv2d(3, 64, 11, 4, 2)' --input 224x224     # AlexNet conv1: output_padding=1

          tconv invert 'Conv2d(16, 32, 3, 2, 0, 1)' --input 5x5
        """
        from ..arith import conv_output_size, conv_transpose_output_size, inverse_of, parse_module  # noqa: PLC0415

        conv = parse_module(module)
        if "Transpose" in type(conv).__name__:
            raise ConfigError("module", module, "must be a convolution (Conv1d/2d/3d); its inverse is what we build")
        nd = len(conv.kernel_size)
        size = parse_sizes("input", input_size)
        size = size * nd if len(size) == 1 else size
        t = inverse_of(conv, size)
        pads = conv.padding if isinstance(conv.padding, str) else tuple(conv.padding)
        out = conv_output_size(size, tuple(conv.kernel_size), tuple(conv.stride), pads, tuple(conv.dilation))
        back = conv_transpose_output_size(out, t.kernel_size, t.stride, t.padding, t.dilation, t.output_padding)
        kw = (
            f"{type(t).__name__}(in_channels={t.in_channels}, out_channels={t.out_channels}, "
            f"kernel_size={_tup(t.kernel_size)}, stride={_tup(t.stride)}, padding={_tup(t.padding)}, "
            f"output_padding={_tup(t.output_padding)}, groups={t.groups}, bias={t.bias is not None}, "
            f"dilation={_tup(t.dilation)})"
        )
        if as_json:
            emit_json(
                {
                    "conv": repr(conv).replace(", device='meta'", ""),
                    "input_size": list(size),
                    "conv_output_size": list(out),
                    "inverse": kw,
                    "output_padding": list(t.output_padding),
                    "restored_size": list(back),
                }
            )
            return
        rows = [
            ["in_channels", conv.in_channels, t.in_channels],
            ["out_channels", conv.out_channels, t.out_channels],
            ["kernel_size", _fmt(tuple(conv.kernel_size)), _fmt(t.kernel_size)],
            ["stride", _fmt(tuple(conv.stride)), _fmt(t.stride)],
            ["padding", _fmt(pads) if not isinstance(pads, str) else pads, _fmt(t.padding)],
            ["dilation", _fmt(tuple(conv.dilation)), _fmt(t.dilation)],
            ["groups", conv.groups, t.groups],
            ["output_padding", "—", _fmt(t.output_padding)],
            ["spatial size", f"{_fmt(size)} → {_fmt(out)}", f"{_fmt(out)} → {_fmt(back)}"],
        ]
        _table(
            "Conv and the ConvTranspose that restores its input size",
            ["parameter", type(conv).__name__, type(t).__name__],
            rows,
        )
        typer.echo(kw)

    @app.command("equiv")
    @friendly
    def equiv(
        size: str = typer.Argument(..., help="Input size of the operation: 5 or 5x7."),
        kernel: str = typer.Argument(..., help="Kernel size: 3 or 3x5."),
        stride: str = typer.Option("1", "--stride", "-s"),
        padding: str = typer.Option("0", "--padding", "-p", help="1, 1x2, same, valid, or before:after (1:2)."),
        dilation: str = typer.Option("1", "--dilation", "-d"),
        output_padding: str = typer.Option("0", "--output-padding", "--op"),
        reverse: bool = typer.Option(False, "--reverse", help="Write a stride-1 convolution as a transposed one."),
        as_json: bool = JSON,
    ) -> None:
        """The stride-1 direct convolution that computes a transposed convolution (or, --reverse, the other way).

        Examples:

          tconv equiv 2 3 -s 2            # seed 001: one zero between inputs, pad 2, flipped kernel -> 5

          tconv equiv 5 3 --reverse       # a valid conv is a transposed conv cropping k-1 per side
        """
        from ..arith import equivalent_conv  # noqa: PLC0415

        e = equivalent_conv(
            _one_or_tuple("size", size),
            _one_or_tuple("kernel", kernel),
            _one_or_tuple("stride", stride),
            _padding(padding),
            _one_or_tuple("dilation", dilation),
            _one_or_tuple("output_padding", output_padding),
            transposed=not reverse,
        )
        if as_json:
            emit_json(e.to_dict())
            return
        pads = " x ".join(f"({a}, {b})" for a, b in e.padding)
        rows = [
            ["written as", "conv (stride 1)" if e.kind == "conv" else "conv_transpose (stride 1)"],
            ["input size", _fmt(e.input_size)],
            ["zeros between inputs", _fmt(e.zeros_between)],
            ["after zero insertion", _fmt(e.upsampled_size)],
            [
                "padding (before, after)",
                pads + ("  (negative = crop)" if e.kind == "conv" else "  (negative = extend)"),
            ],
            ["kernel", f"{_fmt(e.kernel_size)}, flipped, dilation {_fmt(e.dilation)}"],
            ["output size", _fmt(e.output_size)],
        ]
        _table("Equivalent formulation", ["step", "value"], rows)
        typer.echo(e.describe())

    @app.command("solve")
    @friendly
    def solve_cmd(
        input_size: int = typer.Argument(..., help="Input size (one dimension)."),
        output_size: int = typer.Argument(..., help="Wanted output size."),
        transposed: bool = typer.Option(False, "--transposed", "-t", help="Solve for a transposed convolution."),
        max_kernel: int = typer.Option(7, "--max-kernel"),
        max_stride: int = typer.Option(4, "--max-stride"),
        max_dilation: int = typer.Option(1, "--max-dilation"),
        max_padding: int = typer.Option(None, "--max-padding", help="Default: d(k-1)."),
        no_output_padding: bool = typer.Option(False, "--no-output-padding", help="Only exact transposed solutions."),
        top: int = typer.Option(10, "--top", "-n", help="Show the best N (0 = all)."),
        as_json: bool = JSON,
    ) -> None:
        """Every (kernel, stride, padding, output_padding, dilation) mapping one size to another, best first.

        Ranked: exact (no output_padding / no unread input) first, then k divisible by s (even overlap, no
        checkerboard), then no dilation, then padding closest to "same".

        Examples:

          tconv solve 16 32 --transposed

          tconv solve 224 112 --max-kernel 3
        """
        from ..arith import solve  # noqa: PLC0415

        if top < 0:
            raise ConfigError("top", top, "must be >= 0")
        sols = solve(
            input_size,
            output_size,
            transposed=transposed,
            max_kernel=max_kernel,
            max_stride=max_stride,
            max_dilation=max_dilation,
            max_padding=max_padding,
            allow_output_padding=not no_output_padding,
        )
        shown = sols if top == 0 else sols[:top]
        if as_json:
            emit_json([s.to_dict() for s in shown])
            return
        kind = "ConvTranspose" if transposed else "Conv"
        rows = [
            [s.rank + 1, s.kernel, s.stride, s.padding, s.output_padding, s.dilation,
             "yes" if s.exact else "no", "yes" if s.even_overlap else "no"]
            for s in shown
        ]  # fmt: skip
        title = f"{kind}: {input_size} → {output_size} ({len(sols)} solutions, {len(shown)} shown)"
        _table(
            title, ["rank", "kernel", "stride", "padding", "output_padding", "dilation", "exact", "k % s == 0"], rows
        )
        if not sols:
            typer.echo("no solution within the bounds; try larger --max-kernel / --max-stride / --max-dilation")

    @app.command("rf")
    @friendly
    def rf(
        model: str = typer.Argument(..., help="alexnet-like, vgg16-like, small-cnn, or package.module:attr."),
        input_shape: str = typer.Option(None, "--input", "-i", help="N x C x spatial, e.g. 1x3x224x224."),
        layer: str = typer.Option(None, "--layer", "-l", help="With --position: a layer index or module name."),
        position: str = typer.Option(None, "--position", help="Unit position in that layer, e.g. 3x4."),
        all_layers: bool = typer.Option(False, "--all", help="Also list pointwise layers (ReLU, BatchNorm, ...)."),
        seed: int = typer.Option(0, "--seed", help="Seed for building the model."),
        as_json: bool = JSON,
    ) -> None:
        """Receptive field of every layer (size, jump, start), or of one unit with --layer and --position.

        Examples:

          tconv rf alexnet-like

          tconv rf vgg16-like --layer 29 --position 7x7

          tconv rf mypackage.models:build_net --input 1x3x128x128
        """
        from ..receptive import receptive_field, receptive_field_box  # noqa: PLC0415

        net, default = _load_model(model, seed)
        shape = parse_sizes("input", input_shape) if input_shape else default
        if (layer is None) != (position is None):
            raise ConfigError("position" if position is None else "layer", None, "--layer and --position go together")
        if layer is not None:
            lay: Any = int(layer) if layer.lstrip("-").isdigit() else layer
            nd = len(shape) - 2
            pos = parse_sizes("position", position)
            pos = pos * nd if len(pos) == 1 else pos
            box = receptive_field_box(net, shape, lay, pos)
            if as_json:
                emit_json(box.to_dict())
                return
            rows = [
                ["layer", box.layer],
                ["position", _fmt(box.position)],
                ["field (clipped to the input)", " x ".join(f"[{a}, {b})" for a, b in box.start_stop)],
                ["field size", _fmt(box.size)],
                [
                    "theoretical field",
                    " x ".join(f"[{a}, {b})" for a, b in zip(box.theoretical_start, box.theoretical_stop, strict=True)),
                ],
            ]
            _table(f"Receptive field of one unit ({model}, input {_fmt(shape)})", ["", "value"], rows)
            return
        rows_ = receptive_field(net, shape, all_layers=all_layers)
        if as_json:
            emit_json([r.to_dict() for r in rows_])
            return
        rows = [
            [r.index, r.name, r.kind, _fmt(r.output_size), _fmt(r.rf), "x".join(str(j) for j in r.jump), _fmt(r.start)]
            for r in rows_
        ]
        _table(
            f"Receptive fields of {model} on {_fmt(shape)}",
            ["#", "layer", "kind", "output", "rf", "jump", "start"],
            rows,
        )


def _tup(t: tuple[int, ...]) -> str:
    return str(t[0]) if len(set(t)) == 1 else str(tuple(t))
