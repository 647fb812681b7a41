"""What several benchmarks share: the quickstart config, its domains on a device, and a source
model trained on them for a few epochs (features worth probing, a model worth attacking)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rt_core.engine import (  # noqa: F401 - domains: (source, target), loaded once per process
    Domain,
    ExperimentConfig,
    Generators,
    domains,
    load_config,
    new_model,
    train_source,
)

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.toml"
SEED = 0


def quickstart() -> ExperimentConfig:
    return load_config(QUICKSTART)


def trained_model(cfg: ExperimentConfig, src: Domain, epochs: int = 4, seed: int = SEED):
    """The quickstart's vanilla source model after ``epochs`` epochs (seeded), in the sweep's layout."""
    model = new_model(cfg, src.num_classes, src.x_train.device, seed)
    train_cfg = replace(cfg.train, epochs=epochs, milestones=[])
    train_source(model, src.x_train, src.y_train, train_cfg, Generators.seeded(seed, src.x_train.device))
    return model.eval()
