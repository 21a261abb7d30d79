"""The tour's first section: the six formulations agree, and the output-size formula worked with numbers.

>>> import tempfile, pathlib
>>> s = tour_section(pathlib.Path(tempfile.mkdtemp()))
>>> s.id, "zero_insert" in s.html, "16" in s.html
('formulations', True, True)
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import torch

from ..geometry import Plan, make_plan
from ..tour import Section, table_html
from . import get_method

__all__ = ["tour_section", "DEFAULT", "agreement_table"]

#: The default configuration of the tour: 2-D, k3 s2 p1 op1, groups 2 (an SD-like upsampling layer, in small).
DEFAULT = dict(
    input_shape=(2, 4, 8, 8), weight_shape=(4, 3, 3, 3), stride=2, padding=1, output_padding=1, groups=2, dilation=1
)

_CITES = {
    "scatter": "the definition: each input adds its scaled, dilated kernel into the output",
    "zero_insert": "insert s−1 zeros between inputs, pad by d(k−1)−p, flip the kernel, stride-1 convolution",
    "matrix": "the forward convolution as a sparse matrix C; the transposed convolution is Cᵀ",
    "autograd": "the gradient of the forward convolution with respect to its input",
    "col2im": "one matrix product Wᵀ·X, then fold the columns into the output (im2col read backwards)",
    "polyphase": "sᵈ stride-1 sub-convolutions, one per output phase: no multiplication by an inserted zero",
    "subpixel": "the phases stacked as channels: one stride-1 convolution with C_out·sᵈ channels, then "
    "depth-to-space (the sub-pixel convolution of Shi et al. 2016)",
    "fft": "the full output as a linear convolution, computed as a product of spectra (large kernels, few channels)",
    "auto": "the fastest correct route for the layer (measured)",
    "torch": "PyTorch's F.conv_transpose2d, the reference",
}


def _plan() -> Plan:
    c = DEFAULT
    return make_plan(
        c["input_shape"], c["weight_shape"], c["stride"], c["padding"], c["output_padding"], c["groups"], c["dilation"]
    )


def agreement_table(repeats: int = 5, seed: int = 0) -> list[list]:
    """Rows ``[method, max |error| float64, max |error| float32, best-of-``repeats`` ms (float32, one thread), what it is]`` vs torch.

    >>> rows = agreement_table(repeats=1)
    >>> [r[0] for r in rows][:3], all(r[1] < 1e-12 for r in rows)
    (['torch', 'scatter', 'zero_insert'], True)
    """
    plan = _plan()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(plan.input_shape, generator=g, dtype=torch.float64)
    w = torch.randn(plan.weight_shape, generator=g, dtype=torch.float64)
    b = torch.randn(plan.out_channels, generator=g, dtype=torch.float64)
    ref = get_method("torch")(plan, x, w, b)
    x32, w32, b32 = x.float(), w.float(), b.float()
    ref32 = get_method("torch")(plan, x32, w32, b32)
    rows = []
    for name in (
        "torch", "scatter", "zero_insert", "matrix", "autograd", "col2im", "polyphase", "subpixel", "fft", "auto"
    ):  # fmt: skip
        fn = get_method(name)
        err64 = (fn(plan, x, w, b) - ref).abs().max().item()
        err32 = (fn(plan, x32, w32, b32) - ref32).abs().max().item()
        times = []
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one thread: stable numbers even on a shared machine
        try:
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn(plan, x32, w32, b32)
                times.append((time.perf_counter() - t0) * 1e3)
        finally:
            torch.set_num_threads(threads)
        rows.append([name, err64, err32, min(times), _CITES[name]])
    return rows


def _formula_html(plan: Plan) -> str:
    i, k, s, p = plan.in_size[0], plan.kernel_size[0], plan.stride[0], plan.pad_before[0]
    d, op, o = plan.dilation[0], plan.output_padding[0], plan.out_size[0]
    eq = plan.equivalent_conv
    up = eq.upsampled_size[0]
    pb, pa = eq.pad[0]
    phases = ", ".join(f"outputs ≡ {ph.residue} (mod {s}) use taps {list(ph.taps)}" for ph in plan.phases(0))
    # the size formulas are spelled out on purpose (teaching text); the numbers themselves come from the plan
    lines = [
        "<h3>The sizes, worked</h3><p>Output size per spatial dimension:</p>",
        "<pre>out = (i − 1)·s − 2p + d·(k − 1) + output_padding + 1\n"
        f"    = ({i} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = {o}</pre>",
        "<p>The same number from the equivalent stride-1 convolution: insert "
        f"s − 1 = {s - 1} zero between inputs ({i} → {up}), pad d(k − 1) − p = {pb} before and "
        f"d(k − 1) − p + output_padding = {pa} after ({up} → {up + pb + pa}), then a flipped {k}-tap kernel leaves "
        f"{up + pb + pa} − {d * (k - 1)} = {up + pb + pa - d * (k - 1)} outputs.</p>",
        f"<h3>Why polyphase never multiplies a zero</h3><p>Polyphase split along each dimension: {html.escape(phases)} — {s}² = {s**2} small stride-1 "
        "convolutions and no multiplication by an inserted zero. Pad every sub-kernel to the same "
        f"⌈k/s⌉ = {-(-k // s)} taps and stack the phases as output channels: the {s}² convolutions become ONE with "
        f"{plan.out_channels}·{s}² = {plan.out_channels * s * s} channels, and a depth-to-space shuffle interleaves "
        "them (<code>subpixel</code>; the sub-pixel convolution of super-resolution networks is exactly this).</p>",
        "<h3>The FFT: cost independent of the kernel</h3><p>Before the crop, each dimension of the output is the "
        "<em>linear convolution</em> of the zero-inserted input with the dilated kernel, so one product of spectra "
        "gives all of it (<code>fft</code>): its cost grows with the output's size, not the kernel's. On a 400² "
        "image with a 64×64 kernel it is two orders of magnitude faster than torch's direct sum (the benchmark in "
        "<code>docs/benchmarks.md</code>); with a 3×3 kernel and many channels it loses, and <code>auto</code> does "
        "not even time it there.</p>",
    ]
    return "\n".join(lines)


def tour_section(out_dir: Path, quick: bool = True) -> Section:
    """The six formulations on the default configuration: error vs torch, time, and the size formula worked."""
    plan = _plan()
    repeats = 5 if quick else 30
    rows = agreement_table(repeats=repeats)
    table = table_html(
        [
            "method",
            "max |err| float64",
            "max |err| float32",
            f"ms (float32, 1 thread, best of {repeats})",
            "what it is",
        ],
        [[r[0], f"{r[1]:.1e}", f"{r[2]:.1e}", f"{r[3]:.3f}", r[4]] for r in rows],
    )
    intro = (
        "<p>A transposed convolution can be written down in many ways that look nothing alike: as a sum of "
        "painted kernels, as an ordinary convolution of a zero-inserted input, as a matrix product, as a gradient, "
        "as one big matrix product followed by a fold, or as several small convolutions. tconv implements each one "
        "as a short function that reads like its explanation, and checks them against each other and against "
        "PyTorch. Here they all run on one layer, "
        f"<code>{html.escape(plan.describe())}</code>: input {plan.input_shape}, weight {plan.weight_shape} → "
        f"output {plan.output_shape} (stride 2, padding 1, output_padding 1, two groups). Errors are the largest "
        "absolute difference from PyTorch's <code>F.conv_transpose2d</code> on the same seeded random tensors, in "
        "float64 and float32.</p>"
    )
    note = (
        "<p class='muted'>The times are one call each on the machine that built this page, single-threaded, for "
        "orientation only; the <a href='performance.html'>performance page</a> has the measured benchmark.</p>"
    )
    return Section("formulations", "Every formulation, one layer", intro + table + note + _formula_html(plan))
