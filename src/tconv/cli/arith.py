"""``tconv shape | invert | equiv | solve | rf``: convolution arithmetic and receptive fields on the command line.

Thin wrappers over :mod:`tconv.arith` and :mod:`tconv.receptive`. Sizes are written ``5``, ``5x7`` or ``5,7``;
padding also as ``same`` / ``valid`` or ``before:after`` pairs per dimension (``1:2x0:1``). Every command prints a
rich table, or JSON with ``--json``; bad input exits with code 2 and one line naming the parameter.
"""

from __future__ import annotations

from typing import Any

import typer

from ..errors import ConfigError
from .common import emit_json, friendly, parse_sizes

JSON = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


def _entries(nd: int) -> str:
    return "1 entry: the size has 1 dimension" if nd == 1 else f"1 or {nd} entries: the size has {nd} dimensions"


def _one_or_tuple(name: str, text: str, nd: int | None = None) -> int | tuple[int, ...]:
    """One int, or one per dimension; with ``nd`` (the size's dimensions) any other count is an error, so an option
    never changes the number of dimensions behind the size's back."""
    vals = parse_sizes(name, text)
    if nd is not None and len(vals) not in (1, nd):
        raise ConfigError(name, text, f"must have {_entries(nd)}")
    return vals[0] if len(vals) == 1 else vals


def _padding_nd(text: str, nd: int) -> Any:
    p = _padding(text)
    if isinstance(p, tuple) and len(p) not in (1, nd):
        raise ConfigError("padding", text, f"must have {_entries(nd)}")
    return p


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
    """A built-in zoo network or ``package.module:attr`` (tconv.zoo.load: the loader tconv.zfnet uses too)."""
    from .. import zoo  # noqa: PLC0415

    net = zoo.load(spec, seed=seed)
    key = str(spec).lower().replace("_", "-")
    return net, (1, 1, 28, 28) if key == "small-cnn" else (1, 3, 224, 224)


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
        """Output size of a convolution and of a transposed convolution with the same settings, on the same input.

        Exits with code 2 when a requested operation is not possible (the table still shows the other one).

        Examples:

          tconv shape 224 11 -s 4 -p 2          # AlexNet conv1: 224 -> 55 (a ConvTranspose on 224 would give 899)

          tconv shape 55 11 -s 4 -p 2 --mode transpose    # the naive transpose of conv1's output: 223, not 224

          tconv shape 5x7 3 -s 2 -p same --mode transpose
        """
        from ..arith import conv_output_size, conv_transpose_output_size  # noqa: PLC0415

        if mode not in ("conv", "transpose", "both"):
            raise ConfigError("mode", mode, "must be conv, transpose or both")
        i = _one_or_tuple("size", size)
        nd = 1 if isinstance(i, int) else len(i)
        k = _one_or_tuple("kernel", kernel, nd)
        s, d = _one_or_tuple("stride", stride, nd), _one_or_tuple("dilation", dilation, nd)
        op, p = _one_or_tuple("output_padding", output_padding, nd), _padding_nd(padding, nd)
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
                first_error = exc
                result["conv"] = None
                rows.append(["conv", "not possible", str(exc)])
        if mode in ("transpose", "both"):
            try:
                o = conv_transpose_output_size(i, k, s, p, d, op)
                result["conv_transpose"] = list(o) if isinstance(o, tuple) else o
                rows.append(["conv_transpose", "(i - 1) s - p_before - p_after + d(k-1) + op + 1", _fmt(o)])
            except ConfigError as exc:
                first_error = first_error or exc
                result["conv_transpose"] = None
                rows.append(["conv_transpose", "not possible", str(exc)])
        if first_error is not None and all(v is None for v in result.values()):
            raise first_error  # nothing is possible: one line, exit 2
        if as_json:
            emit_json(result)
        else:
            params = f"i={_fmt(i)} k={_fmt(k)} s={_fmt(s)} p={padding} d={_fmt(d)} op={_fmt(op)}"
            _table(params, ["operation", "formula", "output size"], rows)
        if first_error is not None:  # one of the two is not possible: same exit code as when it is the only one
            raise first_error

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
        if len(size) not in (1, nd):
            raise ConfigError(
                "input",
                input_size,
                f"must be the conv's {nd} spatial size(s), e.g. {'x'.join(['224'] * nd)} (no channels)",
            )
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
        stride: str = typer.Option("1", "--stride", "-s", help="Stride: 2 or 2x1 (must be 1 with --reverse)."),
        padding: str = typer.Option("0", "--padding", "-p", help="1, 1x2, same, valid, or before:after (1:2)."),
        dilation: str = typer.Option("1", "--dilation", "-d", help="Dilation: 1 or 2x1."),
        output_padding: str = typer.Option(
            "0", "--output-padding", "--op", help="Transposed only: extra outputs at the end, 0 or 1x0."
        ),
        reverse: bool = typer.Option(False, "--reverse", help="Write a stride-1 convolution as a transposed one."),
        as_json: bool = JSON,
    ) -> None:
        """The stride-1 direct convolution that computes a transposed convolution (or, --reverse, the other way).

        Examples:

          tconv equiv 2 3 -s 2            # seed 001: one zero between inputs, pad 2, flipped kernel -> 5

          tconv equiv 5 3 --reverse       # a valid conv is a transposed conv cropping k-1 per side
        """
        from ..arith import equivalent_conv  # noqa: PLC0415

        i = _one_or_tuple("size", size)
        nd = 1 if isinstance(i, int) else len(i)
        e = equivalent_conv(
            i,
            _one_or_tuple("kernel", kernel, nd),
            _one_or_tuple("stride", stride, nd),
            _padding_nd(padding, nd),
            _one_or_tuple("dilation", dilation, nd),
            _one_or_tuple("output_padding", output_padding, nd),
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
        input_size: str = typer.Argument(..., help="Input size: 7, or 7x9 (one per spatial dimension)."),
        output_size: str = typer.Argument(..., help="Wanted output size: 28 or 28x36."),
        transposed: bool = typer.Option(False, "--transposed", "-t", help="Solve for a transposed convolution."),
        layers: int = typer.Option(1, "--layers", "-L", help="Transposed only: stacks of this many layers."),
        max_kernel: int = typer.Option(7, "--max-kernel", help="Largest kernel tried."),
        max_stride: int = typer.Option(4, "--max-stride", help="Largest stride tried."),
        max_dilation: int = typer.Option(1, "--max-dilation", help="Largest dilation tried."),
        max_padding: int = typer.Option(None, "--max-padding", help="Default: d(k-1)."),
        no_output_padding: bool = typer.Option(False, "--no-output-padding", help="Only exact transposed solutions."),
        top: int = typer.Option(10, "--top", "-n", help="Show the best N (0 = all)."),
        as_json: bool = JSON,
    ) -> None:
        """Every (kernel, stride, padding, output_padding, dilation) mapping one size to another, best first.

        Ranked by the count map (how many taps land on each position): no holes first, then an even overlap (a flat
        count map: no checkerboard), then the smallest max/min; then exact, no dilation, padding closest to "same".
        With --layers N (transposed), stacks of N layers ranked by their composed count map. Sizes with several
        dimensions are solved per dimension.

        Examples:

          tconv solve 16 32 --transposed

          tconv solve 7 28 -t --layers 2

          tconv solve 224x200 112x100 --max-kernel 3
        """
        from ..arith import solve  # noqa: PLC0415
        from ..design import solve_stack  # noqa: PLC0415

        if top < 0:
            raise ConfigError("top", top, "must be >= 0")
        i_t, o_t = parse_sizes("input_size", input_size), parse_sizes("output_size", output_size)
        if len(i_t) != len(o_t):
            raise ConfigError("output_size", output_size, f"must have {len(i_t)} entries like input_size={input_size}")
        if layers < 1:
            raise ConfigError("layers", layers, "must be >= 1")
        if layers > 1 and not transposed:
            raise ConfigError("layers", layers, "needs --transposed (stacks are of transposed convolutions)")
        bounds = dict(
            max_kernel=max_kernel,
            max_stride=max_stride,
            max_dilation=max_dilation,
            max_padding=max_padding,
            allow_output_padding=not no_output_padding,
        )
        kind = "ConvTranspose" if transposed else "Conv"
        if transposed and (layers > 1 or len(i_t) > 1):
            stacks = solve_stack(i_t, o_t, layers=layers, **bounds)
            shown_s = stacks if top == 0 else stacks[:top]
            if as_json:
                emit_json([st.to_dict() for st in shown_s])
                return
            rows = []
            for st in shown_s:
                per_layer = [
                    " ".join(
                        f"k{_fmt(tuple(x.kernel for x in lay))} s{_fmt(tuple(x.stride for x in lay))} "
                        f"p{_fmt(tuple(x.padding for x in lay))}"
                        + (
                            f" op{_fmt(tuple(x.output_padding for x in lay))}"
                            if any(x.output_padding for x in lay)
                            else ""
                        )
                        + (f" d{_fmt(tuple(x.dilation for x in lay))}" if any(x.dilation > 1 for x in lay) else "")
                        for lay in [layer]
                    )
                    for layer in st.layers
                ]
                rows.append(
                    [st.rank + 1, " | ".join(per_layer), " → ".join(_fmt(sz) for sz in st.sizes), st.describe()]
                )
            title = f"{kind} stacks of {layers}: {_fmt(i_t)} → {_fmt(o_t)} ({len(stacks)} found, {len(shown_s)} shown)"
            _table(title, ["rank", "layers", "sizes", "count map"], rows)
            if not stacks:
                typer.echo("no stack within the bounds; try larger --max-kernel / --max-stride or another --layers")
            return
        per_dim = {}
        for a, b in zip(i_t, o_t, strict=True):
            if (a, b) not in per_dim:
                per_dim[(a, b)] = solve(a, b, transposed=transposed, **bounds)
        if as_json:
            out = [[x.to_dict() for x in (sols if top == 0 else sols[:top])] for sols in per_dim.values()]
            emit_json(out[0] if len(out) == 1 else out)
            return
        for (a, b), sols in per_dim.items():
            shown = sols if top == 0 else sols[:top]
            rows = [
                [x.rank + 1, x.kernel, x.stride, x.padding, x.output_padding, x.dilation,
                 "yes" if x.exact else "no", x.describe()]
                for x in shown
            ]  # fmt: skip
            dims = [d for d, (aa, bb) in enumerate(zip(i_t, o_t, strict=True)) if (aa, bb) == (a, b)]
            where = "" if len(i_t) == 1 else f" (dimension {', '.join(map(str, dims))})"
            title = f"{kind}: {a} → {b}{where} ({len(sols)} solutions, {len(shown)} shown)"
            _table(
                title, ["rank", "kernel", "stride", "padding", "output_padding", "dilation", "exact", "count map"], rows
            )
            if not sols:
                typer.echo("no solution within the bounds; try larger --max-kernel / --max-stride / --max-dilation")

    @app.command("rf")
    @friendly
    def rf(
        model: str = typer.Argument(..., help="alexnet-like, vgg16-like, small-cnn, or package.module:attr."),
        input_shape: str = typer.Option(None, "--input", "-i", help="N x C x spatial, e.g. 1x3x224x224."),
        layer: str = typer.Option(
            None,
            "--layer",
            "-l",
            help="With --position: a layer name from the table (or an index into the model's Sequential / .features).",
        ),
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
                ["input positions in the field", box.pixels],
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
            [r.name, r.kind, _fmt(r.output_size), _fmt(r.rf), "x".join(str(j) for j in r.jump), _fmt(r.start)]
            for r in rows_
        ]
        _table(
            f"Receptive fields of {model} on {_fmt(shape)} (--layer takes the layer column)",
            ["layer", "kind", "output", "rf", "jump", "start"],
            rows,
        )


def _tup(t: tuple[int, ...]) -> str:
    return str(t[0]) if len(set(t)) == 1 else str(tuple(t))
