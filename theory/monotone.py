"""Monotonicity checks of bounds in one variable: symbolic where sympy can decide, else numeric.

``check_monotone(expr, x, "decreasing", domain=(a, b))`` differentiates expr in x and tries to
decide the derivative's sign on the domain with sympy (assumptions on the symbols, then
``solveset`` of the violating inequality for univariate derivatives). When sympy cannot decide, it
substitutes values for the other symbols (``subs``, default 1 each), evaluates expr on a dense
grid with ``lambdify`` and checks successive differences. Non-strict: "decreasing" means
non-increasing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

DIRECTIONS = ("decreasing", "increasing")


@dataclass
class MonotoneResult:
    """Whether ``expr`` is monotone in ``symbol`` on ``domain``, how that was decided, and a
    counterexample (x, derivative there) when it is not."""

    monotone: bool
    method: str
    direction: str
    derivative: Any
    domain: tuple
    counterexample: tuple | None = None
    details: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.monotone


def _interval(domain: tuple) -> sp.Interval:
    lo, hi = (sp.oo if v == math.inf else -sp.oo if v == -math.inf else sp.nsimplify(v) for v in domain)
    return sp.Interval(lo, hi)


def _sign_by_assumptions(d, direction: str) -> bool | None:
    return d.is_nonpositive if direction == "decreasing" else d.is_nonnegative


def _symbolic(d, symbol, direction: str, domain: tuple):
    """(decided, monotone, counterexample) from sympy alone."""
    known = _sign_by_assumptions(sp.simplify(d), direction)
    if known is not None:
        return True, bool(known), None if known else _any_point(d, symbol, domain)
    if d.free_symbols - {symbol}:
        return False, False, None
    bad = d > 0 if direction == "decreasing" else d < 0
    try:
        violating = sp.solveset(bad, symbol, _interval(domain))
    except (NotImplementedError, TypeError, ValueError):
        return False, False, None
    if violating is sp.S.EmptySet:
        return True, True, None
    if isinstance(violating, sp.ConditionSet):
        return False, False, None
    point = _point_in(violating)
    return (True, False, (point, float(d.subs(symbol, point)))) if point is not None else (False, False, None)


def _any_point(d, symbol, domain: tuple) -> tuple[float, float]:
    """A point of the domain (1 if inside, else its midpoint or lower end + 1) and the derivative
    there, with every other symbol set to 1: where a derivative of known wrong sign shows it."""
    lo, hi = domain
    x0 = 1.0 if lo <= 1.0 <= hi else (lo + hi) / 2 if hi != math.inf else lo + 1.0
    others = {s: 1 for s in d.free_symbols - {symbol}}
    return x0, float(d.subs(others).subs(symbol, x0))


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


def _grid(domain: tuple, points: int) -> np.ndarray:
    lo, hi = domain
    lo = 1e-6 if lo == 0 and hi == math.inf else lo
    if hi == math.inf:
        return np.geomspace(max(lo, 1e-6), max(lo, 1e-6) * 1e8, points)
    if lo > 0 and hi / lo > 100:
        return np.geomspace(lo, hi, points)
    return np.linspace(lo, hi, points)


def _numeric(expr, d, symbol, direction: str, domain: tuple, subs: dict, points: int, rtol: float):
    f = sp.lambdify(symbol, expr.subs(subs), ["scipy", "numpy"])
    xs = _grid(domain, points)
    ys = np.broadcast_to(np.asarray(f(xs), dtype=float), xs.shape)
    steps = np.diff(ys) * (1 if direction == "decreasing" else -1)
    tol = rtol * np.maximum(np.abs(ys[:-1]), 1e-300)
    bad = np.flatnonzero(steps > tol)
    if len(bad) == 0:
        return True, None, {"grid_points": points, "grid": (float(xs[0]), float(xs[-1]))}
    x0, slope = _violating_point(d.subs(subs), symbol, xs[bad[0]], xs[bad[0] + 1], direction)
    return False, (x0, slope), {"grid_points": points, "grid": (float(xs[0]), float(xs[-1]))}


def _violating_point(d, symbol, a: float, b: float, direction: str) -> tuple[float, float]:
    """A point of [a, b] where the derivative has the violating sign (the step rose there)."""
    sign = 1 if direction == "decreasing" else -1
    grad = sp.lambdify(symbol, d, ["scipy", "numpy"])
    xs = np.linspace(a, b, 65)
    vals = np.broadcast_to(np.asarray(grad(xs), dtype=float), xs.shape) * sign
    i = int(np.argmax(vals))
    return float(xs[i]), float(vals[i] * sign)


def check_monotone(expr, symbol, direction: str = "decreasing", domain: tuple = (0, math.inf),
                   subs: dict | None = None, points: int = 2001, rtol: float = 1e-12) -> MonotoneResult:
    """Decide whether ``expr`` is monotone (non-strictly) in ``symbol`` on ``domain``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'decreasing' or 'increasing', got '{direction}'")
    d = sp.diff(expr, symbol)
    decided, monotone, counter = _symbolic(d, symbol, direction, domain)
    if decided:
        return MonotoneResult(monotone, "symbolic", direction, d, domain, counter)
    values = {s: 1.0 for s in expr.free_symbols - {symbol}}
    values.update(subs or {})
    ok, counter, details = _numeric(expr, d, symbol, direction, domain, values, points, rtol)
    details["subs"] = {str(k): v for k, v in values.items()}
    return MonotoneResult(ok, "numeric", direction, d, domain, counter, details)


def assert_monotone(expr, symbol, direction: str = "decreasing", **kwargs: Any) -> MonotoneResult:
    """pytest helper: assert that ``expr`` is monotone in ``symbol``; the message gives the
    counterexample and the method that decided."""
    result = check_monotone(expr, symbol, direction, **kwargs)
    assert result.monotone, (
        f"{expr} is not {direction} in {symbol} on {result.domain} (decided {result.method}): at "
        f"{symbol} = {result.counterexample[0]:.6g} the derivative is {result.counterexample[1]:.6g}"
    )
    return result
