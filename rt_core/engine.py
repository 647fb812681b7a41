"""The engine's parts, for the benchmarks and for scripts that time or recombine them: configs, domains,
a fresh source model, the training step and loop, packed training, evaluation, one trial end to end
(``run_trial``) and its transferability scores (``feature_scores``), the sweep and its local executor,
the environment a trial records, the store, and the config's check of a plugin's options
(``check_plugin``). Imports torch. These are the engine's own functions, re-exported so that a script
need not know which internal module holds each; they follow the engine's behaviour exactly (the
numbers a sweep stores come from the same code).

>>> from rt_core.engine import TrainConfig, lr_factor
>>> cfg = TrainConfig(epochs=4, milestones=[2], gamma=0.1, warmup_epochs=0)
>>> [lr_factor(epoch, 0, 10, cfg) for epoch in (1, 2, 3)]
[1.0, 1.0, 0.1]
"""

from __future__ import annotations

from rt_core.experiment.checks import check_plugin
from rt_core.experiment.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from rt_core.experiment.data.cache import to_float
from rt_core.experiment.environment import resolve_device, versions
from rt_core.experiment.evaluation import accuracy_and_loss, predict_logits
from rt_core.experiment.executors import LocalExecutor
from rt_core.experiment.loading import from_dict, load_config
from rt_core.experiment.packing.vmap import train_packed
from rt_core.experiment.parts import Domain, domains, load_domain, new_model, plugin_objects
from rt_core.experiment.pipeline import feature_scores, run_trial
from rt_core.experiment.sweep import run_sweep
from rt_core.experiment.training import Generators, crop_flip, lr_factor, make_optimizer, train_source, train_step
from rt_core.experiment.trials import Trial, expand, key_config, trial_key
from rt_core.results.io import atomic_write
from rt_core.results.store import Store

__all__ = ["DataConfig", "Domain", "ExperimentConfig", "Generators", "LocalExecutor", "ModelConfig", "Store",
           "TrainConfig", "Trial", "accuracy_and_loss", "atomic_write", "check_plugin", "crop_flip", "domains",
           "expand", "feature_scores", "from_dict", "key_config", "load_config", "load_domain", "lr_factor",
           "make_optimizer", "new_model", "plugin_objects", "predict_logits", "resolve_device", "run_sweep",
           "run_trial", "to_float", "train_packed", "train_source", "train_step", "trial_key", "versions"]
