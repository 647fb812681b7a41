"""Registry records (frozen dataclasses) and the registries that hold them.

A registry maps a unique name to a record. Registering a name twice raises an error naming both
plugins; asking for an unknown name raises an error listing the known ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from rt_core.errors import PluginError, RtError


@dataclass(frozen=True)
class Strength:
    """The strength parameter of an entry: name, identity value, valid closed range [low, high],
    and ``default``, a typical non-identity value (used by contract checks and examples)."""

    name: str
    identity: float
    low: float
    high: float = math.inf
    default: float = 1.0
    unit: str = ""

    def validate(self, value: float, entry: str) -> float:
        """Return ``value`` as a float, or raise RtError when it is not finite or out of range."""
        value = float(value)
        if not math.isfinite(value) or not (self.low <= value <= self.high):
            raise RtError(
                f"strength {value!r} of '{entry}' is outside its range: {self.name} must lie in "
                f"[{self.low}, {self.high}] (identity {self.identity}); pick a value in range"
            )
        return value


@dataclass(frozen=True)
class AugmentationSpec:
    """An augmentation: ``factory(strength, **options)`` returns an ``Augmentation``.

    Flags: ``linear`` (each sampled instance is a linear map of the image), ``differentiable``
    (gradients flow through the op), ``random`` (instances depend on the generator).
    """

    name: str
    factory: Callable[..., Any]
    strength: Strength
    description: str = ""
    linear: bool = True
    differentiable: bool = True
    random: bool = True
    plugin: str = ""


@dataclass(frozen=True)
class RegularizerSpec:
    """A regularizer: ``factory(strength, **options)`` returns a ``Regularizer``.

    ``acts_on`` is one of "inputs", "loss", "optimizer"; ``needs_model`` says whether it needs the
    model (and not just the batch) to act.
    """

    name: str
    factory: Callable[..., Any]
    strength: Strength
    description: str = ""
    acts_on: str = "loss"
    needs_model: bool = True
    plugin: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: ``loader(split, root=..., **options)`` returns ``(images, labels)`` tensors.

    images: float32 (N, C, H, W) in [0,1]; labels: int64 (N,). ``splits`` names the splits.
    """

    name: str
    loader: Callable[..., Any]
    num_classes: int
    image_shape: tuple[int, int, int] = (3, 32, 32)
    splits: tuple[str, ...] = ("train", "test")
    description: str = ""
    needs_root: bool = False
    plugin: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """A model architecture: ``builder(num_classes, **options)`` returns a ``SplitModel``."""

    name: str
    builder: Callable[..., Any]
    description: str = ""
    feature_dim: int | None = None
    plugin: str = ""


@dataclass(frozen=True)
class BoundSpec:
    """A bound on the relative transfer loss tau as a function of one regularizer's strength.

    ``expression()`` returns ``(expr, strength_symbol, constants)``: a sympy expression, the
    symbol standing for the strength, and a dict of the other symbols with meanings.
    ``constrains`` names the quantity the strength constrains (theory T3).
    """

    regularizer: str
    expression: Callable[[], Any]
    constrains: str
    direction: str = "decreasing"
    description: str = ""
    plugin: str = ""


T = TypeVar("T")


@dataclass
class Registry(Generic[T]):
    """A name -> record map with clear errors for duplicates and unknown names."""

    kind: str
    key: str = "name"
    entries: dict[str, T] = field(default_factory=dict)

    def add(self, record: T) -> None:
        name = getattr(record, self.key)
        if name in self.entries:
            first = getattr(self.entries[name], "plugin", "?")
            raise PluginError(
                f"{self.kind} '{name}' is registered twice: by plugin '{first}' and by plugin "
                f"'{getattr(record, 'plugin', '?')}'; uninstall one or rename its entry"
            )
        self.entries[name] = record

    def get(self, name: str) -> T:
        if name not in self.entries:
            known = ", ".join(sorted(self.entries)) or "(none)"
            raise PluginError(f"unknown {self.kind} '{name}'; known {self.kind}s: {known}")
        return self.entries[name]

    def names(self) -> list[str]:
        return sorted(self.entries)

    def __iter__(self) -> Iterator[T]:
        return iter(self.entries[n] for n in self.names())

    def __contains__(self, name: object) -> bool:
        return name in self.entries
