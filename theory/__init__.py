"""theory: function-class bounds and when regularizers and augmentations should help transfer.

The formalisation (T1-T5, docs/science.md#3-the-theory-as-formalised-in-this-toolkit) is this toolkit's
reconstruction of [XU22], whose full text was not available to us: read "as formalised in this toolkit".
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {  # public name -> module; imported on first use, so `import theory` (and `rt --help`) stays cheap:
    # sympy, cvxpy, scipy and torch are imported only by the functions that need them
    "theory.bounds": ("bound_expression", "check_bound", "list_bounds"),
    "theory.classify": ("Classification", "classify_augmentation", "strength_trend"),
    "theory.constructions": ("ConstructionResult", "not_necessary", "not_sufficient"),
    "theory.monotone": ("MonotoneResult", "assert_monotone", "check_monotone"),
    "theory.numeric": ("QuadraticGap", "SolverUnavailable", "sampled_bound", "trust_region_bound",
                       "trust_region_eig", "w1_distance"),
}
_LAZY = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'theory' has no attribute '{name}'")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
