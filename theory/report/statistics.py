"""Statistics for a sweep blocked by seed (docs/science.md#7-the-statistics-a-verdict-needs).

A plugin's measurements form a seeds x levels table: column 0 is the identity strength (the
seed's vanilla trial), columns 1.. the swept strengths in increasing order; a missing or unusable
trial is NaN. Every trial of seed s is measured against the vanilla of seed s, so seeds are blocks:

- trend: Page's L test over the ordered levels with the complete seeds as blocks
  (scipy.stats.page_trend_test: rows = seeds, columns = levels in the predicted rising order;
  L = sum_j j R_j over the column rank sums R_j), run in both orders; p = min(1, 2 min(p_up, p_down)),
  the direction the smaller one. Values are rounded to ``DECIMALS`` before ranking, so that values
  equal in exact arithmetic (rel_dt is a difference of differences) tie instead of being ordered by
  float rounding. With one complete seed (published single-run curves) it is Kendall's tau of the
  values against the level order (exact for small untied tables). Seeds with a missing cell
  are left out of the test (a mixed model with a random seed effect is the alternative; with 2-5
  seeds its variance component is not estimable, so we do not use it);
- effect: per seed, the least-squares slope of the values on the level index times (levels - 1):
  the fitted change over the swept range, in points, from every seed with cells at the identity and
  at the strongest level (a missing level in between is interpolated by the fit; a seed without
  either end gives no effect, since its slope would be stretched over levels it has no trial at);
  its mean over seeds, and an interval from resampling seeds (percentile bootstrap). n seeds give only
  C(2n-1, n) distinct resamples (3 for 2 seeds, 10 for 3, 126 for 5);
- equivalence: two one-sided t-tests of the per-seed effects against (-delta, +delta)
  (statsmodels ``ttost_mean``), equivalently the 90% t-interval of the mean effect inside the margin;
- Holm over the plugins of one report (the step-down of Holm 1979, by hand: ``holm``);
- power: the smallest number of seeds at which a one-sample t-test on per-seed effects reaches the
  asked power (``t_power``: statsmodels ``TTestPower.power``'s noncentral-t formula, written out so
  that scipy's NaN far in the wrong tail cannot break the search; searched over integers, since
  TTestPower.solve_power's root finder returns NaN for large effect sizes), the parametric stand-in
  for the Page test when sizing a study.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.weightstats import DescrStatsW

DECIMALS = 9  # points: far below any measured difference (1 image in 10^4 is 0.01), far above float noise
MAX_SEEDS = 2 ** 30


@dataclass(frozen=True)
class TrendResult:
    test: str
    statistic: float
    p_value: float
    direction: str  # "rises" or "falls"
    seeds: int
    levels: int


def complete_rows(table: np.ndarray) -> np.ndarray:
    """The seeds (rows) of ``table`` without a missing cell."""
    return table[~np.isnan(table).any(axis=1)]


def blocked_trend(table: np.ndarray) -> TrendResult | None:
    """Two-sided blocked trend test of ``table`` (module docstring); None with fewer than 3 levels
    or no complete seed."""
    full = np.round(complete_rows(table), DECIMALS)
    k = table.shape[1]
    if k < 3 or len(full) == 0:
        return None
    if len(full) >= 2:
        up, down = stats.page_trend_test(full), stats.page_trend_test(full[:, ::-1])
        test, statistic, p_up, p_down = "Page's L", float(up.statistic), up.pvalue, down.pvalue
    else:
        x = np.arange(k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            up = stats.kendalltau(x, full[0], alternative="greater")
            down = stats.kendalltau(x, full[0], alternative="less")
        tau = up.statistic
        test, statistic = "Kendall's tau (1 seed)", 0.0 if math.isnan(tau) else float(tau)
        p_up, p_down = (1.0, 1.0) if math.isnan(tau) else (up.pvalue, down.pvalue)
    p = min(1.0, 2.0 * min(p_up, p_down))
    return TrendResult(test, statistic, float(p), "rises" if p_up <= p_down else "falls", len(full), k)


def seed_effects(table: np.ndarray) -> np.ndarray:
    """Per seed with a cell at the first and at the last level (so never extrapolated): the
    least-squares slope of its cells on the level index times (levels - 1); one value per such seed."""
    table = np.asarray(table, float)
    k = table.shape[1]
    if k < 2:
        return np.empty(0)
    rows = table[~np.isnan(table[:, 0]) & ~np.isnan(table[:, -1])]
    ok = ~np.isnan(rows)  # all rows at once (polyfit per seed made the report's resampling quadratic-slow)
    x = np.where(ok, np.arange(k, dtype=float), 0.0)
    y = np.where(ok, rows, 0.0)
    n = ok.sum(axis=1)
    dx = np.where(ok, x - (x.sum(axis=1) / n)[:, None], 0.0)
    dy = np.where(ok, y - (y.sum(axis=1) / n)[:, None], 0.0)
    return (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1) * (k - 1)


def bootstrap_mean_ci(values: np.ndarray, level: float, resamples: int,
                      rng: np.random.Generator) -> tuple[float, float] | None:
    """Percentile interval of the mean of ``values`` (one per seed) over seed resamples; None for
    fewer than 2 values."""
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return None
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    tail = 50.0 * (1.0 - level)
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(lo), float(hi)


def distinct_resamples(n: int) -> int:
    """How many different multisets a bootstrap of n seeds can draw: C(2n - 1, n)."""
    return math.comb(2 * n - 1, n) if n > 0 else 0


def tost(effects: np.ndarray, margin: float) -> tuple[float, tuple[float, float]] | None:
    """(p, 90% t-interval) of the equivalence test of the mean effect against (-margin, +margin);
    None for fewer than 2 effects. Zero spread: p = 0 inside the margin, 1 outside."""
    effects = np.round(np.asarray(effects, float), DECIMALS)
    if len(effects) < 2:
        return None
    mean = float(effects.mean())
    if float(effects.std()) == 0.0:
        return (0.0 if abs(mean) < margin else 1.0), (mean, mean)
    d = DescrStatsW(effects)
    p = float(d.ttost_mean(-margin, margin)[0])
    lo, hi = d.tconfint_mean(alpha=0.10)
    return p, (float(lo), float(hi))


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values of one family (same order)."""
    # By hand, not statsmodels' multipletests (the same numbers, checked in a test): that one calls
    # gc.collect() on every call, which made each resampled verdict 10x slower with torch loaded.
    # Holm: the i-th smallest of m p-values (i from 0) times (m - i), made monotone by a running
    # maximum, capped at 1.
    order = np.argsort(p_values, kind="stable")
    m, adjusted, running = len(p_values), [0.0] * len(p_values), 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * float(p_values[j])))
        adjusted[j] = running
    return adjusted


def seeds_needed(sd: float | None, effect: float, alpha: float, power: float = 0.8,
                 equivalence: bool = False) -> int | None:
    """The smallest n >= 2 at which a one-sample t-test on per-seed effects of spread ``sd`` detects
    ``effect`` at two-sided ``alpha`` with ``power``; with ``equivalence``, seeds for the TOST against
    +-``effect`` to conclude equivalence when the true effect is 0 (each one-sided test at power
    1 - (1 - power)/2, a standard lower bound). None when ``sd`` is not positive and finite, or when
    more than MAX_SEEDS would be needed."""
    if sd is None or not (sd > 0 and math.isfinite(sd)) or effect <= 0:
        return None
    if equivalence:
        return _smallest_n(effect / sd, alpha, 1 - (1 - power) / 2, "larger")
    return _smallest_n(effect / sd, alpha, power, "two-sided")


def t_power(effect_size: float, n: int, alpha: float, alternative: str) -> float:
    """Power of the one-sample t-test with n values at standardized effect ``effect_size`` >= 0:
    P(T > t_{1-a}) for "larger", P(T > t_{1-a/2}) + P(T < -t_{1-a/2}) for "two-sided", T noncentral t
    (df n - 1, noncentrality effect_size sqrt(n)); the same formula as statsmodels' TTestPower.power.
    The wrong-tail term, at most a/2, is taken as 0 where scipy returns NaN for it (it is then below
    1e-15): never an overstatement of the power."""
    df, nc = n - 1, effect_size * math.sqrt(n)
    if alternative == "larger":
        return float(stats.nct.sf(stats.t.ppf(1 - alpha, df), df, nc))
    crit = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(crit, df, nc)) + float(np.nan_to_num(stats.nct.cdf(-crit, df, nc), nan=0.0))


def _smallest_n(effect_size: float, alpha: float, power: float, alternative: str) -> int | None:
    """Doubling then integer bisection on ``t_power``, which rises with n (no root finder to fail on
    very large or very small effect sizes)."""

    def enough(n: int) -> bool:
        return t_power(effect_size, n, alpha, alternative) >= power

    hi = 2
    while not enough(hi):
        if hi >= MAX_SEEDS:
            return None
        hi *= 2
    lo = hi // 2  # not enough (or 1 when hi == 2: below the floor of 2 seeds)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return max(2, hi)
