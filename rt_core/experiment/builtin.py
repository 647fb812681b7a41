"""The host's own datasets and models, registered through ``rt_register_datasets`` and
``rt_register_models`` like any plugin's. Loaders and builders are referenced lazily (their modules,
and torch, are imported on first call or when their signature is read), so loading the plugins for
``rt plugins`` or ``rt --help`` imports no torch."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any

from rt_core.errors import RtError
from rt_core.host.hookspecs import hookimpl
from rt_core.host.registry import DatasetSpec, ModelSpec

SPLITS = ("train", "val", "test")


class Deferred:
    """``module:attr`` (with leading ``args`` bound), imported on first call; ``inspect.signature`` sees the
    target's signature (without the bound arguments), so options can be checked against it."""

    def __init__(self, module: str, attr: str, *args: Any) -> None:
        self.module, self.attr, self.args = module, attr, args

    def target(self) -> Any:
        fn = getattr(importlib.import_module(self.module), self.attr)
        return functools.partial(fn, *self.args) if self.args else fn

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.target())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.target()(*args, **kwargs)

    def __reduce__(self):  # picklable for Ray workers
        return (Deferred, (self.module, self.attr, *self.args))


class FloatLoader(Deferred):
    """A uint8 loader made float: checks the split, returns (float32 images in [0,1], int64 labels)."""

    def __call__(self, split: str, root=None, **options: Any):
        if split not in SPLITS:
            raise RtError(f"unknown split '{split}'; use one of {', '.join(SPLITS)}")
        from rt_core.experiment.data.cache import to_float  # imports torch: deferred like the loaders

        images, labels = self.target()(split, root=root, **options)
        return to_float(images), labels

    def __reduce__(self):
        return (FloatLoader, (self.module, self.attr, *self.args))


DATA = "rt_core.experiment.data"


@hookimpl
def rt_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    register(DatasetSpec("printed_digits", FloatLoader(f"{DATA}.synthetic", "load"), 10,
                         description="synthetic printed digits, Pillow font, SVHN-like (embedded)"))
    register(DatasetSpec("handwritten_digits", FloatLoader(f"{DATA}.handwritten", "load"), 10,
                         description="scikit-learn's 1,797 handwritten digits, 8x8 -> 32x32 (embedded)"))
    for name, classes in (("cifar10", 10), ("cifar100", 100), ("svhn", 10), ("stl10", 10)):
        register(DatasetSpec(name, FloatLoader(f"{DATA}.real", "load_torchvision", name), classes,
                             description=f"torchvision {name} from a root you give", needs_root=True))
    register(DatasetSpec("image_folder", FloatLoader(f"{DATA}.real", "load_image_folder"), 0,
                         description="ROOT/{train,test}/<class>/<image>, resized to 32", needs_root=True))


@hookimpl
def rt_register_models(register: Callable[[ModelSpec], None]) -> None:
    models = "rt_core.experiment.models"
    register(ModelSpec("cifar_cnn", Deferred(models, "cifar_cnn"), "[XU22] CIFAR CNN, no BN, d=256"))
    register(ModelSpec("resnet18", Deferred(models, "resnet18"), "CIFAR ResNet-18, 3x3 stem, d=512"))
    resnets = "rt_core.experiment.resnets"
    register(ModelSpec("tv_resnet18", Deferred(resnets, "tv_resnet18"),
                       "torchvision's ResNet-18 (loads torchvision/timm checkpoints), d=512"))
    register(ModelSpec("tv_resnet50", Deferred(resnets, "tv_resnet50"),
                       "torchvision's ResNet-50 (loads torchvision/timm checkpoints), d=2048"))
