"""Public look-up and construction functions over the plugin registries."""

from __future__ import annotations

from typing import Any

from rt_core.host.manager import registries


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
    return SpecList(registries().datasets)


def list_models() -> SpecList:
    return SpecList(registries().models)


def get_augmentation(name: str):
    """The AugmentationSpec called ``name`` (PluginError listing the known names otherwise)."""
    return registries().augmentations.get(name)


def get_regularizer(name: str):
    return registries().regularizers.get(name)


def get_dataset(name: str):
    return registries().datasets.get(name)


def get_model(name: str):
    return registries().models.get(name)


def create_augmentation(name: str, strength: float | None = None, **options: Any):
    """Instantiate augmentation ``name`` at ``strength`` (default: its typical value)."""
    spec = get_augmentation(name)
    value = spec.strength.default if strength is None else strength
    return spec.factory(spec.strength.validate(value, name), **options)


def create_regularizer(name: str, strength: float | None = None, **options: Any):
    """Instantiate regularizer ``name`` at ``strength`` (default: its typical value)."""
    spec = get_regularizer(name)
    value = spec.strength.default if strength is None else strength
    return spec.factory(spec.strength.validate(value, name), **options)


def create_model(name: str, num_classes: int = 10, **options: Any):
    """Build model ``name`` as a SplitModel with ``num_classes`` outputs."""
    return get_model(name).builder(num_classes=num_classes, **options)
