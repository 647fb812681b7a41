"""Models split as h = g . f: a feature extractor f (normalisation inside) and a linear head g.

Registered (by ``rt_core.experiment.builtin``) through ``rt_register_models`` like any plugin's models:
- ``cifar_cnn``: the released [XU22] CNN (no BN), d = 256, 1,182,762 parameters at width 1;
- ``resnet18``: the CIFAR ResNet-18 (3x3 stem, no max-pool), d = 512, 11,173,962 parameters.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Annotated

import torch
from torch import nn

from rt_core.experiment.config import AT_LEAST_ONE, POSITIVE, Check
from rt_core.host.model import SplitModel

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


class Normalize(nn.Module):
    """x -> (x - mean) / std per channel; inputs stay in [0,1] pixel space outside the model.

    >>> import torch
    >>> Normalize(mean=(0.5, 0.0), std=(0.25, 2.0))(torch.ones(1, 2, 1, 1)).flatten().tolist()
    [2.0, 0.5]
    """

    def __init__(self, mean=CIFAR_MEAN, std=CIFAR_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class PerImageStandardize(nn.Module):
    """x -> (x - mean(x)) / max(std(x), 1 / sqrt(N)) per image, mean and (population) std over its
    N = C*H*W values: TensorFlow's ``per_image_standardization``, the SVHN practice of contrast
    normalisation. It removes each image's background level and contrast (the printed digits'
    random colours) before the first conv; the floor keeps a flat image finite. torch has no such
    layer (``F.normalize``/``LayerNorm`` differ: no mean removal, or learned affine per position).

    >>> import torch
    >>> y = PerImageStandardize()(3.0 * torch.rand(2, 3, 4, 4) + 5.0).flatten(1)
    >>> torch.allclose(y.mean(1), torch.zeros(2), atol=1e-5), torch.allclose(y.std(1, unbiased=False), torch.ones(2))
    (True, True)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True, unbiased=False)
        return (x - mean) / std.clamp_min(1.0 / math.sqrt(x[0].numel()))


INPUT_NORMS = ("dataset", "per_image")


def input_norm_layer(input_norm: str) -> nn.Module:
    """The model's first layer: ``Normalize`` with the CIFAR statistics ("dataset", the released
    models) or ``PerImageStandardize`` ("per_image")."""
    if input_norm not in INPUT_NORMS:
        raise ValueError(f"unknown input_norm '{input_norm}'; use one of {', '.join(INPUT_NORMS)}")
    return Normalize() if input_norm == "dataset" else PerImageStandardize()


def kaiming_init(model: nn.Module) -> nn.Module:
    """He initialisation (fan_in, ReLU gain) of every conv and linear weight, zero biases.

    Without batch norm, PyTorch's default init shrinks the signal by about 1/sqrt(6) per layer,
    and the 6-layer CNN then sits on a loss plateau for several epochs before it learns."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


NORMS = ("none", "batch", "group")


def _norm_layer(norm: str, channels: int) -> list[nn.Module]:
    """The normalisation layer after a conv: [] for "none", BatchNorm2d, or GroupNorm with
    gcd(8, channels) groups."""
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "group":
        return [nn.GroupNorm(math.gcd(8, channels), channels)]
    return []


def _conv_block(cin: int, cout: int, norm: str) -> list[nn.Module]:
    """conv3x3 (bias only without a norm layer, which has its own shift) -> norm -> ReLU."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=norm == "none"), *_norm_layer(norm, cout), nn.ReLU()]


DENSE_NORMS = ("none", "batch")


def _dense_block(fan_in: int, fan_out: int, dense_norm: str) -> list[nn.Module]:
    """linear -> (BatchNorm1d with dense_norm "batch") -> ReLU."""
    norm = [nn.BatchNorm1d(fan_out)] if dense_norm == "batch" else []
    return [nn.Linear(fan_in, fan_out), *norm, nn.ReLU()]


def cifar_cnn(num_classes: int = 10, width: Annotated[float, POSITIVE] = 1.0,
              hidden: Annotated[int, AT_LEAST_ONE] = 256,
              image_size: Annotated[int, Check(low=4, integer=True)] = 32,
              in_channels: Annotated[int, AT_LEAST_ONE] = 3, init: str = "kaiming",
              norm: str = "none", input_norm: str = "dataset", dense_norm: str = "none",
              dense_blocks: Annotated[int, Check(low=0, high=2, integer=True)] = 2) -> SplitModel:
    """The [XU22] CIFAR_CNN; ``width`` scales the conv channels (32, 64) for small quick runs;
    ``init`` is "kaiming" (He, default) or "torch" (PyTorch's default, as the released code);
    ``norm`` adds a normalisation layer after each conv: "none" (default, the released model),
    "batch" (BatchNorm2d) or "group" (GroupNorm); with one, the convs have no bias; ``input_norm``
    is the first layer (``input_norm_layer``: "dataset" as released, or "per_image"); ``dense_norm``
    "batch" puts a BatchNorm1d between each hidden linear layer (bias kept) and its ReLU, so the
    features f(x) are ReLU(BN(.)) ("none", default: the released model); ``dense_blocks`` is the
    number of hidden dense blocks after the conv stack (2, default, as released; 1; or 0: the
    features are then the flattened output of the second pool, c2 * (image_size // 4)^2 wide, and
    ``hidden`` is unused).

    >>> model = cifar_cnn(width=0.5, image_size=16, norm="batch", dense_norm="batch")
    >>> [type(m).__name__ for m in model.features[-6:]]
    ['Linear', 'BatchNorm1d', 'ReLU', 'Linear', 'BatchNorm1d', 'ReLU']
    >>> model = cifar_cnn(width=0.5, image_size=16, norm="batch", dense_blocks=0)
    >>> type(model.features[-1]).__name__, model.head.in_features  # 32 channels x 4 x 4
    ('Flatten', 512)
    """
    if init not in ("kaiming", "torch"):
        raise ValueError(f"unknown init '{init}'; use kaiming or torch")
    for name, value, known in (("norm", norm, NORMS), ("dense_norm", dense_norm, DENSE_NORMS)):
        if value not in known:
            raise ValueError(f"unknown {name} '{value}'; use one of {', '.join(known)}")
    c1, c2 = max(1, round(32 * width)), max(1, round(64 * width))
    widths = [c2 * (image_size // 4) ** 2] + [hidden] * dense_blocks
    dense = [layer for fan_in, fan_out in pairwise(widths) for layer in _dense_block(fan_in, fan_out, dense_norm)]
    features = nn.Sequential(
        input_norm_layer(input_norm),
        *_conv_block(in_channels, c1, norm), *_conv_block(c1, c1, norm), nn.MaxPool2d(2),
        *_conv_block(c1, c2, norm), *_conv_block(c2, c2, norm), nn.MaxPool2d(2),
        nn.Flatten(), *dense,
    )
    model = SplitModel(features, nn.Linear(widths[-1], num_classes))
    return kaiming_init(model) if init == "kaiming" else model


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv-BN layers with an identity or 1x1 shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def resnet18(num_classes: int = 10, width: Annotated[float, POSITIVE] = 1.0,
             in_channels: Annotated[int, AT_LEAST_ONE] = 3) -> SplitModel:
    """CIFAR ResNet-18: 3x3 stem, no max-pool, stages of 2 blocks, global average pooling."""
    widths = [max(1, round(w * width)) for w in (64, 128, 256, 512)]
    layers: list[nn.Module] = [Normalize(), nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                               nn.BatchNorm2d(widths[0]), nn.ReLU()]
    cin = widths[0]
    for i, cout in enumerate(widths):
        stride = 1 if i == 0 else 2
        layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return SplitModel(nn.Sequential(*layers), nn.Linear(cin, num_classes))


def count_parameters(model: nn.Module) -> int:
    """The number of parameters of ``model`` (trainable or not).

    >>> import torch
    >>> count_parameters(torch.nn.Linear(3, 2))  # 3 x 2 weights and 2 biases
    8
    """
    return sum(p.numel() for p in model.parameters())
