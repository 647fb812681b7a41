"""The Python API for notebooks: run a sweep, load its results as a pandas DataFrame, write the report,
export the table. Errors are RtErrors with the same one-line messages as the ``rt`` command.

    import rt_core
    df = rt_core.run("sweep.toml", "runs/mine")   # resumable, like `rt run`
    df = rt_core.load_results("runs/mine")        # one row per trial, usable and delta columns
    rt_core.report("runs/mine")                   # report.md, report.html, figures/, verdicts.json

The engine (torch) and pandas are imported inside the functions that use them, so ``rt export`` and
``rt_core.report`` do not import torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rt_core import examples
from rt_core.errors import RtError
from rt_core.experiment.config import ExperimentConfig
from rt_core.experiment.loading import from_dict, load_config
from rt_core.host.lookup import get_dataset
from rt_core.host.manager import registries, write_report
from rt_core.results import metrics
from rt_core.results.owned import check_overwrite
from rt_core.results.store import SCORE_PREFIX, Store

if TYPE_CHECKING:
    import pandas as pd

METRIC_COLUMNS = ("acc_src", "rob_src", "acc_tgt", "probe_acc_src", "loss_src", "loss_tgt", "tau", "plateau_step",
                  "plateau_frac", "plateau_stay_step", "plateau_stay_frac")


def run(config: Any, out: str | Path, device: str = "auto", force: bool = False, quiet: bool = True,
        pack: int = 1) -> pd.DataFrame:
    """Run (or resume) the sweep of ``config`` into ``out`` and return :func:`load_results` of it.

    ``config``: a path to a TOML file, the name of a shipped example, a dict shaped like the TOML
    document, or an ExperimentConfig. The config is checked before anything is written:

    >>> import os, tempfile, rt_core
    >>> out = os.path.join(tempfile.mkdtemp(), "mine")
    >>> try:
    ...     rt_core.run({"sweep": [{"plugin": "blurr", "strengths": [1.0]}]}, out)
    ... except rt_core.RtError as err:
    ...     print(str(err).split(";")[0], os.path.exists(out))
    sweep[0].plugin: unknown plugin 'blurr' False
    """
    from rt_core.experiment.executors import LocalExecutor
    from rt_core.experiment.sweep import run_sweep

    if isinstance(config, ExperimentConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = from_dict(config)
    else:
        cfg = load_config(examples.resolve(str(config)))
    run_sweep(cfg, str(out), LocalExecutor(), device=device, force=force, quiet=quiet, pack=pack)
    return load_results(out)


def _num_classes(config: dict) -> int:
    name = config.get("source", {}).get("dataset", "")
    return get_dataset(name).num_classes if name in registries().datasets else 0


DELTA_COLUMNS = {"delta_acc_src": "d_acc_src", "delta_acc_tgt": "d_acc_tgt", "delta_probe_acc_src": "d_probe_acc_src",
                 "rel_dt": "rel_dt", "rel_dt_probe": "rel_dt_probe"}


def load_results(directory: str | Path) -> pd.DataFrame:
    """The trials in ``directory/results.sqlite`` (opened read-only) as a DataFrame, one row per trial:
    key, plugin, strength, seed, status, the metrics, ``usable``, ``delta_acc_src``, ``delta_acc_tgt``,
    ``delta_probe_acc_src``, ``rel_dt``, ``rel_dt_probe``, error, epoch, and ``trained`` /
    ``checkpoint`` for source models brought from checkpoints.

    ``usable`` (bool) is the report's rule (``rt_core.results.metrics``): the trial finished with its
    source accuracy more than 10 points above chance, and so did the vanilla trial of its seed. The
    delta columns and ``rel_dt`` (against that vanilla) are NaN on every row that is not usable, so
    ``df.groupby("plugin").rel_dt.mean()`` averages exactly the trials the report keeps.

    >>> import tempfile, rt_core
    >>> from rt_core.reporting import Store
    >>> store = Store(folder := tempfile.mkdtemp())
    >>> for key, plugin, strength, acc_src, acc_tgt in (("v", "vanilla", 0, 90.0, 60.0), ("b", "blur", 1, 85.0, 62.0)):
    ...     store.start(key, plugin, strength, 0, {})
    ...     store.finish(key, "finished", {"acc_src": acc_src, "acc_tgt": acc_tgt}, {}, {})
    >>> store.close(); rt_core.load_results(folder)[["plugin", "usable", "rel_dt"]].to_dict("records")
    [{'plugin': 'blur', 'usable': True, 'rel_dt': 7.0}, {'plugin': 'vanilla', 'usable': True, 'rel_dt': 0.0}]

    Last come the ``score_<name>`` columns, one per transferability score any trial has
    (``rt_core.experiment.scoring``; NaN where a trial has none, or its predictor failed).
    """
    import pandas as pd

    store = Store(directory, create=False, read_only=True)
    try:
        rows, config = store.rows(), json.loads(store.get_meta("config") or "{}")
    finally:
        store.close()
    classes = _num_classes(config)

    def learned(r: dict) -> bool:
        return metrics.usable(r["status"], r["metrics"].get("acc_src"), classes)

    vanilla = {r["seed"]: r for r in rows if r["plugin"] == "vanilla"}
    records = []
    scores = sorted({k for r in rows for k in r["metrics"] if k.startswith(SCORE_PREFIX)})
    for r in rows:
        m = r["metrics"]
        rec = {k: r[k] for k in ("key", "plugin", "strength", "seed", "status")}
        rec.update({k: m.get(k) for k in METRIC_COLUMNS})
        v = vanilla.get(r["seed"])
        rec["usable"] = bool(learned(r) and v is not None and learned(v))
        d = metrics.deltas(m, v["metrics"]) if rec["usable"] else {}
        for column, key in DELTA_COLUMNS.items():
            rec[column] = float("nan") if d.get(key) is None else d[key]
        rec.update(error=r["error"], epoch=r["epoch"], trained=r["versions"].get("trained", True),
                   checkpoint=r["versions"].get("checkpoint"))
        rec.update({k: float("nan") if m.get(k) is None else m[k] for k in scores})
        records.append(rec)
    return pd.DataFrame.from_records(records)


def vanilla_warning(directory: str | Path) -> str | None:
    """One line naming the seeds whose vanilla model finished without learning (source accuracy at
    most 10 points above chance, the report's rule), or None when every finished vanilla learned.
    Every trial of such a seed is left out of the report.

    >>> import tempfile, rt_core
    >>> from rt_core.reporting import Store
    >>> store = Store(folder := tempfile.mkdtemp())
    >>> store.set_meta("config", '{"source": {"dataset": "printed_digits"}}')
    >>> store.start("v", "vanilla", 0.0, 3, {})
    >>> store.finish("v", "finished", {"acc_src": 11.0, "acc_tgt": 10.0}, {}, {}); store.close()
    >>> print(vanilla_warning(folder))  # doctest: +NORMALIZE_WHITESPACE
    warning: the vanilla model of seed 3 did not learn (acc_src 11.0%, usable above 20%): every trial of that
    seed is left out of the report; train longer or with another recipe ([train]), then rerun
    """
    df = load_results(directory)
    if df.empty:
        return None
    stuck = df[(df["plugin"] == "vanilla") & (df["status"] == "finished") & ~df["usable"]].sort_values("seed")
    if stuck.empty:
        return None
    store = Store(directory, create=False, read_only=True)
    try:
        classes = _num_classes(json.loads(store.get_meta("config") or "{}"))
    finally:
        store.close()
    seeds = ", ".join(str(s) for s in stuck["seed"])
    accs = ", ".join(f"{a:.1f}%" for a in stuck["acc_src"])
    one = len(stuck) == 1
    return (f"warning: the vanilla model of seed{'' if one else 's'} {seeds} did not learn (acc_src {accs}, usable "
            f"above {metrics.min_acc_src(classes):g}%): every trial of {'that seed' if one else 'those seeds'} is "
            "left out of the report; train longer or with another recipe ([train]), then rerun")


def report(directory: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of ``directory`` (into ``out``, default the directory itself) through the plugin that
    writes reports (``rt_write_report``, the same path as ``rt report``); return the path of report.md.

    >>> import rt_core
    >>> try:
    ...     rt_core.report("runs/none-here")
    ... except rt_core.RtError as err:
    ...     print(err)
    no results store at runs/none-here/results.sqlite; run `rt run CONFIG --out runs/none-here` first
    """
    return Path(write_report(directory, out))


def export(directory: str | Path, path: str | Path | None = None, format: str = "csv") -> Path:
    """Write :func:`load_results` of ``directory`` as ``csv`` or ``parquet`` (default path:
    ``directory/results_table.<format>``); return the path. An existing file at the path is replaced
    only when rt wrote it (a table whose columns start ``key,plugin,strength,seed,status``,
    ``rt_core.results.owned``); anything else is an RtError and nothing is written.

    >>> import tempfile, rt_core
    >>> from rt_core.reporting import Store
    >>> store = Store(folder := tempfile.mkdtemp())
    >>> store.start("v", "vanilla", 0.0, 0, {})
    >>> store.finish("v", "finished", {"acc_src": 90.0, "acc_tgt": 60.0}, {}, {}); store.close()
    >>> path = rt_core.export(folder)
    >>> path.name, path.read_text().splitlines()[0].split(",")[:5]
    ('results_table.csv', ['key', 'plugin', 'strength', 'seed', 'status'])
    """
    if format not in ("csv", "parquet"):
        raise RtError(f"--format {format}: use csv or parquet")
    df = load_results(directory)
    path = Path(path) if path else Path(directory) / f"results_table.{format}"
    try:
        check_overwrite([path], f".{format}")
        df.to_csv(path, index=False) if format == "csv" else df.to_parquet(path, index=False)
    except ImportError as err:
        raise RtError(f"parquet needs pyarrow: pip install pyarrow ({err})") from err
    except OSError as err:
        raise RtError(f"cannot write {path} ({err.strerror or err}); pass --out FILE somewhere you can write") \
            from err
    return path
