"""Which trials of a sweep can train together (``rt run --pack K``), and training such a pack.

A trial can join a pack when its source training is plain SGD that differs from the others' only
in seed, augmentation and weight decay: vanilla, any augmentation plugin, and a regularizer whose
record declares ``acts_on="optimizer"`` (verified by ``check_regularizer``) and whose
``optimizer_settings`` change nothing but ``weight_decay``.
The model must have no batch norm. Packs use grouped convolutions where the model is a plain
sequential CNN (faster than vmap: benchmarks/results/packed.json) and vmap otherwise. Each packed
model trains exactly as ``train_source`` would train it alone, up to float rounding; its metrics
come from the same evaluation as an unpacked trial's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rt_core.errors import RtError
from rt_core.experiment.config import ExperimentConfig
from rt_core.experiment.packing.grouped import layers
from rt_core.experiment.packing.vmap import has_batch_norm, train_packed
from rt_core.experiment.parts import Domain, new_model, plugin_objects
from rt_core.experiment.training import Generators
from rt_core.experiment.trials import Trial
from rt_core.host.augmentation import Augmentation
from rt_core.host.lookup import create_model, get_regularizer


def pack_settings(trial: Trial, cfg: ExperimentConfig) -> tuple[Augmentation | None, float] | None:
    """(augmentation, weight decay) of a trial that can join a pack; None when it must train alone
    (also under Nesterov momentum: the packed SGD implements plain heavy-ball momentum only, and
    under a treatment warm-up or a whitened first conv, which the packed trainer does not implement)."""
    if cfg.train.nesterov or cfg.train.treatment_warmup_epochs > 0 or cfg.train.whiten_first_conv:
        return None
    try:
        augmentation, regularizer = plugin_objects(trial)
    except Exception:  # noqa: BLE001 - a plugin that cannot even be built fails in its own unpacked run
        return None
    base = {"lr": cfg.train.lr, "momentum": cfg.train.momentum, "weight_decay": cfg.train.weight_decay}
    if regularizer is None:
        return augmentation, base["weight_decay"]
    if get_regularizer(trial.plugin).acts_on != "optimizer":
        return None
    settings = regularizer.optimizer_settings(base)
    if set(settings) != set(base) or any(settings[k] != base[k] for k in ("lr", "momentum")):
        return None
    return None, float(settings["weight_decay"])


def packing_method(cfg: ExperimentConfig, num_classes: int) -> str | None:
    """"grouped" for a plain sequential CNN, "vmap" for another model without batch norm, None with it."""
    model = create_model(cfg.model.name, num_classes=num_classes, **cfg.model.options)
    if has_batch_norm(model):
        return None
    try:
        layers(model)
    except RtError:
        return "vmap"
    return "grouped"


def make_packs(cfg: ExperimentConfig, jobs: list[tuple[Trial, str]], size: int,
               num_classes: int) -> list[list[tuple[Trial, str]]]:
    """``jobs`` as packs of at most ``size`` packable trials, in order, then every other trial alone."""
    if size <= 1 or packing_method(cfg, num_classes) is None:
        return [[job] for job in jobs]
    packable, alone = [], []
    for job in jobs:
        (alone if pack_settings(job[0], cfg) is None else packable).append(job)
    return [packable[i:i + size] for i in range(0, len(packable), size)] + [[job] for job in alone]


def train_pack(trials: list[Trial], cfg: ExperimentConfig, src: Domain, device: torch.device, method: str,
               on_epoch: Callable[[int], None] | None = None) -> tuple[list, list[Generators], list[int | None]]:
    """Train the trials' source models together; return (models, generators, diverged epoch or None)."""
    models = [new_model(cfg, src.num_classes, device, t.seed) for t in trials]
    gens = [Generators.seeded(t.seed, device) for t in trials]
    settings = [pack_settings(t, cfg) for t in trials]
    if any(s is None for s in settings):
        raise RtError("a pack holds a trial that cannot be packed; build packs with make_packs")
    diverged = train_packed(models, src.x_train, src.y_train, cfg.train, gens, [s[0] for s in settings],
                            [s[1] for s in settings], method, on_epoch)
    return models, gens, diverged
