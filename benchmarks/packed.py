"""Packed sweeps: K = 16 quickstart CNNs that differ in seed and weight decay, trained for one
epoch on the quickstart source data together (``rt_core.packed.train_packed``, vmap over stacked
parameters) vs one after another (``train_source``, the sweep's path). Measures: aggregate
trainings per second each way and their ratio. The goal (>= 5x for K >= 16) is stated for a GPU;
on a CPU the ratio is recorded without a goal. Grouped convolutions, the other way to pack, are
not implemented: only vmap is measured.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from benchmarks.common import domains, quickstart
from benchmarks.harness import Measure, at_least, info, median_time
from rt_core.api import create_model
from rt_core.packed import train_packed
from rt_core.train import Generators, train_source

K = 16


def _models(cfg, num_classes, device):
    out = []
    for seed in range(K):
        torch.manual_seed(seed)
        out.append(create_model(cfg.model.name, num_classes=num_classes, **cfg.model.options).to(device))
    return out


def run(device: torch.device, repeats: int = 2) -> tuple[list[Measure], dict]:
    cfg = quickstart()
    src, _ = domains(cfg, device)
    train_cfg = replace(cfg.train, epochs=1, milestones=[])
    wds = [0.0, 5e-4, 2e-3, 5e-3] * (K // 4)

    def sequential():
        for seed, (model, wd) in enumerate(zip(_models(cfg, src.num_classes, device), wds, strict=True)):
            train_source(model, src.x_train, src.y_train, replace(train_cfg, weight_decay=wd),
                         Generators.seeded(seed, device))

    def packed():
        train_packed(_models(cfg, src.num_classes, device), src.x_train, src.y_train, train_cfg,
                     [Generators.seeded(s, device) for s in range(K)], [None] * K, wds)

    t_seq, t_packed = median_time(sequential, repeats, warmup=0), median_time(packed, repeats, warmup=0)
    ratio = t_seq / t_packed
    on_gpu = device.type == "cuda"
    speedup = at_least(f"packed K={K} / sequential trainings per second", ratio, "x", 5) if on_gpu else \
        info(f"packed K={K} / sequential trainings per second (CPU, goal is for a GPU)", ratio, "x")
    measures = [speedup, info("sequential", K / t_seq, "trainings/s"), info("packed", K / t_packed, "trainings/s")]
    details = {"K": K, "epochs": 1, "train_images": len(src.x_train), "batch": cfg.train.batch_size,
               "model": cfg.model.options, "repeats": repeats}
    return measures, details
