"""Registry records (frozen dataclasses) and the registries that hold them.

A registry maps a unique name to a record. Registering a name twice raises an error naming both
plugins; asking for an unknown name raises an error listing the known ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from rt_core.errors import PluginError, RtError

if TYPE_CHECKING:  # record types name the classes their factories return, without importing torch here
    import torch

    from rt_core.host.augmentation import Augmentation
    from rt_core.host.model import SplitModel
    from rt_core.host.predictor import PredictorInput
    from rt_core.host.regularizer import Regularizer


@dataclass(frozen=True)
class Strength:
    """The strength parameter of an entry: name (its symbol), identity value (the one source of
    "this strength changes nothing": the Augmentation and Regularizer instances read it), valid
    closed range [low, high], ``default`` (a typical non-identity value, used by contract checks
    and examples) and ``unit`` (shown on axes and in ``rt plugins``).

    >>> s = Strength("sigma", identity=0.0, low=0.0, high=16.0, unit="px")
    >>> s.label(), s.validate(2, "blur")
    ('sigma (px)', 2.0)
    """

    name: str
    identity: float
    low: float
    high: float = math.inf
    default: float = 1.0
    unit: str = ""

    def label(self) -> str:
        """``name`` with its unit, for axes and tables: "sigma (px)"."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    def validate(self, value: float, entry: str) -> float:
        """Return ``value`` as a float, or raise RtError when it is not finite or out of range."""
        value = float(value)
        if not math.isfinite(value) or not (self.low <= value <= self.high):
            raise RtError(
                f"strength {value!r} of '{entry}' is outside its range: {self.name} must lie in "
                f"[{self.low}, {self.high}] (identity {self.identity}); pick a value in range"
            )
        return value


ACTS_ON = ("inputs", "loss", "optimizer")


@dataclass(frozen=True)
class AugmentationSpec:
    """An augmentation: ``factory(strength, **options)`` returns an ``Augmentation``.

    Flags, each verified by ``rt_core.testing.check_augmentation``: ``linear`` (each sampled
    instance is a linear map of the image: checked at zero, under scaling and on convex combinations,
    so an affine op is not linear), ``differentiable``
    (gradcheck), ``random`` (instances depend on the generator; False: checked not to).

    >>> from rt_core import Augmentation
    >>> class Dim(Augmentation):
    ...     def apply(self, x, params):
    ...         return x * (1 - self.strength)
    >>> spec = AugmentationSpec("dim", Dim, Strength("p", identity=0.0, low=0.0, high=1.0), random=False)
    >>> spec.factory(0.5), spec.linear, spec.random
    (Dim(strength=0.5), True, False)
    """

    name: str
    factory: Callable[..., Augmentation]
    strength: Strength
    description: str = ""
    linear: bool = True
    differentiable: bool = True
    random: bool = True
    plugin: str = ""


@dataclass(frozen=True)
class Bound:
    """A bound on the relative transfer loss tau as a function of one regularizer's strength.

    ``expression()`` returns ``(expr, strength_symbol, constants)``: a sympy expression, the
    symbol standing for the strength, and a dict of the other symbols with meanings.
    ``constrains`` names the quantity the strength constrains (theory T3); ``direction`` is how
    the bound moves as the strength grows.

    >>> import sympy as sp
    >>> def expression():
    ...     lam, l0 = sp.symbols("lambda L0", positive=True)
    ...     return l0 / lam, lam, {l0: "loss of a constant classifier"}
    >>> Bound(expression, constrains="||W|| <= L0 / lambda").expression()[0]
    L0/lambda
    """

    expression: Callable[[], Any]
    constrains: str
    direction: str = "decreasing"
    description: str = ""


@dataclass(frozen=True)
class RegularizerSpec:
    """A regularizer: ``factory(strength, **options)`` returns a ``Regularizer``.

    ``acts_on`` is one of "inputs" (``perturb``), "loss" (``penalty``), "optimizer"
    (``optimizer_settings`` only): packing (``rt run --pack``) trains "optimizer" regularizers
    together, and ``check_regularizer`` verifies the declaration. ``bound`` is the regularizer's
    function-class bound on tau (theory T1-T3), or None.

    >>> from rt_core import Regularizer
    >>> class MoreDecay(Regularizer):
    ...     def optimizer_settings(self, base):
    ...         return {**base, "weight_decay": base["weight_decay"] + self.strength}
    >>> spec = RegularizerSpec("more_decay", MoreDecay, Strength("lambda", 0.0, 0.0, 1.0), acts_on="optimizer")
    >>> spec.acts_on, spec.bound, spec.factory(0.1).optimizer_settings({"weight_decay": 0.0})
    ('optimizer', None, {'weight_decay': 0.1})
    """

    name: str
    factory: Callable[..., Regularizer]
    strength: Strength
    description: str = ""
    acts_on: str = "loss"
    bound: Bound | None = None
    plugin: str = ""

    def __post_init__(self) -> None:
        if self.acts_on not in ACTS_ON:
            raise PluginError(f"regularizer '{self.name}': acts_on '{self.acts_on}' is not one of "
                              f"{', '.join(ACTS_ON)}")


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: ``loader(split, root=..., **options)`` returns ``(images, labels)`` tensors.

    images: float32 (N, C, H, W) in [0,1]; labels: int64 (N,); the engine asks for "train" and "test".
    ``num_classes`` 0 means "read from the labels". ``needs_root``: the config must give ``root``
    (checked when the config is loaded).

    >>> import torch
    >>> def two_images(split, root=None):
    ...     return torch.zeros(2, 1, 4, 4), torch.tensor([0, 1])
    >>> spec = DatasetSpec("tiny", two_images, num_classes=2, description="two black images")
    >>> [tuple(t.shape) for t in spec.loader("train")], spec.needs_root
    ([(2, 1, 4, 4), (2,)], False)
    """

    name: str
    loader: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    num_classes: int
    description: str = ""
    needs_root: bool = False
    plugin: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """A model architecture: ``builder(num_classes, **options)`` returns a ``SplitModel``.

    >>> from rt_core.experiment.models import cifar_cnn
    >>> spec = ModelSpec("small_cnn", cifar_cnn, "the CIFAR CNN")
    >>> spec.builder(num_classes=3, width=0.25, hidden=8).head.out_features
    3
    """

    name: str
    builder: Callable[..., SplitModel]
    description: str = ""
    plugin: str = ""


PREDICTOR_NEEDS = {  # what a predictor may need beyond target features and labels -> what it is
    "source_logits": "the source head's logits on the target images",
    "source_features": "features and labels of source images",
}


@dataclass(frozen=True)
class PredictorSpec:
    """A transferability predictor: ``function(data, **options)`` returns one float, where ``data`` is a
    frozen ``PredictorInput`` (target features and labels, and what ``needs`` asks for).

    ``higher_is_better`` is stated by every record: True when a higher score predicts better transfer.
    ``needs`` names the optional inputs the function reads ("source_logits": the source head's logits on
    the target images; "source_features": source features and labels); ``rt_core.compute_score``
    refuses a record without them. ``check_predictor`` verifies the contract.

    >>> spec = PredictorSpec("mean_norm", lambda data: float(abs(data.features).mean()), higher_is_better=True)
    >>> spec.needs, spec.higher_is_better
    ((), True)
    """

    name: str
    function: Callable[..., float]
    higher_is_better: bool
    description: str = ""
    needs: tuple[str, ...] = ()
    plugin: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.higher_is_better, bool):
            raise PluginError(f"predictor '{self.name}': higher_is_better must be True or False, got "
                              f"{self.higher_is_better!r}")
        needs = (self.needs,) if isinstance(self.needs, str) else tuple(self.needs)
        unknown = [n for n in needs if n not in PREDICTOR_NEEDS]
        if unknown:
            raise PluginError(f"predictor '{self.name}': needs {', '.join(map(repr, unknown))} is not one of "
                              f"{', '.join(PREDICTOR_NEEDS)}")
        object.__setattr__(self, "needs", needs)

    def missing(self, data: PredictorInput) -> list[str]:
        """The entries of ``needs`` that ``data`` lacks (None there)."""
        return [n for n in self.needs if getattr(data, n) is None]


T = TypeVar("T", AugmentationSpec, RegularizerSpec, DatasetSpec, ModelSpec, PredictorSpec)


@dataclass
class Registry(Generic[T]):
    """A name -> record map with clear errors for duplicates and unknown names."""

    kind: str
    entries: dict[str, T] = field(default_factory=dict)

    def add(self, record: T) -> None:
        """Add ``record``; PluginError naming both plugins when its name is taken."""
        name = record.name
        if name in self.entries:
            raise PluginError(
                f"{self.kind} '{name}' is registered twice: by plugin '{self.entries[name].plugin}' and by "
                f"plugin '{record.plugin}'; uninstall one or rename its entry"
            )
        self.entries[name] = record

    def get(self, name: str) -> T:
        """The record called ``name``; PluginError listing the known names otherwise."""
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
