"""Item 5, the quickstart sweep end to end (examples/quickstart.toml, every trial) into a fresh
store, then its report, with the time of each phase: loading both domains (from the on-disk cache;
generated first if absent), and summed over the trials: source training, feature extraction, head
fitting, robust evaluation; then the report. One run (it takes minutes), so no median. The sweep
runs on the default executor (on CPU one single-threaded worker per core): the phase sums add up
the workers' times, so they exceed the wall time when several workers run at once.
"""

from __future__ import annotations

import tempfile
import time

import torch

from benchmarks.common import quickstart
from benchmarks.harness import Measure, info
from rt_core.engine import LocalExecutor, Store, load_domain, run_sweep
from theory.report.job import report_store

PHASES = ("source_train_s", "features_s", "head_fit_s", "robust_eval_s")


def run(device: torch.device, repeats: int = 1) -> tuple[list[Measure], dict]:
    cfg = quickstart()
    t0 = time.perf_counter()  # the loaders themselves, not this process's cache of their result
    load_domain(cfg.source, device), load_domain(cfg.target, device)
    t_data = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as out:
        t1 = time.perf_counter()
        counts = run_sweep(cfg, out, LocalExecutor(), device=str(device.type), quiet=True)
        t_sweep = time.perf_counter() - t1
        rows = Store(out).rows()
        t2 = time.perf_counter()
        report_store(out)
        t_report = time.perf_counter() - t2
    sums = {p: sum(r["timings"].get(p, 0.0) for r in rows) for p in PHASES}
    n = len(rows)
    measures = [info("quickstart: trials", n, "trials"), info("quickstart: sweep wall time", t_sweep, "s"),
                info("quickstart: mean time per trial", t_sweep / n, "s"),
                info("phase: load both domains", t_data, "s"),
                *[info(f"phase: {p[:-2].replace('_', ' ')} (all trials)", v, "s") for p, v in sums.items()],
                info("phase: report (matching, figures)", t_report, "s"),
                info("quickstart: total incl. data and report", t_data + t_sweep + t_report, "s")]
    layout = {(r["versions"].get("workers"), r["versions"].get("threads")) for r in rows}
    return measures, {"counts": counts, "repeats": 1, "config": "examples/quickstart.toml",
                      "workers_x_threads": sorted(f"{w}x{t}" for w, t in layout)}
