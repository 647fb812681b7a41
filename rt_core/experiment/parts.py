"""The parts a trial is built from, shared by the pipeline, the packed trainer, the pre-flight
checks and the benchmarks: a domain's splits as tensors (loaded once per process), a freshly
initialised source model, and the trial's plugin objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from rt_core.errors import RtError
from rt_core.experiment.config import DataConfig, ExperimentConfig
from rt_core.experiment.trials import VANILLA, Trial
from rt_core.host.augmentation import Augmentation
from rt_core.host.lookup import create_augmentation, create_model, create_regularizer, get_dataset, registries
from rt_core.host.model import SplitModel
from rt_core.host.regularizer import Regularizer


@dataclass
class Domain:
    """A domain's splits as tensors on the training device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int


def load_domain(data_cfg: DataConfig, device: torch.device, where: str = "source") -> Domain:
    """The domain's train and test splits, loaded through its registered dataset, on ``device``
    (``where``: its config section, named in errors)."""
    spec = get_dataset(data_cfg.dataset)
    root = data_cfg.root or None
    if root and not Path(root).is_dir():
        raise RtError(f"{where}.root: folder '{root}' does not exist; set {where}.root to the folder holding "
                      f"the {spec.name} files")
    try:
        xtr, ytr = spec.loader("train", root=root, **data_cfg.options)
        xte, yte = spec.loader("test", root=root, **data_cfg.options)
    except RtError as err:
        raise RtError(f"[{where}] {err}") from err
    classes = spec.num_classes or int(ytr.max()) + 1
    return Domain(xtr.to(device), ytr.to(device), xte.to(device), yte.to(device), classes)


_DOMAINS: dict[str, tuple[Domain, Domain]] = {}


def domains(cfg: ExperimentConfig, device: torch.device) -> tuple[Domain, Domain]:
    """(source, target) of ``cfg`` on ``device``, loaded once per process."""
    key = repr((cfg.source, cfg.target, str(device)))
    if key not in _DOMAINS:
        _DOMAINS.clear()
        _DOMAINS[key] = load_domain(cfg.source, device, "source"), load_domain(cfg.target, device, "target")
    return _DOMAINS[key]


def plugin_objects(trial: Trial) -> tuple[Augmentation | None, Regularizer | None]:
    """(augmentation, regularizer) for the trial; both None for vanilla."""
    if trial.plugin == VANILLA:
        return None, None
    if trial.plugin in registries().augmentations:
        return create_augmentation(trial.plugin, trial.strength, **trial.options), None
    return None, create_regularizer(trial.plugin, trial.strength, **trial.options)


def new_model(cfg: ExperimentConfig, num_classes: int, device: torch.device, seed: int) -> SplitModel:
    """A freshly initialised source model of ``cfg`` (torch seeded with ``seed``), its 4-d weights
    channels_last: convolutions then run NHWC (oneDNN on CPUs, cuDNN on GPUs; timed in benchmarks/)."""
    torch.manual_seed(seed)
    model = create_model(cfg.model.name, num_classes=num_classes, **cfg.model.options).to(device)
    return model.to(memory_format=torch.channels_last)
