"""Errors the toolkit raises for bad input.

Every ``RtError`` carries one line that names the problem and says how to fix it; the CLI prints
that line and exits with status 2.
"""


class RtError(Exception):
    """A user-facing error: one line, what is wrong and how to fix it.

    >>> from rt_core import RtError, Strength
    >>> try:
    ...     Strength("sigma", identity=0.0, low=0.0, high=2.0).validate(3.0, "blur")
    ... except RtError as err:
    ...     print(err)
    strength 3.0 of 'blur' is outside its range: sigma must lie in [0.0, 2.0] (identity 0.0); pick a value in range
    """


class PluginError(RtError):
    """A plugin is misspelt, duplicated or asked for by a name nobody registered.

    >>> import rt_core
    >>> try:
    ...     rt_core.get_augmentation("blurr")
    ... except rt_core.PluginError as err:
    ...     print(str(err).split(";")[0])
    unknown augmentation 'blurr'
    """
