"""The measured side of a report: trial rows -> per-plugin seed x strength tables -> typed verdicts.

A trial is usable when it finished and its source accuracy beats chance + 10 points
(``min_acc_src``); its vanilla (the plugin's identity-strength row of the same seed, else the
``vanilla`` trial of that seed) must be usable too. Unusable trials are excluded from every
statistic and listed; usable trials whose source accuracy lies more than ``flag_drop`` points below
their vanilla's are kept but flagged (a source model that learned much less makes rel_dt rise
mechanically; the decomposition shows it).

Verdict per plugin, from the blocked trend test of rel_dt (Holm over the report's plugins):
- fewer than 3 strength levels, or complete seeds fewer than min(2, seeds) or than half the seeds:
  inconclusive ("models failed to learn" when excluded trials caused it);
- prediction "rises": significant and rising -> agrees; significant and falling -> disagrees;
  otherwise inconclusive;
- prediction "none": significant -> disagrees; else TOST (Holm over the "none" plugins) inside
  (-margin, +margin) -> agrees; else inconclusive (absence of evidence is not agreement);
- prediction "unknown": inconclusive.
Stability: the share of seed-bootstrap resamples (all plugins resampled together, Holm redone)
whose verdict equals the full-data verdict; below 0.8 the verdict is labelled unstable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from rt_core.reporting import deltas, usable_at
from theory.report import statistics as st
from theory.report.rows import Rows
from theory.report.verdicts import (
    Correlation,
    Decomposition,
    Equivalence,
    Estimate,
    PluginVerdict,
    Prediction,
    Settings,
    StrengthRow,
    Trend,
    TrialCounts,
    TrialNote,
)

RAW = ("acc_src", "acc_tgt", "rob_src", "probe_acc_src")
DELTA = ("rel_dt", "d_acc_src", "d_acc_tgt", "d_probe_acc_src", "rel_dt_probe", "d_rob_src")
STABLE = 0.8


@dataclass
class PluginData:
    """One plugin's measurements: ``tables[metric]`` is seeds x levels (identity first), NaN = none;
    ``trials`` and ``usable`` count, per cell, the trials that exist (any status) and those that
    entered the tables."""

    plugin: str
    identity: float
    levels: list[float]
    seeds: list[int]
    tables: dict[str, np.ndarray]
    trials: np.ndarray
    usable: np.ndarray
    excluded: list[TrialNote]
    flagged: list[TrialNote]


def whole_seeds(rows: list[dict]) -> tuple[Rows, list[int]]:
    """(the rows of the whole seeds, the seeds left out). A seed is whole when it holds a settled trial
    (any status but ``running``) of every (plugin, strength) that any seed holds. A sweep runs seed by
    seed, so a store read while it runs, or after it was stopped, holds its first seeds whole and its
    last one in part: those trials are missing because they have not run, not because they failed, and
    leaving their seed out biases nothing (a failed or diverged trial is settled and still counts
    against its seed in the verdict's rule).

    >>> rows = [{"plugin": p, "strength": s, "seed": seed, "status": "finished"}
    ...         for seed in (0, 1) for p, s in (("vanilla", 0.0), ("blur", 1.0))][:-1]
    >>> kept, left = whole_seeds(rows)
    >>> sorted({r["seed"] for r in kept}), left
    ([0], [1])
    """
    cells: dict[int, set] = {}
    for r in rows:
        if r["status"] != "running":
            cells.setdefault(r["seed"], set()).add((r["plugin"], r["strength"]))
    every = set().union(*cells.values()) if cells else set()
    left = sorted({r["seed"] for r in rows} - {seed for seed, held in cells.items() if held == every})
    return Rows(r for r in rows if r["seed"] not in left), left


def vanilla_row(rows: list[dict], plugin: str, identity: float, seed: int) -> dict | None:
    """The reference of ``plugin``'s trials of ``seed``: its own row at the identity strength, else the
    seed's ``vanilla`` row (the last one when a table repeats it); None when there is neither. Rows
    given as :class:`Rows` are looked up by their index."""
    if isinstance(rows, Rows):
        return rows.reference(plugin, identity, seed)
    for name, strength in ((plugin, identity), ("vanilla", None)):
        found = [r for r in rows if r["plugin"] == name and r["seed"] == seed
                 and (strength is None or r["strength"] == strength)]
        if found:
            return found[-1]
    return None


def _learned(row: dict | None, min_acc: float) -> bool:
    return row is not None and usable_at(row["status"], row.get("acc_src"), min_acc)


def _why_unusable(r: dict) -> str:
    return f"status {r['status']}" if r["status"] != "finished" else "source model at chance"


def plugin_data(rows: list[dict], plugin: str, identity: float, seeds: list[int], min_acc: float,
                flag_drop: float) -> PluginData:
    """The seeds x levels tables of ``plugin`` (module docstring for usable / flagged). Levels are the
    identity, then the swept strengths by distance from the identity: the order of increasing strength,
    also for a plugin whose identity is the top of its range. Every trial is counted at its level,
    also those of a seed whose vanilla did not learn (each listed as excluded)."""
    mine = [r for r in rows if r["plugin"] == plugin and r["strength"] != identity]
    levels = [identity] + sorted({r["strength"] for r in mine}, key=lambda s: (abs(s - identity), s))
    shape = (len(seeds), len(levels))
    data = PluginData(plugin, identity, levels, seeds, {m: np.full(shape, np.nan) for m in RAW + DELTA},
                      np.zeros(shape, int), np.zeros(shape, int), [], [])
    by_seed: dict[int, list[dict]] = {}
    for r in mine:  # grouped once: a scan of ``mine`` per seed would be quadratic in the rows
        by_seed.setdefault(r["seed"], []).append(r)
    for i, seed in enumerate(seeds):
        v = vanilla_row(rows, plugin, identity, seed)
        ours = by_seed.get(seed, [])
        data.trials[i, 0] = v is not None
        if not _learned(v, min_acc):
            _drop_seed(data, v, ours, i, min_acc)
            continue
        data.usable[i, 0] = 1
        for m in RAW:
            data.tables[m][i, 0] = np.nan if v.get(m) is None else v[m]
        for m, value in deltas(v, v).items():
            data.tables[m][i, 0] = np.nan if value is None else value
        for r in ours:
            _place(r, v, i, levels.index(r["strength"]), data, min_acc, flag_drop)
    return data


def _drop_seed(data: PluginData, v: dict | None, ours: list[dict], i: int, min_acc: float) -> None:
    """A seed without a usable vanilla: every trial of it counted and excluded, none in the tables;
    a trial that learned is listed for its seed's vanilla, one that did not for itself."""
    if v is not None:
        data.excluded.append(TrialNote(data.identity, v["seed"], v.get("acc_src"),
                                       f"vanilla did not learn ({_why_unusable(v)}): seed dropped"))
    why = "its seed's vanilla did not learn" if v is not None else "no vanilla trial of its seed"
    for r in ours:
        data.trials[i, data.levels.index(r["strength"])] += 1
        data.excluded.append(TrialNote(r["strength"], r["seed"], r.get("acc_src"),
                                       why if _learned(r, min_acc) else _why_unusable(r)))


def _place(r: dict, v: dict, i: int, j: int, data: PluginData, min_acc: float, flag_drop: float) -> None:
    data.trials[i, j] += 1
    if not _learned(r, min_acc):
        data.excluded.append(TrialNote(r["strength"], r["seed"], r.get("acc_src"), _why_unusable(r)))
        return
    data.usable[i, j] += 1
    d = deltas(r, v)
    for m in RAW:
        data.tables[m][i, j] = np.nan if r.get(m) is None else r[m]
    for m in DELTA:
        data.tables[m][i, j] = np.nan if d[m] is None else d[m]
    if d["d_acc_src"] < -flag_drop:
        data.flagged.append(TrialNote(r["strength"], r["seed"], r["acc_src"],
                                      f"acc_src {-d['d_acc_src']:.0f} points below its vanilla"))


@dataclass
class Decision:
    verdict: str
    reason: str
    trend: st.TrendResult | None = None
    p_holm: float | None = None
    tost: tuple[float, tuple[float, float]] | None = None
    tost_holm: float | None = None


@dataclass(frozen=True)
class Family:
    """The plugins one report decides together (Holm runs over them): per plugin its seeds x strengths
    rel_dt table (identity first, NaN = no usable trial), its predicted direction ("rises", "none" or
    "unknown") and how many of its trials were excluded; the family-wise ``alpha`` and the equivalence
    ``margin`` in points.

    >>> import numpy as np
    >>> family = Family({"blur": np.zeros((3, 3))}, {"blur": "none"}, {"blur": 0}, alpha=0.05, margin=2.0)
    >>> family.seeds, family.drawn(np.array([0, 0])).tables["blur"].shape
    (3, (2, 3))
    """

    tables: dict[str, np.ndarray]
    expected: dict[str, str]
    excluded: dict[str, int]
    alpha: float
    margin: float

    @classmethod
    def of(cls, data: dict[str, PluginData], expected: dict[str, str], alpha: float, margin: float) -> Family:
        """The family of a report's per-plugin data."""
        return cls({p: d.tables["rel_dt"] for p, d in data.items()}, expected,
                   {p: len(d.excluded) for p, d in data.items()}, alpha, margin)

    @property
    def seeds(self) -> int:
        """Rows (seeds) of the tables, which all share them; 0 without tables."""
        return len(next(iter(self.tables.values()))) if self.tables else 0

    def drawn(self, idx: np.ndarray) -> Family:
        """The family on the seeds ``idx`` (rows of every table drawn together)."""
        return replace(self, tables={p: t[idx] for p, t in self.tables.items()})


def _enough(table: np.ndarray, trend: st.TrendResult | None) -> bool:
    n, complete = len(table), len(st.complete_rows(table))
    return trend is not None and complete >= min(2, n) and 2 * complete >= n


def decide_family(family: Family) -> dict[str, Decision]:
    """The verdict of every plugin of one report from its rel_dt table (module docstring)."""
    tables, expected, excluded, alpha, margin = (family.tables, family.expected, family.excluded, family.alpha,
                                                 family.margin)
    trends = {p: st.blocked_trend(t) for p, t in tables.items()}
    tested = [p for p in tables if _enough(tables[p], trends[p])]
    p_holm = dict(zip(tested, st.holm([trends[p].p_value for p in tested]), strict=True))
    tosts = {p: st.tost(st.seed_effects(tables[p]), margin) for p in tested if expected[p] == "none"}
    tosts = {p: t for p, t in tosts.items() if t is not None}
    tost_holm = dict(zip(tosts, st.holm([t[0] for t in tosts.values()]), strict=True))
    out = {}
    for p, table in tables.items():
        if p not in tested:
            out[p] = Decision("inconclusive", _why_untested(table, trends[p], excluded[p]), trends[p])
            continue
        d = Decision("inconclusive", "", trends[p], p_holm[p], tosts.get(p), tost_holm.get(p))
        d.verdict, d.reason = _judge(expected[p], d, alpha, margin)
        out[p] = d
    return out


def _why_untested(table: np.ndarray, trend: st.TrendResult | None, excluded: int) -> str:
    complete = len(st.complete_rows(table))
    if table.shape[1] < 3:
        return f"too few strengths: {table.shape[1]} levels with the identity, a trend needs 3"
    cause = f"models failed to learn: {excluded} trial(s) excluded" if excluded else "too few seeds"
    return f"{cause}; {complete} of {len(table)} seeds complete, need at least min(2, seeds) and half of them"


def _judge(expected: str, d: Decision, alpha: float, margin: float) -> tuple[str, str]:
    t = d.trend
    test = f"{t.test} = {t.statistic:.3g}, p = {t.p_value:.3g}, Holm p = {d.p_holm:.3g}, {t.seeds} seeds"
    significant = d.p_holm < alpha
    if expected == "rises":
        if significant:
            return ("agrees", f"rel_dt rises with strength ({test})") if t.direction == "rises" else \
                   ("disagrees", f"rel_dt falls with strength ({test})")
        return "inconclusive", f"no significant trend at this many seeds ({test})"
    if expected == "none":
        if significant:
            return "disagrees", f"significant trend ({t.direction}) where none was predicted ({test})"
        if d.tost is None:
            return "inconclusive", f"no significant trend ({test}), and equivalence needs 2 seeds with effects"
        p, (lo, hi) = d.tost
        tost = f"TOST vs +-{margin:g}: p = {p:.3g}, Holm p = {d.tost_holm:.3g}, 90% CI [{lo:+.2f}, {hi:+.2f}]"
        if d.tost_holm < alpha:
            return "agrees", f"equivalent to no effect within +-{margin:g} points ({tost}; {test})"
        return "inconclusive", f"no significant trend, but not shown equivalent to none ({tost}; {test})"
    return "inconclusive", f"the theory makes no prediction here; measured {test}"


def drawn_verdicts(family: Family, size: int, draws: int, rng: np.random.Generator) -> Iterator[dict[str, str]]:
    """The verdict of every plugin in each of ``draws`` studies of ``size`` seeds drawn with
    replacement from the measured ones (rows of every table drawn together; Holm and TOST redone)."""
    n = family.seeds
    if n == 0:
        return
    for _ in range(draws):
        idx = rng.integers(0, n, size)
        yield {p: d.verdict for p, d in decide_family(family.drawn(idx)).items()}


def resampled_verdicts(family: Family, size: int, resamples: int, rng: np.random.Generator) -> dict[str, Counter]:
    """Per plugin, how often each verdict comes out over ``resamples`` draws of ``size`` seeds
    (``drawn_verdicts``)."""
    counts = {p: Counter() for p in family.tables}
    for verdicts in drawn_verdicts(family, size, resamples, rng):
        for p, v in verdicts.items():
            counts[p][v] += 1
    return counts


def stability(family: Family, full: dict[str, str], resamples: int, rng: np.random.Generator) -> dict[str, float]:
    """Share of seed-bootstrap resamples (as many seeds as measured) reproducing ``full``."""
    n = family.seeds
    if n == 0:
        return {}
    counts = resampled_verdicts(family, n, resamples, rng)
    return {p: c[full[p]] / resamples for p, c in counts.items()}


def estimate(values: np.ndarray, resamples: int, rng: np.random.Generator) -> Estimate:
    """Mean of per-seed ``values`` (NaN dropped) with its 95% seed-bootstrap interval."""
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return Estimate(None, None, 0)
    return Estimate(float(values.mean()), st.bootstrap_mean_ci(values, 0.95, resamples, rng), len(values))


def attribute(d_src: Estimate, d_tgt: Estimate) -> str:
    """Which part carried the change of rel_dt = Delta acc_tgt - Delta acc_src over the range.

    The target contributes Delta acc_tgt, the source -Delta acc_src. One part "mostly" carries the
    change when its contribution is at least twice the other's in size; otherwise both are named.
    Changes under 0.05 points in both parts are "no change"."""
    if d_src.mean is None or d_tgt.mean is None:
        return "-"
    src, tgt = -d_src.mean, d_tgt.mean
    parts = f"Δ acc_tgt {d_tgt.mean:+.1f}, Δ acc_src {d_src.mean:+.1f}"
    if max(abs(src), abs(tgt)) < 0.05:
        return f"no change ({parts})"
    tgt_word = "target gains" if tgt > 0 else "target loses"
    src_word = "source loses" if src > 0 else "source gains"
    if abs(tgt) >= 2 * abs(src):
        return f"mostly {tgt_word} ({parts})"
    if abs(src) >= 2 * abs(tgt):
        return f"mostly {src_word} ({parts})"
    return f"both: {tgt_word}, {src_word} ({parts})"


def _strength_rows(data: PluginData, resamples: int, rng: np.random.Generator) -> tuple[StrengthRow, ...]:
    flagged = {(n.strength, n.seed) for n in data.flagged}
    rows = []
    for j, level in enumerate(data.levels):
        metrics = {m: estimate(data.tables[m][:, j], resamples, rng) for m in RAW + DELTA}
        rows.append(StrengthRow(level, int(data.trials[:, j].sum()), int(data.usable[:, j].sum()),
                                sum(1 for s in data.seeds if (level, s) in flagged), metrics))
    return tuple(rows)


def _effect(data: PluginData, metric: str, resamples: int, rng: np.random.Generator) -> Estimate:
    return estimate(st.seed_effects(data.tables[metric]), resamples, rng)


def plugin_verdict(data: PluginData, prediction: Prediction, decision: Decision, settings: Settings,
                   stable_share: float | None, label: tuple[str, str], rng: np.random.Generator) -> PluginVerdict:
    """Assemble one plugin's typed verdict."""
    r = settings.resamples
    d_src, d_tgt = _effect(data, "d_acc_src", r, rng), _effect(data, "d_acc_tgt", r, rng)
    decomposition = Decomposition(d_src, d_tgt, _effect(data, "d_probe_acc_src", r, rng),
                                  _effect(data, "rel_dt_probe", r, rng), attribute(d_src, d_tgt))
    t = decision.trend
    trend = None if t is None or decision.p_holm is None else \
        Trend(t.test, t.statistic, t.p_value, decision.p_holm, t.direction, t.seeds, t.levels)
    equivalence = None
    if decision.tost is not None:
        p, ci = decision.tost
        equivalence = Equivalence(settings.equivalence_margin, p, decision.tost_holm, ci,
                                  decision.tost_holm < settings.alpha)
    return PluginVerdict(
        data.plugin, label[0], label[1], data.identity, prediction, int(data.trials.sum()), tuple(data.excluded),
        tuple(data.flagged), _effect(data, "rel_dt", r, rng), trend, equivalence, decomposition,
        _strength_rows(data, r, rng), decision.verdict, decision.reason, stable_share,
        None if stable_share is None else stable_share >= STABLE)


def analyse(data: dict[str, PluginData], predictions: dict[str, Prediction], labels: dict[str, tuple[str, str]],
            settings: Settings) -> list[PluginVerdict]:
    """Every plugin's verdict with effects, decomposition, per-strength rows and stability."""
    rng = np.random.default_rng(0)
    family = Family.of(data, {p: predictions[p].expected for p in data}, settings.alpha, settings.equivalence_margin)
    decisions = decide_family(family)
    shares = stability(family, {p: d.verdict for p, d in decisions.items()}, settings.resamples, rng) \
        if len(settings.seeds) >= 2 else {}
    return [plugin_verdict(data[p], predictions[p], decisions[p], settings, shares.get(p), labels[p], rng)
            for p in sorted(data)]


def trial_counts(rows: list[dict], data: dict[str, PluginData], min_acc: float) -> TrialCounts:
    """Every row of the report counted once (``TrialCounts``); a row at its plugin's identity strength
    (a vanilla) is a reference: excluded only when it did not learn itself."""
    unusable = orphaned = 0
    for r in rows:
        if not _learned(r, min_acc):
            unusable += 1
            continue
        identity = data[r["plugin"]].identity if r["plugin"] in data else r["strength"]
        if r["strength"] != identity and not _learned(vanilla_row(rows, r["plugin"], identity, r["seed"]), min_acc):
            orphaned += 1
    flagged = sum(len(d.flagged) for d in data.values())
    return TrialCounts(len(rows), unusable + orphaned, unusable, orphaned, flagged)


def robustness_points(data: dict[str, PluginData]) -> dict[int, list[tuple[float, float, bool]]]:
    """Per seed, (rob_src, rel_dt, flagged) of every usable non-vanilla trial with both."""
    per_seed: dict[int, list[tuple[float, float, bool]]] = {}
    for d in data.values():
        flagged = {(n.strength, n.seed) for n in d.flagged}
        rob, rel = d.tables["rob_src"][:, 1:], d.tables["rel_dt"][:, 1:]
        for i, seed in enumerate(d.seeds):
            ok = ~np.isnan(rob[i]) & ~np.isnan(rel[i])
            per_seed.setdefault(seed, []).extend(
                (float(x), float(y), (level, seed) in flagged)
                for x, y, level, k in zip(rob[i], rel[i], d.levels[1:], ok, strict=True) if k)
    return per_seed


def robustness(data: dict[str, PluginData], resamples: int) -> Correlation:
    """Spearman rho(rob_src, rel_dt) over usable non-vanilla trials, its seed-bootstrap 95% interval
    (all trials of a drawn seed enter together) and the least-squares line; ``unflagged``: the same
    without the flagged trials (a source model far below its vanilla moves both quantities)."""
    per_seed = robustness_points(data)
    kept = {s: [p for p in pts if not p[2]] for s, pts in per_seed.items()}
    whole = _correlation(per_seed, resamples)
    return replace(whole, flagged=sum(p[2] for pts in per_seed.values() for p in pts),
                   unflagged=_correlation(kept, resamples))


def _correlation(per_seed: dict[int, list[tuple[float, float, bool]]], resamples: int) -> Correlation:
    from scipy import stats

    per_seed = {s: [(x, y) for x, y, _ in pts] for s, pts in per_seed.items()}
    points = np.array([p for pts in per_seed.values() for p in pts]).reshape(-1, 2)
    if len(points) < 4 or np.ptp(points[:, 0]) == 0 or np.ptp(points[:, 1]) == 0:
        return Correlation(len(points), None, None, None, None, None)
    rho, p = stats.spearmanr(points[:, 0], points[:, 1])
    fit = stats.linregress(points[:, 0], points[:, 1])
    return Correlation(len(points), float(rho), float(p), _rho_ci(per_seed, resamples),
                       float(fit.slope), float(fit.intercept))


def _rho_ci(per_seed: dict[int, list], resamples: int) -> tuple[float, float] | None:
    from scipy import stats

    seeds = [s for s in per_seed if per_seed[s]]
    if len(seeds) < 2:
        return None
    rng = np.random.default_rng(1)
    draws = []
    for _ in range(resamples):
        pts = np.array([p for i in rng.integers(0, len(seeds), len(seeds)) for p in per_seed[seeds[i]]])
        if len(pts) >= 4 and np.ptp(pts[:, 0]) > 0 and np.ptp(pts[:, 1]) > 0:
            draws.append(stats.spearmanr(pts[:, 0], pts[:, 1])[0])
    if not draws:
        return None
    lo, hi = np.nanpercentile(draws, [2.5, 97.5])
    return float(lo), float(hi)
