"""Pictures of (transposed) convolution, drawn exactly from the plan: animations, graph diagrams, the matrix view.

- :func:`scene` computes the geometry and the numbers behind every frame (the only place pictures read the index
  mapping); :func:`animate` builds one from sizes and parameters.
- :func:`render_frames` draws the frames as arrays, :func:`save_animation` writes GIF, MP4 or a PNG/SVG contact sheet.
- :func:`graph_figure` draws seed 000's 1-D graph diagrams; :func:`matrix_figure` draws C / Cᵀ (seeds 001, 003).
- :func:`build_gallery` regenerates conv_arithmetic's set and more (``tconv gallery --out DIR``); the tour's lesson
  (:mod:`tconv.lesson`) shows a selection of it.

>>> import tconv.viz as viz
>>> sc = viz.animate("transposed", 3, 3, stride=2, padding=1)
>>> len(sc.frames), sc.output.shape       # one frame per output element
(5, (5,))
>>> len(viz.animate("transposed", 3, 3, stride=2, view="scatter").frames)   # ... or per input element
3
"""

from __future__ import annotations

from .animate import FORMATS, animate, contact_sheet, frame_canvas, render_frames, save_animation
from .frames import OPS, VIEWS, Frame, Grid, Scene, animation_plan, example_values, scene
from .gallery import CASES, Case, build_gallery, render_case
from .graph import PANELS, graph_edges, graph_figure
from .matrix import matrix_figure

__all__ = [
    "OPS",
    "VIEWS",
    "FORMATS",
    "PANELS",
    "Scene",
    "Frame",
    "Grid",
    "scene",
    "animate",
    "animation_plan",
    "example_values",
    "frame_canvas",
    "render_frames",
    "contact_sheet",
    "save_animation",
    "graph_figure",
    "graph_edges",
    "matrix_figure",
    "Case",
    "CASES",
    "build_gallery",
    "render_case",
]
