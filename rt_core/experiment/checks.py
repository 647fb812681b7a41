"""Option checks that run while a config loads, so a mistake costs one line and no wasted work:
every ``options`` table is checked against the signature of the function it is passed to (a
plugin's factory, a dataset's loader, a model's builder), and each plugin is instantiated once per
strength so a bad option value is caught too. The checks that need the data (the model's fit, the
probe folds) and the output directory are ``rt_core.experiment.preflight``.

Every failure is an RtError: one line naming the config key and the fix.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from typing import Annotated, Any, get_args, get_origin

from rt_core.errors import RtError
from rt_core.experiment.config import Check, DataConfig, ModelConfig
from rt_core.host.augmentation import Augmentation
from rt_core.host.lookup import get_dataset, get_model
from rt_core.host.regularizer import Regularizer

PLUGIN_BASES = (Augmentation, Regularizer)


def accepted_options(fn: Callable, skip: Iterable[str]) -> set[str] | None:
    """The keyword options ``fn`` accepts, without the parameters in ``skip``; None when it takes
    any keyword (a ``**kwargs`` we cannot check). A plugin class's ``**options`` that only reaches
    the base ``Augmentation``/``Regularizer.__init__`` accepts nothing more: options must be declared
    as keyword parameters of the factory."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
    if takes_any and not (inspect.isclass(fn) and issubclass(fn, PLUGIN_BASES)):
        return None
    return named - set(skip)


def check_options(fn: Callable, options: dict, where: str, what: str, skip: Iterable[str]) -> None:
    """RtError ``where.KEY: unknown option of WHAT; its options: ...`` for an option ``fn`` does not take,
    then each value against its parameter's declared type and Check (:func:`check_option_value`)."""
    known = accepted_options(fn, skip)
    if known is not None:
        unknown = sorted(set(options) - known)
        if unknown:
            listed = ", ".join(sorted(known)) or "(none)"
            raise RtError(f"{where}.{unknown[0]}: unknown option of {what}; its options: {listed}")
    params = _parameters(fn)
    for key, value in options.items():
        check_option_value(params.get(key), value, f"{where}.{key}")


def _parameters(fn: Callable) -> dict[str, inspect.Parameter]:
    """``fn``'s parameters, string annotations evaluated where they can be (``Annotated`` kept)."""
    target = fn.target() if callable(getattr(fn, "target", None)) else fn
    for evaluate in (True, False):
        try:
            return dict(inspect.signature(target, eval_str=evaluate).parameters)
        except (TypeError, ValueError, NameError, AttributeError, SyntaxError):
            continue
    return {}


SCALARS = (bool, int, float, str)


def declared_type(param: inspect.Parameter | None) -> tuple[type | None, Check | None]:
    """(type, Check) an option's parameter declares: ``Annotated[T, Check(...)]``, a plain scalar
    annotation, else the type of its default (None when nothing says)."""
    if param is None:
        return None, None
    hint = param.annotation
    if get_origin(hint) is Annotated:
        base, *extras = get_args(hint)
        return (base if base in SCALARS else None), next((e for e in extras if isinstance(e, Check)), None)
    if hint in SCALARS:
        return hint, None
    return (type(param.default) if type(param.default) in SCALARS else None), None


def check_option_value(param: inspect.Parameter | None, value: Any, where: str) -> None:
    """``value`` against ``param``'s declared type and Check; any non-finite number is refused."""
    kind, check = declared_type(param)
    if isinstance(value, float) and not math.isfinite(value):
        raise RtError(f"{where}: must be a finite number, got {value!r}")
    if kind is bool and not isinstance(value, bool):
        raise RtError(f"{where}: expected true or false, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise RtError(f"{where}: expected a string, got {value!r}")
    if kind in (int, float):
        Check(integer=kind is int)(value, where)
    if check is not None:
        check(value, where)


def check_plugin(spec: Any, strengths: list[float], options: dict, where: str) -> None:
    """Options against the factory's signature, then one instance per strength (a bad value fails here)."""
    check_options(spec.factory, options, f"{where}.options", f"plugin '{spec.name}'", skip=("strength",))
    for s in strengths:
        try:
            spec.factory(s, **options)
        except (TypeError, ValueError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise RtError(f"{where}.options: plugin '{spec.name}' refused {options} at strength {s:g}: "
                          f"{first}") from err


def check_domain(data_cfg: DataConfig, where: str) -> None:
    """Dataset options against the loader's signature (a missing root is checked by the config, whether the
    folder holds the data when it loads, before the first write)."""
    spec = get_dataset(data_cfg.dataset)
    check_options(spec.loader, data_cfg.options, f"{where}.options", f"dataset '{spec.name}'",
                  skip=("split", "root"))


def check_model_options(model_cfg: ModelConfig) -> None:
    """Model options against the builder's signature."""
    spec = get_model(model_cfg.name)
    check_options(spec.builder, model_cfg.options, "model.options", f"model '{spec.name}'", skip=("num_classes",))
