"""Packed sweeps: K quickstart CNNs that differ in seed and weight decay, trained for one epoch on the
quickstart source data together (``rt_core.experiment.packing.vmap.train_packed``) vs one after
another (``train_source``, the sweep's path). Two ways to pack, both measured: vmap over stacked
parameters and one wide network of grouped convolutions. Measures: aggregate trainings per second
each way, each packing's ratio to sequential, and which packing is faster, for each K.

The models are the quickstart's without batch norm and per-image standardisation, and trained with
plain momentum, no treatment warm-up and the default first conv: packed training refuses batch norm
(its running statistics are state), grouped packing supports no per-image standardisation, and the
packed SGD has no Nesterov momentum, treatment ramp or whitened first conv
(``rt run --pack`` trains trials it cannot pack alone, and packs by vmap what it cannot group).
K = 16 on a CPU; K = 1, 4, 16, 64 on a GPU, where the goal (>= 5x for K >= 16) is stated; on a CPU
the ratios are recorded without a goal. Sequential training does not depend on K: it is timed once,
over min(max K, 16) models.

``rt bench packed --tiny --out DIR``: K = 1, 2 on 64 images, a check that the code runs (the CPU
dry run of ``benchmarks/gpu_run.sh``), named "tiny check: ..." and no measurement of anything.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from benchmarks.common import domains, quickstart
from benchmarks.harness import Measure, at_least, info, median_time
from rt_core.engine import ExperimentConfig, Generators, new_model, train_packed, train_source

K = 16
GPU_KS = (1, 4, 16, 64)
TINY_KS = (1, 2)
WDS = (0.0, 5e-4, 2e-3, 5e-3)


def packable(cfg: ExperimentConfig) -> ExperimentConfig:
    """``cfg`` with the model's batch norm and per-image standardisation off (the dataset's input
    normalisation instead), plain momentum, no treatment warm-up and the default first conv: what both
    packings accept."""
    options = {k: v for k, v in cfg.model.options.items() if k not in ("norm", "dense_norm", "input_norm")}
    train = replace(cfg.train, nesterov=False, treatment_warmup_epochs=0.0, whiten_first_conv=False)
    return replace(cfg, model=replace(cfg.model, options=options), train=train)


def _models(cfg, num_classes, device, k):
    return [new_model(cfg, num_classes, device, seed) for seed in range(k)]


def run(device: torch.device, repeats: int = 2, tiny: bool = False) -> tuple[list[Measure], dict]:
    cfg = packable(quickstart())
    src, _ = domains(cfg, device)
    x, y = (src.x_train[:64], src.y_train[:64]) if tiny else (src.x_train, src.y_train)
    train_cfg = replace(cfg.train, epochs=1, milestones=[])
    cuda = device.type == "cuda"
    ks = TINY_KS if tiny else GPU_KS if cuda else (K,)
    repeats, warmup = (1, 0) if tiny else (repeats, 1 if cuda else 0)  # CUDA: one untimed run (cuDNN autotuning)
    wds = [WDS[i % len(WDS)] for i in range(max(ks))]
    n_seq = min(max(ks), 16)

    def sequential():
        for seed, model in enumerate(_models(cfg, src.num_classes, device, n_seq)):
            train_source(model, x, y, replace(train_cfg, weight_decay=wds[seed]), Generators.seeded(seed, device))

    def packed(method, k):
        return lambda: train_packed(_models(cfg, src.num_classes, device, k), x, y, train_cfg,
                                    [Generators.seeded(s, device) for s in range(k)], [None] * k, wds[:k], method)

    prefix = "tiny check: " if tiny else ""
    seq_rate = n_seq / median_time(sequential, repeats, warmup)
    measures = [info(f"{prefix}sequential", seq_rate, "trainings/s")]
    faster = {}
    for k in ks:
        rates = {m: k / median_time(packed(m, k), repeats, warmup) for m in ("vmap", "grouped")}
        for method, rate in rates.items():
            name = f"{prefix}packed by {method} K={k} / sequential trainings per second"
            ratio = rate / seq_rate
            if cuda and not tiny and k >= 16:
                measures.append(at_least(name, ratio, "x", 5))
            else:
                measures.append(info(f"{name} (CPU, goal is for a GPU)" if not (cuda or tiny) else name, ratio, "x"))
            measures.append(info(f"{prefix}packed by {method}" + (f" K={k}" if len(ks) > 1 else ""), rate,
                                 "trainings/s"))
        best = max(rates, key=rates.get)
        faster[k] = best
        measures.append(info(f"{prefix}{best} / {min(rates, key=rates.get)} packing speed"
                             + (f" K={k}" if len(ks) > 1 else ""), max(rates.values()) / min(rates.values()), "x"))
    details = {"K": list(ks) if len(ks) > 1 else ks[0], "sequential_models": n_seq, "epochs": 1,
               "train_images": len(x), "batch": cfg.train.batch_size, "model": cfg.model.options,
               "nesterov": False, "repeats": repeats, "warmup": warmup, "device": str(device),
               "faster_packing": faster if len(ks) > 1 else faster[ks[0]]}
    if tiny:
        details["tiny"] = (f"64 images, K = 1, 2 on {device}: a check that the code runs "
                           "(benchmarks/gpu_run.sh --dry-run), not a measurement of anything")
    return measures, details
