"""Every hook of the toolkit. Each is documented, with an example, in docs/plugin_hooks.md.

Registration hooks receive a ``register`` callback; call it once per entry. Lifecycle hooks are
called by the engine and the report; their return values are collected in plugin order.
``hookspec`` and ``hookimpl`` are pluggy's markers of the project "rt": a plugin marks its hook
implementations with ``hookimpl``.

>>> import rt_core
>>> class Count:
...     @rt_core.hookimpl
...     def rt_report_sections(self, results):
...         return [("Trials", str(len(results)))]
>>> rt_core.register_plugin(Count(), "count"); rt_core.report_sections([{}, {}])[-1]; rt_core.unregister_plugin("count")
('Trials', '2')
>>> rt_core.hookspec.project_name, rt_core.hookimpl.project_name
('rt', 'rt')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from rt_core.host.commands import CommandRegistrar

hookspec = pluggy.HookspecMarker("rt")
hookimpl = pluggy.HookimplMarker("rt")


@hookspec
def rt_register_augmentations(register: Callable[[Any], None]) -> None:
    """Register augmentations: ``register(AugmentationSpec(...))`` once per augmentation."""


@hookspec
def rt_register_regularizers(register: Callable[[Any], None]) -> None:
    """Register regularizers: ``register(RegularizerSpec(...))`` once per regularizer; a regularizer's
    function-class bound on tau (theory T1-T3) is part of its record (``bound=Bound(...)``)."""


@hookspec
def rt_register_datasets(register: Callable[[Any], None]) -> None:
    """Register datasets: ``register(DatasetSpec(...))``; the loader returns image tensors in [0,1]."""


@hookspec
def rt_register_models(register: Callable[[Any], None]) -> None:
    """Register model architectures: ``register(ModelSpec(...))``; the builder returns a SplitModel."""


@hookspec
def rt_register_predictors(register: Callable[[Any], None]) -> None:
    """Register transferability predictors: ``register(PredictorSpec(...))``; the function maps a frozen
    ``PredictorInput`` (target features and labels, optionally source-head logits) to one float."""


@hookspec
def rt_register_commands(cli: CommandRegistrar) -> None:
    """Add ``rt`` subcommands: ``cli.command(name, configure)(fn)``, ``configure(parser)`` adding the
    argparse arguments and ``fn(args) -> int`` running the command (as llm and datasette do); the
    first line of ``fn``'s docstring is the command's help."""


@hookspec(firstresult=True)
def rt_write_report(directory: str | Path, out: str | Path | None) -> Path | None:
    """Write the report of the experiment in ``directory`` into ``out`` (None: ``directory``) and
    return the path of its ``report.md``; return None to leave it to another plugin. First wins."""


@hookspec
def rt_trial_finished(trial: Any, result: Mapping[str, Any]) -> None:
    """Called after each trial of a sweep ends (finished, failed or diverged); for loggers.

    ``trial`` is the frozen trial config, ``result`` a read-only mapping of the stored row.
    """


@hookspec
def rt_report_sections(results: list[dict[str, Any]]) -> list[tuple[str, str]] | None:
    """Return extra report sections as a list of ``(title, markdown)`` string pairs, or None.

    ``results`` is the sequence of trial rows the report is built from (``len``, indexing,
    iteration; an imported table's rows are built as they are read, so treat them as read-only), one
    flat dict per trial: plugin, strength, seed, status, error, acc_src, acc_tgt, rob_src,
    probe_acc_src, rel_dt, tau (None where absent). Names in them are data: escape any you put into
    the Markdown (``rt_core.reporting.md_escape``).
    """
