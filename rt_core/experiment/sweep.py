"""Run a sweep: expand trials, skip the finished ones, run the rest through an executor, and
write each outcome to the store (the single writer) as soon as it arrives.

A killed sweep loses nothing finished: rerunning the same command skips every finished trial
and re-runs the unfinished ones from scratch. Ctrl-C (SIGINT) stops the executor's workers, deletes
the rows of the trials it cut short (none is left ``running``; only rows this sweep started are
touched) and raises ``SweepInterrupted``. One sweep writes a store at a time: it holds the store's
writer lock (``rt_core.results.lock``) from its first write to its last, and a second sweep on the
same folder is refused in one line before it loads anything.
Each finished trial's rel_dt against the vanilla trial of its seed is filled in
(``rt_core.results.metrics.rel_dt``).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from rt_core.errors import RtError
from rt_core.experiment.config import ExperimentConfig, validate
from rt_core.experiment.environment import resolve_device
from rt_core.experiment.interrupts import SigintGuard, SweepInterrupted
from rt_core.experiment.packing.plan import make_packs
from rt_core.experiment.parts import domains
from rt_core.experiment.preflight import check_model_fits, check_out_dir, check_probe_folds
from rt_core.experiment.runner import TrialRunner
from rt_core.experiment.trials import (
    VANILLA,
    Outcome,
    Trial,
    expand,
    key_config,
    shared_config,
    trial_config,
    trial_key,
)
from rt_core.host.manager import in_process_plugins, notify_trial_finished
from rt_core.results.io import content_key
from rt_core.results.lock import WriterLock, check_free
from rt_core.results.metrics import rel_dt
from rt_core.results.store import Store, check_own_files, read_statuses


def experiment_key(cfg: ExperimentConfig) -> str:
    """The key of the experiment: ``content_key`` of the config every trial shares (defaults left
    out, as in trial keys)."""
    return content_key(key_config(cfg))


def _check_experiment(path: str, found: str | None, cfg: ExperimentConfig, force: bool) -> None:
    if found is not None and found != experiment_key(cfg) and not force:
        raise RtError(f"{path} holds results of a different config (data, model, training, transfer or "
                      "attack differ); use another --out directory, or --force to add to it anyway")


def peek_store(out: str, cfg: ExperimentConfig, force: bool = False) -> dict[str, str]:
    """Statuses by trial key of the store in ``out`` (empty when there is none), read-only: a store
    being written by another process, a store of another config (unless ``force``), a file that is not
    an rt store or a results.csv the store did not write is refused untouched."""
    check_free(out)
    check_own_files(out)
    meta, statuses = read_statuses(out)
    _check_experiment(f"{out}/results.sqlite", meta.get("experiment_key"), cfg, force)
    return statuses


def sweep_meta(cfg: ExperimentConfig) -> str:
    """The store's record of the sweep: JSON, per sweep its plugin, strengths and options (a store
    written before options were recorded has plugin and strengths only)."""
    return json.dumps([{"plugin": s.plugin, "strengths": s.strengths, "options": dict(s.options)} for s in cfg.sweep])


def _open_for_writing(out: str, cfg: ExperimentConfig) -> Store:
    """Open (or create) DIR/results.sqlite for writing, stamped with ``cfg``; call after :func:`peek_store`."""
    try:
        store = Store(out)
    except (OSError, sqlite3.OperationalError) as err:
        why = getattr(err, "strerror", None) or err
        raise RtError(f"--out {out}: cannot write there ({why}); give a directory you can write to") from err
    store.set_meta("experiment_key", experiment_key(cfg))
    store.set_meta("config", json.dumps(shared_config(cfg), sort_keys=True, default=str))
    store.set_meta("name", cfg.name)
    store.set_meta("sweep", sweep_meta(cfg))
    store.set_meta("report", json.dumps(dataclasses.asdict(cfg.report)))
    return store


def fill_rel_dt(store: Store) -> None:
    """Set rel_dt on every finished trial whose seed has a finished vanilla trial."""
    rows = [r for r in store.rows() if r["status"] == "finished"]
    vanilla = {r["seed"]: r["metrics"] for r in rows if r["plugin"] == VANILLA}
    for r in rows:
        if r["seed"] in vanilla:
            v, m = vanilla[r["seed"]], r["metrics"]
            value = rel_dt(m["acc_src"], m["acc_tgt"], v["acc_src"], v["acc_tgt"])
            if r["metrics"].get("rel_dt") != value:
                store.set_metric(r["key"], "rel_dt", value)


def _record(store: Store, outcome: Outcome) -> dict[str, Any]:
    store.finish(outcome.key, outcome.status, outcome.metrics, outcome.timings, outcome.versions,
                 outcome.error, outcome.epoch, outcome.traceback)
    fill_rel_dt(store)
    store.write_csv()
    return store.row(outcome.key)


def _summary(outcome: Outcome) -> str:
    m = outcome.metrics
    if outcome.status != "finished":
        return f"{outcome.trial.label} seed {outcome.trial.seed}: {outcome.status} ({outcome.error})"
    return (f"{outcome.trial.label:<18} seed {outcome.trial.seed}: acc_src {m['acc_src']:.1f}  "
            f"rob_src {m['rob_src']:.1f}  acc_tgt {m['acc_tgt']:.1f}  ({outcome.timings['total_s']:.1f}s)")


def run_sweep(cfg: ExperimentConfig, out: str, executor: Any, device: str = "auto", force: bool = False,
              quiet: bool = False, pack: int = 1) -> dict[str, int]:
    """Run every unfinished trial of ``cfg`` into ``out`` through ``executor``; return counts per status.
    With ``pack`` > 1, up to that many packable trials train together (``rt_core.experiment.packing.plan``).
    ``executor``: ``rt_core.experiment.executors.LocalExecutor()`` (on CPU one single-threaded worker process
    per core) or ``rt_core.experiment.ray_executor.RayExecutor``; anything with ``worker_device(device)``,
    ``map(runner, packs, on_start)`` and, optionally, ``in_process``.

    Everything that can be wrong with the input (device, store, data) is checked before the
    first write, so bad input leaves ``out`` as it was. Ctrl-C raises ``SweepInterrupted``.
    """
    validate(cfg)
    worker_device = executor.worker_device(device)
    check_out_dir(out)
    statuses = peek_store(out, cfg, force)
    trials = expand(cfg)
    todo = [(t, k) for t in trials if statuses.get(k := trial_key(cfg, t)) != "finished"]
    counts = {"total": len(trials), "skipped": len(trials) - len(todo)}
    here = getattr(executor, "in_process", False)
    runner = TrialRunner(cfg, worker_device, sys.stderr.isatty() and not quiet and here, in_process_plugins(),
                         str(Path(out) / "models") if cfg.source_models.keep else "")
    if pack < 1:
        raise RtError(f"--pack must be at least 1 (got {pack}); 1 trains every trial alone")
    if pack > 1 and cfg.source_models.checkpoints:
        raise RtError("--pack trains source models together, but source_models.checkpoints brings them; drop --pack")
    if todo:  # load (and so check) the data before the first write; kept for the trials run here
        src, tgt = domains(cfg, resolve_device(worker_device) if here else torch.device("cpu"))
        check_model_fits(cfg, src, tgt, src.x_train.device)
        check_probe_folds(cfg, tgt)
        todo = make_packs(cfg, todo, pack, src.num_classes)
    with _writer_lock(out):
        store = _open_for_writing(out, cfg)
        try:
            if todo:
                _run(store, runner, executor, todo, counts, quiet)
            store.write_csv()
        finally:
            store.close()
    return counts


def _writer_lock(out: str) -> WriterLock:
    """The store's writer lock, taken (the folder created first); one RtError line when it cannot be."""
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
        return WriterLock(out).acquire()
    except OSError as err:
        raise RtError(f"--out {out}: cannot write there ({err.strerror or err}); give a directory you can "
                      "write to") from err


def _run(store: Store, runner: TrialRunner, executor: Any, packs: list, counts: dict, quiet: bool) -> None:
    cfg = runner.cfg
    bar = tqdm(total=sum(map(len, packs)), desc=f"{cfg.name}: trials", unit="trial", disable=quiet)
    started = time.perf_counter()
    mine: list[str] = []  # the keys this sweep started: an interrupt forgets only these
    with SigintGuard() as guard:
        def on_start(t: Trial, k: str) -> None:
            with guard.critical():
                store.start(k, t.plugin, t.strength, t.seed, trial_config(cfg, t))
                mine.append(k)

        outcomes = executor.map(runner, packs, on_start)
        try:
            for outcome in outcomes:
                with guard.critical():
                    row = _record(store, outcome)
                notify_trial_finished(outcome.trial, row)
                counts[outcome.status] = counts.get(outcome.status, 0) + 1
                bar.update(1)
                if not quiet:
                    bar.write(_summary(outcome))
        except KeyboardInterrupt:
            guard.ignore()
            outcomes.close()  # the executor stops its workers
            bar.close()
            store.forget_running(mine)
            fill_rel_dt(store)
            store.write_csv()
            raise SweepInterrupted(store.count("finished")) from None
        finally:
            outcomes.close()  # the workers stop however the loop ends (a failed write included)
    bar.close()
    store.set_meta("last_run_s", f"{time.perf_counter() - started:.1f}")
