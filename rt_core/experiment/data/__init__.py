"""Datasets, registered through ``rt_register_datasets`` like any plugin's.

Embedded (no download): ``printed_digits`` (synthetic, the default source) and
``handwritten_digits`` (scikit-learn's real scans, the default target). Real, from a root the user
gives: ``cifar10``, ``cifar100``, ``svhn``, ``stl10``, ``image_folder``.
Every loader returns float32 images in [0,1] (N, C, H, W) and int64 labels, for split
``train``, ``val`` or ``test``.
"""

from __future__ import annotations

from functools import partial

import torch

from rt_core.errors import RtError
from rt_core.experiment.data import handwritten, real, synthetic
from rt_core.experiment.data.cache import to_float
from rt_core.host.hookspecs import hookimpl
from rt_core.host.registry import DatasetSpec

SPLITS = ("train", "val", "test")


def _float(loader):
    def load(split: str, root=None, **options) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in SPLITS:
            raise RtError(f"unknown split '{split}'; use one of {', '.join(SPLITS)}")
        images, labels = loader(split, root=root, **options)
        return to_float(images), labels
    return load


@hookimpl
def rt_register_datasets(register):
    register(DatasetSpec("printed_digits", _float(synthetic.load), 10,
                         description="synthetic printed digits, Pillow font, SVHN-like (embedded)"))
    register(DatasetSpec("handwritten_digits", _float(handwritten.load), 10,
                         description="scikit-learn's 1,797 handwritten digits, 8x8 -> 32x32 (embedded)"))
    for name, classes in (("cifar10", 10), ("cifar100", 100), ("svhn", 10), ("stl10", 10)):
        register(DatasetSpec(name, _float(partial(real.load_torchvision, name)), classes,
                             description=f"torchvision {name} from a root you give", needs_root=True))
    register(DatasetSpec("image_folder", _float(real.load_image_folder), 0,
                         description="ROOT/{train,test}/<class>/<image>, resized to 32", needs_root=True))
