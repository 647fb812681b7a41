"""Errors the toolkit raises for bad input.

Every ``RtError`` carries one line that names the problem and says how to fix it; the CLI prints
that line and exits with status 2.
"""


class RtError(Exception):
    """A user-facing error: one line, what is wrong and how to fix it."""


class PluginError(RtError):
    """A plugin is misspelt, duplicated or asked for by a name nobody registered."""
