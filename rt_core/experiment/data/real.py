"""Real datasets through torchvision, read from a root the user gives (never downloaded here).

CIFAR-10, CIFAR-100, SVHN, STL-10 (resized to 32x32) and image folders (``root/train/<class>/*``,
``root/test/<class>/*``, resized to 32x32). ``val`` is a fixed, seeded 10% of the train split
(the train split is the other 90%), so nothing is selected on the test set.
A dataset missing from the root is one RtError saying what to download and where to put it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import torch.nn.functional as F

from rt_core.errors import RtError
from rt_core.experiment.config import AT_LEAST_ONE, SEED
from rt_core.experiment.tv import import_torchvision

HINTS = {
    "cifar10": "CIFAR10: cifar-10-batches-py/ (from cifar-10-python.tar.gz)",
    "cifar100": "CIFAR100: cifar-100-python/ (from cifar-100-python.tar.gz)",
    "svhn": "SVHN: train_32x32.mat and test_32x32.mat",
    "stl10": "STL10: stl10_binary/ (from stl10_binary.tar.gz)",
}


def _missing(name: str, root, err: Exception | None = None) -> RtError:
    hint = HINTS.get(name, "")
    return RtError(
        f"dataset '{name}' not found under root '{root}': put {hint} there (e.g. run "
        f"torchvision.datasets on a machine with internet, download=True, and copy the files), "
        f"then pass that folder as the dataset root" + (f" ({err})" if err else "")
    )


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    x = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


def _carve(images, labels, split: str, seed: int):
    """Split the train set: a seeded 10% is ``val``, the rest ``train``; ``test`` passes through."""
    if split == "test":
        return images, labels
    perm = np.random.default_rng(seed).permutation(len(labels))
    n_val = len(labels) // 10
    idx = torch.from_numpy(perm[:n_val] if split == "val" else perm[n_val:])
    return images[idx], labels[idx]


def _torchvision_raw(name: str, root: str, train: bool):
    datasets = import_torchvision().datasets
    if name in ("cifar10", "cifar100"):
        cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
        ds = cls(root=root, train=train, download=False)
        return torch.from_numpy(ds.data).permute(0, 3, 1, 2), torch.tensor(ds.targets)
    split = "train" if train else "test"
    cls = datasets.SVHN if name == "svhn" else datasets.STL10
    ds = cls(root=root, split=split, download=False)
    return torch.from_numpy(ds.data), torch.from_numpy(np.asarray(ds.labels)).long()


def load_torchvision(name: str, split: str, root=None, seed: Annotated[int, SEED] = 0,
                     size: Annotated[int, AT_LEAST_ONE] = 32):
    """uint8 images (N, 3, size, size) and int64 labels of ``split`` from torchvision's reader."""
    if not root or not Path(root).is_dir():
        raise _missing(name, root)
    try:
        images, labels = _torchvision_raw(name, str(root), train=split != "test")
    except (RuntimeError, FileNotFoundError, OSError) as err:
        raise _missing(name, root, err) from err
    return _carve(_resize(images, size), labels, split, seed)


def load_image_folder(split: str, root=None, seed: Annotated[int, SEED] = 0, size: Annotated[int, AT_LEAST_ONE] = 32):
    """``root/train/<class>/*`` (train and val) and ``root/test/<class>/*`` as tensors."""
    folder = Path(root or "") / ("test" if split == "test" else "train")
    if not root or not folder.is_dir():
        raise RtError(f"image folder '{folder}' not found: arrange images as ROOT/train/<class>/<image> "
                      "and ROOT/test/<class>/<image>, then pass ROOT as the dataset root")
    tv = import_torchvision()
    try:
        ds = tv.datasets.ImageFolder(str(folder))
    except FileNotFoundError as err:  # class folders without images, or no class folders at all
        raise RtError(f"image folder '{folder}' holds no images in its class folders ({str(err).splitlines()[0]}); "
                      "put images (.png, .jpg, ...) in ROOT/train/<class>/ and ROOT/test/<class>/") from err
    to_tensor = tv.transforms.functional.pil_to_tensor
    images = torch.stack([_resize(to_tensor(ds.loader(p).convert("RGB")).unsqueeze(0), size)[0]
                          for p, _ in ds.samples])
    labels = torch.tensor([c for _, c in ds.samples])
    return _carve(images, labels, split, seed)
