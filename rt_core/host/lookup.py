"""Public look-up and construction functions over the plugin registries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rt_core.host.manager import registries
from rt_core.host.registry import AugmentationSpec, DatasetSpec, ModelSpec, PredictorSpec, RegularizerSpec

if TYPE_CHECKING:
    from rt_core.host.augmentation import Augmentation
    from rt_core.host.model import SplitModel
    from rt_core.host.regularizer import Regularizer


class SpecList(list):
    """A list of registry records; ``"name" in specs`` also matches a record by its name.

    >>> import rt_core
    >>> specs = rt_core.list_regularizers()
    >>> "weight_decay" in specs, specs[0] in specs, "nonesuch" in specs
    (True, True, False)
    """

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return any(getattr(r, "name", None) == item for r in self)
        return list.__contains__(self, item)

    def names(self) -> list[str]:
        return [r.name for r in self]


def list_augmentations() -> SpecList:
    """Every registered AugmentationSpec, sorted by name.

    >>> import rt_core
    >>> {"blur", "rescale", "rotation", "translation"} <= set(rt_core.list_augmentations().names())
    True
    """
    return SpecList(registries().augmentations)


def list_regularizers() -> SpecList:
    """Every registered RegularizerSpec, sorted by name.

    >>> import rt_core
    >>> {"adversarial", "jacobian", "last_layer", "weight_decay"} <= set(rt_core.list_regularizers().names())
    True
    """
    return SpecList(registries().regularizers)


def list_datasets() -> SpecList:
    """Every registered DatasetSpec, sorted by name.

    >>> import rt_core
    >>> {d.name: d.needs_root for d in rt_core.list_datasets() if d.name in ("cifar10", "printed_digits")}
    {'cifar10': True, 'printed_digits': False}
    """
    return SpecList(registries().datasets)


def list_models() -> SpecList:
    """Every registered ModelSpec, sorted by name.

    >>> import rt_core
    >>> {"cifar_cnn", "resnet18"} <= set(rt_core.list_models().names())
    True
    """
    return SpecList(registries().models)


def list_predictors() -> SpecList:
    """Every registered PredictorSpec, sorted by name.

    >>> import rt_core
    >>> [spec.name for spec in rt_core.list_predictors()]
    ['gbc', 'hscore', 'leep', 'logme', 'nce', 'transrate']
    """
    return SpecList(registries().predictors)


def get_augmentation(name: str) -> AugmentationSpec:
    """The AugmentationSpec called ``name`` (PluginError listing the known names otherwise).

    >>> import rt_core
    >>> spec = rt_core.get_augmentation("blur")
    >>> spec.strength.label(), spec.strength.identity, spec.linear
    ('sigma (px)', 0.0, True)
    """
    return registries().augmentations.get(name)


def get_regularizer(name: str) -> RegularizerSpec:
    """The RegularizerSpec called ``name`` (PluginError listing the known names otherwise).

    >>> import rt_core
    >>> spec = rt_core.get_regularizer("jacobian")
    >>> spec.acts_on, spec.bound.direction
    ('loss', 'decreasing')
    """
    return registries().regularizers.get(name)


def get_dataset(name: str) -> DatasetSpec:
    """The DatasetSpec called ``name`` (PluginError listing the known names otherwise).

    >>> import rt_core
    >>> spec = rt_core.get_dataset("printed_digits")
    >>> spec.num_classes, spec.plugin
    (10, 'rt_core.experiment.builtin')
    """
    return registries().datasets.get(name)


def get_model(name: str) -> ModelSpec:
    """The ModelSpec called ``name`` (PluginError listing the known names otherwise).

    >>> import rt_core
    >>> rt_core.get_model("resnet18").description
    'CIFAR ResNet-18, 3x3 stem, d=512'
    """
    return registries().models.get(name)


def get_predictor(name: str) -> PredictorSpec:
    """The PredictorSpec called ``name`` (PluginError listing the known names otherwise).

    >>> import rt_core
    >>> spec = rt_core.get_predictor("leep")
    >>> spec.higher_is_better, spec.needs
    (True, ('source_logits',))
    """
    return registries().predictors.get(name)


def _instantiate(spec: AugmentationSpec | RegularizerSpec, strength: float | None, options: dict[str, Any]) -> Any:
    """``spec.factory`` at the validated ``strength`` (default: the record's typical value), with the
    record's identity strength set on the instance (its one source)."""
    value = spec.strength.default if strength is None else strength
    instance = spec.factory(spec.strength.validate(value, spec.name), **options)
    instance.identity_strength = spec.strength.identity
    return instance


def create_augmentation(name: str, strength: float | None = None, **options: Any) -> Augmentation:
    """Instantiate augmentation ``name`` at ``strength`` (default: its typical value).

    >>> import rt_core
    >>> rt_core.create_augmentation("blur", 2.0), rt_core.create_augmentation("rescale").identity_strength
    (GaussianBlur(strength=2.0), 1.0)
    """
    return _instantiate(get_augmentation(name), strength, options)


def create_regularizer(name: str, strength: float | None = None, **options: Any) -> Regularizer:
    """Instantiate regularizer ``name`` at ``strength`` (default: its typical value).

    >>> import rt_core
    >>> rt_core.create_regularizer("weight_decay", 1e-3).optimizer_settings({"lr": 0.1, "weight_decay": 0.0})
    {'lr': 0.1, 'weight_decay': 0.001}
    """
    return _instantiate(get_regularizer(name), strength, options)


def create_model(name: str, num_classes: int = 10, **options: Any) -> SplitModel:
    """Build model ``name`` as a SplitModel with ``num_classes`` outputs.

    >>> import rt_core
    >>> model = rt_core.create_model("cifar_cnn", num_classes=10, width=0.25)
    >>> model.feature_dim, model.head.out_features, rt_core.count_parameters(model)
    (256, 10, 335058)
    """
    return get_model(name).builder(num_classes=num_classes, **options)


def identity_strength(plugin: str) -> float:
    """The registered identity strength of augmentation or regularizer ``plugin`` (its record's
    ``Strength.identity``: the one source); 0 for "vanilla" and for names no plugin registered
    (published results of plugins not installed here).

    >>> import rt_core
    >>> rt_core.identity_strength("rescale"), rt_core.identity_strength("blur"), rt_core.identity_strength("vanilla")
    (1.0, 0.0, 0.0)
    """
    regs = registries()
    for reg in (regs.augmentations, regs.regularizers):
        if plugin in reg:
            return reg.get(plugin).strength.identity
    return 0.0
