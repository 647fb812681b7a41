"""Every regularizer's bound on tau: the ``bound`` field of its registry record (built-ins in their
own plugin modules; third parties the same way). All theory code reaches bounds through here."""

from __future__ import annotations

from typing import Any

from rt_core import Bound, PluginError, get_regularizer, list_regularizers
from theory.monotone import MonotoneResult, check_monotone


def list_bounds() -> dict[str, Bound]:
    """The bound of every regularizer that registers one, by regularizer name."""
    return {spec.name: spec.bound for spec in list_regularizers() if spec.bound is not None}


def get_bound(regularizer: str) -> Bound:
    """The Bound of ``regularizer`` (PluginError when it is unknown or registers none)."""
    bound = get_regularizer(regularizer).bound
    if bound is None:
        raise PluginError(f"regularizer '{regularizer}' registers no bound; known bounds: "
                          f"{', '.join(list_bounds()) or '(none)'}")
    return bound


def bound_expression(regularizer: str) -> tuple[Any, Any, dict]:
    """(expr, strength_symbol, constants) of ``regularizer``'s bound (PluginError when it has none)."""
    return get_bound(regularizer).expression()


def check_bound(regularizer: str, **kwargs) -> MonotoneResult:
    """Is the registered bound monotone in the strength, in its declared direction?"""
    bound = get_bound(regularizer)
    expr, symbol, _ = bound.expression()
    return check_monotone(expr, symbol, bound.direction, **kwargs)
