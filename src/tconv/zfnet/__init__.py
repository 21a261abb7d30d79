"""ZFNet-style CNN visualization (seed 000 §3): deconvnet projections, feature and kernel grids, top-9 patches.

>>> import torch, torch.nn as nn
>>> from tconv.zfnet import project
>>> net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True))
>>> project(net, torch.rand(3, 31, 31), layer=2)[0].shape
torch.Size([3, 31, 31])
"""

from __future__ import annotations

from . import images, models
from .objective import OBJECTIVES
from .project import METHODS, ROUTES, UNPOOLS, Mirror, Projections, Trace, features_of, project, project_channels
from .traced import Traced

__all__ = [
    "images",
    "models",
    "METHODS",
    "OBJECTIVES",
    "ROUTES",
    "Traced",
    "UNPOOLS",
    "Mirror",
    "Projections",
    "Trace",
    "features_of",
    "project",
    "project_channels",
]


def tour_section(out_dir, quick: bool = True):  # type: ignore[no-untyped-def]
    """The tour's section (see :mod:`tconv.zfnet.tour`; imported lazily, it draws with matplotlib)."""
    from .tour import tour_section as build  # noqa: PLC0415

    return build(out_dir, quick=quick)
