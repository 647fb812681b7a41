"""The theory's side of the matching: what it predicts for each plugin, from the config alone.

- a regularizer whose registered bound on tau decreases monotonically in the strength -> "rises"
  (relative DT should rise with strength), the bound attached for display;
- an augmentation classified (T4, ``classify_augmentation(plugin, s, samples=3, input_norm=...)``) at
  every swept strength, as the config's model sees it (``model_input_norm``: T4 analyses n . a, n the
  model's fixed input transform): all ``regularization`` -> "rises"; all ``not_regularization`` or
  ``invariant`` (n . a = n: invariance of the model) -> "none" (no systematic effect); anything else
  -> "unknown", the text listing each strength's verdict;
- anything else -> "unknown" with the reason.

Predictions depend only on the plugin, the swept strengths and the model of the config, never on
how the trials turned out; every prediction carries a non-empty text. The measured side is
``theory.report.analysis``.
"""

from __future__ import annotations

import functools

import sympy

from rt_core import identity_strength, registries
from rt_core.reporting import min_acc_src as min_acc_for
from theory.bounds import bound_expression, check_bound, list_bounds
from theory.report.verdicts import CheckedBound, Prediction, StrengthClass

__all__ = ["identity_strength", "is_augmentation", "min_acc_for", "model_input_norm", "predict", "strength_label"]


def strength_label(plugin: str) -> tuple[str, str]:
    """(symbol name, unit) of a plugin's strength ("strength", "" for unregistered names)."""
    regs = registries()
    for reg in (regs.augmentations, regs.regularizers):
        if plugin in reg:
            s = reg.get(plugin).strength
            return s.name, s.unit
    return "strength", ""


def is_augmentation(plugin: str) -> bool:
    """Whether ``plugin`` is a registered augmentation (its prediction is T4's)."""
    return plugin in registries().augmentations


def model_input_norm(config: dict | None) -> str:
    """The fixed input transform of a config's model, as T4 analyses it: its ``features``' first
    module, the model built once on CPU from ``config["model"]`` (name, options): an
    ``rt_core.PerImageStandardize`` -> "per_image", an ``rt_core.Normalize`` -> "dataset", anything
    else, no model, or one that cannot be built here -> "none".

    >>> model_input_norm({"model": {"name": "cifar_cnn", "options": {"input_norm": "per_image"}}})
    'per_image'
    >>> model_input_norm({"model": {"name": "resnet18"}}), model_input_norm(None)
    ('dataset', 'none')
    """
    import rt_core

    model = (config or {}).get("model") or {}
    if not model.get("name"):
        return "none"
    dataset = (config or {}).get("source", {}).get("dataset")
    try:
        classes = (rt_core.get_dataset(dataset).num_classes if dataset else 0) or 10
        first = next(iter(rt_core.create_model(model["name"], classes, **model.get("options", {})).features.children()))
    except (rt_core.RtError, TypeError, ValueError, StopIteration, AttributeError):
        return "none"
    return {rt_core.PerImageStandardize: "per_image", rt_core.Normalize: "dataset"}.get(type(first), "none")


@functools.lru_cache(maxsize=256)
def predict(plugin: str, strengths: tuple[float, ...], input_norm: str = "none") -> Prediction:
    """The theory's prediction for ``plugin`` swept over ``strengths`` (identity values ignored); an
    augmentation as a model with the fixed input transform ``input_norm`` sees it."""
    regs = registries()
    if plugin in regs.augmentations:
        ident = regs.augmentations.get(plugin).strength.identity
        return _augmentation(plugin, tuple(sorted({s for s in strengths if s != ident})), input_norm)
    if plugin in regs.regularizers:
        return _regularizer(plugin)
    return Prediction("unknown", "unknown", f"'{plugin}' is not a plugin registered here: no theory available")


def _regularizer(plugin: str) -> Prediction:
    specs = list_bounds()
    if plugin not in specs:
        return Prediction("regularizer", "unknown", "no bound on tau is registered for this regularizer: "
                                                     "the theory makes no prediction")
    spec = specs[plugin]
    expr, symbol, _ = bound_expression(plugin)
    res = check_bound(plugin)
    bound = CheckedBound(sympy.latex(expr), sympy.pretty(expr, use_unicode=True), str(symbol), bool(res.monotone),
                  res.method, spec.constrains)
    if res.monotone and spec.direction == "decreasing":
        return Prediction("regularizer", "rises", f"the bound on tau decreases in {symbol} ({res.method}): "
                                                  f"it constrains {spec.constrains}", bound)
    return Prediction("regularizer", "unknown", f"the registered bound is not monotone decreasing in {symbol} "
                                                f"({res.method}): no prediction", bound)


def _augmentation(plugin: str, swept: tuple[float, ...], input_norm: str = "none") -> Prediction:
    from theory.classify import classify_augmentation  # imports torch: only when an augmentation is swept

    if not swept:
        return Prediction("augmentation", "unknown", "no swept strength besides the identity: nothing to classify")
    try:
        classes = tuple(StrengthClass(s, r.verdict, r.reason, dict(r.numbers)) for s in swept
                        for r in [classify_augmentation(plugin, s, samples=3, input_norm=input_norm)])
    except Exception as err:  # noqa: BLE001 - a plugin's own code failing must not take the whole report down
        reason = f"{type(err).__name__}: {err}".splitlines()[0]
        return Prediction("augmentation", "unknown", f"the classifier could not run this plugin ({reason}): "
                                                     "no prediction")
    verdicts = {c.verdict for c in classes}
    seen = "" if input_norm == "none" else f" (T4 on what the model sees: n . a, n its {input_norm} input transform)"
    if verdicts == {"regularization"}:
        return Prediction("augmentation", "rises", f"regularization (T4) at every swept strength{seen}",
                          strengths=classes)
    if verdicts == {"invariant"}:
        return Prediction("augmentation", "none", f"invariance of the model: no effect at every swept strength{seen}",
                          strengths=classes)
    if verdicts <= {"not_regularization", "invariant"}:
        return Prediction("augmentation", "none", "not regularization (T4: within tolerance of an isometry, or an "
                                                  f"invariance of the model) at every swept strength{seen}",
                          strengths=classes)
    if len(verdicts) == 1:
        return Prediction("augmentation", "unknown", f"{classes[0].verdict} (T4) at every swept strength{seen}: "
                                                     "T4 gives no prediction", strengths=classes)
    parts = "; ".join(f"{c.strength:g}: {c.verdict}" for c in classes)
    return Prediction("augmentation", "unknown", f"the classifier's verdicts differ across the swept strengths "
                                                 f"({parts}){seen}: no single prediction", strengths=classes)
