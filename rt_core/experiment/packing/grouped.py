"""K stacked models of one sequential CNN evaluated as one wide network with grouped convolutions.

The other way to pack K models (``rt_core.experiment.packing.vmap`` uses vmap by default): the K inputs are laid
side by side as channels, x (K, B, C, H, W) -> (B, K*C, H, W); a stacked conv weight (K, O, I, kh,
kw) becomes one (K*O, I, kh, kw) convolution with ``groups = K`` (group k sees only model k's
channels); ReLU and pooling act per channel; Flatten turns (B, K*C, h, w) into (K, B, C*h*w); a
stacked linear layer is one batched matmul, z_k W_k^T + b_k. The result is exactly model k's
output for input k, for every k.

Supported layers: ``Normalize``, ``Conv2d``, ``ReLU``, ``MaxPool2d``, ``AvgPool2d``, ``Flatten``
(from dim 1) and ``Linear``, in ``features`` (an ``nn.Sequential``) followed by ``head``: the
``cifar_cnn`` family. Anything else is refused with an ``RtError``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rt_core.errors import RtError
from rt_core.experiment.models import Normalize

_SUPPORTED = (Normalize, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten, nn.Linear)


def layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(parameter prefix, module) of each layer in order, or an RtError naming the first unsupported one."""
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Sequential) or not isinstance(getattr(model, "head", None), nn.Linear):
        raise RtError("grouped packing needs a model with a sequential 'features' and a linear 'head' "
                      "(the cifar_cnn family); use packing by vmap")
    out = [(f"features.{i}", m) for i, m in enumerate(features)] + [("head", model.head)]
    for name, m in out:
        if not isinstance(m, _SUPPORTED) or (isinstance(m, nn.Flatten) and m.start_dim != 1):
            raise RtError(f"grouped packing does not support layer {name} ({type(m).__name__}); "
                          "use packing by vmap")
    return out


def _conv(m: nn.Conv2d, w: torch.Tensor, b: torch.Tensor | None, h: torch.Tensor, k: int) -> torch.Tensor:
    bias = None if b is None else b.reshape(-1)
    return F.conv2d(h, w.reshape(-1, *w.shape[2:]), bias, m.stride, m.padding, m.dilation, k * m.groups)


def _layer(name: str, m: nn.Module, h: torch.Tensor, k: int, params: dict, buffers: dict) -> torch.Tensor:
    if isinstance(m, Normalize):
        mean, std = (buffers[f"{name}.{s}"].reshape(1, -1, 1, 1) for s in ("mean", "std"))
        return (h - mean) / std
    if isinstance(m, nn.Conv2d):
        return _conv(m, params[f"{name}.weight"], params.get(f"{name}.bias"), h, k)
    if isinstance(m, nn.Flatten):
        return h.reshape(h.shape[0], k, -1).transpose(0, 1)
    if isinstance(m, nn.Linear):
        w, b = params[f"{name}.weight"], params.get(f"{name}.bias")
        out = torch.bmm(h, w.transpose(1, 2))
        return out if b is None else out + b.unsqueeze(1)
    return m(h)  # ReLU and pooling: per channel, so per model


def grouped_forward(model_layers: list[tuple[str, nn.Module]], params: dict, buffers: dict,
                    x: torch.Tensor) -> torch.Tensor:
    """Logits (K, B, classes) of the K stacked models (``params``/``buffers`` from
    ``torch.func.stack_module_state``) on their own inputs x (K, B, C, H, W)."""
    k, b = x.shape[:2]
    h = x.transpose(0, 1).reshape(b, -1, *x.shape[3:])
    for name, m in model_layers:
        h = _layer(name, m, h, k, params, buffers)
    return h
