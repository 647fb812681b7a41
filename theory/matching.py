"""Matching the theory's predictions against measured transfer runs.

For each plugin in a results table:
- prediction: a regularizer with a registered bound that decreases in the strength, or an
  augmentation classified as ``regularization`` at its swept strengths -> "rises" (relative DT
  should rise with strength); an augmentation classified ``not_regularization`` -> "none" (no
  systematic effect); otherwise "unknown" (no prediction).
- measured trend of rel_dt over strength x seeds, the vanilla rows standing at the identity
  strength: Spearman rho with its p-value, and the least-squares slope of rel_dt on the strength
  rank with a 95% bootstrap interval (resampling trials).
- verdict: too few points (fewer than 2 distinct strengths or 6 trials) -> "inconclusive"; for
  "rises": rho > 0 with p < alpha -> "agrees", rho < 0 with p < alpha -> "disagrees", else
  "inconclusive" (noise); for "none": p >= alpha -> "agrees" (no detectable trend), else "disagrees".
Trials whose source accuracy is within 5 points of chance learned nothing; their rel_dt only
measures the collapse, so they are excluded from trends and counted in ``excluded``.
The same statistics are reported for rob_src (does robustness move with strength?), and the
Spearman correlation of rob_src with rel_dt over every usable trial.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from rt_core import identity_strength, registries

ALPHA = 0.05
MIN_TRIALS, MIN_STRENGTHS = 6, 2


@dataclass
class Trend:
    n: int
    strengths: int
    spearman_rho: float | None
    p_value: float | None
    slope: float | None
    slope_ci: tuple[float, float] | None


@dataclass
class PluginVerdict:
    plugin: str
    kind: str
    prediction: str
    theory: str
    rel_dt: Trend
    rob_src: Trend
    verdict: str
    reason: str
    excluded: int

    def to_dict(self) -> dict:
        return asdict(self)


def min_acc_for(num_classes: int | None) -> float:
    """The source accuracy a trial must beat to count as learned: chance + 5 points (none: 0)."""
    return 100.0 / num_classes + 5.0 if num_classes else 0.0


def usable(row: dict, min_acc_src: float) -> bool:
    """A trial whose source model learned something: acc_src > ``min_acc_src``."""
    return row.get("acc_src") is not None and row["acc_src"] > min_acc_src


def trend(strengths: list[float], values: list[float], seed: int = 0, boot: int = 2000) -> Trend:
    """Spearman rho, p-value, and slope on strength ranks with a 95% bootstrap interval."""
    x, y = np.asarray(strengths, float), np.asarray(values, float)
    k = len(set(x.tolist()))
    if len(x) < MIN_TRIALS or k < MIN_STRENGTHS:
        return Trend(len(x), k, None, None, None, None)
    rho, p = stats.spearmanr(x, y)
    ranks = stats.rankdata(x)
    slope = float(np.polyfit(ranks, y, 1)[0])
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(boot):
        idx = rng.integers(0, len(x), len(x))
        if len(set(ranks[idx].tolist())) > 1:
            draws.append(np.polyfit(ranks[idx], y[idx], 1)[0])
    lo, hi = np.percentile(draws, [2.5, 97.5])
    rho = 0.0 if math.isnan(rho) else float(rho)
    p = 1.0 if math.isnan(p) else float(p)
    return Trend(len(x), k, rho, p, slope, (float(lo), float(hi)))


def judge(prediction: str, t: Trend) -> tuple[str, str]:
    """The verdict and its reason for one prediction and one measured trend."""
    if t.spearman_rho is None:
        return "inconclusive", f"too few points ({t.n} trials over {t.strengths} strengths; need "\
                               f"{MIN_TRIALS} over {MIN_STRENGTHS})"
    stat = f"rho = {t.spearman_rho:+.2f}, p = {t.p_value:.3g}, n = {t.n}"
    significant = t.p_value < ALPHA
    if prediction == "rises":
        if significant:
            return ("agrees", f"rel_dt rises with strength ({stat})") if t.spearman_rho > 0 else \
                   ("disagrees", f"rel_dt falls with strength ({stat})")
        return "inconclusive", f"no significant trend: too much noise for this many trials ({stat})"
    if prediction == "none":
        return ("disagrees", f"significant trend where none was predicted ({stat})") if significant else \
               ("agrees", f"no significant trend, as predicted ({stat})")
    return "inconclusive", f"the theory makes no prediction here; measured {stat}"


def _theory(plugin: str, strengths: list[float]) -> tuple[str, str, str]:
    """(kind, prediction, theory text) for a plugin, from its bound or its classification."""
    regs = registries()
    if plugin in regs.regularizers:
        spec = regs.regularizers.get(plugin).bound
        if spec is not None:
            from theory.bounds import check_bound

            expr, symbol, _ = spec.expression()
            res = check_bound(plugin)
            if res.monotone and spec.direction == "decreasing":
                return "regularizer", "rises", f"bound tau <= {expr} decreases in {symbol} ({res.method}); " \
                                               f"constrains {spec.constrains}"
        return "regularizer", "unknown", "no monotone bound registered"
    if plugin in regs.augmentations:
        spec = regs.augmentations.get(plugin)
        swept = tuple(sorted(s for s in set(strengths) if s != spec.strength.identity))
        return ("augmentation", *_augmentation_theory(plugin, swept))
    return "unknown", "unknown", "not a registered plugin here: no theory available"


@functools.lru_cache(maxsize=256)
def _augmentation_theory(plugin: str, swept: tuple[float, ...]) -> tuple[str, str]:
    """Prediction and text from classifying ``plugin`` at each swept strength (deterministic, cached)."""
    from theory.classify import classify_augmentation

    results = [classify_augmentation(plugin, s, samples=3) for s in swept]
    verdicts = {r.verdict for r in results}
    parts = ", ".join(f"{r.strength:g}: detail gain {r.numbers['detail_gain']:.2f}" for r in results)
    if verdicts == {"regularization"}:
        return "rises", f"regularization at every swept strength ({parts})"
    if verdicts == {"not_regularization"}:
        return "none", f"isometry up to border/interpolation at every swept strength ({parts})"
    return "unknown", f"mixed or undetermined verdicts {sorted(verdicts)} ({parts})"


def match(rows: list[dict], min_acc_src: float = 15.0) -> list[PluginVerdict]:
    """One PluginVerdict per plugin in ``rows`` (dicts with plugin, strength, seed, acc_src, acc_tgt,
    rel_dt, optional rob_src). Vanilla rows join every plugin at its registered identity strength."""
    vanilla = [r for r in rows if r["plugin"] == "vanilla" and usable(r, min_acc_src)]
    out = []
    for plugin in sorted({r["plugin"] for r in rows} - {"vanilla"}):
        mine = [r for r in rows if r["plugin"] == plugin]
        good = [r for r in mine if usable(r, min_acc_src) and r.get("rel_dt") is not None]
        ident = identity_strength(plugin)
        points = [(ident, r) for r in vanilla] + [(r["strength"], r) for r in good]
        kind, prediction, theory_text = _theory(plugin, [s for s, _ in points])
        rel = trend([s for s, _ in points], [r["rel_dt"] for _, r in points])
        robust = [(s, r["rob_src"]) for s, r in points if r.get("rob_src") is not None]
        rob = trend([s for s, _ in robust], [v for _, v in robust])
        verdict, reason = judge(prediction, rel)
        out.append(PluginVerdict(plugin, kind, prediction, theory_text, rel, rob, verdict, reason,
                                 len(mine) - len(good)))
    return out


def robustness_vs_transfer(rows: list[dict], min_acc_src: float = 15.0) -> Trend:
    """Spearman correlation of rob_src with rel_dt over every usable trial (as a Trend)."""
    pts = [(r["rob_src"], r["rel_dt"]) for r in rows
           if usable(r, min_acc_src) and r.get("rob_src") is not None and r.get("rel_dt") is not None]
    return trend([a for a, _ in pts], [b for _, b in pts])
