"""The scoreboard: which predictor of transfer to trust, scored against measured transfer on the
report's own trials.

Predictors: every ``score_<name>`` metric the trials carry (transferability scores, oriented by
their predictor's ``higher_is_better``), the baselines rob_src and acc_src (higher predicts better),
and the theory: a trial's value is the rank of its strength among its plugin's levels (0 at the
identity) where the theory predicts that rel_dt rises, 0 where it predicts no effect, none where it
makes no prediction. Measured: acc_tgt and rel_dt of the usable trials (the report's tables; the
identity's trial once per seed overall, in every plugin's own set).

Agreement: within each seed, Kendall's tau-b between the oriented predictor and the measured value
over that seed's trials (all of them overall; one plugin's, identity included, per plugin), so the
seed-to-seed spread of the vanilla never enters; a seed needs 3 trials with both values and neither
side constant. The mean over seeds is the number reported, with a 95% interval from resampling
seeds (percentiles of the mean over seeds drawn with replacement). Trend sign, per plugin: the mean
over seeds of tau(strength rank, predictor) against that of tau(strength rank, rel_dt); they agree
when both are nonzero with the same sign.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rt_core import list_predictors
from rt_core.reporting import FIGURE_METADATA, Figure, Heading, Table, Text, atomic_write, md_escape
from theory.report.analysis import PluginData, vanilla_row
from theory.report.verdicts import Agreement, PredictorScore, Report, Scoreboard, TrendSign

PREFIX = "score_"
MEASURED = ("acc_tgt", "rel_dt")
BASELINES = ("rob_src", "acc_src")
THEORY = "theory"
FIGURE = "figures/predictors_vs_rel_dt.png"
PAIRWISE = 1000  # trials of one seed up to which tau-b is summed over all pairs (memory ~ n^2)


def kendall_tau(x: Iterable[float], y: Iterable[float]) -> float:
    """Kendall's tau-b of the pairs with both values finite: sum_{i<j} sgn(dx) sgn(dy) over
    sqrt(sum sgn(dx)^2 * sum sgn(dy)^2) (ties count in neither numerator term); NaN with fewer than
    3 such pairs or a constant side. Above ``PAIRWISE`` pairs, scipy's O(n log n) tau-b (the same value).

    >>> kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]), kendall_tau([1, 2, 3], [3, 2, 1])
    (1.0, -1.0)
    >>> kendall_tau([1, 1, 1], [1, 2, 3]), kendall_tau([1, 2], [1, 2])
    (nan, nan)
    """
    x, y = np.asarray(list(x), float), np.asarray(list(y), float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    if len(x) > PAIRWISE:
        from scipy import stats

        return float(stats.kendalltau(x, y).statistic)
    i, j = np.triu_indices(len(x), 1)
    sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    denominator = math.sqrt(float(np.sum(sx * sx)) * float(np.sum(sy * sy)))
    return float(np.sum(sx * sy)) / denominator if denominator > 0 else math.nan


def seed_agreement(per_seed: Iterable[float], resamples: int, seed: int = 0) -> Agreement:
    """The mean of the finite per-seed taus and its seed-bootstrap 95% interval (percentiles 2.5 and
    97.5 of the mean over ``resamples`` draws of as many seeds with replacement; None below 2 seeds).

    >>> seed_agreement([0.2, 0.4, float("nan")], 200).seeds
    2
    """
    taus = np.array([t for t in per_seed if np.isfinite(t)])
    if len(taus) == 0:
        return Agreement(None, None, 0)
    if len(taus) < 2:
        return Agreement(float(taus[0]), None, 1)
    draws = taus[np.random.default_rng(seed).integers(0, len(taus), (resamples, len(taus)))].mean(axis=1)
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return Agreement(float(taus.mean()), (float(lo), float(hi)), len(taus))


def _index(rows: list[dict]) -> dict[tuple, dict]:
    return {(r["plugin"], r["strength"], r["seed"]): r for r in rows}  # the last one wins, as in analysis


def trial_points(rows: list[dict], data: dict[str, PluginData], expected: dict[str, str]) -> list[dict]:
    """One point per usable trial and plugin: plugin, seed, rank (of its strength; 0 at the identity),
    ``trial`` (one id per trial: the identity's is shared by the plugins it serves), the measured and
    baseline values from the report's tables, the row's score_ metrics and the theory's value."""
    index, out = _index(rows), []
    for p, d in data.items():
        for i, seed in enumerate(d.seeds):
            for j, level in enumerate(d.levels):
                if not np.isfinite(d.tables["rel_dt"][i, j]):
                    continue
                row = vanilla_row(rows, p, d.identity, seed) if j == 0 else index.get((p, level, seed))
                scores = {k: _number(v) for k, v in (row or {}).items() if k.startswith(PREFIX)}
                theory = {"rises": float(j), "none": 0.0}.get(expected.get(p, "unknown"), math.nan)
                out.append({"plugin": p, "seed": seed, "rank": j, "trial": _trial(row, p, j, seed),
                            **{m: float(d.tables[m][i, j]) for m in MEASURED + BASELINES}, **scores,
                            THEORY: theory})
    return out


def _trial(row: dict | None, plugin: str, rank: int, seed: int) -> tuple:
    """One id per trial: its row's (plugin, strength, seed), so the vanilla row that serves several
    plugins is one trial (rows may be built afresh on each read: an object's id would not do)."""
    return ("row", row["plugin"], row["strength"], row["seed"]) if row else (plugin, rank, seed)


def _number(value: object) -> float:
    return math.nan if value is None else float(value)


def predictors(points: list[dict]) -> list[tuple[str, str, bool]]:
    """(name, kind, higher_is_better) of every predictor the points carry: the scores (in name order;
    a score whose predictor is not installed counts as higher-is-better), the baselines, the theory."""
    higher = {f"{PREFIX}{spec.name}": spec.higher_is_better for spec in list_predictors()}
    scores = sorted({k for p in points for k in p if k.startswith(PREFIX)})
    present = [b for b in BASELINES if any(np.isfinite(p[b]) for p in points)]
    return ([(s, "score", higher.get(s, True)) for s in scores] + [(b, "baseline", True) for b in present]
            + [(THEORY, "theory", True)])


def _by_seed(points: list[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for p in points:
        out.setdefault(p["seed"], []).append(p)
    return out


def _value(point: dict, name: str, sign: float) -> float:
    return sign * point.get(name, math.nan)


def agreement(points: list[dict], name: str, measured: str, higher_is_better: bool, resamples: int) -> Agreement:
    """:func:`seed_agreement` of the per-seed tau-b between the oriented predictor ``name`` and ``measured``."""
    sign = 1.0 if higher_is_better else -1.0
    taus = [kendall_tau([_value(p, name, sign) for p in pts], [p[measured] for p in pts])
            for pts in _by_seed(points).values()]
    return seed_agreement(taus, resamples)


def trend_sign(points: list[dict], name: str, higher_is_better: bool) -> TrendSign:
    """One plugin's points: mean over seeds of tau(rank, oriented predictor) and tau(rank, rel_dt), and
    whether their signs agree (None when either is undefined or 0)."""
    sign = 1.0 if higher_is_better else -1.0
    seeds = _by_seed(points).values()
    pred = [kendall_tau([p["rank"] for p in pts], [_value(p, name, sign) for p in pts]) for pts in seeds]
    meas = [kendall_tau([p["rank"] for p in pts], [p["rel_dt"] for p in pts]) for pts in seeds]
    a, b = (_mean(pred), _mean(meas))
    same = None if a is None or b is None or a == 0 or b == 0 else bool(np.sign(a) == np.sign(b))
    return TrendSign(a, b, same)


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _unique(points: list[dict]) -> list[dict]:
    seen, out = set(), []
    for p in points:
        if p["trial"] not in seen:
            seen.add(p["trial"])
            out.append(p)
    return out


def score(points: list[dict], resamples: int) -> Scoreboard:
    """The scoreboard of :func:`trial_points`: every predictor's overall and per-plugin agreement with
    each measured quantity and its trend sign per plugin; ``best``: the highest overall tau."""
    pooled = _unique(points)
    plugins = sorted({p["plugin"] for p in points})
    mine = {q: [p for p in points if p["plugin"] == q] for q in plugins}
    board = []
    for name, kind, higher in predictors(points):
        overall = {m: agreement(pooled, name, m, higher, resamples) for m in MEASURED}
        per = {q: {m: agreement(mine[q], name, m, higher, resamples) for m in MEASURED} for q in plugins}
        board.append(PredictorScore(name, kind, higher, overall, per,
                                    {q: trend_sign(mine[q], name, higher) for q in plugins}))
    best = {}
    for m in MEASURED:
        ranked = [b for b in board if b.overall[m].tau is not None]
        best[m] = max(ranked, key=lambda b: b.overall[m].tau).name if ranked else None
    return Scoreboard(len(pooled), len({p["seed"] for p in pooled}), MEASURED, board, best)


def build(rows: list[dict], data: dict[str, PluginData], expected: dict[str, str], resamples: int) -> Scoreboard:
    """The report's scoreboard: :func:`score` of :func:`trial_points`."""
    return score(trial_points(rows, data, expected), resamples)


def _label(b: PredictorScore) -> str:
    return b.name.removeprefix(PREFIX) if b.kind == "score" else b.name


def _cell(a: Agreement) -> str:
    """"+0.41 [+0.12, +0.66]"; "-" when no seed has a tau; no interval with one seed."""
    if a.tau is None:
        return "-"
    return f"{a.tau:+.2f}" + (" (1 seed)" if a.ci is None else f" [{a.ci[0]:+.2f}, {a.ci[1]:+.2f}]")


def _mark(t: TrendSign) -> str:
    return {True: " ✓", False: " ✗", None: ""}[t.same_sign]


def _intro(board: Scoreboard) -> str:
    best = "; ".join(f"best on {m}: **{md_escape(name.removeprefix(PREFIX))}** ({_cell(_overall(board, name, m))})"
                     for m in board.measured if (name := board.best[m]))
    text = (f"Which predictor of transfer to trust on these {board.trials} usable trials ({board.seeds} seeds): "
            "Kendall's tau-b between each predictor and the measured acc_tgt / rel_dt over the trials of one seed "
            "(all of them, or one plugin's with its identity), averaged over seeds, with a 95% interval from "
            "resampling seeds. Each predictor is oriented so that +1 means it ranks the trials exactly as "
            "measured (a score whose predictor says lower is better is negated). The theory ranks a trial by "
            "its strength's rank where it predicts that rel_dt rises and by 0 where it predicts no effect; "
            "rob_src and acc_src are the baselines a score must beat. " + (best + "." if best else ""))
    if not any(b.kind == "score" for b in board.predictors):
        text += (" No trial carries a transferability score (the store predates them): `rt scores DIR` fills "
                 "them in from the source models a sweep kept (`[source_models] keep = true`).")
    return text


def _overall(board: Scoreboard, name: str, measured: str) -> Agreement:
    return next(b for b in board.predictors if b.name == name).overall[measured]


def blocks(board: Scoreboard | None, figure: str | None) -> list:
    """The report's section: the overall table, one table per measured quantity by plugin (rel_dt's
    cells marked ✓ / ✗ where the predictor's trend over strength has / has not the measured sign),
    and the figure."""
    if board is None or not board.predictors:
        return []
    rows = tuple((_label(b), b.kind, *[_cell(b.overall[m]) for m in board.measured],
                  f"{sum(t.same_sign is True for t in b.trends.values())} of "
                  f"{sum(t.same_sign is not None for t in b.trends.values())}") for b in board.predictors)
    out = [Heading("Predictors of transfer"), Text(_intro(board)),
           Table(("predictor", "kind", *[f"tau vs {m} [95% CI]" for m in board.measured],
                  "plugins whose rel_dt trend it signs right"), rows)]
    plugins = sorted(board.predictors[0].per_plugin)
    for m in board.measured:
        cells = tuple((q, *[_cell(b.per_plugin[q][m]).split(" [")[0] + (_mark(b.trends[q]) if m == "rel_dt" else "")
                            for b in board.predictors]) for q in plugins)
        caption = f"tau vs {m} within one plugin's trials of a seed, mean over seeds" + (
            "; ✓ / ✗: the predictor's trend over strength has / has not the sign of the measured rel_dt trend"
            if m == "rel_dt" else "")
        out.append(Table(("plugin", *[_label(b) for b in board.predictors]), cells, caption=caption))
    return out + ([Figure(figure, "each predictor against the measured rel_dt, one colour per seed")] if figure else [])


def write_figure(out: str | Path, board: Scoreboard | None, points: list[dict]) -> dict[str, str]:
    """One small panel per predictor (its oriented value against rel_dt, seeds as colours) at
    ``out/FIGURE``; returns {"scoreboard": FIGURE}, or {} when there is nothing to draw."""
    if board is None or not points or not board.predictors:
        return {}
    import io

    from theory.report.figures import plt  # pyplot on the Agg backend, as every figure of the report

    pooled, n = _unique(points), len(board.predictors)
    cols = min(4, n)
    fig, axes = plt.subplots(-(-n // cols), cols, figsize=(2.7 * cols, 2.4 * -(-n // cols)), squeeze=False)
    seeds = sorted({p["seed"] for p in pooled})
    colour = {s: plt.get_cmap("viridis")(i / max(1, len(seeds) - 1)) for i, s in enumerate(seeds)}
    for ax, b in zip(axes.flat, board.predictors, strict=False):
        sign = 1.0 if b.higher_is_better else -1.0
        for s in seeds:
            pts = [p for p in pooled if p["seed"] == s]
            ax.scatter([_value(p, b.name, sign) for p in pts], [p["rel_dt"] for p in pts], s=7, color=colour[s])
        ax.set_title(f"{_label(b)}: tau {_cell(b.overall['rel_dt']).split(' [')[0]}", fontsize=8)
        if b is board.predictors[0] and len(seeds) <= 10:
            ax.legend([f"seed {s}" for s in seeds], fontsize=5, markerscale=0.8, loc="best")
        ax.set_xlabel(_label(b) + ("" if b.higher_is_better else " (negated)"), fontsize=7)
        ax.set_ylabel("rel_dt (points)", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata=FIGURE_METADATA)
    plt.close(fig)
    (Path(out) / FIGURE).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(out) / FIGURE, buffer.getvalue())
    return {"scoreboard": FIGURE}


def _expected(report: Report) -> dict[str, str]:
    return {v.plugin: v.prediction.expected for v in report.plugins}


def attach_scoreboard(report: Report, rows: list[dict], data: dict[str, PluginData]) -> None:
    """Set ``report.scoreboard`` (so verdicts.json carries it): :func:`build` of the report's trials with
    its plugins' predicted directions and its number of seed resamples."""
    report.scoreboard = build(rows, data, _expected(report), report.settings.resamples)


def scoreboard_figure(out: str | Path, report: Report, data: dict[str, PluginData], rows: list[dict]) -> dict[str, str]:
    """:func:`write_figure` of the report's scoreboard; {"scoreboard": path} or {}."""
    return write_figure(out, report.scoreboard, trial_points(rows, data, _expected(report)))


def scoreboard_section(report: Report, paths: dict[str, str]) -> list:
    """The report's "Predictors of transfer" section (:func:`blocks`)."""
    return blocks(report.scoreboard, paths.get("scoreboard"))
