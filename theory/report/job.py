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
import hashlib
import json
import re
from fractions import Fraction
from pathlib import Path

import numpy as np

from rt_core import Check, RtError, get_dataset, report_sections
from rt_core.reporting import (
    REPORT_FILES,
    Block,
    Figure,
    Heading,
    ReportConfig,
    Store,
    Table,
    Text,
    check_overwrite,
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
from theory.report import analysis, calibration, figures, headroom, sections
from theory.report import statistics as st
from theory.report.plan import plan, replication
from theory.report.robustness import blocked_text, robustness_blocked
from theory.report.rows import Builder, Rows
from theory.report.scoreboard import FIGURE as SCOREBOARD_FIGURE
from theory.report.scoreboard import attach_scoreboard, scoreboard_figure, scoreboard_section
from theory.report.verdicts import Correlation, Replication, Report, Settings

REQUIRED = ("plugin", "strength", "seed", "acc_src", "acc_tgt")
PERCENT = Check(low=0, high=100)
COLUMNS = {"strength": Check(), "seed": Check(low=0, high=2**63 - 1, integer=True), "acc_src": PERCENT,
           "acc_tgt": PERCENT, "rob_src": PERCENT, "probe_acc_src": PERCENT}  # every imported value, checked
ACCURACIES = ("acc_src", "acc_tgt", "rob_src", "probe_acc_src")
FLAG_DROP = 20.0
CHUNK = 1 << 16  # rows of rel_dt computed at a time by _with_rel_dt
METRIC_KEYS = ("acc_src", "acc_tgt", "rob_src", "probe_acc_src", "rel_dt", "tau", "plateau_step", "plateau_frac")
RECORDED_KEYS = ("plateau_stay_step", "plateau_stay_frac")  # only where the trial recorded them (newer trials)


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
    family = analysis.Family.of(data, expected, cfg.alpha, cfg.equivalence_margin)
    study = plan(family, effect)
    report = Report(title, settings, verdicts, analysis.robustness(data, cfg.resamples), study, provenance,
                    analysis.trial_counts(rows, data, min_acc))
    report.robustness_blocked = robustness_blocked(data, cfg.resamples)
    if cfg.calibration_draws and len(seeds) >= 2:
        report.calibration = calibration.calibrate(family, cfg.calibration_draws)
    attach_scoreboard(report, rows, data)
    return report, data


def figure_paths(report: Report) -> dict[str, str]:
    """Name -> path (relative to the report folder) of every figure the report may draw."""
    paths = {"overview": "figures/rel_dt_vs_strength.png", "robustness": "figures/robustness_vs_rel_dt.png"}
    for v in report.plugins:
        paths[v.plugin] = f"figures/{file_name(v.plugin)}.png"
        if v.prediction.bound is not None:
            paths[f"bound_{v.plugin}"] = f"figures/bound_{file_name(v.plugin)}.png"
    if report.scoreboard is not None:
        paths["scoreboard"] = SCOREBOARD_FIGURE
    return paths


def _figures(out: Path, report: Report, data: dict, paths: dict[str, str]) -> dict[str, str]:
    """Write the figures of ``paths`` (:func:`figure_paths`); return those written (a bound that
    mathtext cannot draw is left out)."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    colours = figures.plugin_colours([v.plugin for v in report.plugins])
    figures.rel_dt_overview(report.plugins, data, colours, out / paths["overview"])
    figures.robustness_scatter(report.plugins, data, report.robustness, colours, out / paths["robustness"])
    drawn = {"overview": paths["overview"], "robustness": paths["robustness"]}
    for v in report.plugins:
        drawn[v.plugin] = paths[v.plugin]
        figures.plugin_panels(v, data[v.plugin], colours[v.plugin], report.settings.min_acc_src, out / paths[v.plugin])
        bound = paths.get(f"bound_{v.plugin}")
        if bound and figures.bound_image(v.prediction.bound.latex, out / bound):
            drawn[f"bound_{v.plugin}"] = bound
    return drawn


def file_name(name: str) -> str:
    """A safe file name for a plugin's figure: ``name`` itself when it is made of letters, digits, ``-``,
    ``_`` and inner dots (and not a name the report's own figures use); else those characters kept
    (anything else ``_``, at most 40) plus 8 hex digits of its hash, so a name like ``../../x`` stays
    inside figures/ and two names never share a file.

    >>> file_name("blur"), file_name("../../escaped"), file_name("<img src=x>")
    ('blur', 'escaped-ea03bc47', 'img_src_x-16c555b9')
    """
    ours = name in ("rel_dt_vs_strength", "robustness_vs_rel_dt") or name.startswith("bound_")
    if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,39}", name) and ".." not in name and not ours:
        return name
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:40] or "plugin"
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def blocks(report: Report, paths: dict[str, str], rows: list[dict]) -> list[Block]:
    """The whole report as typed blocks."""
    out: list[Block] = [Heading(report.title, 1), sections.summary(report), Heading("Verdicts"),
                        sections.verdict_table(report), sections.reasons(report),
                        Heading("Relative DT vs strength"), Figure(paths["overview"], "rel_dt vs strength")]
    for v in report.plugins:
        out += [Heading(f"{v.plugin}", 3), Figure(paths[v.plugin], f"{v.plugin}: accuracies and rel_dt vs strength"),
                sections.strength_table(v), *sections.theory_blocks(v, paths.get(f"bound_{v.plugin}")),
                *sections.notes(v)]
    out += _robustness_blocks(report, paths) + scoreboard_section(report, paths) + _calibration_blocks(report)
    out += _plan_blocks(report)
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
    if report.robustness_blocked is not None:
        text += " " + blocked_text(report.robustness_blocked)
    return [Heading("Robustness vs relative DT"), Figure(paths["robustness"], "rob_src vs rel_dt"), Text(text)]


def _calibration_blocks(report: Report) -> list[Block]:
    cal = report.calibration
    if cal is None:
        return []
    lo, hi = cal.familywise.interval
    word = "calibrated" if cal.calibrated else "**not calibrated**: the whole interval lies above alpha"
    effects = list(cal.found)
    rows = tuple((p, f"{share.value:.2f}", *(f"{cal.found[e][p].value:.2f}" for e in effects))
                 for p, share in cal.per_plugin.items())
    return [Heading("Is the rule calibrated?"),
            Text(f"{cal.draws} null studies of {cal.seeds} seeds, each these tables with the strength labels "
                 f"permuted within every seed (no effect of strength, the measured spread), decided by this "
                 f"report's rule: a false decision (a significant trend) in any plugin in {cal.familywise.value:.1%} "
                 f"of them (95% Clopper-Pearson [{lo:.1%}, {hi:.1%}]) against alpha = {cal.alpha:g}: {word}. "
                 f"Planted effects over the swept range, one plugin at a time, found (significant after Holm, "
                 f"rising) in the share of studies shown."),
            Table(("plugin", "false decisions", *(f"found +{e:g}" for e in effects)), rows)]


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
    """Figures, report.md, report.html and verdicts.json (``dataclasses.asdict`` of the report). A
    file of those names that rt did not write (``rt_core.reporting.is_ours``: a report ending in its
    Provenance section, the report's JSON, a figure carrying rt's mark) is never replaced: one RtError
    line before anything is written. A report rt wrote is rewritten."""
    out = Path(out)
    planned = figure_paths(report)
    check_overwrite([out / name for name in REPORT_FILES] + [out / p for p in planned.values()])
    paths = _figures(out, report, data, planned)
    paths.update(scoreboard_figure(out, report, data, rows))
    verdicts = json.dumps(dataclasses.asdict(report), indent=2, default=str, allow_nan=False)
    return write_rendered(out, report.title, blocks(report, paths, rows), {"verdicts.json": verdicts})


def _flat(row: dict) -> dict:
    m = row["metrics"]
    return {"plugin": row["plugin"], "strength": row["strength"], "seed": row["seed"], "status": row["status"],
            "error": row["error"], **{k: m.get(k) for k in METRIC_KEYS}, **{k: m[k] for k in RECORDED_KEYS if k in m},
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
    return Rows(_flat(r) for r in raw), meta


def _store_provenance(store: Store, rows: list[dict], meta: dict) -> dict:
    phases: dict[str, float] = {}
    for r in rows:
        for k, v in r["timings"].items():
            phases[k] = phases.get(k, 0.0) + v
    versions = rows[-1]["versions"] if rows else {}
    environments = _environments(rows)
    return {"store": str(store.path), "config": json.loads(meta["config"] or "{}"),
            **({"environments": environments} if len(environments) > 1 else {}),
            "seeds": sorted({r["seed"] for r in rows}), "versions": versions, "device": versions.get("device"),
            "gpu": versions.get("gpu"), "timings_total_s": {k: round(v, 1) for k, v in sorted(phases.items())},
            "last_run_wall_s": meta["last_run_s"]}


def _environments(rows: list[dict]) -> list[dict]:
    """The distinct environments the trials ran in (their recorded versions: rt, torch, python, platform,
    cpu, device, host, threads; the worker count aside, which changes no number, and any field some
    trial does not record, so that trials from before a field was added do not count as elsewhere),
    each with its trial count and plugins, most trials first."""
    shared = set.intersection(*(set(r["versions"]) for r in rows)) - {"workers"} if rows else set()
    groups: dict[str, dict] = {}
    for r in rows:
        env = {k: v for k, v in sorted(r["versions"].items()) if k in shared}
        group = groups.setdefault(json.dumps(env, sort_keys=True), {"versions": env, "trials": 0, "plugins": set()})
        group["trials"] += 1
        group["plugins"].add(r["plugin"])
    out = [{**g, "plugins": sorted(g["plugins"])} for g in groups.values()]
    return sorted(out, key=lambda g: -g["trials"])


def whole_store(directory: str | Path, only: list[int] | None = None) -> tuple[list[dict], dict]:
    """``load_store`` kept to its whole seeds (``analysis.whole_seeds``), the seeds left out named in
    the provenance as ``seeds_left_out``; RtError when no seed is whole yet. ``only``: read those seeds
    of the store and no others (``--only-seeds``: a pilot's seeds in a store that has grown past it),
    named in the provenance as ``only_seeds`` beside the store's ``store_seeds``."""
    rows, meta = load_store(directory)
    if only is not None:
        rows = only_seeds(rows, only, directory)
        held = meta["provenance"]["seeds"]
        meta["provenance"].update(seeds=sorted({r["seed"] for r in rows}), only_seeds=sorted(only), store_seeds=held)
    rows, left = analysis.whole_seeds(rows)
    if not rows:
        raise RtError(f"{directory}: no seed has all its trials settled yet (seeds {sections.seed_ranges(left)} are "
                      "in progress); report once the first seed is complete")
    if left:
        meta["provenance"]["seeds_left_out"] = left
    return rows, meta


def only_seeds(rows: Rows, only: list[int], directory: str | Path) -> Rows:
    """The rows of the seeds in ``only``; RtError naming any of them the store does not hold."""
    held = {r["seed"] for r in rows}
    if missing := sorted(set(only) - held):
        raise RtError(f"--only-seeds: {directory} holds no trial of seed(s) {sections.seed_ranges(missing)} "
                      f"(it holds seeds {sections.seed_ranges(sorted(held))}); pick seeds among those")
    chosen = set(only)
    return Rows(r for r in rows if r["seed"] in chosen)


def _store_inputs(directory: str | Path, margin: float | None, only: list[int] | None = None
                  ) -> tuple[list[dict], dict, ReportConfig, float, dict]:
    """(rows, meta, report settings, min acc_src, swept strengths by plugin) of a results store."""
    rows, meta = whole_store(directory, only)
    cfg = ReportConfig(**json.loads(meta["report"])) if meta["report"] else ReportConfig()
    if margin is not None:
        if margin <= 0:
            raise RtError(f"--margin must be > 0 points, got {margin}")
        cfg = dataclasses.replace(cfg, equivalence_margin=margin)
    dataset = json.loads(meta["config"] or "{}").get("source", {}).get("dataset")
    min_acc = min_acc_for(get_dataset(dataset).num_classes if dataset else 10)
    swept = {s["plugin"]: [float(x) for x in s["strengths"]] for s in json.loads(meta["sweep"] or "[]")}
    return rows, meta, cfg, min_acc, swept


def store_report(directory: str | Path, margin: float | None = None, only: list[int] | None = None
                 ) -> tuple[Report, dict, list[dict]]:
    """The typed report of a results store (settings from the store's ``[report]``, ``margin`` overriding;
    ``only``: those seeds of it, as ``whole_store``)."""
    rows, meta, cfg, min_acc, swept = _store_inputs(directory, margin, only)
    name = meta["name"] or Path(directory).resolve().name
    report, data = build_report(rows, f"{name}: theory vs experiment", cfg, min_acc, swept, meta["provenance"],
                                json.loads(meta["config"] or "{}"))
    return report, data, rows


@dataclasses.dataclass(frozen=True)
class StoreTables:
    """A results store read once for ``rt plan``: per-plugin data, predicted direction by plugin, the
    store's report settings and the config it was run with (``{}`` when it holds none)."""

    data: dict
    expected: dict[str, str]
    cfg: ReportConfig
    config: dict = dataclasses.field(default_factory=dict)
    sweep: list = dataclasses.field(default_factory=list)

    @property
    def family(self) -> analysis.Family:
        return analysis.Family.of(self.data, self.expected, self.cfg.alpha, self.cfg.equivalence_margin)


def store_tables(source: str | Path | StoreTables, only: list[int] | None = None) -> StoreTables:
    """The ``StoreTables`` of a results store directory (a ``StoreTables`` is passed through; ``only``:
    those seeds of the store, as ``whole_store``)."""
    if isinstance(source, StoreTables):
        return source
    rows, meta, cfg, min_acc, swept = _store_inputs(source, None, only)
    config = json.loads(meta["config"] or "{}")
    _, data, predictions = _plugins(rows, min_acc, swept, config)
    return StoreTables(data, {p: prediction.expected for p, prediction in predictions.items()}, cfg, config,
                       json.loads(meta["sweep"] or "[]"))


def store_headroom(directory: str | Path, only: list[int] | None = None) -> tuple[list, list, list[int]]:
    """(settings, criteria, seeds left out) of ``theory.report.headroom`` for a results store: vanilla
    and each swept plugin at its strongest strength, over the store's whole seeds only (vanilla runs
    first in each seed, so a store read mid-sweep would otherwise set the vanilla means of every seed
    begun against the strongest settings' means of the seeds finished); ``only`` as ``whole_store``."""
    rows, meta = whole_store(directory, only)
    dataset = json.loads(meta["config"] or "{}").get("source", {}).get("dataset")
    classes = (get_dataset(dataset).num_classes if dataset else 0) or 10
    plugins = {r["plugin"] for r in rows} - {"vanilla"}
    table = headroom.settings(rows, {p: identity_strength(p) for p in plugins})
    return table, headroom.checks(table, classes), meta["provenance"].get("seeds_left_out", [])


def store_plan(source: str | Path | StoreTables, effect: float | None = None, power: float = 0.8
               ) -> tuple[list, float]:
    """(PlanRows, alpha) of a results store: seeds to detect ``effect`` (default: the store's
    ``[report] plan_effect``, else its equivalence margin) with ``power``."""
    tables = store_tables(source)
    size = effect or tables.cfg.plan_effect or tables.cfg.equivalence_margin
    return plan(tables.family, size, power), tables.cfg.alpha


def store_replication(source: str | Path | StoreTables, seeds: int | None = None, runs: int = 3,
                      draws: int = 200) -> Replication | None:
    """``theory.report.plan.replication`` of a results store: ``runs`` studies of ``seeds`` seeds
    (default: as many as the store has)."""
    return replication(store_tables(source).family, seeds, runs, draws)


def report_store(directory: str | Path, out: str | Path | None = None, margin: float | None = None,
                 only: list[int] | None = None) -> Path:
    """Report of DIR/results.sqlite (``only``: those seeds of it), written to ``out`` (default DIR);
    return report.md."""
    report, data, rows = store_report(directory, margin, only)
    return write(out or directory, report, data, rows)


def read_published(path: str | Path) -> Rows:
    """Rows of a published-results CSV (schema above; UTF-8, a byte-order mark allowed), rel_dt against
    each plugin's identity row. Every value is checked against ``COLUMNS`` (accuracies in [0, 100],
    finite strengths, whole seeds >= 0) and every row must be whole (no missing cell, no empty
    plugin, strength, seed or accuracy of a finished trial), each plugin+strength+seed once; the first
    bad line is one RtError naming it. The file is read a line at a time into columns
    (:class:`theory.report.rows.Rows`, no dict kept per row); time and memory grow linearly."""
    path = Path(path)
    if not path.is_file():
        raise RtError(f"results file '{path}' not found; pass a CSV with columns {', '.join(REQUIRED)}[, rob_src]")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = _read_rows(csv.DictReader(fh), path)
    except UnicodeDecodeError as err:
        raise RtError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); save it as a UTF-8 CSV") from err
    except csv.Error as err:
        raise RtError(f"{path} is not a readable CSV ({err}); save it as a comma-separated UTF-8 CSV") from err
    return _with_rel_dt(rows, path)


KINDS = {"plugin": "name", "strength": "float", "seed": "int", "status": "name", "error": "name",
         **dict.fromkeys(ACCURACIES, "float")}  # the columns of imported rows (theory.report.rows.Builder)


def _read_rows(reader: csv.DictReader, path: Path) -> Rows:
    """The checked rows of ``reader`` (:func:`read_published`)."""
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise RtError(f"{path} lacks column(s) {', '.join(missing)}; the schema is {', '.join(REQUIRED)}[, rob_src]")
    table = Builder(KINDS)
    for r in reader:
        table.add(_parse_row(r, reader.line_num, path))
    rows = table.rows()
    if not rows:
        raise RtError(f"{path} has a header but no rows; add one row per trial ({', '.join(REQUIRED)})")
    _check_once(rows, path)
    return rows


def _check_once(rows: Rows, path: Path) -> None:
    """Each plugin+strength+seed once: a repeated row would count twice in every statistic. The first
    row that repeats an earlier one is named, with that earlier one (data rows, from 1)."""
    plugin, _, seed = rows.group_keys()
    strength = rows.column("strength")
    order = np.lexsort((strength, seed, plugin))  # stable: equal keys stay in table order
    same = np.ones(len(order) - 1, bool)
    for col in (plugin, seed, strength):
        ordered = col[order]
        same &= ordered[1:] == ordered[:-1]
    same = np.flatnonzero(same)
    if len(same):
        k = same[np.argmin(order[same + 1])]
        first, again = rows[int(order[k])], int(order[k + 1])
        raise RtError(f"{path}: plugin '{first['plugin']}' strength {first['strength']:g} seed {first['seed']} is in "
                      f"data rows {int(order[k]) + 1} and {again + 1}; give each trial once")


def _parse_row(r: dict, line: int, path: Path) -> dict:
    where = f"{path}:{line}"
    if None in r or None in r.values():
        raise RtError(f"{where}: a row of {'more' if None in r else 'fewer'} cells than the header's; give every row "
                      "one cell per column")
    for key in ("plugin", "strength", "seed"):
        if not r[key].strip():
            raise RtError(f"{where}: column {key} is empty; every row needs plugin, strength and seed")
    row = {"plugin": r["plugin"].strip(), "strength": _value(r["strength"], "strength", where),
           "seed": _seed(r["seed"], where), "status": (r.get("status") or "finished").strip(),
           "error": r.get("error") or None}
    if row["status"] != "finished":
        return row
    for key in ACCURACIES:
        value = (r.get(key) or "").strip()
        if not value and key in REQUIRED:
            raise RtError(f"{where}: {key} is empty in a finished row; give it in percent, or a status such as failed")
        row[key] = _value(value, key, where) if value else None
    return row


def _value(text: str, column: str, where: str) -> float:
    try:
        value = float(text)  # the common case, fast; a fraction "8/255", nan or inf go the long way
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        value = parse_number(text.strip(), f"{where} {column}")
    return COLUMNS[column](value, f"{where} {column}")


def _seed(text: str, where: str) -> int:
    if text.isdigit():
        return COLUMNS["seed"](int(text), f"{where} seed")
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        value = None
    if value is None or value.denominator != 1:
        raise RtError(f"{where} seed: '{text.strip()}' is not a whole number; seeds are integers like 0, 1, 2")
    return COLUMNS["seed"](int(value), f"{where} seed")


def _with_rel_dt(rows: Rows, path: Path) -> Rows:
    """``rows`` with each row's rel_dt against its reference (:meth:`Rows.references`, the rule
    ``analysis.vanilla_row`` states), computed for all rows at once; None where either is not
    finished. A finished row without a reference is an RtError naming the first one."""
    plugins = {p: identity_strength(p) for p in rows.group_keys()[1]}
    ref = rows.references(plugins)
    finished = rows.equals("status", "finished")
    lost = np.flatnonzero(finished & (ref < 0))
    if len(lost):
        r = rows[int(lost[0])]
        raise RtError(f"{path}: plugin '{r['plugin']}' seed {r['seed']} has no row at its identity strength "
                      f"{plugins[r['plugin']]}; add that vanilla row")
    src, tgt = rows.column("acc_src"), rows.column("acc_tgt")  # NaN in every row that did not finish
    values = np.empty(len(rows))
    for start in range(0, len(rows), CHUNK):  # a chunk at a time: no row-sized temporaries
        part, base = slice(start, start + CHUNK), np.maximum(ref[start:start + CHUNK], 0)
        values[part] = rel_dt(src[part], tgt[part], src[base], tgt[base])  # NaN unless both finished
    return rows.with_column("rel_dt", values)


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


def store_calibration(source: str | Path | StoreTables, draws: int = 200,
                      effects: tuple[float, ...] = calibration.PLANTED) -> calibration.Calibration:
    """``theory.report.calibration.calibrate`` on a results store's own rel_dt tables."""
    return calibration.calibrate(store_tables(source).family, draws, effects)


def _check_demo_protocol(study: dict, demo_cfg, demo: str | Path, study_sweep: list | None = None) -> None:
    """A demo is judged by draws of the study's own trials, so it must run the study's protocol: the
    part of a trial key every trial shares (``key_config``: data, model, training, transfer, attack),
    both re-keyed now, so a store keyed by an older release compares fairly, and each shared plugin's
    options where the store records them (``study_sweep``, the store's sweep record; a store written
    before options were recorded has none, and its options are not compared). A store that records
    no config is not checked."""
    from rt_core.engine import from_dict, key_config  # the engine imports torch: only this command needs it

    if study and key_config(demo_cfg) != key_config(from_dict(study)):
        raise RtError(f"{demo}: its protocol (data, model, training, transfer or attack) is not the study's, so "
                      "draws of the study's trials say nothing about this demo; pass a demo config run on the "
                      "study's protocol (its trial keys are study trial keys)")
    recorded: dict[str, list] = {}
    for s in study_sweep or []:
        if "options" in s:
            recorded.setdefault(s["plugin"], []).append(s["options"])
    for sweep in demo_cfg.sweep:
        if sweep.plugin in recorded and dict(sweep.options) not in recorded[sweep.plugin]:
            study_options = " or ".join(str(o) for o in recorded[sweep.plugin])
            raise RtError(f"{demo}: its {sweep.plugin} options {dict(sweep.options)} are not the study's "
                          f"{study_options}, so the study's {sweep.plugin} trials are not this demo's; "
                          "give the demo the study's options")


def store_contradictions(source: str | Path | StoreTables, demo: str | Path, size: int | None = None,
                         draws: int = 500) -> list[calibration.Contradiction]:
    """Demo-sized subsets of a study store at the grid points of the ``demo`` config (its plugins and
    strengths; ``size`` seeds, default as many as the demo config lists) against the study's verdicts."""
    from rt_core.engine import load_config  # the engine imports torch: only this command needs it

    tables = store_tables(source)
    data = tables.data
    demo_cfg = load_config(demo)
    _check_demo_protocol(tables.config, demo_cfg, demo, tables.sweep)
    columns = {}
    for sweep in demo_cfg.sweep:
        if sweep.plugin not in data:
            raise RtError(f"the demo sweeps {sweep.plugin}, which the study does not")
        try:
            columns[sweep.plugin] = calibration.demo_columns(data[sweep.plugin].levels, list(sweep.strengths))
        except ValueError as err:
            raise RtError(f"{sweep.plugin}: {err}; the demo must sit on the study's grid") from err
    family = tables.family
    n = size or len(demo_cfg.seeds)
    if n > family.seeds:
        raise RtError(f"a demo of {n} seeds cannot be drawn from the study's {family.seeds} seeds")
    return calibration.contradictions(family, columns, n, draws)
