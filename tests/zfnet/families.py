"""Hand-built ResNet-18-like, U-Net-like and Inception-like models (torchvision is unusable here), each with a
forward pass written out again by hand with the activation passed in (``reference_forward(x, act)``).

The hand-written forward is the independent reference: it names every ReLU call explicitly, so the tests can give
it a rule of their own, with no fx tracing and no graph rewriting. ``reference_forward(x, F.relu)`` must equal
``model(x)``; the tests check that first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """ResNet's BasicBlock: one ReLU module used twice (in place), a strided 1x1 downsample with BatchNorm."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)

    def reference(self, x, act):
        identity = x if self.downsample is None else self.downsample(x)
        out = act(self.bn1(self.conv1(x)))
        return act(self.bn2(self.conv2(out)) + identity)


class ResNetLike(nn.Module):
    def __init__(self, widths=(4, 6, 8), classes: int = 5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 5, 2, 2, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(widths[0], widths[0], 1), BasicBlock(widths[0], widths[0], 1))
        self.layer2 = nn.Sequential(BasicBlock(widths[0], widths[1], 2), BasicBlock(widths[1], widths[1], 1))
        self.layer3 = nn.Sequential(BasicBlock(widths[1], widths[2], 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[2], classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def reference(self, x, act, stop=None):
        x = self.maxpool(act(self.bn1(self.conv1(x))))
        for name in ("layer1", "layer2", "layer3"):
            for block in getattr(self, name):
                x = block.reference(x, act)
            if stop == name:
                return x
        return self.fc(torch.flatten(self.avgpool(x), 1))


class UNetLike(nn.Module):
    """Two levels: conv blocks with functional F.relu, max-pool down, ConvTranspose up, concatenated skips."""

    def __init__(self, c: int = 4) -> None:
        super().__init__()
        self.enc1 = nn.Conv2d(3, c, 3, padding=1)
        self.enc2 = nn.Conv2d(c, 2 * c, 3, padding=1)
        self.mid = nn.Conv2d(2 * c, 2 * c, 3, padding=1)
        self.up2 = nn.ConvTranspose2d(2 * c, 2 * c, 2, stride=2)
        self.dec2 = nn.Conv2d(4 * c, c, 3, padding=1)
        self.up1 = nn.ConvTranspose2d(c, c, 2, stride=2)
        self.dec1 = nn.Conv2d(2 * c, c, 3, padding=1)
        self.head = nn.Conv2d(c, 2, 1)

    def forward(self, x):
        return self.reference(x, F.relu)

    def reference(self, x, act):
        e1 = act(self.enc1(x))
        e2 = act(self.enc2(F.max_pool2d(e1, 2)))
        m = act(self.mid(F.max_pool2d(e2, 2)))
        d2 = act(self.dec2(torch.cat([self.up2(m), e2], 1)))
        d1 = act(self.dec1(torch.cat([self.up1(d2), e1], 1)))
        return self.head(d1)


class InceptionLike(nn.Module):
    """An Inception module: 1x1, 1x1->3x3, 1x1->5x5 (as two 3x3) and 3x3 max-pool->1x1 branches, concatenated;
    torch.relu and an in-place x.relu_() whose result is not used (the mutation is what counts)."""

    def __init__(self, c: int = 3) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.b1 = nn.Conv2d(8, c, 1)
        self.b2a, self.b2b = nn.Conv2d(8, c, 1), nn.Conv2d(c, c, 3, padding=1)
        self.b3a, self.b3b, self.b3c = nn.Conv2d(8, c, 1), nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)
        self.b4 = nn.Conv2d(8, c, 1)
        self.pool = nn.MaxPool2d(3, 1, 1)
        self.out = nn.Conv2d(4 * c, 6, 3, stride=2)

    def forward(self, x):
        s = self.stem(x)
        s.relu_()  # in place, result unused: later reads of s see the rectified values
        b1 = torch.relu(self.b1(s))
        b2 = torch.relu(self.b2b(torch.relu(self.b2a(s))))
        b3 = F.relu(self.b3c(F.relu(self.b3b(F.relu(self.b3a(s))))))
        b4 = F.relu(self.b4(self.pool(s)), inplace=True)
        return F.relu(self.out(torch.cat([b1, b2, b3, b4], 1)))

    def reference(self, x, act):
        s = act(self.stem(x))
        b1 = act(self.b1(s))
        b2 = act(self.b2b(act(self.b2a(s))))
        b3 = act(self.b3c(act(self.b3b(act(self.b3a(s))))))
        b4 = act(self.b4(self.pool(s)))
        return act(self.out(torch.cat([b1, b2, b3, b4], 1)))


def randomize(model: nn.Module, seed: int) -> nn.Module:
    """Random weights and BatchNorm statistics (so that BN is not the identity), float64, eval mode."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            m.weight.data.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * (3 / fan_in) ** 0.5)
            if m.bias is not None:
                m.bias.data.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * 0.1)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
    return model.double().eval()
