"""Item 4, training-step cost relative to a plain step, on the quickstart model and data:
Jacobian regularization (one random projection) and PGD-7 L2 adversarial training, each the
median of ``repeats`` timed steps (the three kinds in turn) of ``rt_core.experiment.training.train_step`` (the
code the sweep runs, on a channels_last model as the sweep's), at the quickstart's batch (32) and
the paper's (128).
Goals: JR <= 2.5x, AT-7 <= 6.5x a plain step.
"""

from __future__ import annotations

import torch

from benchmarks.common import SEED, domains, quickstart
from benchmarks.harness import Measure, at_most, info, interleaved_times
from rt_core import create_regularizer
from rt_core.engine import Generators, make_optimizer, new_model, train_step

REGULARIZERS = {"plain": None, "jacobian": ("jacobian", 1e-5, {}), "adversarial PGD-7": ("adversarial", 0.0025,
                                                                                          {"steps": 7})}
GOALS = {"jacobian": 2.5, "adversarial PGD-7": 6.5}


def _step(cfg, src, batch: int, entry):
    """A closure running one training step of a fresh model with regularizer ``entry``."""
    device = src.x_train.device
    model = new_model(cfg, src.num_classes, device, SEED).train()
    reg = None if entry is None else create_regularizer(entry[0], entry[1], **entry[2])
    opt = make_optimizer(model, 1e-3, 0.9, 0.0, reg)
    gens = Generators.seeded(SEED, device)
    xb, yb = src.x_train[:batch], src.y_train[:batch]
    return lambda: train_step(model, opt, xb, yb, gens, None, reg, "none", device.type == "cuda")


def run(device: torch.device, repeats: int = 30) -> tuple[list[Measure], dict]:
    cfg = quickstart()
    src, _ = domains(cfg, device)
    measures: list[Measure] = []
    for batch in (32, 128):
        steps = {name: _step(cfg, src, batch, entry) for name, entry in REGULARIZERS.items()}
        times = interleaved_times(steps, repeats, warmup=3)
        measures.append(info(f"batch {batch}: plain step", times["plain"] * 1e3, "ms"))
        for name, goal in GOALS.items():
            measures.append(at_most(f"batch {batch}: {name} / plain step", times[name] / times["plain"], "x", goal))
    details = {"model": cfg.model.options, "repeats": repeats, "jacobian": "1 projection, lambda 1e-5",
               "adversarial": "L2, eps 0.0025, 7 steps, alpha 2.5 eps / 7, random start"}
    return measures, details
