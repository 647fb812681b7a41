"""check_monotone against a table of bounds with known answers: tails beyond any fixed grid, narrow
bumps, constant factors, parametric families whose direction depends on a constant, undecidable input."""

import math

import pytest
import sympy as sp

from theory import assert_monotone, check_monotone

lam, w1, a, c, k = sp.symbols("lambda W1 a c k", positive=True)
F = sp.Function("F")

# (name, expression, kwargs, expected monotone (True/False/None), where a counterexample must lie)
CASES = [
    ("W1 (1/lam + lam/1e6): rises beyond 1000", w1 * (1 / lam + lam / 10**6), {}, False, (1000, math.inf)),
    ("1/lam + lam/1e6 without W1", 1 / lam + lam / 10**6, {}, False, (1000, math.inf)),
    ("tail beyond any grid: 1/lam + lam/1e80 + K0(lam)", 1 / lam + lam / 10**80 + sp.besselk(0, lam), {}, False,
     (1e30, math.inf)),
    ("narrow bump at 300", a * w1 / sp.sqrt(lam) - w1 * sp.exp(-(lam - 300) ** 2), {}, False, (299, 302)),
    ("exp(-lam)(1 + c lam), c in [1e-3, 1e3]", sp.exp(-lam) * (1 + c * lam), {}, False, (0, 1)),
    ("exp(-lam)(1 + c lam), c in [0.01, 1]", sp.exp(-lam) * (1 + c * lam), {"ranges": {c: (0.01, 1)}}, True, None),
    ("exp(-lam)(1 + c lam), c = 2 given", sp.exp(-lam) * (1 + c * lam), {"subs": {c: 2}}, False, (0, 0.5)),
    ("a/sqrt(lam) + K0(lam): decreasing, numeric", a / sp.sqrt(lam) + sp.besselk(0, lam), {}, True, None),
    ("k W1 / lam: symbolic", k * w1 / lam, {}, True, None),
    ("W1 sqrt(k / (1 + lam)) (1 + exp(-lam) sin(lam) / 10) on (0, 20)",
     w1 * sp.sqrt(k / (1 + lam)) * (1 + sp.exp(-lam) * sp.sin(lam) / 10), {"domain": (0, 20)}, True, None),
    ("undefined function F(lam)", F(lam), {}, None, None),
]


@pytest.mark.parametrize("name, expr, kwargs, expected, where", CASES, ids=[c[0] for c in CASES])
def test_known_answers(name, expr, kwargs, expected, where):
    result = check_monotone(expr, lam, "decreasing", **kwargs)
    assert result.monotone is expected, (name, result)
    if where is not None:
        x0, slope = result.counterexample
        assert where[0] < x0 < where[1] and slope > 0, result


def test_what_was_checked_is_returned():
    result = check_monotone(sp.exp(-lam) * (1 + c * lam), lam, "decreasing")
    assert result.method == "numeric" and result.domain == (0, math.inf)
    assert result.constants["c"] > 1  # the family rises near 0 exactly when c > 1
    assert result.details["grid"][0] <= 1e-29 and result.details["grid"][1] >= 1e29
    assert result.details["relative_spacing"] < 2e-3


def test_symbolic_counterexample_holds_for_every_constant():
    result = check_monotone(w1 * (1 / lam + lam / 10**6), lam, "decreasing")
    assert result.method == "symbolic" and result.constants == {"W1": "any positive value"}


def test_assert_monotone_never_passes_undecided():
    with pytest.raises(AssertionError, match="undecided"):
        assert_monotone(F(lam), lam)
    with pytest.raises(AssertionError, match="not decreasing"):
        assert_monotone(a * w1 / sp.sqrt(lam) - w1 * sp.exp(-(lam - 300) ** 2), lam)


def test_undeclared_symbols_are_an_error():
    with pytest.raises(ValueError, match="not declared positive"):
        check_monotone(sp.Symbol("b") / lam, lam)
