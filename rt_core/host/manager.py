"""The plugin manager: loads plugins from the ``rt`` entry-point group and builds the registries.

Built-in plugins (``plugins.*``) and third-party packages come through the same entry-point group;
the host's own modules in ``CORE_MODULES`` are always loaded.
``RT_LOAD_PLUGINS=a,b`` restricts which entry points load. A hook implementation whose name no
spec matches (a misspelling) is an error, raised by ``check_pending``.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

import pluggy

from rt_core import __version__
from rt_core.errors import PluginError
from rt_core.host import hookspecs
from rt_core.host.commands import commands
from rt_core.host.registry import (
    AugmentationSpec,
    DatasetSpec,
    ModelSpec,
    PredictorSpec,
    Registry,
    RegularizerSpec,
)

ENTRY_POINT_GROUP = "rt"
CORE_MODULES = ("rt_core.experiment.builtin", "rt_core.cli")
_KINDS = {  # registry attribute of Registries -> the record type its hook must register
    "augmentations": AugmentationSpec,
    "regularizers": RegularizerSpec,
    "datasets": DatasetSpec,
    "models": ModelSpec,
    "predictors": PredictorSpec,
}


@dataclass
class Registries:
    """All registries, built from one pass over every plugin's registration hooks."""

    augmentations: Registry[AugmentationSpec] = field(default_factory=lambda: Registry("augmentation"))
    regularizers: Registry[RegularizerSpec] = field(default_factory=lambda: Registry("regularizer"))
    datasets: Registry[DatasetSpec] = field(default_factory=lambda: Registry("dataset"))
    models: Registry[ModelSpec] = field(default_factory=lambda: Registry("model"))
    predictors: Registry[PredictorSpec] = field(default_factory=lambda: Registry("predictor"))


_PM: pluggy.PluginManager | None = None
_VERSIONS: dict[str, str] = {}
_CACHE: dict[str, Any] = {}
_IN_PROCESS: dict[str, tuple[Any, str]] = {}  # name -> (object, version), from register_plugin
_BROKEN: dict[str, str] = {}  # entry-point name -> warning line, for plugins that failed to import


def _wanted_entry_points() -> list:
    eps = list(entry_points(group=ENTRY_POINT_GROUP))
    wanted = os.environ.get("RT_LOAD_PLUGINS")
    if wanted is None:
        return eps
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    known = {ep.name for ep in eps}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise PluginError(
            f"RT_LOAD_PLUGINS names unknown plugin(s) {', '.join(unknown)}; installed: "
            f"{', '.join(sorted(known))}"
        )
    return [ep for ep in eps if ep.name in names]


def _register(pm: pluggy.PluginManager, module: Any, name: str, version: str) -> None:
    try:
        pm.register(module, name=name)
    except pluggy.PluginValidationError as err:
        raise PluginError(f"plugin '{name}' is invalid: {err}; fix its hook implementation") from err
    _VERSIONS[name] = version


def _load() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("rt")
    pm.add_hookspecs(hookspecs)
    for modname in CORE_MODULES:
        _register(pm, importlib.import_module(modname), modname, __version__)
    eps = _wanted_entry_points()
    _check_duplicates(eps)
    for ep in eps:
        module = _import_entry_point(ep)
        if module is not None:
            _register(pm, module, ep.name, _dist(ep)[1])
    check_pending(pm)
    return pm


def _dist(ep: Any) -> tuple[str, str]:
    """(distribution name, version) of an entry point, '?' where unknown."""
    dist = getattr(ep, "dist", None)
    return (dist.metadata["Name"] or "?", dist.version) if dist is not None else ("?", "?")


def _check_duplicates(eps: list) -> None:
    """Two distributions declaring the same plugin name: which one runs would be an accident."""
    seen: dict[str, Any] = {}
    for ep in eps:
        if ep.name in seen and seen[ep.name].value != ep.value:
            (a, va), (b, vb) = _dist(seen[ep.name]), _dist(ep)
            raise PluginError(f"two installed distributions declare the rt plugin '{ep.name}': {a} {va} "
                              f"({seen[ep.name].value}) and {b} {vb} ({ep.value}); uninstall one "
                              f"(pip uninstall {b}) or rename its entry point")
        seen[ep.name] = ep


def _import_entry_point(ep: Any) -> Any:
    """The plugin's module, or None when importing it raises: then the plugin is skipped, named with its
    distribution in a one-line warning (and in ``broken_plugins``), and everything else still works."""
    try:
        return ep.load()
    except Exception as err:  # noqa: BLE001 - documented boundary: a third-party module failing to import
        dist, version = _dist(ep)
        first = (str(err).splitlines() or [""])[0]
        line = (f"plugin '{ep.name}' from {dist} {version} failed to import ({type(err).__name__}: {first}); "
                f"skipped. Fix or uninstall it (pip uninstall {dist}), or list the plugins to load in "
                "RT_LOAD_PLUGINS=a,b without it")
        _BROKEN[ep.name] = line
        print(f"rt: warning: {line}", file=sys.stderr)
        return None


def broken_plugins() -> dict[str, str]:
    """Plugins whose module failed to import in this process: name -> the warning line."""
    get_plugin_manager()
    return dict(_BROKEN)


def check_pending(pm: pluggy.PluginManager) -> None:
    """Raise PluginError when a plugin implements a hook that no spec defines (a misspelling)."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as err:
        names = sorted(h for h in dir(hookspecs) if h.startswith("rt_"))
        raise PluginError(f"{err}; the known hooks are: {', '.join(names)}") from err


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loaded on first use.

    >>> import rt_core
    >>> pm = rt_core.get_plugin_manager()
    >>> pm.project_name, pm.get_plugin("blur") is not None
    ('rt', True)
    """
    global _PM
    if _PM is None:
        _PM = _load()
    return _PM


def reset() -> None:
    """Forget the loaded plugins (e.g. after changing RT_LOAD_PLUGINS); the next call reloads.

    >>> import rt_core
    >>> before = rt_core.get_plugin_manager()
    >>> rt_core.reset_plugins()
    >>> rt_core.get_plugin_manager() is before, "blur" in rt_core.registries().augmentations
    (False, True)
    """
    global _PM
    _PM = None
    _VERSIONS.clear()
    _CACHE.clear()
    _IN_PROCESS.clear()
    _BROKEN.clear()


def register_plugin(obj: Any, name: str, version: str = "0") -> None:
    """Register a plugin object in-process (tests, notebooks); checks its hooks like any other.

    >>> import rt_core
    >>> class Count:
    ...     @rt_core.hookimpl
    ...     def rt_report_sections(self, results):
    ...         return [("Trials", str(len(results)))]
    >>> rt_core.register_plugin(Count(), "count")
    >>> ("Trials", "3") in rt_core.report_sections([{}, {}, {}]), rt_core.unregister_plugin("count")
    (True, None)
    """
    pm = get_plugin_manager()
    _register(pm, obj, name, version)
    try:
        check_pending(pm)
    except PluginError:
        unregister_plugin(name)
        raise
    _IN_PROCESS[name] = (obj, version)


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered in-process by :func:`register_plugin`.

    >>> import rt_core
    >>> class Quiet:
    ...     @rt_core.hookimpl
    ...     def rt_report_sections(self, results):
    ...         return [("Quiet", "")]
    >>> rt_core.register_plugin(Quiet(), "quiet"); rt_core.unregister_plugin("quiet")
    >>> ("Quiet", "") in rt_core.report_sections([]), rt_core.get_plugin_manager().get_plugin("quiet")
    (False, None)
    """
    get_plugin_manager().unregister(name=name)
    _VERSIONS.pop(name, None)
    _IN_PROCESS.pop(name, None)


def in_process_plugins() -> tuple[tuple[str, Any, str], ...]:
    """``(name, object, version)`` of each plugin registered by :func:`register_plugin`, for
    shipping to worker processes (a module travels as a reference and is imported there)."""
    return tuple((name, obj, version) for name, (obj, version) in _IN_PROCESS.items())


def ensure_plugins(extra: tuple[tuple[str, Any, str], ...]) -> None:
    """Register each of ``extra`` that this process does not have yet (a worker of a sweep)."""
    pm = get_plugin_manager()
    for name, obj, version in extra:
        if pm.get_plugin(name) is None:
            register_plugin(obj, name, version)


def plugin_version(name: str) -> str:
    return _VERSIONS.get(name, "?")


def _fill(registry: Registry, record_type: type, pm: pluggy.PluginManager, hook: str, out: dict) -> None:
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        def register(record: Any, _plugin: str = impl.plugin_name) -> None:
            if not isinstance(record, record_type):
                raise PluginError(
                    f"plugin '{_plugin}' passed a {type(record).__name__} to {hook}'s register; "
                    f"pass a rt_core.{record_type.__name__}"
                )
            registry.add(replace(record, plugin=_plugin))
            out.setdefault(_plugin, []).append(record.name)

        impl.function(register=register)


def registries() -> Registries:
    """Build (or return the cached) registries from the currently registered plugins.

    >>> import rt_core
    >>> regs = rt_core.registries()
    >>> "blur" in regs.augmentations, regs.models.get("cifar_cnn").plugin
    (True, 'rt_core.experiment.builtin')
    """
    pm = get_plugin_manager()
    signature = tuple(sorted(name for name, _ in pm.list_name_plugin()))
    if _CACHE.get("signature") == signature:
        return _CACHE["registries"]
    regs, origin = Registries(), {}
    for kind, record_type in _KINDS.items():
        per_plugin: dict[str, list[str]] = {}
        _fill(getattr(regs, kind), record_type, pm, f"rt_register_{kind}", per_plugin)
        origin[kind] = per_plugin
    _CACHE.update(signature=signature, registries=regs, origin=origin)
    return regs


def plugin_table() -> list[dict[str, Any]]:
    """One dict per loaded plugin: name, version, hooks, the names it registered per kind (with
    each record's description under ``descriptions``, and each predictor's ``higher_is_better`` and
    ``needs`` under ``predictor_flags``) and its commands.

    >>> import rt_core
    >>> row = next(r for r in rt_core.plugin_table() if r["name"] == "blur")
    >>> row["augmentations"], row["hooks"]
    (['blur'], ['rt_register_augmentations'])
    """
    pm = get_plugin_manager()
    regs = registries()
    origin = _CACHE["origin"]
    by_plugin: dict[str, list[str]] = {}
    for cmd in commands(pm).values():
        by_plugin.setdefault(cmd.plugin, []).append(cmd.name)
    rows = []
    for name, plugin in sorted(pm.list_name_plugin()):
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        row = {"name": name, "version": plugin_version(name), "hooks": hooks}
        row["descriptions"] = {}
        for kind in _KINDS:
            row[kind] = sorted(origin[kind].get(name, []))
            row["descriptions"].update({n: getattr(regs, kind).get(n).description for n in row[kind]})
        row["predictor_flags"] = {n: {"higher_is_better": regs.predictors.get(n).higher_is_better,
                                      "needs": list(regs.predictors.get(n).needs)} for n in row["predictors"]}
        row["commands"] = sorted(by_plugin.get(name, []))
        rows.append(row)
    return rows


def notify_trial_finished(trial: Any, result: dict[str, Any]) -> None:
    """Call every plugin's ``rt_trial_finished(trial, result)`` with a read-only copy of result.

    >>> import rt_core
    >>> class Log(list):
    ...     @rt_core.hookimpl
    ...     def rt_trial_finished(self, trial, result):
    ...         self.append((trial, result["status"], type(result).__name__))
    >>> rt_core.register_plugin(log := Log(), "log"); rt_core.notify_trial_finished("blur=1", {"status": "finished"})
    >>> rt_core.unregister_plugin("log"); log
    [('blur=1', 'finished', 'mappingproxy')]
    """
    get_plugin_manager().hook.rt_trial_finished(trial=trial, result=MappingProxyType(dict(result)))


def report_sections(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Collect ``(title, markdown)`` pairs from every plugin's ``rt_report_sections(results)``.

    Raises PluginError naming the plugin when one returns anything else.

    >>> import rt_core
    >>> class Count:
    ...     @rt_core.hookimpl
    ...     def rt_report_sections(self, results):
    ...         return [("Trials", str(len(results)))]
    >>> rt_core.register_plugin(Count(), "count")
    >>> sections = rt_core.report_sections([{}, {}]); rt_core.unregister_plugin("count")
    >>> sections[-1]
    ('Trials', '2')
    """
    pm = get_plugin_manager()
    sections: list[tuple[str, str]] = []
    for impl in reversed(pm.hook.rt_report_sections.get_hookimpls()):
        returned = impl.function(results=results)
        for item in returned or []:
            if not (isinstance(item, tuple | list) and len(item) == 2 and all(isinstance(t, str) for t in item)):
                raise PluginError(
                    f"plugin '{impl.plugin_name}' returned {item!r} from rt_report_sections; "
                    "return a list of (title, markdown) string pairs"
                )
            sections.append((item[0], item[1]))
    return sections


def write_report(directory: Any, out: Any = None) -> Any:
    """The report of the experiment in ``directory`` (into ``out``, default the directory), written by
    the first plugin implementing ``rt_write_report``; returns the path of report.md.

    >>> import rt_core
    >>> try:
    ...     rt_core.write_report("no/such/experiment")
    ... except rt_core.RtError as err:
    ...     print(err)
    no results store at no/such/experiment/results.sqlite; run `rt run CONFIG --out no/such/experiment` first
    """
    path = get_plugin_manager().hook.rt_write_report(directory=directory, out=out)
    if path is None:
        raise PluginError("no loaded plugin writes reports (the theory plugin does); check RT_LOAD_PLUGINS")
    return path
