"""The tour's main page: transposed convolution explained to a student, top to bottom, in plain words.

Every number in the text is computed here from the same plan the operator uses (sizes from :mod:`tconv.arith`,
sums from :meth:`tconv.geometry.Plan.contributors`, pictures from :mod:`tconv.viz`), so the lesson cannot drift
from the code. :func:`render` writes the page's own pictures into the tour folder and returns the HTML; the
animations, graphs and matrices are the gallery's files (``gallery/``), shown where the text needs them.

>>> try_link("try it", m="t", nd=1, i=3, k=3, s=2)
'<a class="try" href="explorer.html#m=t&amp;nd=1&amp;i=3&amp;k=3&amp;s=2&amp;d=1&amp;pm=sym&amp;p=0&amp;op=0">try it</a>'
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from .arith import conv_output_size, conv_transpose_output_size, inverse_of
from .geometry import Plan, plan_from_sizes

__all__ = ["CHAPTERS", "GALLERY_CASES", "render", "try_link", "explorer_hash"]

#: The chapters, in reading order: (anchor, title).
CHAPTERS: tuple[tuple[str, str], ...] = (
    ("what", "1. What a transposed convolution is, and why people use it"),
    ("one-d", "2. One dimension, with numbers"),
    ("two-views", "3. Two ways to compute it: scatter, or insert zeros and flip"),
    ("matrix", "4. The matrix view: Cᵀ"),
    ("sizes", "5. Sizes: the formula, output_padding, and undoing a convolution"),
    ("explorer", "6. Try it yourself: the explorer"),
    ("upsampling", "7. Unpooling, upsampling and transposed convolution; checkerboards"),
    ("applications", "8. Applications and evidence"),
    ("references", "9. References"),
)

#: The gallery pictures the lesson shows (a ``--quick`` tour builds only these).
GALLERY_CASES: tuple[str, ...] = (
    "padding_strides_transposed_scatter",
    "padding_strides_transposed",
    "seed000_strided_graph",
    "seed000_strided_scatter",
    "seed000_strided",
    "matrix_1d_strided_C",
    "matrix_1d_strided_CT",
    "output_padding_graph",
)

_KEYS = ("m", "nd", "i", "k", "s", "d", "pm", "p", "op")


def explorer_hash(**ui: Any) -> str:
    """The explorer's URL hash for a setting (its format: ``m`` mode t/c/i, ``nd``, per-dimension ``i k s d p op``
    comma-separated, ``pm`` padding mode, ``v`` view eq/sc/cv); 2-D values given as one number are repeated.

    >>> explorer_hash(m="t", nd=2, i=4, k=4, s=2, p=1, v="sc")
    'm=t&nd=2&i=4,4&k=4,4&s=2,2&d=1,1&pm=sym&p=1,1&op=0,0&v=sc'
    """
    vals = {"m": "t", "nd": 2, "d": 1, "pm": "sym", "p": 0, "op": 0, **ui}
    nd = int(vals["nd"])
    parts = []
    for key in (*_KEYS, *(k for k in vals if k not in _KEYS)):
        if key not in vals or (key == "op" and vals["m"] != "t"):
            continue
        v = vals[key]
        if key in ("i", "k", "s", "d", "p", "op"):
            v = ",".join(str(x) for x in (v if isinstance(v, (tuple, list)) else [v] * nd))
        parts.append(f"{key}={v}")
    return "&".join(parts)


def try_link(label: str, **ui: Any) -> str:
    """A "try it" link that opens the explorer (embedded in chapter 6, or on its own) on a setting."""
    return f'<a class="try" href="{html.escape("explorer.html#" + explorer_hash(**ui))}">{html.escape(label)}</a>'


def _figure(src: str, view: str, caption: str, alt: str, width: int | None = None, lazy: bool = True) -> str:
    """A figure with its caption above it, naming the view; the picture links to itself (full size on a phone)."""
    w = f' width="{width}"' if width else ""
    load = ' loading="lazy"' if lazy else ""
    return (
        f"<figure><figcaption><b>{html.escape(view)}.</b> {caption}</figcaption>"
        f'<a href="{html.escape(src)}"><img src="{html.escape(src)}" alt="{html.escape(alt)}"{w}{load}></a></figure>'
    )


def _sum_line(plan: Plan, x: np.ndarray, w: np.ndarray, o: int) -> str:
    """``y[o] = x[0]·w[2] + x[1]·w[0] = 3·3 + 2·2 = 13``, from the plan's contributors of output ``o``."""
    pairs = plan.contributors((o,))
    if not pairs:
        return f"y[{o}] = 0 (no input reaches it)"
    sym = " + ".join(f"x[{j}]·w[{t}]" for (j,), (t,) in pairs)
    num = " + ".join(f"{x[j]:g}·{w[t]:g}" for (j,), (t,) in pairs)
    total = sum(x[j] * w[t] for (j,), (t,) in pairs)
    return f"y[{o}] = {sym} = {num} = {total:g}"


def _overlap_figure() -> Any:
    """How many contributions each output gets (the transposed convolution of ones) for k3 s2 and k4 s2, 1-D and
    2-D, drawn from :meth:`Plan.overlap_counts`."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    from .viz.style import INPUT_DARK, MUTED, TEXT  # noqa: PLC0415

    cases = [("kernel 3, stride 2", dict(kernel_size=3, stride=2, padding=1, output_padding=1)),
             ("kernel 4, stride 2", dict(kernel_size=4, stride=2, padding=1))]  # fmt: skip
    fig = Figure(figsize=(7.6, 4.6), layout="constrained")
    axes = fig.subplots(2, 2, width_ratios=[2.3, 1])
    for row, (name, kw) in enumerate(cases):
        one = plan_from_sizes(6, **kw).overlap_counts()
        two = plan_from_sizes((6, 6), **kw).overlap_counts()
        ax = axes[row][0]
        ax.bar(np.arange(len(one)), one, color=INPUT_DARK, width=0.8)
        for x, v in enumerate(one):
            ax.text(x, v + 0.05, str(int(v)), ha="center", va="bottom", fontsize=9, color=TEXT)
        ax.set_ylim(0, 2.7)
        ax.set_yticks([])
        ax.set_xticks(range(len(one)))
        ax.tick_params(labelsize=8, colors=MUTED)
        ax.set_title(f"{name}: contributions per output (6 inputs → {len(one)})", fontsize=10, loc="left")
        for s in ("top", "right", "left"):
            ax.spines[s].set_visible(False)
        ax2 = axes[row][1]
        ax2.imshow(two, cmap="Greens", vmin=0, vmax=4.5)
        ax2.set_xticks([])
        ax2.set_yticks([])
        ax2.set_title("the same in 2-D", fontsize=10, loc="left")
        for (r, c), v in np.ndenumerate(two):
            ax2.text(c, r, str(int(v)), ha="center", va="center", fontsize=6.5, color="#ffffff" if v > 2 else TEXT)
    return fig


# ----------------------------------------------------------------------------------------------------------------
# the chapters
# ----------------------------------------------------------------------------------------------------------------
def _what() -> str:
    return (
        "<p>A <b>convolution</b> slides a small grid of weights, the <i>kernel</i>, over its input. At each position "
        "it multiplies the numbers under the kernel by the weights and adds them up: many inputs make one output. "
        "With a <i>stride</i> of 2 the kernel jumps two steps at a time, so the output is about half as large.</p>"
        "<p>A <b>transposed convolution</b> goes the other way. Each input number <i>paints</i> a copy of the "
        "kernel, multiplied by its own value, onto a larger output; where two copies overlap, they add. With a stride "
        "of 2 the copies are placed two steps apart, so the output is about twice as large. The picture below shows "
        "exactly that for a 3×3 input and a 3×3 kernel: one input at a time, its kernel painted into the output.</p>"
        + _figure(
            "gallery/padding_strides_transposed_scatter.gif",
            "Scatter view, 2-D",
            "A transposed convolution with kernel 3, stride 2 and padding 1 takes a 3×3 input (blue) to a 5×5 output "
            "(green). Each frame paints one input's copy of the kernel; the small number in an output cell counts "
            "how many copies have landed there, and grey cells with a cross are cut off by the padding.",
            "animation: each input of a 3x3 grid paints a 3x3 kernel into a 5x5 output",
            lazy=False,
        )
        + "<p>The name comes from linear algebra: written as a matrix, a convolution is <i>y</i> = <i>C x</i>, and "
        "the transposed convolution is <i>y</i> = <i>Cᵀ x</i> with the same matrix, transposed (chapter 4). It is "
        "also exactly what backpropagation computes when it sends a gradient back through a convolution to its "
        "input. People often call it <i>deconvolution</i>, but it does not undo a convolution: it brings back the "
        "<i>shape</i> of the input, not its values.</p>"
        "<p><b>Why people use it.</b> A network that has to <i>produce</i> an image, a mask or a sound must grow "
        "small feature maps back to full size, and a transposed convolution does that with weights it learns:</p><ul>"
        "<li><b>Decoders and autoencoders</b> compress an input into a short code and decode it again; the decoder's "
        "layers are transposed convolutions (the <a href='bezier.html'>Bezier-curve autoencoder</a> is a small "
        "one).</li>"
        "<li><b>GANs</b>: the generator of DCGAN (Radford et al. 2016) turns 100 random numbers into a 64×64 image "
        "through a stack of stride-2 transposed convolutions, each doubling the size (4×4 → 8×8 → … → 64×64).</li>"
        "<li><b>Segmentation</b>: fully convolutional networks (Long et al. 2015) and U-Net (Ronneberger et al. "
        "2015) label every pixel; they shrink the image to understand it, then upsample the coarse answer back to "
        "full resolution with transposed convolutions.</li>"
        "<li><b>Looking inside a network</b>: Zeiler &amp; Fergus (2014) ran a CNN backwards with transposed "
        "convolutions to see which pixels a unit responds to (<a href='zfnet.html'>ZFNet visualization</a>).</li>"
        "</ul><p>In PyTorch it is <code>torch.nn.ConvTranspose2d</code>; tconv computes the same thing six different "
        "ways (<code>tconv.conv_transpose</code>) and draws every one of them. The rest of this page builds the "
        "idea up from one dimension.</p>"
    )


def _one_d(plan: Plan, x: np.ndarray, w: np.ndarray) -> str:
    i, k, s, o = plan.in_size[0], plan.kernel_size[0], plan.stride[0], plan.out_size[0]
    vec = lambda a: "[" + ", ".join(f"{v:g}" for v in a) + "]"  # noqa: E731
    y = [sum(x[j] * w[t] for (j,), (t,) in plan.contributors((n,))) for n in range(o)]
    lines = "\n".join(_sum_line(plan, x, w, n) for n in range(o))
    return (
        f"<p>Take {i} input numbers <i>x</i> = {vec(x)}, a kernel of {k} weights <i>w</i> = {vec(w)} and stride "
        f"{s}. Input <i>x</i>[<i>j</i>] sends <i>x</i>[<i>j</i>]·<i>w</i>[<i>t</i>] to output position "
        f"<i>j</i>·{s} + <i>t</i> for every tap <i>t</i>: input 0 writes to outputs 0, 1, 2; input 1, placed "
        f"{s} further, to outputs 2, 3, 4; input 2 to 4, 5, 6. That makes (3 − 1)·2 + 3 = {o} outputs, and outputs "
        "2 and 4 receive two contributions each:</p>"
        f"<div class='eq'>{html.escape(lines)}</div>"
        f"<p>So <i>y</i> = {vec(y)}. The graph below draws every one of these products as an edge, coloured by the "
        "weight it carries, with the values in the nodes. Its middle panel is the picture to keep in mind; the top "
        "panel shows that it is the ordinary stride-2 convolution with its edges walked backwards, and the bottom "
        f"one prepares the next chapter. {try_link('try it', m='t', nd=1, i=i, k=k, s=s, v='sc')}</p>"
        + _figure(
            "gallery/seed000_strided_graph.png",
            "Graph view",
            f"Input {i}, kernel {k}, stride {s}. (a) the convolution that maps {o} numbers to {i} (its own input "
            "x₀…x₆ and output o₀…o₂); (b) the transposed convolution of chapter 2: the same edges from the bottom "
            "row up, the values of x and y in the nodes; (c) the same result computed as an ordinary convolution "
            "over the input with zeros inserted (dashed: zeros). Edge colour = kernel weight, values in the legend.",
            "graph of a 1-D transposed convolution with stride 2",
        )
    )


def _two_views(plan: Plan) -> str:
    eq = plan.equivalent_conv
    (pb, _), z, k = eq.pad[0], eq.zeros_between[0], plan.kernel_size[0]
    return (
        "<p>There are two ways to compute the same numbers, and both are worth seeing move.</p>"
        "<p><b>Scatter</b> (the definition): visit the inputs one by one and add each one's scaled kernel into the "
        "output. This is how the operation is defined and how its overlaps arise.</p>"
        + _figure(
            "gallery/seed000_strided_scatter.gif",
            "Scatter view, with numbers",
            "The example of chapter 2. Each frame adds one input times the kernel into the output; the running sums "
            "and, in the corner of each cell, the number of contributions so far.",
            "animation: each input adds its scaled kernel to the output",
        )
        + "<p><b>Insert zeros and flip</b> (the equivalent convolution): put "
        f"<i>s</i> − 1 = {z} zero between neighbouring inputs, pad with <i>k</i> − 1 − <i>p</i> = {pb} zeros at "
        f"each end, turn the kernel around, and slide it one step at a time like an ordinary convolution. Each "
        "output is then finished in one step. The kernel has to be flipped because the roles swap: in the scatter "
        "view input <i>j</i> reaches output <i>j</i>·<i>s</i> + <i>t</i> through tap <i>t</i>, so seen from an "
        "output, a larger tap index means an input further to the <i>left</i>.</p>"
        + _figure(
            "gallery/seed000_strided.gif",
            "Zero-insertion view, with numbers",
            "The same example. The input with one zero between its values and two zeros of padding at each end "
            f"(dashed); the flipped kernel ({k} taps, colours reversed) slides one step per frame and writes one "
            "output. Same numbers as the scatter view.",
            "animation: the flipped kernel slides over the zero-inserted input",
        )
        + "<p>The scatter view never multiplies by the inserted zeros, so it is the cheaper one to compute; the "
        "zero-insertion view is easier to draw, and it is how Dumoulin &amp; Visin's convolution arithmetic guide "
        "pictures every case. Here is the 2-D case of chapter 1 in that view:</p>"
        + _figure(
            "gallery/padding_strides_transposed.gif",
            "Zero-insertion view, 2-D",
            "Kernel 3, stride 2, padding 1, input 3×3 → output 5×5: zeros between the inputs (white), padding "
            "around them (dashed), the flipped kernel sliding with stride 1.",
            "animation: 2-D transposed convolution as a convolution of the zero-inserted input",
        )
        + f"<p>{try_link('try the 2-D case in both views', m='t', nd=2, i=3, k=3, s=2, p=1, v='eq')}</p>"
    )


def _matrix() -> str:
    return (
        "<p>Flatten the input and the output into vectors. A convolution is then a matrix product <i>y</i> = "
        "<i>C x</i>: row <i>r</i> of <i>C</i> holds the kernel's weights in the columns of the inputs that output "
        "<i>r</i> reads, and zeros everywhere else. The stride-2 convolution of chapter 2 maps 7 numbers to 3, so "
        "<i>C</i> has 3 rows and 7 columns:</p>"
        + _figure(
            "gallery/matrix_1d_strided_C.png",
            "Matrix view: C",
            "The convolution with kernel 3 and stride 2, 7 inputs → 3 outputs. Each row is the kernel, shifted by "
            "the stride; the colours are the weights' colours in every other picture.",
            "the 3 by 7 convolution matrix C",
        )
        + "<p>The transposed convolution uses the <i>same</i> matrix, transposed: <i>y</i> = <i>Cᵀ x</i> maps 3 "
        "numbers to 7. Column <i>j</i> of <i>Cᵀ</i> is the kernel that input <i>j</i> paints (the scatter view); "
        "row <i>r</i> lists the weights that output <i>r</i> collects, in reversed order (the flipped kernel of the "
        "zero-insertion view). Both views are just two ways of reading one matrix.</p>"
        + _figure(
            "gallery/matrix_1d_strided_CT.png",
            "Matrix view: Cᵀ",
            "The transposed convolution of chapter 2, 3 inputs → 7 outputs: Cᵀ is 7 × 3. Outputs 2 and 4 have two "
            "entries in their rows: the two overlapping contributions.",
            "the 7 by 3 matrix C transposed",
        )
        + "<p>This is also why backpropagation produces a transposed convolution: the gradient of <i>y</i> = "
        "<i>C x</i> with respect to <i>x</i> is <i>Cᵀ</i> times the gradient of <i>y</i>. Real layers never build "
        "the matrix (it is almost all zeros: a 64×64 map with a 3×3 kernel gives a 4096 × 4096 matrix with 9 "
        'non-zeros per row), but tconv\'s <code>method="matrix"</code> does, to check the other methods. '
        f"{try_link('see Cᵀ in the explorer', m='t', nd=2, i=2, k=3, s=1, v='eq')}</p>"
    )


def _sizes() -> str:
    i, k, s, p = 4, 4, 2, 1
    o = conv_transpose_output_size(i, k, s, p)
    a7, a8 = conv_output_size(7, 3, 2, 1), conv_output_size(8, 3, 2, 1)
    back, back1 = conv_transpose_output_size(4, 3, 2, 1), conv_transpose_output_size(4, 3, 2, 1, op=1)
    import torch.nn as nn  # noqa: PLC0415

    alex_out = conv_output_size(224, 11, 4, 2)
    inv = inverse_of(nn.Conv2d(3, 64, 11, 4, 2, device="meta"), 224)
    plain = conv_transpose_output_size(alex_out, 11, 4, 2)
    formula = (
        "out = (in − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1\n"
        f"    = ({i} − 1)·{s} − 2·{p} + 1·({k} − 1) + 0 + 1 = {o}"
    )
    return (
        "<p>Along each dimension, the output size of a transposed convolution is</p>"
        f"<div class='eq'>{html.escape(formula)}</div>"
        f"<p>filled in above for the DCGAN generator's layers as PyTorch's example writes them (kernel {k}, stride "
        f"{s}, padding {p}): a {i}×{i} map becomes "
        f"{o}×{o}, exactly double. Read it from the scatter view: the last input lands at (in − 1)·stride, its "
        "kernel reaches dilation·(kernel − 1) further, and padding cuts that many outputs off each end. "
        f"{try_link('try DCGAN’s layer', m='t', nd=2, i=i, k=k, s=s, p=p)}</p>"
        "<h3>Why output_padding exists</h3>"
        f"<p>A stride-2 convolution with kernel 3 and padding 1 maps a 7-long input to {a7} outputs, and an 8-long "
        f"input also to {a8}: the division by the stride rounds down, so two input sizes give the same output size. "
        f"Going back from {a7}, the transposed convolution with the same settings gives {back}. If the original was "
        f"8 long, you need one more output at the end: <code>output_padding=1</code> adds it, giving {back1}. It "
        "only chooses between sizes the stride made ambiguous, so it must be smaller than the stride (or the "
        "dilation). In the graph below, padding 1 cuts one output at the start and one at the end, and "
        "output_padding gives the one at the end back.</p>"
        + _figure(
            "gallery/output_padding_graph.png",
            "Graph view with output_padding",
            f"Input 4, kernel 3, stride 2, padding 1, output_padding 1 → {back1} outputs. The dashed grey node is cut "
            "off by the padding; at the end, output_padding cancels the padding's cut. An output that only "
            "output_padding adds, past every input's reach, is drawn white with a dotted rim (here there is none).",
            "graph of a transposed convolution with padding 1 and output_padding 1",
        )
        + f"<p>{try_link('try it', m='t', nd=1, i=4, k=3, s=2, p=1, op=1, v='sc')} and raise output_padding "
        "or lower padding to see an output that no input reaches.</p>"
        "<h3>From a convolution to the layer that undoes its shape</h3>"
        f"<p>AlexNet's first layer, <code>Conv2d(3, 64, kernel_size=11, stride=4, padding=2)</code>, maps a 224×224 "
        f"image to {alex_out}×{alex_out}. The transposed convolution with the same settings maps {alex_out} back to "
        f"only {plain}. <code>tconv.inverse_of(conv, 224)</code> copies kernel, stride, padding and dilation and "
        f"solves output_padding, giving <code>{html.escape(repr(inv))}</code>, which returns 224. "
        f"{try_link('try it', m='i', nd=2, i=224, k=11, s=4, p=2)} "
        "(the explorer's inverse mode). The <a href='arithmetic.html'>sizes page</a> checks the formulas on worked "
        "cases against PyTorch, and shows the trap in PyTorch's positional arguments.</p>"
    )


def _explorer() -> str:
    start = "explorer.html?embed#" + explorer_hash(m="t", nd=1, i=3, k=3, s=2, v="sc")  # ?embed: no page header
    return (
        "<p>The explorer below computes every view of this page for any setting you choose: 1-D or 2-D, convolution "
        "or transposed convolution, any kernel, stride, padding, dilation, output_padding and groups. Hover an "
        "output to see which inputs and weights it sums; hover an input to see where it paints. The size formula is "
        "filled in as you type, invalid settings get the same message tconv's Python raises, and the page shows "
        "the PyTorch and TensorFlow code for the layer. Every <b>▶ try it</b> link on this page opens it here, on "
        "the setting being discussed.</p>"
        f"<div class='frame-wrap'><iframe class='explorer' id='explorer-frame' name='explorer-frame' "
        f"title='Interactive explorer of transposed convolution' loading='lazy' src='{html.escape(start)}'></iframe>"
        "</div><p class='small'>The explorer is one self-contained page with no network access; "
        "<a href='explorer.html'>open it on its own</a> for the full window, or write it anywhere with "
        "<code>tconv explore --out explorer.html</code>.</p><a id='back' href='#'>↩ back to the text</a>"
    )


def _upsampling(checker_src: str) -> str:
    k3 = plan_from_sizes(6, 3, stride=2, padding=1, output_padding=1).overlap_counts()
    k4 = plan_from_sizes(6, 4, stride=2, padding=1).overlap_counts()
    inner = lambda c: ", ".join(str(int(v)) for v in c[1:7])  # noqa: E731
    return (
        '<p>Three different operations are all called "upsampling", and they are easy to mix up:</p><ul>'
        "<li><b>Max unpooling</b> undoes a max pool's <i>positions</i>: the pool remembers where each maximum came "
        "from (its <i>switch</i>), and unpooling puts each value back there, with zeros everywhere else. No weights. "
        "Zeiler &amp; Fergus's deconvnet uses it to run a network backwards.</li>"
        "<li><b>Upsampling by copying or interpolation</b> (nearest neighbour, bilinear) enlarges a map by a fixed "
        "rule, with no weights. Followed by an ordinary convolution it becomes <i>resize-convolution</i>.</li>"
        "<li><b>Transposed convolution</b> enlarges with <i>learned</i> weights: each input paints its kernel. "
        "Pixel shuffle (sub-pixel convolution) is the same operation reorganized: one convolution per output phase, "
        "then the phases interleaved.</li></ul>"
        "<p><b>Checkerboards.</b> When the kernel size is not a multiple of the stride, the painted copies overlap "
        f"unevenly. With kernel 3 and stride 2, the outputs receive {inner(k3)}, … contributions: every second output "
        "is a sum of two products, the others of one. In 2-D this becomes a grid pattern of 1s, 2s and 4s, and a "
        "network has to learn weights that hide it, which it often fails to do. Odena, Dumoulin &amp; Olah (2016) "
        "showed these checkerboard artifacts in generated images and recommended resize-convolution instead. "
        f"A kernel divisible by the stride, like 4 with stride 2, overlaps evenly inside ({inner(k4)}, …).</p>"
        + _figure(
            checker_src,
            "Overlap counts",
            "How many kernel products land on each output (the transposed convolution of an all-ones input and "
            "kernel), 6 inputs: kernel 3 stride 2 alternates 1, 2; kernel 4 stride 2 is even except at the borders. "
            "Right: the same in 2-D, where the counts multiply.",
            "bar charts and heat maps of overlap counts for kernel 3 and kernel 4 with stride 2",
        )
        + f"<p>{try_link('see the overlap counts for kernel 3, stride 2', m='t', nd=2, i=6, k=3, s=2, p=1, op=1, v='sc')}"
        ". The <a href='upsampling.html'>upsampling experiments</a> train all of these side by side and measure the "
        "ripple, instead of only picturing it.</p>"
    )


_REFERENCES = (
    ("V. Dumoulin, F. Visin. <i>A guide to convolution arithmetic for deep learning</i>. arXiv:1603.07285, 2016",
     "https://arxiv.org/abs/1603.07285", "its animations: https://github.com/vdumoulin/conv_arithmetic"),
    ("M. D. Zeiler, R. Fergus. <i>Visualizing and Understanding Convolutional Networks</i>. ECCV 2014",
     "https://arxiv.org/abs/1311.2901", ""),
    ("A. Odena, V. Dumoulin, C. Olah. <i>Deconvolution and Checkerboard Artifacts</i>. Distill, 2016",
     "https://distill.pub/2016/deconv-checkerboard/", ""),
    ("<i>Visualizing the Deconvolution Operation</i>, Towards Data Science: the Bezier-curve autoencoder experiment",
     "https://towardsdatascience.com/visualizing-the-deconvolution-operation-8dad71577912", ""),
    ("A. Radford, L. Metz, S. Chintala. <i>Unsupervised Representation Learning with Deep Convolutional Generative "
     "Adversarial Networks</i> (DCGAN). ICLR 2016", "https://arxiv.org/abs/1511.06434", ""),
    ("J. Long, E. Shelhamer, T. Darrell. <i>Fully Convolutional Networks for Semantic Segmentation</i>. CVPR 2015",
     "https://arxiv.org/abs/1411.4038", ""),
    ("O. Ronneberger, P. Fischer, T. Brox. <i>U-Net: Convolutional Networks for Biomedical Image Segmentation</i>. "
     "MICCAI 2015", "https://arxiv.org/abs/1505.04597", ""),
    ("W. Shi et al. <i>Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel Convolutional "
     "Neural Network</i>. CVPR 2016", "https://arxiv.org/abs/1609.05158", ""),
)  # fmt: skip

# "try it" links load the embedded explorer and scroll to it; "back" returns to the paragraph the reader left
_SCRIPT = """
(function(){var frame=document.getElementById('explorer-frame'),back=document.getElementById('back'),from=null;
if(!frame)return;document.addEventListener('click',function(e){var a=e.target.closest&&e.target.closest('a.try');
if(!a)return;e.preventDefault();from=a;frame.src=a.getAttribute('href').replace('#','?embed#');
back.style.display='block';
frame.parentNode.scrollIntoView({behavior:'smooth',block:'start'});});
back.addEventListener('click',function(e){e.preventDefault();back.style.display='none';
if(from)from.scrollIntoView({behavior:'smooth',block:'center'});});})();
"""


def render(out_dir: Path, pages: Any) -> str:
    """The lesson page as HTML; writes its own pictures (the overlap figure) into ``out_dir/img``.

    Needs the gallery's pictures of :data:`GALLERY_CASES` in ``out_dir/gallery`` (``run_tour`` builds them first).
    """
    from .tour import Section, img_tag, page_links, render_page  # noqa: PLC0415
    from .viz import scene  # noqa: PLC0415

    plan = plan_from_sizes(3, 3, stride=2)
    sc = scene(plan, view="scatter")  # the gallery's numbers for this case (same default seed)
    fig = _overlap_figure()
    checker = img_tag(fig, "overlap counts").split('src="', 1)[1].split('"', 1)[0]
    refs = "".join(
        f"<li>{text}. <a href='{url}'>{html.escape(url)}</a>{f' ({html.escape(extra)})' if extra else ''}</li>"
        for text, url, extra in _REFERENCES
    )
    bodies = {
        "what": _what(),
        "one-d": _one_d(plan, sc.x, sc.w),
        "two-views": _two_views(plan),
        "matrix": _matrix(),
        "sizes": _sizes(),
        "explorer": _explorer(),
        "upsampling": _upsampling(checker),
        "applications": "<p>The same operation at work on real problems, and the evidence that tconv computes it "
        "right and fast. Each page is built by the same command as this one, from the library's own code.</p>"
        + page_links(pages),
        "references": f"<ol class='refs'>{refs}</ol><p class='small'>Built by <code>tconv tour</code>: every "
        "number and picture in this lesson is computed by the tconv library when the page is built (the "
        "performance page reports the last <code>make bench</code> run).</p>",
    }
    sections = [Section(cid, title, bodies[cid]) for cid, title in CHAPTERS]
    intro = (
        "<p class='lead'>A short course for anyone who has met <code>ConvTranspose2d</code> in a decoder or a GAN "
        "and wants to know exactly what it computes: the idea in plain words, the arithmetic with real numbers, "
        "animated pictures, the sizes, and an explorer to try every setting.</p>"
    )
    return render_page("Transposed convolution, explained", sections, intro, toc=True, script=_SCRIPT)
