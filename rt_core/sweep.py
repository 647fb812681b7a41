"""Run a sweep: expand trials, skip the finished ones, run the rest through an executor, and
write each outcome to the store (the single writer) as soon as it arrives.

A killed sweep loses nothing finished: rerunning the same command skips every finished trial
and re-runs the unfinished ones from scratch. rel_dt (percentage points) of each trial against
the vanilla trial of its seed: (acc_tgt - acc_src) - (acc_tgt_v - acc_src_v).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from rt_core import __version__
from rt_core.config import ExperimentConfig
from rt_core.engine import Domain, load_domain, run_trial
from rt_core.errors import RtError
from rt_core.plugins import notify_trial_finished
from rt_core.store import Store
from rt_core.train import Diverged
from rt_core.trials import VANILLA, Trial, expand, shared_config, trial_config, trial_key


@dataclass
class Outcome:
    trial: Trial
    key: str
    status: str
    metrics: dict
    timings: dict
    error: str | None = None
    epoch: int | None = None


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RtError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise RtError(f"unknown device '{name}'; use auto, cpu or cuda")
    return torch.device(name)


def versions(device: torch.device) -> dict[str, str]:
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    return {"rt": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "device": str(device), "gpu": gpu}


class LocalExecutor:
    """Runs trials one after another in this process."""

    def map(self, fn: Callable[[Trial, str], Outcome], jobs: Iterable[tuple[Trial, str]]) -> Iterator[Outcome]:
        for trial, key in jobs:
            yield fn(trial, key)


def experiment_key(cfg: ExperimentConfig) -> str:
    return hashlib.sha256(json.dumps(shared_config(cfg), sort_keys=True, default=str).encode()).hexdigest()[:20]


def open_store(out: str, cfg: ExperimentConfig, force: bool = False) -> Store:
    """Open DIR/results.sqlite; refuse a store written for a different experiment unless ``force``."""
    store = Store(out)
    key, found = experiment_key(cfg), store.get_meta("experiment_key")
    if found is not None and found != key and not force:
        store.close()
        raise RtError(f"{store.path} holds results of a different config (data, model, training, transfer or "
                      "attack differ); use another --out directory, or --force to add to it anyway")
    store.set_meta("experiment_key", key)
    store.set_meta("config", json.dumps(shared_config(cfg), sort_keys=True, default=str))
    return store


def fill_rel_dt(store: Store) -> None:
    """Set rel_dt on every finished trial whose seed has a finished vanilla trial."""
    rows = [r for r in store.rows() if r["status"] == "finished"]
    gap = {r["seed"]: r["metrics"]["acc_tgt"] - r["metrics"]["acc_src"] for r in rows if r["plugin"] == VANILLA}
    for r in rows:
        if r["seed"] in gap:
            value = r["metrics"]["acc_tgt"] - r["metrics"]["acc_src"] - gap[r["seed"]]
            if r["metrics"].get("rel_dt") != value:
                store.set_metric(r["key"], "rel_dt", value)


def _runner(cfg: ExperimentConfig, src: Domain, tgt: Domain, device: torch.device, show_epochs: bool):
    def run(trial: Trial, key: str) -> Outcome:
        bar = tqdm(total=cfg.train.epochs, desc=f"  {trial.label} seed {trial.seed}", leave=False,
                   disable=not show_epochs, unit="ep")
        try:
            metrics, timings = run_trial(trial, cfg, src, tgt, device,
                                         on_epoch=lambda e, loss: (bar.update(1), bar.set_postfix(loss=f"{loss:.3f}")))
            return Outcome(trial, key, "finished", metrics, timings)
        except Diverged as err:
            return Outcome(trial, key, "diverged", {}, {}, error=str(err), epoch=err.epoch)
        finally:
            bar.close()
    return run


def _record(store: Store, outcome: Outcome, device: torch.device) -> dict[str, Any]:
    store.finish(outcome.key, outcome.status, outcome.metrics, outcome.timings, versions(device),
                 outcome.error, outcome.epoch)
    fill_rel_dt(store)
    store.write_csv()
    return store.row(outcome.key)


def _summary(outcome: Outcome) -> str:
    m = outcome.metrics
    if outcome.status != "finished":
        return f"{outcome.trial.label} seed {outcome.trial.seed}: {outcome.status} ({outcome.error})"
    return (f"{outcome.trial.label:<18} seed {outcome.trial.seed}: acc_src {m['acc_src']:.1f}  "
            f"rob_src {m['rob_src']:.1f}  acc_tgt {m['acc_tgt']:.1f}  ({outcome.timings['total_s']:.1f}s)")


def run_sweep(cfg: ExperimentConfig, out: str, device: str = "auto", force: bool = False,
              executor: Any = None, quiet: bool = False) -> dict[str, int]:
    """Run every unfinished trial of ``cfg`` into ``out``; return counts per status."""
    dev = resolve_device(device)
    store = open_store(out, cfg, force)
    trials = expand(cfg)
    todo = [(t, trial_key(cfg, t)) for t in trials]
    todo = [(t, k) for t, k in todo if store.status(k) != "finished"]
    counts = {"total": len(trials), "skipped": len(trials) - len(todo)}
    if todo:
        src, tgt = load_domain(cfg.source, dev), load_domain(cfg.target, dev)
        run = _runner(cfg, src, tgt, dev, show_epochs=sys.stderr.isatty() and not quiet)

        def start_and_run(t: Trial, k: str) -> Outcome:
            store.start(k, t.plugin, t.strength, t.seed, trial_config(cfg, t))
            return run(t, k)

        bar = tqdm(total=len(todo), desc=f"{cfg.name}: trials", unit="trial", disable=quiet)
        started = time.perf_counter()
        for outcome in (executor or LocalExecutor()).map(start_and_run, todo):
            row = _record(store, outcome, dev)
            notify_trial_finished(outcome.trial, row)
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            bar.update(1)
            if not quiet:
                bar.write(_summary(outcome))
        bar.close()
        store.set_meta("last_run_s", f"{time.perf_counter() - started:.1f}")
    store.write_csv()
    store.close()
    return counts
