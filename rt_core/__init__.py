"""rt_core: the host of the rt toolkit (hook specs, plugin manager, registries, engine, CLI).

Public API: plugin authors and the other packages import from here only. Names are imported on
first use (module ``__getattr__``), so ``import rt_core`` stays cheap: torch is imported only by
what needs it, and ``rt --help`` / ``rt plugins`` start fast.

Notebook API: :func:`run`, :func:`load_results`, :func:`report`, :func:`export` (``rt_core.api``).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_WHERE = {  # public name -> module that defines it
    "rt_core.errors": ("PluginError", "RtError"),
    "rt_core.experiment.config": ("Check",),
    "rt_core.experiment.attacks": ("pgd", "project"),
    "rt_core.experiment.evaluation": ("robust_accuracy",),
    "rt_core.experiment.models": ("Normalize", "PerImageStandardize", "count_parameters"),
    "rt_core.experiment.training": ("plateau_step",),
    "rt_core.experiment.transfer": ("extract_features", "fit_linear_probe"),
    "rt_core.experiment.tv": ("import_torchvision",),
    "rt_core.host.augmentation": ("Augmentation", "Params", "uniform"),
    "rt_core.host.hookspecs": ("hookimpl", "hookspec"),
    "rt_core.host.lazy": ("lazy",),
    "rt_core.host.lookup": ("SpecList", "create_augmentation", "create_model", "create_regularizer",
                            "get_augmentation", "get_dataset", "get_model", "get_predictor", "get_regularizer",
                            "identity_strength", "list_augmentations", "list_datasets", "list_models",
                            "list_predictors", "list_regularizers"),
    "rt_core.host.model": ("SplitModel",),
    "rt_core.host.manager": ("get_plugin_manager", "notify_trial_finished", "plugin_table", "register_plugin",
                             "registries", "report_sections", "unregister_plugin", "write_report"),
    "rt_core.host.predictor": ("PredictorInput", "compute_score", "compute_scores"),
    "rt_core.host.registry": ("AugmentationSpec", "Bound", "DatasetSpec", "ModelSpec", "PredictorSpec",
                              "RegularizerSpec", "Strength"),
    "rt_core.host.regularizer": ("Regularizer",),
    "rt_core.host.testing": ("check_augmentation", "check_predictor", "check_regularizer"),
    "rt_core.api": ("run", "load_results", "report", "export"),
}
_LAZY = {name: module for module, names in _WHERE.items() for name in names}
_RENAMED = {"reset_plugins": ("rt_core.host.manager", "reset")}

__all__ = sorted([*_LAZY, *_RENAMED, "__version__"])


def __getattr__(name: str) -> Any:
    """Import the module defining ``name`` on first access and cache the attribute here."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _RENAMED:
        module, attr = _RENAMED[name]
        value = getattr(importlib.import_module(module), attr)
    else:
        raise AttributeError(f"module 'rt_core' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
