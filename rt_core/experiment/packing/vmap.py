"""Packed training: K models of one architecture trained together as one vmapped model.

The K parameter sets are stacked (``torch.func.stack_module_state``) and one step runs
``vmap(functional_call)`` over (parameters, batch), or with ``method="grouped"`` one wide network
of grouped convolutions (``rt_core.experiment.packing.grouped``; the cifar_cnn family only): model k
sees its own data order, its own augmented batch and its own weight decay, exactly as ``train_source``
would give it with the same generators. The update is SGD with momentum per stacked tensor, the same arithmetic as
``torch.optim.SGD`` (dampening 0): d = g + wd_k p; b = m b + d (b = d at the first step); p -= lr b.
The loss summed over models has per-model gradients, since the models share nothing. On CUDA the
forward runs under bf16 autocast, as in ``train_source``.

Supported: vanilla, any augmentation, per-model weight decay, per-model seeds. Models whose
training mutates buffers (batch norm) and regularizers with a penalty or a perturbation are
refused with a clear error; they train one at a time.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from rt_core.errors import RtError
from rt_core.experiment.config import TrainConfig
from rt_core.experiment.packing.grouped import grouped_forward, layers
from rt_core.experiment.training import Generators, augment_batch, lr_factor
from rt_core.host.augmentation import Augmentation


def has_batch_norm(model: torch.nn.Module) -> bool:
    """True when some layer keeps running statistics (batch norm), i.e. training mutates buffers."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _check(models: list[torch.nn.Module]) -> None:
    if has_batch_norm(models[0]):
        raise RtError("packed training needs a model without batch norm (its running statistics are state); "
                      "train such models one at a time")


def _forward(models: list[torch.nn.Module], method: str):
    """(params, buffers, x (K, B, ...)) -> logits (K, B, classes) for the stacked ``models``."""
    if method == "grouped":
        model_layers = layers(models[0])
        return lambda p, b, xb: grouped_forward(model_layers, p, b, xb)
    if method != "vmap":
        raise RtError(f"unknown packing method '{method}'; use vmap or grouped")
    base = copy.deepcopy(models[0]).to("meta")
    return vmap(lambda p, b, xb: functional_call(base, (p, b), (xb,)))


def _batches(x, y, order, i, batch, gens, augmentations, base_augment):
    xs, ys = [], []
    for k, g in enumerate(gens):
        idx = order[k][i:i + batch]
        xs.append(augment_batch(x[idx], g, augmentations[k], base_augment))
        ys.append(y[idx])
    return torch.stack(xs), torch.stack(ys)


def _sgd(params: dict, bufs: dict, lr: float, momentum: float, wd: torch.Tensor) -> None:
    with torch.no_grad():
        for name, p in params.items():
            d = p.grad + wd.view(-1, *([1] * (p.dim() - 1))) * p
            bufs[name] = d.clone() if name not in bufs else bufs[name].mul_(momentum).add_(d)
            p.sub_(lr * bufs[name])
            p.grad = None


def train_packed(models: list[torch.nn.Module], x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig,
                 gens: list[Generators],
                 augmentations: list[Augmentation | None], weight_decays: list[float],
                 method: str = "vmap", on_epoch: Callable[[int], None] | None = None,
                 autocast: bool | None = None) -> list[int | None]:
    """Train ``models`` in place per ``cfg`` (a TrainConfig), model k with ``gens[k]``,
    ``augmentations[k]`` and weight decay ``weight_decays[k]``, packed by ``method`` ("vmap" or
    "grouped"). Returns, per model, the epoch whose mean loss was not finite (``None`` when it
    trained through). ``on_epoch(epoch)`` is called after each epoch; ``autocast`` (bf16; default:
    on CUDA only) runs the forward pass under bf16 autocast."""
    _check(models)
    autocast = x.device.type == "cuda" if autocast is None else autocast
    step_fn = _forward(models, method)
    params, buffers = stack_module_state(models)
    wd = torch.tensor(weight_decays, dtype=x.dtype, device=x.device)
    bufs: dict[str, torch.Tensor] = {}
    diverged: list[int | None] = [None] * len(models)
    step, steps_per_epoch = 0, -(-len(x) // cfg.batch_size)
    for epoch in range(1, cfg.epochs + 1):
        order = [torch.randperm(len(x), generator=g.order, device=g.order.device).to(x.device) for g in gens]
        total = torch.zeros(len(models), device=x.device)
        for i in range(0, len(x), cfg.batch_size):
            xb, yb = _batches(x, y, order, i, cfg.batch_size, gens, augmentations, cfg.base_augment)
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
                logits = step_fn(params, buffers, xb).float()
            losses = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none").view(len(models), -1).mean(1)
            losses.sum().backward()
            _sgd(params, bufs, cfg.lr * lr_factor(epoch, step, steps_per_epoch, cfg), cfg.momentum, wd)
            step += 1
            total += losses.detach() * len(yb[0])
        for k, mean in enumerate((total / len(x)).tolist()):
            if diverged[k] is None and not math.isfinite(mean):
                diverged[k] = epoch
        if on_epoch is not None:
            on_epoch(epoch)
    _unstack(models, params)
    return diverged


def _unstack(models: list[torch.nn.Module], params: dict) -> None:
    with torch.no_grad():
        for k, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(params[name][k])
