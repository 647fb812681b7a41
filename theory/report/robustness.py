"""Is source robustness a reliable predictor of relative transfer? Spearman's rho of rob_src against
rel_dt, blocked by seed.

Trials of one seed share their vanilla (rel_dt is taken against it), so a correlation pooled over
seeds mixes the seeds' offsets into the ranks. The blocked estimate ranks within each seed: rho_s =
Spearman(rob_src, rel_dt) over seed s's trials (defined with at least 4 trials and neither side
constant), and the estimate is the mean of rho_s over the seeds where it is defined, with a 95%
percentile interval from resampling those seeds (with replacement). Overall: every usable non-vanilla
trial (and again without the flagged ones); per plugin: the plugin's usable trials, its identity
(vanilla) trial included, so a seed gives one point per level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from rt_core.reporting import md_escape
from theory.report.analysis import PluginData, robustness_points

MIN_POINTS = 4
RESAMPLES = 1000


@dataclass(frozen=True)
class BlockedRho:
    """Mean within-seed Spearman rho (None when no seed has one), its seed-bootstrap 95% interval
    (None below 2 seeds), the seeds it is defined on and the trials they hold."""

    rho: float | None
    ci: tuple[float, float] | None
    seeds: int
    trials: int


def seed_rho(points: list[tuple[float, float]]) -> float | None:
    """Spearman rho of one seed's (rob_src, rel_dt) points; None below ``MIN_POINTS`` or when either
    side is constant."""
    if len(points) < MIN_POINTS:
        return None
    x, y = np.asarray(points, float).T
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(stats.spearmanr(x, y)[0])


def blocked_rho(per_seed: dict[int, list[tuple[float, float]]], resamples: int = RESAMPLES,
                seed: int = 0) -> BlockedRho:
    """The blocked estimate of the module docstring from each seed's points."""
    rhos = {s: r for s, pts in per_seed.items() if (r := seed_rho(pts)) is not None}
    trials = sum(len(per_seed[s]) for s in rhos)
    if not rhos:
        return BlockedRho(None, None, 0, 0)
    values = np.array(list(rhos.values()))
    ci = None
    if len(values) >= 2:
        draws = values[np.random.default_rng(seed).integers(0, len(values), (resamples, len(values)))].mean(axis=1)
        lo, hi = np.percentile(draws, [2.5, 97.5])
        ci = (float(lo), float(hi))
    return BlockedRho(float(values.mean()), ci, len(values), trials)


def _plugin_points(d: PluginData) -> dict[int, list[tuple[float, float]]]:
    rob, rel = d.tables["rob_src"], d.tables["rel_dt"]
    out = {}
    for i, s in enumerate(d.seeds):
        ok = ~np.isnan(rob[i]) & ~np.isnan(rel[i])
        out[s] = list(zip(rob[i][ok].tolist(), rel[i][ok].tolist(), strict=True))
    return out


@dataclass(frozen=True)
class RobustnessByBlock:
    """The blocked rho over all usable non-vanilla trials, without the flagged ones, and per plugin."""

    overall: BlockedRho
    unflagged: BlockedRho
    per_plugin: dict[str, BlockedRho]


def robustness_blocked(data: dict[str, PluginData], resamples: int = RESAMPLES) -> RobustnessByBlock:
    """``blocked_rho`` overall (with and without flagged trials) and per plugin."""
    points = robustness_points(data)
    every = {s: [(x, y) for x, y, _ in pts] for s, pts in points.items()}
    kept = {s: [(x, y) for x, y, flagged in pts if not flagged] for s, pts in points.items()}
    return RobustnessByBlock(blocked_rho(every, resamples), blocked_rho(kept, resamples),
                             {p: blocked_rho(_plugin_points(d), resamples) for p, d in sorted(data.items())})


def _fmt(b: BlockedRho) -> str:
    if b.rho is None:
        return "not defined (no seed with 4 trials that vary)"
    ci = f" [{b.ci[0]:+.2f}, {b.ci[1]:+.2f}]" if b.ci else ""
    return f"{b.rho:+.2f}{ci} over {b.seeds} seed(s), {b.trials} trials"


def blocked_text(r: RobustnessByBlock) -> str:
    """One paragraph: the blocked rho overall, without flagged trials, and per plugin."""
    per = "; ".join(f"{md_escape(p)} {_fmt(b)}" for p, b in r.per_plugin.items())
    return (f"Blocked by seed (Spearman rho within each seed, averaged over seeds; 95% interval from "
            f"resampling seeds): all usable trials {_fmt(r.overall)}; without the flagged ones "
            f"{_fmt(r.unflagged)}. Per plugin (its identity trial included): {per}.")
