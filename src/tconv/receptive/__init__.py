"""Receptive fields, traced through the model's real graph.

The receptive field of a unit is the set of input positions its value depends on (seed 000 §3.3: "the region of the
input image that one element of a feature map corresponds to"). In seed 000's example, two same-padding convolutions
with kernels 3 and 5 give fields of 3 and 7; ``h_8`` (1-based) sees ``x_5 .. x_11``.

Every layer we understand relates output position ``u`` to input positions *per spatial dimension* — the same index
mapping as :mod:`tconv.geometry`:

* a convolution or pooling window (kernel ``k``, stride ``s``, dilation ``d``, padding before ``p``) reads
  ``u * s - p + t * d`` for ``t = 0 .. k - 1``;
* a transposed convolution receives, at output ``o``, input ``j = (o + p - t * d) / s`` for every tap ``t`` that
  makes it an integer (the plan's ``o = j * s + t * d - p`` solved for ``j``);
* adaptive pooling, nearest / linear up-sampling, padding, concatenation and broadcasting have their own small
  rules; pointwise layers (activations, normalization, dropout) keep positions.

The model is traced with torch.fx (a model fx cannot trace falls back to forward hooks, which only works for a plain
chain of layers whose last output is the model's), and sizes are found on storage-less "meta" tensors, so no real
activation is computed. An operation that is not understood is refused by name, never skipped. Where the graph
branches (residual additions, concatenations), a unit's field is the union of its paths' fields, kept exactly as an
N-d mask (parallel 1x7 and 7x1 branches give a 13-pixel cross, not a 7x7 square).

The package: :mod:`.relations` (per-dimension relations), :mod:`.rules` (which operation reads through which),
:mod:`.tracing` (model -> nodes), :mod:`.fields` (the
views), :mod:`.figures` (drawings and the tour).

Three views are offered:

* :func:`receptive_field` — one :class:`RFRow` per layer with the *theoretical* field (as if the input extended
  forever): ``rf`` (size), ``jump`` (distance in input pixels between neighbouring units), ``start`` (first input
  index of unit 0's field; negative when it reaches into padding). For a plain stack of convolutions and poolings
  this is the classic recurrence ``jump_out = jump_in * s``, ``rf_out = rf_in + d (k - 1) jump_in``,
  ``start_out = start_in - p * jump_in``.
* :func:`unit_fields` — every unit's theoretical field in one layer at once (per-dimension start/stop arrays, and
  which units' fields lie inside the input).
* :func:`receptive_field_box` — the exact field of one unit, clipped to the input (padding holds no input), as a
  :class:`RFBox` with per-dimension start/stop and the exact index sets (dilation leaves holes).

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Conv1d(1, 1, 3, padding=1), torch.nn.Conv1d(1, 1, 5, padding=2))
>>> [(r.name, r.rf, r.start) for r in receptive_field(net, (1, 1, 16))]
[('input', (1,), (0,)), ('0', (3,), (-1,)), ('1', (7,), (-3,))]
>>> receptive_field_box(net, (1, 1, 16), layer=1, position=7).start_stop   # seed 000: h_8 sees x_5..x_11 (1-based)
((4, 11),)
"""

from .fields import RFBox, RFRow, UnitFields, receptive_field, receptive_field_box, unit_fields
from .figures import draw_fields, tour_section

__all__ = [
    "RFRow",
    "RFBox",
    "UnitFields",
    "receptive_field",
    "receptive_field_box",
    "unit_fields",
    "draw_fields",
    "tour_section",
]
