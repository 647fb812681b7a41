"""``rt plan``: how many seeds a study needs, from a results store's measured seed-to-seed spread.

Two answers per plugin:
- t-test model: the spread is the standard deviation over seeds of the per-seed rel_dt effect (the
  fitted change over the swept range, theory.report.statistics). Seeds are sized for a one-sample
  t-test of that effect (statsmodels TTestPower), the parametric stand-in for the blocked Page
  test: to detect ``effect`` points with ``power`` at two-sided alpha, and at alpha / plugins (what
  Holm asks of the smallest p-value of the report); for "none" predictions, also the seeds for the
  equivalence test against +-margin to succeed when the true effect is 0.
- resampled, the report's own rule: draw n seeds with replacement from the measured ones (every
  plugin's table with the same draw, as the report's stability does), decide every plugin as the
  report does (Page's L, Holm over the plugins, TOST), and take the smallest n of ``SEED_GRID`` at
  which at least ``power`` of the draws reach the same decided verdict (all "agrees" or all
  "disagrees": a split between them is not a decision). This sizes the measured effects, whatever
  their size, under the test that will be run; it treats the measured seeds as the population, so
  with few seeds it is optimistic (a seed unlike all of them is never drawn), and it is not given
  with fewer than ``MIN_SEEDS`` complete seeds, nor for plugins no seed count can decide (no
  prediction, or fewer than 3 strength levels).

Replication (``replication``): how often ``runs`` independent studies of n seeds each, every one
drawn the same way and decided by the same rule, reach the same verdict per plugin, and on how many
plugins they all coincide: the chance that, e.g., three disjoint demo runs tell the same story. Like
the resampled answer it takes the measured seeds as the population.
"""

from __future__ import annotations

import numpy as np

from theory.report import analysis as an
from theory.report import statistics as st
from theory.report.analysis import Family
from theory.report.verdicts import PlanRow, Replication

SEED_GRID = (5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64)
DECIDED = ("agrees", "disagrees")
MIN_SEEDS = 3
UNDECIDED = "undecided"  # decided_as when no n of SEED_GRID reaches the power


def _sizable(table: np.ndarray, expected: str) -> bool:
    return expected in ("rises", "none") and table.shape[1] >= 3 and len(st.complete_rows(table)) >= MIN_SEEDS


def seeds_to_decide(family: Family, power: float = 0.8, resamples: int = 100, seed: int = 0
                    ) -> dict[str, tuple[int | None, str | None]]:
    """Per plugin (n, verdict) from its seeds x levels rel_dt table: the resampled answer of the
    module docstring; (None, UNDECIDED) when no n of SEED_GRID reaches ``power``, (None, None) when
    the plugin is not sized (module docstring)."""
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[int | None, str | None]] = {
        p: (None, UNDECIDED if _sizable(t, family.expected.get(p, "unknown")) else None)
        for p, t in family.tables.items()}
    for n in SEED_GRID:
        pending = [p for p in family.tables if out[p] == (None, UNDECIDED)]
        if not pending:
            break
        counts = an.resampled_verdicts(family, n, resamples, rng)
        for p in pending:
            verdict = max(DECIDED, key=lambda v, c=counts[p]: c[v])
            if counts[p][verdict] >= power * resamples:
                out[p] = (n, verdict)
    return out


def plan(family: Family, effect: float, power: float = 0.8) -> list[PlanRow]:
    """One PlanRow per plugin (module docstring)."""
    rows = []
    alpha, margin, size = family.alpha, family.margin, max(1, len(family.tables))
    decide = seeds_to_decide(family, power)
    for p in sorted(family.tables):
        effects = st.seed_effects(family.tables[p])
        sd = float(np.std(effects, ddof=1)) if len(effects) >= 2 else None
        detect = st.seeds_needed(sd, effect, alpha, power) if sd else None
        holm = st.seeds_needed(sd, effect, alpha / size, power) if sd else None
        equiv = st.seeds_needed(sd, margin, alpha, power, equivalence=True) \
            if sd and family.expected.get(p) == "none" else None
        rows.append(PlanRow(p, len(effects), sd, effect, power, detect, holm, equiv, *decide[p]))
    return rows


def replication(family: Family, seeds: int | None = None, runs: int = 3, draws: int = 200,
                seed: int = 0) -> Replication | None:
    """``draws`` times, decide ``runs`` independent studies of ``seeds`` seeds (default: as many as
    measured) drawn with replacement from the measured ones (``an.drawn_verdicts``) and count, per
    plugin, the draws in which every run reaches one verdict, and per draw the number of such
    plugins (``Replication``). None with fewer than ``MIN_SEEDS`` measured seeds (nothing to draw a
    population from)."""
    measured = family.seeds
    if measured < MIN_SEEDS:
        return None
    size = seeds or measured
    rng = np.random.default_rng(seed)
    studies = an.drawn_verdicts(family, size, draws * runs, rng)
    same = dict.fromkeys(family.tables, 0)
    coinciding = [0] * (len(family.tables) + 1)
    for _ in range(draws):
        verdicts = [next(studies) for _ in range(runs)]
        agreeing = [p for p in family.tables if len({v[p] for v in verdicts}) == 1]
        for p in agreeing:
            same[p] += 1
        coinciding[len(agreeing)] += 1
    studies.close()
    return Replication(runs, size, measured, draws, {p: n / draws for p, n in same.items()},
                       [n / draws for n in coinciding])
