"""The registry of bounds: every regularizer's bound on tau, registered through rt_register_bounds
(built-ins in their own plugin modules; third parties the same way)."""

from __future__ import annotations

from rt_core import BoundSpec, registries
from theory.monotone import MonotoneResult, check_monotone


def list_bounds() -> list[BoundSpec]:
    """Every registered BoundSpec, by regularizer name."""
    return list(registries().bounds)


def bound_expression(regularizer: str):
    """(expr, strength_symbol, constants) of ``regularizer``'s bound (PluginError when it has none)."""
    return registries().bounds.get(regularizer).expression()


def check_bound(regularizer: str, **kwargs) -> MonotoneResult:
    """Is the registered bound monotone in the strength, in its declared direction?"""
    spec = registries().bounds.get(regularizer)
    expr, symbol, _ = spec.expression()
    return check_monotone(expr, symbol, spec.direction, **kwargs)
