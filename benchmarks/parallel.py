"""Trials in parallel: quickstart trials per second with workers x threads = 2x1 (the default on
2 cores) against 1x2 (one trial at a time on two threads, the old default), on the machine as it
is and with one competing CPU-bound process (a Python busy loop) running for the duration.

The trials: the quickstart config with seed 0 and the first strength of each plugin (8 trials:
vanilla, weight decay, Jacobian, PGD training, four augmentations), so that starting the workers
weighs about as much as in a real sweep. Each configuration is one sweep into a fresh store (wall
time includes starting the worker processes). With the competitor, 1x2 runs only the first
``slow_trials`` trials (it slows by an order of magnitude), compared with the same trials' quiet
1x2 times from the store. The load average before each phase is recorded: other processes on the
machine make "quiet" less quiet.
Goals: 2x1 >= 1.3x the trials per second of 1x2 (quiet); with the competitor, the 2x1 sweep takes
at most 2x its quiet time. Also reported: how much slower one trial runs on one thread beside
another than on two threads alone; 2 over that bounds the quiet ratio, whatever the executor does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import torch

from benchmarks.common import quickstart
from benchmarks.harness import Measure, at_least, at_most, info
from rt_core.engine import ExperimentConfig, LocalExecutor, Store, run_sweep


def trials_config(first: int | None = None) -> ExperimentConfig:
    """The quickstart config with seed 0 and the first strength of each of its first ``first`` plugins."""
    cfg = quickstart()
    blocks = [replace(b, strengths=b.strengths[:1]) for b in cfg.sweep]
    return replace(cfg, seeds=[0], sweep=blocks[:first] if first is not None else blocks)


@contextmanager
def competitor():
    """One CPU-bound process (a Python busy loop) for the duration of the block."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def sweep_rows(cfg: ExperimentConfig, workers: int, threads: int) -> tuple[float, list[dict]]:
    """(wall seconds, the store's rows) of ``cfg`` run into a fresh store with ``workers`` x ``threads`` on CPU."""
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        counts = run_sweep(cfg, out, device="cpu", quiet=True, executor=LocalExecutor(workers, threads))
        wall = time.perf_counter() - t0
        rows = Store(out).rows()
    assert counts.get("finished") == counts["total"], counts
    return wall, rows


def timed_sweep(cfg: ExperimentConfig, workers: int, threads: int) -> tuple[float, dict[str, float]]:
    """(wall seconds, total_s per trial key) of ``cfg`` run with ``workers`` x ``threads`` on CPU."""
    wall, rows = sweep_rows(cfg, workers, threads)
    return wall, {r["key"]: r["timings"]["total_s"] for r in rows}


def run(device: torch.device, slow_trials: int = 1, repeats: int = 2) -> tuple[list[Measure], dict[str, Any]]:
    """The quiet sweeps run ``repeats`` times, 2x1 and 1x2 in turn, each keeping its fastest run
    (the one least disturbed by other processes); the competitor's sweeps run once."""
    cfg, few = trials_config(), trials_config(slow_trials - 1)  # vanilla, then the first plugins
    n, loads = len(cfg.sweep) + 1, {"before": os.getloadavg()}
    quiet: dict[tuple[int, int], tuple[float, dict[str, float]]] = {}
    for r in range(repeats):
        for layout in ((2, 1), (1, 2)):
            loads[f"quiet {layout[0]}x{layout[1]} #{r + 1}"] = os.getloadavg()
            result = timed_sweep(cfg, *layout)
            if layout not in quiet or result[0] < quiet[layout][0]:
                quiet[layout] = result
    with competitor():
        loads["competitor 2x1"] = os.getloadavg()
        busy_2x1 = timed_sweep(cfg, 2, 1)
        loads["competitor 1x2"] = os.getloadavg()
        busy_1x2 = timed_sweep(few, 1, 2)
    loads["after"] = os.getloadavg()
    tps = {layout: n / wall for layout, (wall, _) in quiet.items()}
    same = [quiet[(1, 2)][1][k] for k in busy_1x2[1]]
    # per-trial time on one thread next to another trial / on two threads alone: with two workers
    # always busy, 2x1 / 1x2 trials per second can be at most 2 / this (start-up and the tail lower it)
    slowdown = sum(quiet[(2, 1)][1].values()) / sum(quiet[(1, 2)][1].values())
    measures = [
        info("quiet: 2x1 trials per second", tps[(2, 1)], "trials/s"),
        info("quiet: 1x2 trials per second", tps[(1, 2)], "trials/s"),
        at_least("quiet: 2x1 / 1x2 trials per second", tps[(2, 1)] / tps[(1, 2)], "x", 1.3),
        info("quiet: a trial's time in 2x1 / in 1x2 (sum over the trials)", slowdown, "x"),
        info("quiet: ceiling of 2x1 / 1x2 from those per-trial times (2 / ratio above)", 2 / slowdown, "x"),
        info("competitor: 2x1 trials per second", n / busy_2x1[0], "trials/s"),
        at_most("competitor: 2x1 sweep time / quiet 2x1", busy_2x1[0] / quiet[(2, 1)][0], "x", 2.0),
        info(f"competitor: 1x2 time of its first {slow_trials} trials / quiet",
             sum(busy_1x2[1].values()) / sum(same), "x")]
    details = {"config": "examples/quickstart.toml, seed 0, vanilla and the first strength of each plugin",
               "trials": n, "slow_trials": slow_trials, "repeats": repeats,
               "competitor": "python -c 'while True: pass' (one core)",
               "sweep_wall_s": {f"{w}x{t}": round(quiet[(w, t)][0], 2) for w, t in quiet},
               "competitor_sweep_wall_s": {"2x1": round(busy_2x1[0], 2), f"1x2 ({slow_trials} trials)": round(
                   busy_1x2[0], 2)},
               "loadavg_1_5_15_min": loads, "cpus": os.cpu_count()}
    return measures, details
