"""Public look-up and construction functions over the plugin registries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rt_core.host.manager import registries
from rt_core.host.registry import AugmentationSpec, DatasetSpec, ModelSpec, PredictorSpec, RegularizerSpec

if TYPE_CHECKING:
    from rt_core.experiment.models import SplitModel
    from rt_core.host.augmentation import Augmentation
    from rt_core.host.regularizer import Regularizer


class SpecList(list):
    """A list of registry records; ``"name" in specs`` also matches a record by its name."""

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return any(getattr(r, "name", None) == item for r in self)
        return list.__contains__(self, item)

    def names(self) -> list[str]:
        return [r.name for r in self]


def list_augmentations() -> SpecList:
    """Every registered AugmentationSpec, sorted by name."""
    return SpecList(registries().augmentations)


def list_regularizers() -> SpecList:
    """Every registered RegularizerSpec, sorted by name."""
    return SpecList(registries().regularizers)


def list_datasets() -> SpecList:
    """Every registered DatasetSpec, sorted by name."""
    return SpecList(registries().datasets)


def list_models() -> SpecList:
    """Every registered ModelSpec, sorted by name."""
    return SpecList(registries().models)


def list_predictors() -> SpecList:
    """Every registered PredictorSpec, sorted by name."""
    return SpecList(registries().predictors)


def get_augmentation(name: str) -> AugmentationSpec:
    """The AugmentationSpec called ``name`` (PluginError listing the known names otherwise)."""
    return registries().augmentations.get(name)


def get_regularizer(name: str) -> RegularizerSpec:
    """The RegularizerSpec called ``name`` (PluginError listing the known names otherwise)."""
    return registries().regularizers.get(name)


def get_dataset(name: str) -> DatasetSpec:
    """The DatasetSpec called ``name`` (PluginError listing the known names otherwise)."""
    return registries().datasets.get(name)


def get_model(name: str) -> ModelSpec:
    """The ModelSpec called ``name`` (PluginError listing the known names otherwise)."""
    return registries().models.get(name)


def get_predictor(name: str) -> PredictorSpec:
    """The PredictorSpec called ``name`` (PluginError listing the known names otherwise)."""
    return registries().predictors.get(name)


def _instantiate(spec: AugmentationSpec | RegularizerSpec, strength: float | None, options: dict[str, Any]) -> Any:
    """``spec.factory`` at the validated ``strength`` (default: the record's typical value), with the
    record's identity strength set on the instance (its one source)."""
    value = spec.strength.default if strength is None else strength
    instance = spec.factory(spec.strength.validate(value, spec.name), **options)
    instance.identity_strength = spec.strength.identity
    return instance


def create_augmentation(name: str, strength: float | None = None, **options: Any) -> Augmentation:
    """Instantiate augmentation ``name`` at ``strength`` (default: its typical value)."""
    return _instantiate(get_augmentation(name), strength, options)


def create_regularizer(name: str, strength: float | None = None, **options: Any) -> Regularizer:
    """Instantiate regularizer ``name`` at ``strength`` (default: its typical value)."""
    return _instantiate(get_regularizer(name), strength, options)


def create_model(name: str, num_classes: int = 10, **options: Any) -> SplitModel:
    """Build model ``name`` as a SplitModel with ``num_classes`` outputs."""
    return get_model(name).builder(num_classes=num_classes, **options)


def identity_strength(plugin: str) -> float:
    """The registered identity strength of augmentation or regularizer ``plugin`` (its record's
    ``Strength.identity``: the one source); 0 for "vanilla" and for names no plugin registered
    (published results of plugins not installed here)."""
    regs = registries()
    for reg in (regs.augmentations, regs.regularizers):
        if plugin in reg:
            return reg.get(plugin).strength.identity
    return 0.0
