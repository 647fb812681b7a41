"""A plugin author's unit-level checks that their bound is monotone in the strength.

Run with: pytest examples/monotone-check
Replace `my_bound` with the expression your regularizer registers in its record
(`RegularizerSpec(..., bound=Bound(...))`).
"""

import math

import pytest
import sympy as sp

from theory import assert_monotone, check_monotone

lam, rho, b, w1, l0 = sp.symbols("lambda rho B W1 L0", positive=True)


def my_bound():
    """Example: a feature-norm penalty lambda * E||f||^2 bounds E||f||^2 <= L0 / lambda."""
    return rho * b * w1 * sp.sqrt(l0 / (1 + lam))


def test_bound_decreases_with_strength():
    result = assert_monotone(my_bound(), lam, "decreasing")
    assert result.method == "symbolic"  # sympy proved it; no grid was needed


def test_bound_on_a_bounded_range_numerically():
    # sympy cannot sign this derivative; the grid check decides, with the constants you give
    expr = my_bound() * (1 + sp.exp(-lam) * sp.sin(lam) / 10)
    result = assert_monotone(expr, lam, "decreasing", domain=(0, 20), subs={rho: 1, b: 1, w1: 0.3, l0: math.log(10)})
    assert result.method == "numeric"


def test_a_non_monotone_bound_is_caught():
    wrong = rho * (lam - 1) ** 2
    result = check_monotone(wrong, lam, "decreasing")
    assert not result.monotone and result.counterexample[0] > 1
    with pytest.raises(AssertionError, match="is not decreasing in lambda"):
        assert_monotone(wrong, lam, "decreasing")
