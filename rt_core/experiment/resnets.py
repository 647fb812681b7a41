"""torchvision's ResNet-18 and ResNet-50 as SplitModels, so that their checkpoints (and timm's, and
[SAL20]'s robust ImageNet models) can be brought as source models (``rt_core.experiment.checkpoints``
maps their parameter names onto these).

Registered by ``rt_core.experiment.builtin`` as ``tv_resnet18`` and ``tv_resnet50``: the ImageNet
stem (7x7 stride-2 conv, batch norm, ReLU, 3x3 stride-2 max-pool; ``stem="cifar"``: the 3x3 stride-1
conv without pooling, as the CIFAR ResNets), stages of basic blocks [2, 2, 2, 2] (18) or bottleneck
blocks [3, 4, 6, 3] with expansion 4 and the stride on the 3x3 conv (50, torchvision's "v1.5"),
global average pooling, d = 512 or 2048 at width 1. The first layer is ``Normalize`` with the
ImageNet statistics torchvision's and timm's weights were trained with.
"""

from __future__ import annotations

import torch
from torch import nn

from rt_core.experiment.models import BasicBlock, Normalize
from rt_core.host.model import SplitModel

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STEMS = ("imagenet", "cifar")


class Bottleneck(nn.Module):
    """1x1 conv (to ``mid``) - 3x3 conv (stride) - 1x1 conv (to 4 ``mid``), each with batch norm, and an
    identity or 1x1 projection shortcut; names as torchvision's, ``shortcut`` for its ``downsample``."""

    expansion = 4

    def __init__(self, cin: int, mid: int, stride: int) -> None:
        super().__init__()
        cout = mid * self.expansion
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


DEPTHS = {18: (BasicBlock, (2, 2, 2, 2)), 50: (Bottleneck, (3, 4, 6, 3))}


def _stem(stem: str, in_channels: int, width: int) -> list[nn.Module]:
    if stem not in STEMS:
        raise ValueError(f"unknown stem '{stem}'; use one of {', '.join(STEMS)}")
    if stem == "cifar":
        return [nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    return [nn.Conv2d(in_channels, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.MaxPool2d(3, 2, 1)]


def _normalize(in_channels: int) -> Normalize:
    """ImageNet statistics for 3 channels; for another count, their means repeated."""
    if in_channels == 3:
        return Normalize(IMAGENET_MEAN, IMAGENET_STD)
    mean, std = sum(IMAGENET_MEAN) / 3, sum(IMAGENET_STD) / 3
    return Normalize((mean,) * in_channels, (std,) * in_channels)


def imagenet_resnet(depth: int, num_classes: int = 10, width: float = 1.0, in_channels: int = 3,
                    stem: str = "imagenet") -> SplitModel:
    """torchvision's ResNet-``depth`` (18 or 50) as a SplitModel (module docstring); ``width`` scales
    every stage's channels (64, 128, 256, 512) for small quick runs."""
    if depth not in DEPTHS:
        raise ValueError(f"unknown depth {depth}; use 18 or 50")
    block, counts = DEPTHS[depth]
    widths = [max(1, round(w * width)) for w in (64, 128, 256, 512)]
    layers: list[nn.Module] = [_normalize(in_channels), *_stem(stem, in_channels, widths[0])]
    cin = widths[0]
    for i, (planes, n) in enumerate(zip(widths, counts, strict=True)):
        for j in range(n):
            layers.append(block(cin, planes, 2 if i > 0 and j == 0 else 1))
            cin = planes * getattr(block, "expansion", 1)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return SplitModel(nn.Sequential(*layers), nn.Linear(cin, num_classes))


def tv_resnet18(num_classes: int = 10, width: float = 1.0, in_channels: int = 3,
                stem: str = "imagenet") -> SplitModel:
    """torchvision's ResNet-18 (``imagenet_resnet(18, ...)``): 11,181,642 parameters with 10 classes.

    >>> import rt_core
    >>> model = tv_resnet18(num_classes=10)
    >>> model.feature_dim, rt_core.count_parameters(model)
    (512, 11181642)
    """
    return imagenet_resnet(18, num_classes, width, in_channels, stem)


def tv_resnet50(num_classes: int = 10, width: float = 1.0, in_channels: int = 3,
                stem: str = "imagenet") -> SplitModel:
    """torchvision's ResNet-50 (``imagenet_resnet(50, ...)``): 23,528,522 parameters with 10 classes.

    >>> import rt_core
    >>> model = tv_resnet50(num_classes=10)
    >>> model.feature_dim, rt_core.count_parameters(model)
    (2048, 23528522)
    """
    return imagenet_resnet(50, num_classes, width, in_channels, stem)
