"""The ``rt`` subcommands, collected from every plugin's ``rt_register_commands(cli)`` hook.

The host's own commands (``plugins``, ``run``, ``demo``, ``export``) come through the same hook
from ``rt_core.cli``; ``theory``, ``report``, ``plan`` and ``bench`` come from their plugins. The host imports
no guest by name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import pluggy

from rt_core.errors import PluginError

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """One subcommand: ``configure(parser)`` adds its arguments, ``run(args)`` returns the exit status."""

    name: str
    run: Run
    configure: Configure
    plugin: str

    @property
    def summary(self) -> str:
        return (self.run.__doc__ or "").strip().splitlines()[0] if self.run.__doc__ else ""


class CommandRegistrar:
    """The ``cli`` object a ``rt_register_commands`` hook receives."""

    def __init__(self, table: dict[str, Command], plugin: str) -> None:
        self._table, self._plugin = table, plugin

    def command(self, name: str, configure: Configure) -> Callable[[Run], Run]:
        """Decorator: register ``fn(args) -> int`` as ``rt NAME``; PluginError if NAME is taken."""
        def wrap(fn: Run) -> Run:
            if name in self._table:
                raise PluginError(f"command '{name}' is registered twice: by plugin '{self._table[name].plugin}' "
                                  f"and by plugin '{self._plugin}'; uninstall one or rename its command")
            self._table[name] = Command(name, fn, configure, self._plugin)
            return fn
        return wrap


def commands(pm: pluggy.PluginManager) -> dict[str, Command]:
    """Every subcommand registered with plugin manager ``pm``, by name, in plugin registration order."""
    table: dict[str, Command] = {}
    for impl in reversed(pm.hook.rt_register_commands.get_hookimpls()):
        impl.function(cli=CommandRegistrar(table, impl.plugin_name))
    return table
