"""theory: function-class bounds and when regularizers and augmentations should help transfer.

The formalisation (SCIENCE.md T1-T5) is this toolkit's reconstruction of [XU22], whose full text was
not available to us: read "as formalised in this toolkit".
"""

from theory.bounds import bound_expression, check_bound, list_bounds
from theory.classify import Classification, classify_augmentation, strength_trend
from theory.constructions import ConstructionResult, not_necessary, not_sufficient
from theory.monotone import MonotoneResult, assert_monotone, check_monotone
from theory.numeric import (
    QuadraticGap,
    SolverUnavailable,
    sampled_bound,
    trust_region_bound,
    trust_region_eig,
    w1_distance,
)

__all__ = [
    "Classification", "ConstructionResult", "MonotoneResult", "QuadraticGap", "SolverUnavailable",
    "assert_monotone", "bound_expression", "check_bound", "check_monotone", "classify_augmentation",
    "list_bounds", "not_necessary", "not_sufficient", "sampled_bound", "strength_trend",
    "trust_region_bound", "trust_region_eig", "w1_distance",
]
