"""``rt report`` and ``rt plan``: the theory-vs-experiment report of a results store or of published
numbers.

CSV import schema (one row per trial): ``plugin, strength, seed, acc_src, acc_tgt`` and optional
``rob_src``, ``probe_acc_src``, ``status``, accuracies in percent. Each plugin's row at its identity
strength (e.g. eps = 0), else the seed's ``vanilla`` row, is that plugin's vanilla; every delta is
taken against it seed by seed. Published
numbers are not filtered for collapsed training (no class count is known).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

from rt_core import RtError, get_dataset, report_sections
from rt_core.reporting import (
    Block,
    Figure,
    Heading,
    ReportConfig,
    Store,
    Table,
    Text,
    parse_number,
    rel_dt,
    write_rendered,
)
from theory.matching import (
    identity_strength,
    is_augmentation,
    min_acc_for,
    model_input_norm,
    predict,
    strength_label,
)
from theory.report import analysis, figures, headroom, sections
from theory.report import statistics as st
from theory.report.plan import plan, replication
from theory.report.scoreboard import attach_scoreboard, scoreboard_figure, scoreboard_section
from theory.report.verdicts import Correlation, Replication, Report, Settings

REQUIRED = ("plugin", "strength", "seed", "acc_src", "acc_tgt")
FLAG_DROP = 20.0
METRIC_KEYS = ("acc_src", "acc_tgt", "rob_src", "probe_acc_src", "rel_dt", "tau", "plateau_step", "plateau_frac")


def _plugins(rows: list[dict], min_acc: float, swept: dict[str, list[float]], config: dict | None = None
             ) -> tuple[list[int], dict[str, analysis.PluginData], dict]:
    """(seeds, per-plugin tables, per-plugin predictions from the configured strengths and, for an
    augmentation, the config's model: T4 on what it sees) of flat rows."""
    seeds = sorted({r["seed"] for r in rows})
    plugins = sorted({r["plugin"] for r in rows} - {"vanilla"})
    data = {p: analysis.plugin_data(rows, p, identity_strength(p), seeds, min_acc, FLAG_DROP) for p in plugins}
    norm = model_input_norm(config) if any(is_augmentation(p) for p in plugins) else "none"
    predictions = {p: predict(p, tuple(sorted(swept.get(p) or data[p].levels[1:])), norm) for p in plugins}
    return seeds, data, predictions


def build_report(rows: list[dict], title: str, cfg: ReportConfig, min_acc: float, swept: dict[str, list[float]],
                 provenance: dict, config: dict | None = None) -> tuple[Report, dict[str, analysis.PluginData]]:
    """The typed report of flat trial rows; ``swept``: each plugin's configured strengths; ``config``:
    the experiment config whose model T4 analyses augmentations for (None: no input transform)."""
    seeds, data, predictions = _plugins(rows, min_acc, swept, config)
    plugins = sorted(data)
    settings = Settings(cfg.alpha, cfg.equivalence_margin, cfg.resamples, min_acc, FLAG_DROP, tuple(seeds),
                        st.distinct_resamples(len(seeds)))
    verdicts = analysis.analyse(data, predictions, {p: strength_label(p) for p in plugins}, settings)
    effect = cfg.plan_effect or cfg.equivalence_margin
    expected = {p: predictions[p].expected for p in plugins}
    study = plan(analysis.Family.of(data, expected, cfg.alpha, cfg.equivalence_margin), effect)
    report = Report(title, settings, verdicts, analysis.robustness(data, cfg.resamples), study, provenance,
                    analysis.trial_counts(rows, data, min_acc))
    attach_scoreboard(report, rows, data)
    return report, data


def _figures(out: Path, report: Report, data: dict) -> dict[str, str]:
    """Write every figure; return name -> path relative to ``out``."""
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    colours = figures.plugin_colours([v.plugin for v in report.plugins])
    paths = {"overview": "figures/rel_dt_vs_strength.png", "robustness": "figures/robustness_vs_rel_dt.png"}
    figures.rel_dt_overview(report.plugins, data, colours, out / paths["overview"])
    figures.robustness_scatter(report.plugins, data, report.robustness, colours, out / paths["robustness"])
    for v in report.plugins:
        paths[v.plugin] = f"figures/{v.plugin}.png"
        figures.plugin_panels(v, data[v.plugin], colours[v.plugin], report.settings.min_acc_src, out / paths[v.plugin])
        if v.prediction.bound is not None and figures.bound_image(v.prediction.bound.latex,
                                                                  out / f"figures/bound_{v.plugin}.png"):
            paths[f"bound_{v.plugin}"] = f"figures/bound_{v.plugin}.png"
    return paths


def blocks(report: Report, paths: dict[str, str], rows: list[dict]) -> list[Block]:
    """The whole report as typed blocks."""
    out: list[Block] = [Heading(report.title, 1), sections.summary(report), Heading("Verdicts"),
                        sections.verdict_table(report), sections.reasons(report),
                        Heading("Relative DT vs strength"), Figure(paths["overview"], "rel_dt vs strength")]
    for v in report.plugins:
        out += [Heading(f"{v.plugin}", 3), Figure(paths[v.plugin], f"{v.plugin}: accuracies and rel_dt vs strength"),
                sections.strength_table(v), *sections.theory_blocks(v, paths.get(f"bound_{v.plugin}")),
                *sections.notes(v)]
    out += _robustness_blocks(report, paths) + scoreboard_section(report, paths) + _plan_blocks(report)
    failed = [r for r in rows if r["status"] != "finished"]
    if failed:
        out += [Heading("Failed or diverged trials"),
                Table(("plugin", "strength", "seed", "status", "error"),
                      tuple((r["plugin"], f"{r['strength']:g}", str(r["seed"]), r["status"], r.get("error") or "")
                            for r in failed))]
    for heading, markdown in report_sections(rows):
        out += [Heading(heading), Text(markdown)]
    return out + sections.provenance(report)


def correlation_text(c: Correlation) -> str:
    """"Spearman rho(rob_src, rel_dt) = +0.41 (95% ...)" over the usable non-vanilla trials, then the
    same without the flagged ones; one sentence each."""
    if c.rho is None:
        return f"Too few trials with rob_src for a correlation ({c.n} usable non-vanilla trials)."
    text = (f"Over {c.n} usable non-vanilla trials, Spearman rho(rob_src, rel_dt) = {c.rho:+.2f}"
            + (f" (95% interval from resampling seeds [{c.rho_ci[0]:+.2f}, {c.rho_ci[1]:+.2f}])" if c.rho_ci else "")
            + f"; least-squares line rel_dt = {c.intercept:+.1f} {c.slope:+.2f} x rob_src.")
    u = c.unflagged
    if u is None or not c.flagged:
        return text + " No trial is flagged."
    if u.rho is None:
        return text + f" Without the {c.flagged} flagged trial(s) too few remain ({u.n}) for a correlation."
    ci = f" [{u.rho_ci[0]:+.2f}, {u.rho_ci[1]:+.2f}]" if u.rho_ci else ""
    return text + (f" Without the {c.flagged} flagged trial(s) (source far below its vanilla, ringed): "
                   f"rho = {u.rho:+.2f}{ci} over {u.n}, line rel_dt = {u.intercept:+.1f} {u.slope:+.2f} x rob_src.")


def _robustness_blocks(report: Report, paths: dict[str, str]) -> list[Block]:
    c = report.robustness
    text = correlation_text(c)
    if c.rho is not None:
        text += (f" Trials of one seed share their vanilla, so the naive p = {c.p_value:.2g} overstates the "
                 "evidence; read the seed interval. [SAL20] reads robustness as what transfers; [XU22] says it "
                 "is not a reliable predictor.")
    return [Heading("Robustness vs relative DT"), Figure(paths["robustness"], "rob_src vs rel_dt"), Text(text)]


def _plan_blocks(report: Report) -> list[Block]:
    s = report.settings
    effect = report.plan[0].effect if report.plan else s.equivalence_margin
    return [Heading("Sizing the next study"),
            Text(f"Seeds needed for 80% power to detect a rel_dt effect of {effect:g} points over the swept "
                 f"range (`[report] plan_effect`, default the equivalence margin), from the measured seed-to-seed "
                 f"SD of each plugin's effect: t-test at alpha = {s.alpha:g}, and at alpha / {len(report.plugins)} "
                 f"(Holm's first step); for \"no effect\" predictions, the seeds for the equivalence test to "
                 f"succeed at ±{s.equivalence_margin:g} when the true effect is 0. The last column sizes the "
                 f"measured effects under this report's own rule: the smallest number of seeds, drawn with "
                 f"replacement from the measured ones, at which 80% of 100 draws reach the same decided verdict "
                 f"(Page's L, Holm, TOST redone on each), and that verdict; it treats the measured seeds as the "
                 f"population, so with few seeds it is optimistic (not given below 3 seeds). `rt plan DIR` "
                 f"prints the same."),
            sections.plan_table(report)]


def write(out: str | Path, report: Report, data: dict, rows: list[dict]) -> Path:
    """Figures, report.md, report.html and verdicts.json (``dataclasses.asdict`` of the report)."""
    out = Path(out)
    paths = _figures(out, report, data)
    paths.update(scoreboard_figure(out, report, data, rows))
    verdicts = json.dumps(dataclasses.asdict(report), indent=2, default=str, allow_nan=False)
    return write_rendered(out, report.title, blocks(report, paths, rows), {"verdicts.json": verdicts})


def _flat(row: dict) -> dict:
    m = row["metrics"]
    return {"plugin": row["plugin"], "strength": row["strength"], "seed": row["seed"], "status": row["status"],
            "error": row["error"], **{k: m.get(k) for k in METRIC_KEYS},
            **{k: v for k, v in m.items() if k.startswith("score_")}}


def load_store(directory: str | Path) -> tuple[list[dict], dict]:
    """(flat rows, meta) of DIR/results.sqlite; RtError when empty."""
    store = Store(directory, create=False, read_only=True)
    try:
        raw = store.rows()
        if not raw:
            raise RtError(f"{store.path} holds no trials yet; run `rt run CONFIG --out {directory}` first")
        meta = {k: store.get_meta(k) for k in ("config", "name", "sweep", "report", "last_run_s")}
        meta["provenance"] = _store_provenance(store, raw, meta)
    finally:
        store.close()
    return [_flat(r) for r in raw], meta


def _store_provenance(store: Store, rows: list[dict], meta: dict) -> dict:
    phases: dict[str, float] = {}
    for r in rows:
        for k, v in r["timings"].items():
            phases[k] = phases.get(k, 0.0) + v
    versions = rows[-1]["versions"] if rows else {}
    return {"store": str(store.path), "config": json.loads(meta["config"] or "{}"),
            "seeds": sorted({r["seed"] for r in rows}), "versions": versions, "device": versions.get("device"),
            "gpu": versions.get("gpu"), "timings_total_s": {k: round(v, 1) for k, v in sorted(phases.items())},
            "last_run_wall_s": meta["last_run_s"]}


def _store_inputs(directory: str | Path, margin: float | None) -> tuple[list[dict], dict, ReportConfig, float, dict]:
    """(rows, meta, report settings, min acc_src, swept strengths by plugin) of a results store."""
    rows, meta = load_store(directory)
    cfg = ReportConfig(**json.loads(meta["report"])) if meta["report"] else ReportConfig()
    if margin is not None:
        if margin <= 0:
            raise RtError(f"--margin must be > 0 points, got {margin}")
        cfg = dataclasses.replace(cfg, equivalence_margin=margin)
    dataset = json.loads(meta["config"] or "{}").get("source", {}).get("dataset")
    min_acc = min_acc_for(get_dataset(dataset).num_classes if dataset else 10)
    swept = {s["plugin"]: [float(x) for x in s["strengths"]] for s in json.loads(meta["sweep"] or "[]")}
    return rows, meta, cfg, min_acc, swept


def store_report(directory: str | Path, margin: float | None = None) -> tuple[Report, dict, list[dict]]:
    """The typed report of a results store (settings from the store's ``[report]``, ``margin`` overriding)."""
    rows, meta, cfg, min_acc, swept = _store_inputs(directory, margin)
    name = meta["name"] or Path(directory).resolve().name
    report, data = build_report(rows, f"{name}: theory vs experiment", cfg, min_acc, swept, meta["provenance"],
                                json.loads(meta["config"] or "{}"))
    return report, data, rows


def _store_tables(directory: str | Path) -> tuple[dict, dict[str, str], ReportConfig]:
    """(per-plugin data, predicted direction by plugin, report settings) of a results store."""
    rows, meta, cfg, min_acc, swept = _store_inputs(directory, None)
    _, data, predictions = _plugins(rows, min_acc, swept, json.loads(meta["config"] or "{}"))
    return data, {p: prediction.expected for p, prediction in predictions.items()}, cfg


def store_headroom(directory: str | Path) -> tuple[list, list]:
    """(settings, criteria) of ``theory.report.headroom`` for a results store: vanilla and each swept
    plugin at its strongest strength."""
    rows, meta = load_store(directory)
    dataset = json.loads(meta["config"] or "{}").get("source", {}).get("dataset")
    classes = (get_dataset(dataset).num_classes if dataset else 0) or 10
    plugins = {r["plugin"] for r in rows} - {"vanilla"}
    table = headroom.settings(rows, {p: identity_strength(p) for p in plugins})
    return table, headroom.checks(table, classes)


def store_plan(directory: str | Path, effect: float | None = None, power: float = 0.8) -> tuple[list, float]:
    """(PlanRows, alpha) of a results store: seeds to detect ``effect`` (default: the store's
    ``[report] plan_effect``, else its equivalence margin) with ``power``."""
    data, expected, cfg = _store_tables(directory)
    size = effect or cfg.plan_effect or cfg.equivalence_margin
    return plan(analysis.Family.of(data, expected, cfg.alpha, cfg.equivalence_margin), size, power), cfg.alpha


def store_replication(directory: str | Path, seeds: int | None = None, runs: int = 3,
                      draws: int = 200) -> Replication | None:
    """``theory.report.plan.replication`` of a results store: ``runs`` studies of ``seeds`` seeds
    (default: as many as the store has)."""
    data, expected, cfg = _store_tables(directory)
    return replication(analysis.Family.of(data, expected, cfg.alpha, cfg.equivalence_margin), seeds, runs, draws)


def report_store(directory: str | Path, out: str | Path | None = None, margin: float | None = None) -> Path:
    """Report of DIR/results.sqlite, written to ``out`` (default DIR); return report.md."""
    report, data, rows = store_report(directory, margin)
    return write(out or directory, report, data, rows)


def read_published(path: str | Path) -> list[dict]:
    """Rows of a published-results CSV (schema above), rel_dt against each plugin's identity row."""
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
           "seed": int(parse_number(r["seed"], f"{where} seed")),
           "status": (r.get("status") or "finished").strip(), "error": r.get("error") or None}
    if row["status"] != "finished":
        return {**row, **dict.fromkeys(("acc_src", "acc_tgt", "rob_src", "probe_acc_src"))}
    for key in ("acc_src", "acc_tgt", "rob_src", "probe_acc_src"):
        value = (r.get(key) or "").strip()
        row[key] = parse_number(value, f"{where} {key}") if value else None
    return row


def _with_rel_dt(rows: list[dict], path: Path) -> list[dict]:
    """Each row's rel_dt against its reference (``analysis.vanilla_row``, the rule the report uses);
    None where either is not finished."""
    for r in rows:
        ident = identity_strength(r["plugin"])
        base = analysis.vanilla_row(rows, r["plugin"], ident, r["seed"])
        if r["status"] != "finished" or base is not None and base["status"] != "finished":
            r["rel_dt"] = None
            continue
        if base is None:
            raise RtError(f"{path}: plugin '{r['plugin']}' seed {r['seed']} has no row at its identity strength "
                          f"{ident}; add that vanilla row")
        r["rel_dt"] = rel_dt(r["acc_src"], r["acc_tgt"], base["acc_src"], base["acc_tgt"])
    return rows


def report_published(path: str | Path, out: str | Path, margin: float | None = None,
                     num_classes: int | None = None) -> Path:
    """Report of a published-results CSV (or a store's results.csv: its ``status`` column is read and
    a ``vanilla`` row of the seed serves plugins without an identity row). With ``num_classes``,
    trials within 10 points of chance are excluded as in a store's report."""
    rows = read_published(path)
    cfg = ReportConfig() if margin is None else ReportConfig(equivalence_margin=margin)
    provenance = {"imported_from": str(path), "seeds": sorted({r["seed"] for r in rows}), "trials": len(rows)}
    report, data = build_report(rows, f"Theory vs published results: {Path(path).name}", cfg,
                                min_acc_for(num_classes), {}, provenance)
    return write(out, report, data, rows)
