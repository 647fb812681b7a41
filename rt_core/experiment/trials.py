"""Trials: plugin x strength x seed, plus one vanilla trial per seed, each keyed by a hash of its
full config (everything that can change its result), so a rerun finds what is already done; and
the outcome of running one, as executors hand it back to the sweep."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rt_core.experiment.config import ExperimentConfig, to_dict
from rt_core.results.io import content_key

VANILLA = "vanilla"


@dataclass(frozen=True)
class Trial:
    """One training run: ``plugin`` (or "vanilla") at ``strength`` with ``options``, one ``seed``."""

    plugin: str
    strength: float
    seed: int
    options: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return VANILLA if self.plugin == VANILLA else f"{self.plugin}={self.strength:g}"


@dataclass
class Outcome:
    """What running ``trial`` (stored under ``key``) gave: ``status`` "finished" (``metrics``, ``timings``),
    "diverged" (at ``epoch``) or "failed" (``error``, its first line, and ``traceback``); ``versions``:
    the environment it ran in."""

    trial: Trial
    key: str
    status: str
    metrics: dict
    timings: dict
    error: str | None = None
    epoch: int | None = None
    traceback: str | None = None
    versions: dict = field(default_factory=dict)


def shared_config(cfg: ExperimentConfig) -> dict:
    """The part of the experiment config every trial shares (not the sweep list, seeds, name or
    report settings). ``source_models`` enters only when it brings checkpoints (keeping models
    changes no result)."""
    data = to_dict(cfg)
    for key in ("sweep", "seeds", "name", "report"):
        data.pop(key)
    brought = data.pop("source_models")["checkpoints"]
    if brought:
        data["source_models"] = {"checkpoints": brought}
    return data


def trial_config(cfg: ExperimentConfig, trial: Trial) -> dict:
    """The trial's full config as stored with its row: every shared setting and the trial itself."""
    return {**shared_config(cfg), "trial": dataclasses.asdict(trial)}


def _unlike_defaults(obj: Any) -> Any:
    """``obj`` with every dataclass field that equals its declared default left out, recursively."""
    if not dataclasses.is_dataclass(obj):
        return obj
    kept = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        if f.default_factory is not dataclasses.MISSING and value == f.default_factory():
            continue
        kept[f.name] = _unlike_defaults(value)
    return kept


def key_config(cfg: ExperimentConfig, trial: Trial | None = None) -> dict:
    """What a key hashes: the shared config (and ``trial``) with every setting at its default left
    out, so that a new option whose default keeps the old behaviour changes no stored key (a long
    study resumes across releases); any setting that differs from its default is in."""
    shared = _unlike_defaults(cfg)
    for name in ("sweep", "seeds", "name", "report", "source_models"):
        shared.pop(name, None)
    if cfg.source_models.checkpoints:
        shared["source_models"] = {"checkpoints": cfg.source_models.checkpoints}
    return shared if trial is None else {**shared, "trial": dataclasses.asdict(trial)}


def trial_key(cfg: ExperimentConfig, trial: Trial) -> str:
    """sha256 of the canonical JSON of ``key_config(cfg, trial)``, first 20 hex digits."""
    return content_key(key_config(cfg, trial))


def expand(cfg: ExperimentConfig) -> list[Trial]:
    """Seed by seed: the seed's vanilla, then every sweep's strengths in config order. A sweep stopped
    part-way so holds whole seeds (every trial of the first seeds), which a report can already read."""
    trials = []
    for seed in cfg.seeds:
        trials.append(Trial(VANILLA, 0.0, seed))
        trials += [Trial(sweep.plugin, float(strength), seed, dict(sweep.options))
                   for sweep in cfg.sweep for strength in sweep.strengths]
    unique: dict[str, Trial] = {}
    for t in trials:
        unique.setdefault(trial_key(cfg, t), t)
    return list(unique.values())
