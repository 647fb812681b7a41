"""The whole quickstart sweep (its 75 trials) with workers x threads = 2x1 (the default on 2 cores)
and then 1x2 (one trial at a time on two threads), each into a fresh store, in one run: sweep wall
time (worker start-up included, report excluded), the ratio, and how far the two thread counts
move each trial's accuracies (CPU float sums depend on the thread count; training amplifies that).
Goal (set when worker processes became the default): 2x1 >= 1.3x the trials per second of 1x2 on a
quiet machine. It takes about 15 minutes, so ``rt bench`` runs it only when named: ``rt bench parallel_sweep``.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from benchmarks.common import quickstart
from benchmarks.harness import Measure, at_least, info
from benchmarks.parallel import sweep_rows


def _sweep(cfg, workers: int, threads: int) -> tuple[float, dict]:
    """(wall seconds, {(plugin, strength, seed): metrics}) of one fresh sweep of ``cfg``."""
    wall, rows = sweep_rows(cfg, workers, threads)
    return wall, {(r["plugin"], r["strength"], r["seed"]): r["metrics"] for r in rows}


def run(device: torch.device) -> tuple[list[Measure], dict[str, Any]]:
    cfg = quickstart()
    loads = {"before": os.getloadavg()}
    wall_21, rows_21 = _sweep(cfg, 2, 1)
    loads["after 2x1"] = os.getloadavg()
    wall_12, rows_12 = _sweep(cfg, 1, 2)
    loads["after 1x2"] = os.getloadavg()
    moved = {m: [abs(rows_21[k][m] - rows_12[k][m]) for k in rows_21] for m in ("acc_src", "acc_tgt")}
    n = len(rows_21)
    measures = [
        info("2x1 sweep wall time", wall_21, "s"),
        info("1x2 sweep wall time", wall_12, "s"),
        at_least("2x1 / 1x2 trials per second, whole sweep", wall_12 / wall_21, "x", 1.3),
        *[info(f"1 vs 2 threads: largest |change| of a trial's {m}", max(v), "points") for m, v in moved.items()],
        *[info(f"1 vs 2 threads: trials whose {m} moved > 2 points", sum(x > 2 for x in v), "trials")
          for m, v in moved.items()],
    ]
    details = {"config": "rt_core/examples/quickstart.toml, all seeds", "trials": n,
               "mean_abs_change": {m: round(sum(v) / n, 3) for m, v in moved.items()},
               "loadavg_1_5_15_min": loads, "cpus": os.cpu_count()}
    return measures, details
