"""A faithful port of seed 000 §3.3's per-call procedure, kept as the benchmark's baseline and a test oracle.

``cal_vis_data`` projects one image and one channel per call: a forward pass recording ``nn.MaxPool2d`` indices,
a one-hot seed at the channel's maximum, and a mirror network built anew on every call from ``nn.ConvTranspose2d``
(forward weights, no bias), ``nn.MaxUnpool2d`` (which *overwrites* where switches coincide) and ``nn.ReLU``.
``cal_vis_data_grad_ver`` is the same through autograd with the "revised ReLU".

The port keeps the seed's behaviour, defects included, with one opt-in fix: ``output_size=True`` passes the forward
layers' input sizes to ``ConvTranspose2d.forward`` and ``MaxUnpool2d.forward``. Without it an AlexNet conv1
(11x11, stride 4, padding 2) on a 224 image comes back as 223 -- the seed's code only works where every layer's
size is the "natural" one:

>>> import torch, torch.nn as nn
>>> net = nn.Sequential(nn.Conv2d(3, 4, 11, stride=4, padding=2), nn.ReLU())
>>> cal_vis_data(torch.rand(3, 224, 224), net, 0)[0].shape
torch.Size([3, 223, 223])
>>> cal_vis_data(torch.rand(3, 224, 224), net, 0, output_size=True)[0].shape
torch.Size([3, 224, 224])
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["RevisedReLU", "cal_vis_data", "cal_vis_data_grad_ver", "all_channels"]


@torch.no_grad()
def cal_vis_data(
    img: Tensor, submodel: nn.Sequential, fm_index: int | None = None, output_size: bool = False
) -> tuple[Tensor, int]:
    """Seed 000's ``cal_vis_data``: the deconvnet projection of one image (3, H, W) for one channel."""
    # step 1: forward, recording the switches
    assert img.ndim == 3 and img.size(0) == 3
    indices_stack = []
    sizes_stack = []  # (the fix: the input size of each mirrored layer)
    output = img
    for layer in submodel:
        if isinstance(layer, nn.Conv2d):
            assert layer.dilation == (1, 1)
            sizes_stack.append(output.shape[-2:])
            output = layer.forward(output)
        elif isinstance(layer, nn.ReLU):
            output = layer.forward(output)
        elif isinstance(layer, nn.MaxPool2d):
            sizes_stack.append(output.shape[-2:])
            layer.return_indices = True
            output, indices = layer.forward(output)
            indices_stack.append(indices)
            layer.return_indices = False
        else:
            raise NotImplementedError

    # step 2: the one-hot seed at the channel's maximum
    if fm_index is None:
        fm_index = torch.argmax(torch.max(output.flatten(-2, -1), axis=-1).values).item()
    max_pos = np.unravel_index(indices=torch.argmax(output[fm_index]).detach().numpy(), shape=output[fm_index].shape)
    r_output = torch.zeros_like(output)
    r_output[fm_index][max_pos] = 1.0

    # step 3: back through a mirror network built for this call
    for layer in reversed(submodel):
        if isinstance(layer, nn.Conv2d):
            r_layer = nn.ConvTranspose2d(
                in_channels=layer.out_channels,
                out_channels=layer.in_channels,
                kernel_size=layer.kernel_size,
                stride=layer.stride,
                padding=layer.padding,
                bias=False,
                dtype=layer.weight.dtype,  # (the port follows the model's dtype and device)
                device=layer.weight.device,
            )
            r_layer.weight.data.copy_(layer.weight.data)
            size = sizes_stack.pop()
            r_output = r_layer.forward(r_output, output_size=list(size) if output_size else None)
        elif isinstance(layer, nn.ReLU):
            r_layer = nn.ReLU()
            r_output = r_layer.forward(r_output)
        elif isinstance(layer, nn.MaxPool2d):
            r_layer = nn.MaxUnpool2d(kernel_size=layer.kernel_size, stride=layer.stride, padding=layer.padding)
            size = sizes_stack.pop()
            r_output = r_layer.forward(
                r_output, indices=indices_stack.pop(), output_size=list(size) if output_size else None
            )
    return r_output, fm_index


class RevisedReLU(torch.autograd.Function):
    """Seed 000's revised ReLU: ReLU forward, ReLU of the gradient backward."""

    @staticmethod
    def forward(ctx, input):  # type: ignore[no-untyped-def, override]
        return torch.relu(input)

    @staticmethod
    def backward(ctx, grad_output):  # type: ignore[no-untyped-def, override]
        return torch.relu(grad_output)


def cal_vis_data_grad_ver(img: Tensor, submodel: nn.Sequential, fm_index: int | None = None) -> tuple[Tensor, int]:
    """Seed 000's ``cal_vis_data_grad_ver``: the same projection through autograd (max-pool gradients sum).

    Unlike the seed, it restores ``requires_grad`` of the parameters afterwards.
    """
    flags = [p.requires_grad for p in submodel.parameters()]
    for param in submodel.parameters():
        param.requires_grad = False
    try:
        assert img.ndim == 3 and img.size(0) == 3
        output = img = nn.Parameter(img.clone())
        for layer in submodel:
            if isinstance(layer, nn.ReLU):
                output = RevisedReLU.apply(output)
            else:
                output = layer(output)
        if fm_index is None:
            fm_index = torch.argmax(torch.max(output.flatten(-2, -1), axis=-1).values).item()
        output[fm_index].max().backward()
        return img.grad.detach(), fm_index
    finally:
        for p, f in zip(submodel.parameters(), flags, strict=True):
            p.requires_grad = f


def all_channels(
    images: Tensor, submodel: nn.Sequential, channels: list[int] | None = None, output_size: bool = True
) -> Tensor:
    """The per-call baseline for "every channel of a layer over a batch": one ``cal_vis_data`` call per pair.

    Returns (B, K, 3, H, W), the layout of :func:`tconv.zfnet.project_channels`.
    """
    out_channels = [m for m in submodel if isinstance(m, nn.Conv2d)][-1].out_channels
    chans = list(range(out_channels)) if channels is None else list(channels)
    return torch.stack([torch.stack([cal_vis_data(img, submodel, c, output_size)[0] for c in chans]) for img in images])
