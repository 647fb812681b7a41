"""Is a bound monotone in one variable on the whole domain it states? Symbolic where sympy can
decide, else numeric over the whole domain for sampled constants, else "undecided".

``check_monotone(expr, x, "decreasing", domain=(0, oo))`` ("decreasing" means non-increasing):
1. Reduce: values in ``subs`` are substituted; additive terms and positive (negative: the direction
   flips) multiplicative factors free of x are dropped; every other symbol must be positive.
2. Symbolic: d = d expr / dx is factored; factors whose sign sympy knows from the assumptions
   (other symbols kept symbolic, positive) are set aside; when none remain the sign decides; when
   the rest depends on x only, ``solveset`` finds where d has the wrong sign on the domain (empty:
   monotone; else a counterexample, valid for every value of the constants).
3. Numeric, when step 2 cannot decide: the constants are sampled over ``ranges`` (default
   [1e-3, 1e3] each; Sobol points in log scale, plus the corners and the geometric centre); for each
   sample, expr is evaluated on a grid covering the whole domain through a change of variables
   (x = e^u over [1e-30, 1e30] for (0, oo); log-dense towards both ends of a finite interval),
   successive values must not move the wrong way (relative tolerance ``rtol``; steps below 1e-290,
   float underflow, are ignored), and the ends are
   checked against the limits at the domain's ends (sympy ``limit``, constants symbolic), so a tail
   beyond the grid that ends above (below) the last grid value is caught; a counterexample in such a
   tail is searched on a log grid up to 1e300. Resolution: the grid's relative spacing is reported.
4. Otherwise (an expression that cannot be evaluated, NaN, a limit sympy cannot take): "undecided".
The result states the domain, constants (values or ranges), method and counterexample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from scipy.stats import qmc

DIRECTIONS = ("decreasing", "increasing")
CONSTANT_RANGE = (1e-3, 1e3)
TINY = 1e-290  # below this, float64 values are subnormal-ish noise (exp underflow), not a trend
EVAL_ERRORS = (NameError, TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError)


@dataclass
class MonotoneResult:
    """Whether ``expr`` is monotone in ``symbol`` on ``domain`` (None: undecided), how that was
    decided, and a counterexample (x, derivative there) with the constants used."""

    monotone: bool | None
    method: str
    direction: str
    derivative: Any
    domain: tuple
    counterexample: tuple | None = None
    constants: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    @property
    def decided(self) -> bool:
        return self.monotone is not None

    @property
    def verdict(self) -> str:
        return "undecided" if self.monotone is None else "monotone" if self.monotone else "not monotone"

    def __bool__(self) -> bool:
        return self.monotone is True


def _reduce(expr, symbol, direction: str) -> tuple[Any, str]:
    """Drop additive constants and constant factors of known sign (flipping the direction if negative)."""
    _, expr = expr.as_independent(symbol, as_Add=True)
    factor, rest = expr.as_independent(symbol, as_Add=False)
    if factor.is_positive:
        return rest, direction
    if factor.is_negative:
        return -rest, DIRECTIONS[1 - DIRECTIONS.index(direction)]
    return expr, direction


def _interval(domain: tuple) -> sp.Interval:
    lo, hi = (sp.oo if v == math.inf else -sp.oo if v == -math.inf else sp.nsimplify(v) for v in domain)
    return sp.Interval.open(lo, hi)


def _sign(f) -> int | None:
    """+1 / -1 when sympy knows f >= 0 / f <= 0 from the assumptions, else None."""
    return 1 if f.is_nonnegative else -1 if f.is_nonpositive else None


def _split_factors(d) -> tuple[int, list]:
    """(product of known signs, factors of unknown sign) of d."""
    sign, unknown = 1, []
    for f in sp.Mul.make_args(sp.factor_terms(sp.simplify(d))):
        s = _sign(f)
        if s is None:
            unknown.append(f)
        else:
            sign *= s
    return sign, unknown


def _wrong_way(direction: str) -> int:
    """The sign of the derivative that violates ``direction``."""
    return 1 if direction == "decreasing" else -1


def _point_in(s: sp.Set) -> float | None:
    if isinstance(s, sp.Union):
        s = s.args[0]
    if isinstance(s, sp.Interval):
        lo, hi = s.inf, s.sup
        if lo.is_finite and hi.is_finite:
            return float((lo + hi) / 2)
        return float(lo + 1) if lo.is_finite else float(hi - 1) if hi.is_finite else 0.0
    if isinstance(s, sp.FiniteSet):
        return float(next(iter(s)))
    return None


def _symbolic(d, symbol, direction: str, domain: tuple) -> tuple[bool | None, tuple | None]:
    """(monotone or None when sympy cannot decide, counterexample valid for every constant)."""
    if d == 0:
        return True, None
    sign, unknown = _split_factors(d)
    wrong = _wrong_way(direction)
    if not unknown:
        if sign != wrong:
            return True, None
        return _known_sign_counterexample(d, symbol, domain, wrong)
    rest = sp.Mul(*unknown)
    if rest.free_symbols - {symbol}:
        return None, None
    try:
        bad = sp.solveset(sign * wrong * rest > 0, symbol, _interval(domain))
    except (NotImplementedError, TypeError, ValueError, RecursionError):
        return None, None
    if bad is sp.S.EmptySet:
        return True, None
    point = None if isinstance(bad, sp.ConditionSet) else _point_in(bad)
    if point is None:
        return None, None
    return False, (point, float(d.subs({s: 1 for s in d.free_symbols - {symbol}}).subs(symbol, point)))


def _known_sign_counterexample(d, symbol, domain: tuple, wrong: int) -> tuple[bool | None, tuple | None]:
    """d has the wrong sign wherever it is not 0: find a point (constants 1) where it is not 0."""
    lo, hi = domain
    f = sp.lambdify(symbol, d.subs({s: 1 for s in d.free_symbols - {symbol}}), ["scipy", "numpy"])
    xs = _grid(domain, 2001)
    with np.errstate(all="ignore"):
        vals = np.broadcast_to(np.asarray(f(xs), dtype=float), xs.shape) * wrong
    hits = np.flatnonzero(vals > 0)
    if len(hits) == 0:
        return None, None
    return False, (float(xs[hits[0]]), float(vals[hits[0]] * wrong))


def _grid(domain: tuple, points: int) -> np.ndarray:
    """The whole domain through a change of variables: log-spaced over [lo + 1e-30 s, lo + 1e30 s]
    (s = max(1, |lo|)) for a half-line, log-dense towards both ends of a finite interval."""
    lo, hi = (float(v) for v in domain)
    if hi == math.inf:
        s = max(1.0, abs(lo))
        return lo + np.geomspace(1e-30 * s, 1e30 * s, points)
    half = np.geomspace(1e-15, 0.5, points // 2) * (hi - lo)
    return np.unique(np.concatenate([lo + half, hi - half]))


def constant_samples(symbols: list, ranges: dict, samples: int, seed: int = 0) -> np.ndarray:
    """(m, k) positive values: the geometric centre, the 2^k corners (k <= 4) and ``samples`` scrambled
    Sobol points, all in log scale over each symbol's range."""
    k = len(symbols)
    if k == 0:
        return np.zeros((1, 0))
    logs = np.log([ranges.get(s, CONSTANT_RANGE) for s in symbols])  # (k, 2)
    unit = [np.full((1, k), 0.5)]
    if k <= 4:
        unit.append(np.array(np.meshgrid(*[[0.0, 1.0]] * k)).reshape(k, -1).T)
    unit.append(qmc.Sobol(k, scramble=True, seed=seed).random(samples))
    u = np.concatenate(unit)
    return np.exp(logs[:, 0] + u * (logs[:, 1] - logs[:, 0]))


def _limits(expr, symbol, others: list, domain: tuple) -> list | None:
    """Lambdified limits of expr at the domain's two ends (constants symbolic), or None."""
    out = []
    for end, side in ((domain[0], "+"), (domain[1], "-")):
        point = sp.oo if end == math.inf else sp.nsimplify(end)
        try:
            lim = sp.limit(expr, symbol, point, side if point != sp.oo else "-")
        except (NotImplementedError, ValueError, TypeError):
            return None
        if lim.has(sp.Limit, sp.AccumBounds, sp.nan) or lim.has(symbol):
            return None
        try:
            out.append(sp.lambdify(others, lim, ["scipy", "numpy"]))
        except NotImplementedError:
            return None
    return out


def _evaluate(fn, xs: np.ndarray, values: np.ndarray) -> np.ndarray | None:
    """fn(x, *constants) on the grid for every sample: (m, N), or None when it cannot be evaluated."""
    try:
        with np.errstate(all="ignore"):
            y = fn(xs[None, :], *[values[:, j:j + 1] for j in range(values.shape[1])])
    except EVAL_ERRORS:
        return None
    y = np.broadcast_to(np.asarray(y, dtype=float), (len(values), len(xs)))
    return None if np.isnan(y).any() else y


def _wrong_steps(y: np.ndarray, wrong: int, rtol: float) -> np.ndarray:
    """Boolean (m, N-1): successive values moving the wrong way by more than rtol (relative)."""
    with np.errstate(all="ignore"):
        step = np.where(y[:, 1:] == y[:, :-1], 0.0, np.diff(y, axis=1)) * wrong
        scale = np.maximum(np.abs(y[:, 1:]), np.abs(y[:, :-1]))
    return step > np.where(np.isfinite(scale), np.maximum(rtol * scale, TINY), 0.0)


def _end_violations(lims: list, values: np.ndarray, y: np.ndarray, wrong: int, rtol: float) -> tuple:
    """Boolean (m,) arrays: the limit at the start (end) lies the wrong way of the first (last) grid value."""
    with np.errstate(all="ignore"):
        lo = np.broadcast_to(np.asarray(lims[0](*values.T), dtype=float), (len(values),))
        hi = np.broadcast_to(np.asarray(lims[1](*values.T), dtype=float), (len(values),))
        first = wrong * (y[:, 0] - lo) > np.maximum(rtol * np.abs(y[:, 0]), TINY)
        last = wrong * (hi - y[:, -1]) > np.maximum(rtol * np.abs(y[:, -1]), TINY)
    return first, last


def _slope_at(dfn, x: float, consts: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        return float(np.asarray(dfn(np.asarray([x]), *consts)).ravel()[0])


def _tail_point(dfn, domain: tuple, start: float, consts: np.ndarray, wrong: int) -> tuple[float, float]:
    """A point beyond the grid (up to 1e300) where the derivative has the wrong sign, else the grid end."""
    xs = np.geomspace(start, 1e300, 4000) if domain[1] == math.inf else np.array([start])
    with np.errstate(all="ignore"):
        d = np.broadcast_to(np.asarray(dfn(xs, *consts), dtype=float), xs.shape) * wrong
    hits = np.flatnonzero(d > 0)
    x = float(xs[hits[0]]) if len(hits) else start
    return x, _slope_at(dfn, x, consts)


def _numeric(expr, d, symbol, direction: str, domain: tuple, ranges: dict, samples: int, points: int,
             rtol: float) -> tuple[bool | None, tuple | None, dict, dict]:
    """(monotone or None, counterexample, constants at it, details) over the whole domain."""
    others = sorted(expr.free_symbols - {symbol}, key=str)
    values = constant_samples(others, ranges, samples)
    xs = _grid(domain, points)
    try:
        fn, dfn = (sp.lambdify([symbol, *others], e, ["scipy", "numpy"]) for e in (expr, d))
    except (NotImplementedError, *EVAL_ERRORS):
        return None, None, {}, {"why": "sympy cannot turn the bound into a numeric function"}
    details = {"grid": (float(xs[0]), float(xs[-1])), "grid_points": len(xs), "constant_samples": len(values),
               "relative_spacing": float(np.max(np.diff(np.log(xs[xs > 0])))) if (xs > 0).all() else None}
    y, lims = _evaluate(fn, xs, values), _limits(expr, symbol, others, domain)
    if y is None or lims is None:
        details["why"] = "cannot evaluate the bound on the grid" if y is None else "sympy cannot take a limit at an end"
        return None, None, {}, details
    wrong = _wrong_way(direction)
    steps = _wrong_steps(y, wrong, rtol)
    first, last = _end_violations(lims, values, y, wrong, rtol)
    bad = np.flatnonzero(steps.any(axis=1) | first | last)
    if len(bad) == 0:
        return True, None, {}, details
    i = int(bad[0])
    consts = values[i]
    if steps[i].any():
        j = int(np.argmax(steps[i]))
        counter = _violating_point(dfn, xs[j], xs[j + 1], consts, wrong)
    elif first[i]:
        counter, details["end"] = (float(xs[0]), _slope_at(dfn, xs[0], consts)), "the limit at the start"
    else:
        counter, details["end"] = _tail_point(dfn, domain, float(xs[-1]), consts, wrong), "the limit at the end"
    return False, counter, {str(s): float(v) for s, v in zip(others, consts, strict=True)}, details


def _violating_point(dfn, a: float, b: float, consts: np.ndarray, wrong: int) -> tuple[float, float]:
    """A point of [a, b] where the derivative has the violating sign (the step went the wrong way there)."""
    xs = np.linspace(a, b, 65)
    with np.errstate(all="ignore"):
        vals = np.broadcast_to(np.asarray(dfn(xs, *consts), dtype=float), xs.shape) * wrong
    k = int(np.nanargmax(vals))
    return float(xs[k]), float(vals[k] * wrong)


def check_monotone(expr: sp.Expr, symbol: sp.Symbol, direction: str = "decreasing", domain: tuple = (0, math.inf),
                   subs: dict | None = None, ranges: dict | None = None, samples: int = 32,
                   points: int = 100_001, rtol: float = 1e-9) -> MonotoneResult:
    """Decide whether ``expr`` is monotone (non-strictly) in ``symbol`` on ``domain`` (module docstring)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'decreasing' or 'increasing', got '{direction}'")
    reduced = expr.subs(subs or {})
    loose = [s for s in reduced.free_symbols - {symbol} if not s.is_positive]
    if loose:
        raise ValueError(f"symbols {sorted(map(str, loose))} are not declared positive: declare them "
                         "positive=True or give their values in subs")
    g, way = _reduce(reduced, symbol, direction)
    d = sp.diff(g, symbol)
    fixed = {str(k): float(v) for k, v in (subs or {}).items()}
    monotone, counter = _symbolic(d, symbol, way, domain)
    if monotone is not None:
        return MonotoneResult(monotone, "symbolic", direction, sp.diff(expr, symbol), domain, counter,
                              {**fixed, **{str(s): "any positive value" for s in reduced.free_symbols - {symbol}}})
    ranges = {s: tuple(ranges[s]) if s in (ranges or {}) else CONSTANT_RANGE for s in g.free_symbols - {symbol}}
    monotone, counter, at, details = _numeric(g, d, symbol, way, domain, ranges, samples, points, rtol)
    constants = {**fixed, **({str(s): f"sampled in [{lo:g}, {hi:g}]" for s, (lo, hi) in ranges.items()}), **at}
    method = "numeric" if monotone is not None else "undecided"
    return MonotoneResult(monotone, method, direction, sp.diff(expr, symbol), domain, counter, constants, details)


def assert_monotone(expr: sp.Expr, symbol: sp.Symbol, direction: str = "decreasing", **kwargs: Any) -> MonotoneResult:
    """pytest helper: assert that ``expr`` is monotone in ``symbol``; fails on "not monotone" (with the
    counterexample) and on "undecided" (with why): it never passes by default."""
    r = check_monotone(expr, symbol, direction, **kwargs)
    assert r.monotone is not None, (
        f"undecided whether {expr} is {direction} in {symbol} on {r.domain}: {r.details.get('why', '')}; "
        "simplify the bound, give a smaller domain or the constants' values (subs/ranges)")
    assert r.monotone, (
        f"{expr} is not {direction} in {symbol} on {r.domain} (decided {r.method}): at {symbol} = "
        f"{r.counterexample[0]:.6g} the derivative is {r.counterexample[1]:.6g} (constants {r.constants})")
    return r
