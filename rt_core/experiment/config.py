"""Experiment configuration: a parsed TOML document -> validated frozen dataclasses.

Unknown keys and wrong types are RtErrors naming the key (``train.epochs: expected int, got str``).
Strengths may be written as numbers or exact fractions in strings ("8/255"), parsed with
fractions.Fraction, never evaluated. This module only parses: reading the file and checking plugin,
dataset and model names against the registries is ``rt_core.experiment.loading``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any, get_origin, get_type_hints

from rt_core.errors import RtError


@dataclass(frozen=True)
class DataConfig:
    """A domain: a registered dataset name, the root of real data, and loader options."""

    dataset: str = "printed_digits"
    root: str = ""
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "cifar_cnn"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """Source training: SGD(lr, momentum, weight_decay; Nesterov momentum with ``nesterov``) after a
    linear warm-up from 0 over the first ``warmup_epochs`` epochs (0: none), then ``schedule`` "step"
    (LR x gamma at each milestone epoch), "cosine" (per-step cosine decay to 0 over the remaining
    steps) or "linear" (per-step linear decay to 0 over the remaining steps); milestones and gamma
    are used by "step" only."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: list = field(default_factory=list)
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    base_augment: str = "none"
    schedule: str = "step"
    nesterov: bool = False


@dataclass(frozen=True)
class TransferConfig:
    """Target head: ``linear_probe`` (fit on cached features) or ``finetune`` (all parameters).
    ``probe_folds`` = k >= 2 scores the target probe by k-fold cross-validation over the target's
    train and test images together (each image predicted once, by the probe fitted on the other
    folds); 0 fits on the train split and scores the test split. ``probe_shots`` = k >= 1 scores a
    few-shot probe instead: over the target's train and test images together, ``probe_draws`` fixed
    draws of k images per class (the same draws for every trial), each probe fitted on its draw and
    scored on every other image; acc_tgt and loss_tgt are the means over the draws."""

    mode: str = "linear_probe"
    epochs: int = 40
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    milestones: list = field(default_factory=list)
    probe_l2: float = 1e-4
    probe_iters: int = 200
    probe_tol: float = 1e-9
    probe_folds: int = 0
    probe_shots: int = 0
    probe_draws: int = 10


@dataclass(frozen=True)
class AttackConfig:
    """Robust evaluation: PGD(norm, eps, steps, alpha = eps/4 when 0) on ``n_eval`` test images."""

    norm: str = "l2"
    eps: float = 0.25
    steps: int = 20
    alpha: float = 0.0
    restarts: int = 1
    n_eval: int = 1000


@dataclass(frozen=True)
class SweepConfig:
    """One plugin (augmentation or regularizer) at several strengths, with fixed options."""

    plugin: str
    strengths: list
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SourceModelsConfig:
    """Source models kept or brought: ``keep`` writes each trained model's state dict to
    ``DIR/models/<trial key>.safetensors``; ``checkpoints`` is a CSV ``plugin,strength,seed,path``
    (paths relative to the CSV) of existing models to evaluate instead of training them."""

    keep: bool = False
    checkpoints: str = ""


@dataclass(frozen=True)
class ReportConfig:
    """How ``rt report`` judges a sweep (no effect on any trial, hence not part of trial keys).

    ``equivalence_margin``: delta, in points of rel_dt over the swept range. A "no systematic effect"
    prediction agrees only when the 90% interval of the effect lies inside (-delta, +delta) (TOST).
    Default 2.0: docs/science.md#2-metrics puts seed-to-seed spread of robust accuracy at 1-3 points, so a change
    of rel_dt smaller than 2 points over a whole sweep is within what reseeding alone moves, while
    the effects the theory is about are tens of points ([SAL20]: +34 over its eps grid).
    ``alpha``: the family-wise error rate, Holm-corrected over the plugins of one report.
    ``plan_effect``: the rel_dt effect (points over the swept range) ``rt plan`` sizes a study to
    detect; 0 means "the equivalence margin" (effects beyond delta should be found, those inside
    it are negligible). ``resamples``: seed-bootstrap resamples for intervals and stability.
    """

    equivalence_margin: float = 2.0
    alpha: float = 0.05
    plan_effect: float = 0.0
    resamples: int = 1000


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "experiment"
    seeds: list = field(default_factory=lambda: [0])
    source: DataConfig = field(default_factory=DataConfig)
    target: DataConfig = field(default_factory=lambda: DataConfig(dataset="handwritten_digits"))
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    attack: AttackConfig = field(default_factory=AttackConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    sweep: list = field(default_factory=list)
    source_models: SourceModelsConfig = field(default_factory=SourceModelsConfig)


CHOICES = {"transfer.mode": ("linear_probe", "finetune"), "attack.norm": ("l2", "linf"),
           "train.base_augment": ("none", "crop", "crop_flip"),
           "train.schedule": ("step", "cosine", "linear")}
SECTIONS = {"source": DataConfig, "target": DataConfig, "model": ModelConfig, "train": TrainConfig,
            "transfer": TransferConfig, "attack": AttackConfig, "report": ReportConfig,
            "source_models": SourceModelsConfig}


def parse_number(value: Any, where: str) -> float:
    """A number from an int, a float, or a string holding a number or an exact fraction "8/255"."""
    if isinstance(value, bool):
        raise RtError(f"{where}: expected a number, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Fraction(value.replace(" ", "")))
        except (ValueError, ZeroDivisionError) as err:
            raise RtError(f"{where}: '{value}' is not a number or a fraction like '8/255'") from err
    raise RtError(f"{where}: expected a number, got {type(value).__name__}")


def _check_type(value: Any, hint: Any, where: str) -> Any:
    base = get_origin(hint) or hint
    if hint is float:
        return parse_number(value, where)
    if base is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise RtError(f"{where}: expected an integer, got {value!r}")
    if base is bool and not isinstance(value, bool):
        raise RtError(f"{where}: expected true or false, got {value!r}")
    if base in (str, list, dict) and not isinstance(value, base):
        raise RtError(f"{where}: expected {base.__name__}, got {type(value).__name__} {value!r}")
    return value


def _build(cls: type, data: Any, where: str):
    if not isinstance(data, dict):
        raise RtError(f"{where}: expected a table, got {type(data).__name__}")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RtError(f"{where}.{unknown[0]}: unknown key; known keys of [{where}]: {', '.join(sorted(known))}")
    values = {}
    for key, value in data.items():
        path = f"{where}.{key}"
        if path in CHOICES and value not in CHOICES[path]:
            raise RtError(f"{path}: '{value}' is not one of {', '.join(CHOICES[path])}")
        values[key] = _check_type(value, hints[key], path)
    try:
        return cls(**values)
    except TypeError as err:
        raise RtError(f"{where}: {err}") from err


def _positive(value: float, where: str, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise RtError(f"{where}: must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def _validate_numbers(cfg: ExperimentConfig) -> None:
    for path in ("train.epochs", "train.batch_size", "train.lr", "transfer.batch_size", "attack.restarts",
                 "transfer.probe_tol"):
        section, key = path.split(".")
        _positive(getattr(getattr(cfg, section), key), path)
    for path in ("train.weight_decay", "transfer.weight_decay", "attack.eps", "attack.steps",
                 "transfer.epochs", "attack.n_eval", "transfer.probe_l2", "train.warmup_epochs"):
        section, key = path.split(".")
        _positive(getattr(getattr(cfg, section), key), path, allow_zero=True)
    if not cfg.seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in cfg.seeds):
        raise RtError("seeds: expected a non-empty list of integers, e.g. seeds = [0, 1, 2]")
    _check_folds(cfg.transfer)
    _check_report(cfg.report)
    if cfg.train.nesterov and cfg.train.momentum <= 0:
        raise RtError("train.nesterov: Nesterov momentum needs train.momentum > 0; set momentum or nesterov = false")


def _check_folds(t: TransferConfig) -> None:
    if t.probe_folds < 0 or t.probe_folds == 1:
        raise RtError(f"transfer.probe_folds: expected 0 (the train/test split) or a number of folds >= 2, "
                      f"got {t.probe_folds}")
    if t.probe_folds and t.mode != "linear_probe":
        raise RtError("transfer.probe_folds: cross-validation needs mode = \"linear_probe\"; "
                      "remove probe_folds or set the mode")
    if t.probe_shots < 0 or t.probe_draws < 1:
        raise RtError(f"transfer.probe_shots / probe_draws: expected shots >= 0 (0: no few-shot probe) and "
                      f"draws >= 1, got {t.probe_shots} and {t.probe_draws}")
    if t.probe_shots and (t.probe_folds or t.mode != "linear_probe"):
        raise RtError("transfer.probe_shots: a few-shot probe needs mode = \"linear_probe\" and no probe_folds; "
                      "use one of probe_shots and probe_folds")


def _check_report(r: ReportConfig) -> None:
    _positive(r.equivalence_margin, "report.equivalence_margin")
    _positive(r.plan_effect, "report.plan_effect", allow_zero=True)
    _positive(r.resamples, "report.resamples")
    if not 0.0 < r.alpha < 0.5:
        raise RtError(f"report.alpha: expected a number in (0, 0.5), got {r.alpha}; the usual value is 0.05")


def _sweeps(items: Any) -> list[SweepConfig]:
    if not isinstance(items, list):
        raise RtError("sweep: expected [[sweep]] tables, each with plugin and strengths")
    out = []
    for i, item in enumerate(items):
        where = f"sweep[{i}]"
        if not isinstance(item, dict) or "plugin" not in item or "strengths" not in item:
            raise RtError(f"{where}: each [[sweep]] needs 'plugin' and 'strengths'")
        sweep = _build(SweepConfig, item, where)
        strengths = [parse_number(s, f"{where}.strengths") for s in sweep.strengths]
        out.append(dataclasses.replace(sweep, strengths=strengths))
    return out


def parse(data: dict) -> ExperimentConfig:
    """Validate a parsed TOML document into an ExperimentConfig: keys, types, choices and numbers (plugin,
    dataset and model names are looked up by ``rt_core.experiment.loading.from_dict``).

    >>> cfg = parse({"seeds": [0, 1], "sweep": [{"plugin": "blur", "strengths": ["1/2", 1]}]})
    >>> cfg.seeds, cfg.sweep[0].strengths, cfg.train.epochs
    ([0, 1], [0.5, 1.0], 10)
    """
    data = dict(data)
    sections = {k: _build(cls, data.pop(k), k) for k, cls in SECTIONS.items() if k in data}
    sweeps = _sweeps(data.pop("sweep", []))
    top = _build(ExperimentConfig, data, "config")
    cfg = dataclasses.replace(top, sweep=sweeps, **sections)
    _validate_numbers(cfg)
    return cfg


def to_dict(cfg: Any) -> Any:
    """A plain, JSON-ready dict of a config dataclass."""
    return dataclasses.asdict(cfg)
