"""``rt report``: the theory-vs-experiment report of a results store or of published numbers.

CSV import schema (one row per trial): ``plugin, strength, seed, acc_src, acc_tgt`` and optional
``rob_src``, accuracies in percent. Each plugin's row at its identity strength (e.g. eps = 0) is
that plugin's vanilla; rel_dt is computed against it seed by seed. Published numbers are not
filtered for collapsed training.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from rt_core import RtError, get_dataset, identity_strength
from rt_core.experiment.config import parse_number
from rt_core.results.metrics import rel_dt
from rt_core.results.render import write_report
from rt_core.results.store import Store
from theory.matching import match, min_acc_for, robustness_vs_transfer, usable

REQUIRED = ("plugin", "strength", "seed", "acc_src", "acc_tgt")


def _flat(row: dict, min_acc: float) -> dict:
    m = row["metrics"]
    flat = {"plugin": row["plugin"], "strength": row["strength"], "seed": row["seed"], "status": row["status"],
            "error": row["error"], **{k: m.get(k) for k in ("acc_src", "acc_tgt", "rob_src", "rel_dt", "tau")}}
    flat["usable"] = row["status"] == "finished" and usable(flat, min_acc)
    return flat


def _store_provenance(store: Store, rows: list[dict]) -> dict:
    config = json.loads(store.get_meta("config") or "{}")
    phases: dict[str, float] = {}
    for r in rows:
        for k, v in r["timings"].items():
            phases[k] = phases.get(k, 0.0) + v
    versions = rows[-1]["versions"] if rows else {}
    return {"store": str(store.path), "config": config, "seeds": sorted({r["seed"] for r in rows}),
            "versions": versions, "device": versions.get("device"), "gpu": versions.get("gpu"),
            "timings_total_s": {k: round(v, 1) for k, v in sorted(phases.items())},
            "last_run_wall_s": store.get_meta("last_run_s")}


def _verdict_dicts(rows: list[dict], min_acc: float) -> tuple[list[dict], dict]:
    """Verdicts as JSON-ready dicts (the rel_dt trend also flattened to the top level) and the
    robustness-vs-transfer correlation."""
    verdicts = []
    finished = [r for r in rows if r["status"] == "finished"]
    for v in match(finished, min_acc):
        d = v.to_dict()
        d.update(spearman_rho=v.rel_dt.spearman_rho, p_value=v.rel_dt.p_value, slope=v.rel_dt.slope,
                 slope_ci=v.rel_dt.slope_ci, n=v.rel_dt.n, identity=identity_strength(v.plugin))
        verdicts.append(d)
    return verdicts, asdict(robustness_vs_transfer(finished, min_acc))


def report_store(directory: str | Path, out: str | Path | None = None) -> Path:
    """Report of DIR/results.sqlite, written to ``out`` (default DIR)."""
    store = Store(directory, create=False, read_only=True)
    raw = store.rows()
    if not raw:
        raise RtError(f"{store.path} holds no trials yet; run `rt run CONFIG --out {directory}` first")
    config = json.loads(store.get_meta("config") or "{}")
    dataset = config.get("source", {}).get("dataset")
    min_acc = min_acc_for(get_dataset(dataset).num_classes if dataset else 10)
    rows = [_flat(r, min_acc) for r in raw]
    verdicts, robust = _verdict_dicts(rows, min_acc)
    provenance = _store_provenance(store, raw)
    store.close()
    title = f"Theory vs experiment: {Path(directory).name}"
    return write_report(out or directory, title, rows, verdicts, robust, provenance)


def read_published(path: str | Path) -> list[dict]:
    """Rows of a published-results CSV (schema above), with rel_dt against each plugin's identity row."""
    path = Path(path)
    if not path.is_file():
        raise RtError(f"results file '{path}' not found; pass a CSV with columns {', '.join(REQUIRED)}[, rob_src]")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise RtError(f"{path} lacks column(s) {', '.join(missing)}; "
                          f"the schema is {', '.join(REQUIRED)}[, rob_src]")
        rows = [_parse_row(r, i + 2, path) for i, r in enumerate(reader)]
    return _with_rel_dt(rows, path)


def _parse_row(r: dict, line: int, path: Path) -> dict:
    where = f"{path}:{line}"
    row = {"plugin": r["plugin"].strip(), "strength": parse_number(r["strength"], f"{where} strength"),
           "seed": int(parse_number(r["seed"], f"{where} seed")), "status": "finished", "error": None}
    for key in ("acc_src", "acc_tgt", "rob_src"):
        value = (r.get(key) or "").strip()
        row[key] = parse_number(value, f"{where} {key}") if value else None
    return row


def _with_rel_dt(rows: list[dict], path: Path) -> list[dict]:
    for r in rows:
        ident = identity_strength(r["plugin"])
        base = [b for b in rows if b["plugin"] == r["plugin"] and b["seed"] == r["seed"] and b["strength"] == ident]
        if not base:
            raise RtError(f"{path}: plugin '{r['plugin']}' seed {r['seed']} has no row at its identity strength "
                          f"{ident}; add that vanilla row")
        v = base[0]
        r["rel_dt"] = rel_dt(r["acc_src"], r["acc_tgt"], v["acc_src"], v["acc_tgt"])
        r["usable"] = True
    return rows


def report_published(path: str | Path, out: str | Path) -> Path:
    """Report of a published-results CSV."""
    rows = read_published(path)
    verdicts, robust = _verdict_dicts(rows, min_acc_for(None))
    provenance = {"imported_from": str(path), "seeds": sorted({r["seed"] for r in rows}), "trials": len(rows)}
    return write_report(out, f"Theory vs published results: {Path(path).name}", rows, verdicts, robust, provenance)
