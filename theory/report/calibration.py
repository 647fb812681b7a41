"""Is the report's decision rule calibrated on a study's own variance, and how often does a small run
contradict the study?

Null studies (``calibrate``): every plugin's seeds x levels rel_dt table with its strength labels
permuted independently within each seed. Under "no effect of strength" the levels of one seed are
exchangeable (rel_dt of the identity is 0, of level j the trial's noise minus the vanilla's: the
ranks of a seed's cells are those of its trials' noises, all alike), so each permuted study is a
draw from the null with the measured seed-to-seed and trial-to-trial variance. Each null study is
decided by the report's own rule (``decide``: Page's L per plugin, Holm over the plugins, TOST);
a *false decision* is a significant trend in a null study: "agrees" or "disagrees" for a plugin
predicted to raise rel_dt, "disagrees" for one predicted to have no effect ("agrees" there is the
right answer under the null). The rule is calibrated when the share of null studies with any false
decision is at most alpha; the share is given with its Clopper-Pearson 95% interval, and the rule is
flagged miscalibrated only when the whole interval lies above alpha.

Planted effects: one plugin at a time gets ``effect`` points added over its swept range (linearly in
the level index, 0 at the identity), the other plugins stay null; *found* means that plugin's trend
is significant after Holm and rises.

Demo against study (``contradictions``): subsets of ``size`` seeds drawn without replacement from the
study's seeds, restricted to the demo's levels (identity first), decided by the same rule (Holm over
the demo's plugins). A decided demo verdict *contradicts* the study when the study decided the other
way, or when the study's trend is significant and the demo's is significant with the opposite sign.
An inconclusive demo verdict never contradicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
from statsmodels.stats.proportion import proportion_confint

from theory.report.analysis import Decision, Family, decide_family

Decide = Callable[[Family], dict[str, Decision]]
PLANTED = (1.0, 2.0, 5.0, 10.0)
DECIDED = ("agrees", "disagrees")


@dataclass(frozen=True)
class Share:
    """``hits`` of ``n`` with its Clopper-Pearson 95% interval."""

    hits: int
    n: int

    @property
    def value(self) -> float:
        return self.hits / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        lo, hi = proportion_confint(self.hits, self.n, alpha=0.05, method="beta") if self.n else (np.nan, np.nan)
        return float(lo), float(hi)


@dataclass(frozen=True)
class Calibration:
    """Null studies: the share with any false decision (``familywise``) and per plugin; ``found``:
    per planted effect size and plugin, the share of studies in which that effect was found."""

    draws: int
    seeds: int
    alpha: float
    familywise: Share
    per_plugin: dict[str, Share]
    found: dict[float, dict[str, Share]]

    @property
    def calibrated(self) -> bool:
        """False only when the whole 95% interval of the familywise share lies above alpha."""
        return self.familywise.interval[0] <= self.alpha


def _significant(d: Decision, alpha: float) -> bool:
    return d.p_holm is not None and d.p_holm < alpha


def false_decision(expected: str, d: Decision, alpha: float) -> bool:
    """Under the null: any significant trend is false, whatever the prediction ("none" included)."""
    return expected in ("rises", "none") and _significant(d, alpha)


def permuted(family: Family, rng: np.random.Generator) -> Family:
    """``family`` with each table's cells shuffled within every seed (row), independently."""
    return replace(family, tables={p: rng.permuted(t, axis=1) for p, t in family.tables.items()})


def planted(family: Family, plugin: str, effect: float) -> Family:
    """``family`` with ``effect`` points added to ``plugin``'s table, linear in the level index."""
    table = family.tables[plugin]
    ramp = effect * np.arange(table.shape[1]) / max(1, table.shape[1] - 1)
    return replace(family, tables={**family.tables, plugin: table + ramp})


def _null_studies(family: Family, draws: int, seed: int) -> Iterator[Family]:
    rng = np.random.default_rng(seed)
    for _ in range(draws):
        yield permuted(family, rng)


def calibrate(family: Family, draws: int = 200, effects: tuple[float, ...] = PLANTED, seed: int = 0,
              decide: Decide = decide_family) -> Calibration:
    """Null and planted-effect studies from ``family`` (module docstring), decided by ``decide``."""
    tested = [p for p in family.tables if family.expected.get(p) in ("rises", "none")]
    any_false, per = 0, dict.fromkeys(tested, 0)
    found = {e: dict.fromkeys(tested, 0) for e in effects}
    for null in _null_studies(family, draws, seed):
        any_false += _tally(family, null, tested, effects, decide, per, found)
    return Calibration(draws, family.seeds, family.alpha, Share(any_false, draws),
                       {p: Share(n, draws) for p, n in per.items()},
                       {e: {p: Share(n, draws) for p, n in row.items()} for e, row in found.items()})


def _tally(family: Family, null: Family, tested: list[str], effects: tuple[float, ...], decide: Decide,
           per: dict[str, int], found: dict[float, dict[str, int]]) -> bool:
    """Add one null study's false decisions to ``per`` and its planted findings to ``found``; True
    when the null study made any false decision."""
    decisions = decide(null)
    wrong = [p for p in tested if false_decision(family.expected[p], decisions[p], family.alpha)]
    for p in wrong:
        per[p] += 1
    for e in effects:
        for p in tested:
            d = decide(planted(null, p, e))[p]
            found[e][p] += _significant(d, family.alpha) and d.trend.direction == "rises"
    return bool(wrong)


@dataclass(frozen=True)
class Contradiction:
    """Per plugin over ``draws`` demo-sized subsets: how many decided, agreed with the study's verdict,
    contradicted it (module docstring); ``study``: the study's own verdict."""

    plugin: str
    study: str
    draws: int
    decided: int
    same: int
    contradicts: int


def contradicts(demo: Decision, study: Decision, alpha: float) -> bool:
    """A decided demo verdict against the study's (module docstring)."""
    if demo.verdict not in DECIDED:
        return False
    if study.verdict in DECIDED and demo.verdict != study.verdict:
        return True
    return (_significant(study, alpha) and _significant(demo, alpha)
            and demo.trend.direction != study.trend.direction)


def demo_columns(levels: list[float], demo: list[float]) -> list[int]:
    """Indices of the identity and the demo's strengths among a plugin's study ``levels``."""
    missing = [s for s in demo if s not in levels]
    if missing:
        raise ValueError(f"demo strengths {missing} are not among the study's levels {levels}")
    return [0] + sorted(levels.index(s) for s in demo if s != levels[0])


def contradictions(study: Family, columns: dict[str, list[int]], size: int = 5, draws: int = 500,
                   seed: int = 0, decide: Decide = decide_family) -> list[Contradiction]:
    """Demo-sized studies drawn from ``study`` at ``columns`` per plugin, against the study's verdicts."""
    if size > study.seeds:
        raise ValueError(f"a demo of {size} seeds cannot be drawn from a study of {study.seeds}")
    full = decide(study)
    demo = replace(study, tables={p: study.tables[p][:, c] for p, c in columns.items()},
                   expected={p: study.expected[p] for p in columns}, excluded={p: 0 for p in columns})
    rng = np.random.default_rng(seed)
    counts = {p: [0, 0, 0] for p in columns}
    for _ in range(draws):
        for p, d in decide(demo.drawn(rng.choice(study.seeds, size, replace=False))).items():
            c = counts[p]
            c[0] += d.verdict in DECIDED
            c[1] += d.verdict in DECIDED and d.verdict == full[p].verdict
            c[2] += contradicts(d, full[p], study.alpha)
    return [Contradiction(p, full[p].verdict, draws, *counts[p]) for p in columns]


def _pct(share: Share) -> str:
    lo, hi = share.interval
    return f"{share.value:.1%} [{lo:.1%}, {hi:.1%}]"


def calibration_text(cal: Calibration) -> str:
    """The calibration as plain text: the familywise false-decision share and the planted-effect table."""
    word = "calibrated" if cal.calibrated else "NOT calibrated: the whole interval lies above alpha"
    lines = [f"calibration: {cal.draws} null studies of {cal.seeds} seeds (strength labels permuted within each "
             f"seed), each decided by the report's rule: any false decision in {_pct(cal.familywise)} "
             f"(95% Clopper-Pearson) against alpha {cal.alpha:g}: {word}",
             "planted effect over the range, one plugin at a time (share of studies that find it):",
             f"{'plugin':<14}{'false':>8}" + "".join(f"{f'+{e:g}':>8}" for e in cal.found)]
    for p, share in cal.per_plugin.items():
        lines.append(f"{p:<14}{share.value:>8.2f}" + "".join(f"{cal.found[e][p].value:>8.2f}" for e in cal.found))
    return "\n".join(lines)


def calibration_json(cal: Calibration) -> dict:
    """The calibration as JSON-ready values (shares with their 95% intervals)."""
    def share(s: Share) -> dict:
        return {"hits": s.hits, "n": s.n, "share": s.value, "ci95": list(s.interval)}
    return {"draws": cal.draws, "seeds": cal.seeds, "alpha": cal.alpha, "calibrated": cal.calibrated,
            "familywise": share(cal.familywise), "per_plugin": {p: share(s) for p, s in cal.per_plugin.items()},
            "planted": {f"{e:g}": {p: share(s) for p, s in row.items()} for e, row in cal.found.items()}}


def contradiction_total(rows: list[Contradiction]) -> Share:
    """Decided demo verdicts that contradict the study, over all decided demo verdicts."""
    return Share(sum(r.contradicts for r in rows), sum(r.decided for r in rows))


def contradiction_text(rows: list[Contradiction], demo: str) -> str:
    """The demo-against-study table as plain text."""
    total = contradiction_total(rows)
    size = f"{rows[0].draws} subsets" if rows else "no subsets"
    lines = [f"demo against study ({demo}; {size} of the study's seeds at the demo's grid points, each decided "
             f"by the report's rule): decided demo verdicts that contradict the study: "
             f"{total.hits} of {total.n}" + (f", {_pct(total)}" if total.n else ""),
             f"{'plugin':<14}{'study':<14}{'decided':>9}{'same':>7}{'contra':>8}"]
    for r in rows:
        lines.append(f"{r.plugin:<14}{r.study:<14}{r.decided / r.draws:>9.2f}{r.same / r.draws:>7.2f}"
                     f"{r.contradicts / r.draws:>8.2f}")
    return "\n".join(lines)
