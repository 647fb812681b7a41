"""The input record of a transferability predictor, and the one way to call a predictor.

A predictor is ``function(data: PredictorInput, **options) -> float``, registered as a
``PredictorSpec`` through ``rt_register_predictors``. ``compute_score(name, data)`` checks the
record carries what the predictor needs and that the options exist, calls it, and checks that it
returned one finite number.
"""

from __future__ import annotations

import inspect
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from rt_core.errors import PluginError, RtError
from rt_core.host.lookup import get_predictor, list_predictors
from rt_core.host.registry import PREDICTOR_NEEDS, PredictorSpec

_FIX_ARRAY = "pass a numpy array (a torch tensor: t.detach().cpu().numpy())"


def _as_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a fresh numpy array (a copy: the record never aliases the caller's memory)."""
    try:
        arr = np.array(np.asarray(value))  # asarray first: a torch tensor's __array__ takes no copy argument
    except (TypeError, ValueError, RuntimeError) as err:
        raise RtError(f"predictor input: {name} is not an array ({type(err).__name__}: "
                      f"{(str(err).splitlines() or [''])[0]}); {_FIX_ARRAY}") from None
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise RtError(f"predictor input: {name} has dtype {arr.dtype}, not numbers; {_FIX_ARRAY}")
    return arr


def _matrix(value: Any, name: str, rows: int | None) -> np.ndarray:
    """A read-only float64 (rows, d) copy of ``value``; RtError naming what is wrong otherwise."""
    arr = _as_array(value, name)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise RtError(f"predictor input: {name} must be a 2-D (n, d) array with n, d >= 1, got shape "
                      f"{arr.shape}; pass one row per image")
    if rows is not None and arr.shape[0] != rows:
        raise RtError(f"predictor input: {name} has {arr.shape[0]} rows but features has {rows}; pass one "
                      "row per target image, in the order of features")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise RtError(f"predictor input: {name} has {int((~np.isfinite(arr)).sum())} NaN or inf entries; "
                      "pass finite values (a diverged model has no meaningful features)")
    arr.setflags(write=False)
    return arr


def _labels(value: Any, name: str, rows: int, num_classes: int | None) -> np.ndarray:
    """A read-only int64 (rows,) copy of ``value`` with entries in [0, num_classes)."""
    arr = _as_array(value, name)
    if arr.ndim != 1 or arr.shape[0] != rows:
        raise RtError(f"predictor input: {name} must be a 1-D array of {rows} labels (one per feature row), "
                      f"got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise RtError(f"predictor input: {name} has dtype {arr.dtype}; class labels are integers "
                      f"(labels.astype(int) if they are whole numbers)")
    high = num_classes if num_classes is not None else math.inf
    if arr.min() < 0 or arr.max() >= high:
        bound = f"[0, {num_classes})" if num_classes is not None else "[0, inf)"
        raise RtError(f"predictor input: {name} run from {arr.min()} to {arr.max()}, outside {bound}; "
                      "labels are class indices 0..num_classes-1")
    arr = arr.astype(np.int64)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class PredictorInput:
    """What a predictor sees of one trial; frozen, its arrays read-only copies.

    ``features``: float64 (n, d), the source model's features f(x) of n target images (n >= 2);
    ``labels``: int64 (n,), their target classes in [0, num_classes); ``num_classes``: the target
    task's number of classes (>= 2; a class may have no rows); ``source_logits``: float64 (n, k_src),
    the source head's logits g(f(x)) on the same n target images, or None; ``source_features``:
    float64 (m, d_src) features of m source images, with ``source_labels`` int64 (m,), or None (both
    or neither). Bad shapes, dtypes, non-finite values or labels out of range raise one RtError line.

    >>> import numpy as np
    >>> data = PredictorInput(np.eye(4), [0, 1, 0, 1], num_classes=2)
    >>> data.features.shape, data.labels.dtype.name, data.features.flags.writeable
    ((4, 4), 'int64', False)
    """

    features: Any
    labels: Any
    num_classes: int
    source_logits: Any = None
    source_features: Any = None
    source_labels: Any = None

    def __post_init__(self) -> None:
        k = self.num_classes
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
            raise RtError(f"predictor input: num_classes must be an integer >= 2, got {k!r}")
        features = _matrix(self.features, "features", None)
        n = features.shape[0]
        if n < 2:
            raise RtError("predictor input: features has 1 row; a predictor needs at least 2 target images")
        fields = {"num_classes": int(k), "features": features,
                  "labels": _labels(self.labels, "labels", n, int(k))}
        if self.source_logits is not None:
            fields["source_logits"] = _matrix(self.source_logits, "source_logits", n)
        if (self.source_features is None) != (self.source_labels is None):
            raise RtError("predictor input: source_features and source_labels come together; pass both or neither")
        if self.source_features is not None:
            src = _matrix(self.source_features, "source_features", None)
            fields["source_features"] = src
            fields["source_labels"] = _labels(self.source_labels, "source_labels", src.shape[0], None)
        for key, value in fields.items():
            object.__setattr__(self, key, value)


def _check_options(spec: PredictorSpec, data: PredictorInput, options: dict[str, Any]) -> None:
    """RtError naming the options ``spec.function`` does not take (inspect, before calling it)."""
    try:
        inspect.signature(spec.function).bind(data, **options)
    except TypeError:
        params = list(inspect.signature(spec.function).parameters)[1:]
        raise RtError(f"predictor '{spec.name}' does not take the options {', '.join(sorted(options))}; its "
                      f"options: {', '.join(params) or '(none)'}") from None


def _finite(spec: PredictorSpec, value: Any) -> float:
    """``value`` as a float when it is one finite real number; PluginError naming the plugin otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise PluginError(f"predictor '{spec.name}' of plugin '{spec.plugin}' returned {value!r}; a predictor "
                          "returns one finite float")
    return float(value)


def _check_input(data: Any) -> None:
    if not isinstance(data, PredictorInput):
        raise RtError(f"a predictor takes a rt_core.PredictorInput, got a {type(data).__name__}; build one "
                      "with PredictorInput(features, labels, num_classes)")


def compute_score(name: str, data: PredictorInput, **options: Any) -> float:
    """Score ``data`` with predictor ``name`` (``options`` go to its function): one finite float,
    higher predicting better transfer when its record's ``higher_is_better``. RtError when ``data``
    lacks what the predictor needs or an option does not exist; PluginError when it returns
    anything but one finite number.

    >>> import numpy as np, rt_core
    >>> y = np.arange(40) % 2
    >>> noise = np.random.default_rng(0).normal(size=(40, 2))
    >>> near = rt_core.PredictorInput(np.c_[3.0 * y, np.zeros(40)] + 0.1 * noise, y, 2)
    >>> far = rt_core.PredictorInput(np.random.default_rng(1).normal(size=(40, 2)), y, 2)
    >>> rt_core.compute_score("hscore", near) > rt_core.compute_score("hscore", far)
    True
    """
    spec = get_predictor(name)
    _check_input(data)
    missing = spec.missing(data)
    if missing:
        what = "; ".join(f"{m}: {PREDICTOR_NEEDS[m]}" for m in missing)
        raise RtError(f"predictor '{name}' needs what this input lacks ({what}); pass PredictorInput(..., "
                      f"{missing[0]}=...) or pick a predictor that does not need it")
    _check_options(spec, data, options)
    return _finite(spec, spec.function(data, **options))


def compute_scores(data: PredictorInput, names: list[str] | None = None) -> dict[str, float]:
    """``{name: compute_score(name, data)}`` for each of ``names`` (None: every registered predictor
    whose needs ``data`` meets), with default options, in name order.

    >>> import numpy as np, rt_core
    >>> data = rt_core.PredictorInput(np.random.default_rng(0).normal(size=(30, 3)), np.arange(30) % 3, 3)
    >>> sorted(rt_core.compute_scores(data))  # leep and nce need the source head's logits
    ['gbc', 'hscore', 'logme', 'transrate']
    """
    _check_input(data)
    if names is None:
        names = [spec.name for spec in list_predictors() if not spec.missing(data)]
    return {name: compute_score(name, data) for name in sorted(names)}
