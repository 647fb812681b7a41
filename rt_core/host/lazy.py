"""Lazy module references for plugin modules: ``torch = lazy("torch")`` imports torch on first attribute
access, so loading a plugin (``rt plugins``, ``rt --help``) costs no torch import. Nothing is put in
``sys.modules``: the real module is imported normally the first time an attribute is read."""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands for module ``name``; every attribute read is forwarded to the real module."""

    def __init__(self, name: str) -> None:
        self.__dict__["_name"] = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.__dict__["_name"]), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_name']!r}>"


def lazy(name: str) -> Any:
    """A lazy reference to module ``name`` (typed Any: use it exactly like the module).

    >>> from rt_core import lazy
    >>> math = lazy("math")  # nothing imported yet: the first attribute read imports it
    >>> math, math.sqrt(16.0)
    (<lazy module 'math'>, 4.0)
    """
    return LazyModule(name)
