"""Packed sweeps: K = 16 quickstart CNNs that differ in seed and weight decay, trained for one
epoch on the quickstart source data together (``rt_core.experiment.packing.vmap.train_packed``) vs one after
another (``train_source``, the sweep's path). Two ways to pack, both measured: vmap over stacked
parameters and one wide network of grouped convolutions. Measures: aggregate trainings per second
each way, each packing's ratio to sequential, and which packing is faster. The goal (>= 5x for
K >= 16) is stated for a GPU; on a CPU the ratios are recorded without a goal.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from benchmarks.common import domains, quickstart
from benchmarks.harness import Measure, at_least, info, median_time
from rt_core.engine import Generators, new_model, train_packed, train_source

K = 16


def _models(cfg, num_classes, device):
    return [new_model(cfg, num_classes, device, seed) for seed in range(K)]


def run(device: torch.device, repeats: int = 2) -> tuple[list[Measure], dict]:
    cfg = quickstart()
    src, _ = domains(cfg, device)
    train_cfg = replace(cfg.train, epochs=1, milestones=[])
    wds = [0.0, 5e-4, 2e-3, 5e-3] * (K // 4)

    def sequential():
        for seed, (model, wd) in enumerate(zip(_models(cfg, src.num_classes, device), wds, strict=True)):
            train_source(model, src.x_train, src.y_train, replace(train_cfg, weight_decay=wd),
                         Generators.seeded(seed, device))

    def packed(method):
        return lambda: train_packed(_models(cfg, src.num_classes, device), src.x_train, src.y_train, train_cfg,
                                    [Generators.seeded(s, device) for s in range(K)], [None] * K, wds, method)

    t_seq = median_time(sequential, repeats, warmup=0)
    times = {m: median_time(packed(m), repeats, warmup=0) for m in ("vmap", "grouped")}
    measures = [info("sequential", K / t_seq, "trainings/s")]
    for method, t in times.items():
        name = f"packed by {method} K={K} / sequential trainings per second"
        measures += [at_least(name, t_seq / t, "x", 5) if device.type == "cuda" else
                     info(f"{name} (CPU, goal is for a GPU)", t_seq / t, "x"),
                     info(f"packed by {method}", K / t, "trainings/s")]
    faster = min(times, key=times.get)
    measures.append(info(f"{faster} / {max(times, key=times.get)} packing speed", max(times.values()) / times[faster],
                         "x"))
    details = {"K": K, "epochs": 1, "train_images": len(src.x_train), "batch": cfg.train.batch_size,
               "model": cfg.model.options, "repeats": repeats, "faster_packing": faster}
    return measures, details
