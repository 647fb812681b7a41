"""On-disk cache of generated datasets, keyed by a hash of their generation parameters.

Files live in ``$RT_CACHE`` (default ``~/.cache/rt``) as ``NAME-HASH.pt`` holding uint8 images and
int64 labels; writes are atomic (temporary file, then rename); reads use weights_only=True. A cache
folder that cannot be written (``RT_CACHE`` a file, a read-only folder, a full disk) is one RtError
line naming ``RT_CACHE``; so is a corrupt cached file.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import torch

from rt_core.errors import RtError
from rt_core.results.io import atomic_write, content_key


def cache_dir() -> Path:
    return Path(os.environ.get("RT_CACHE", Path.home() / ".cache" / "rt"))


def cache_path(name: str, params: dict) -> Path:
    digest = content_key(params, 16)
    return cache_dir() / f"{name}-{digest}.pt"


def _read(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        blob = torch.load(path, weights_only=True, map_location="cpu")
        return blob["images"], blob["labels"]
    except (RuntimeError, KeyError, EOFError, OSError, ValueError, TypeError, pickle.UnpicklingError) as err:
        raise RtError(f"cached dataset {path} is corrupt ({type(err).__name__}); delete it and rerun "
                      "to regenerate it") from err


def _write(path: Path, images: torch.Tensor, labels: torch.Tensor) -> None:
    buffer = io.BytesIO()
    torch.save({"images": images, "labels": labels}, buffer)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, buffer.getvalue())
    except OSError as err:
        raise RtError(f"RT_CACHE={path.parent}: cannot write the dataset cache there ({err.strerror or err}); set "
                      "RT_CACHE to a folder you can write to (default ~/.cache/rt)") from err


def cached(name: str, params: dict, make: Callable[[], tuple[torch.Tensor, torch.Tensor]]):
    """Return ``(uint8 images, int64 labels)`` from the cache, generating them with ``make()``."""
    path = cache_path(name, params)
    if path.exists():
        return _read(path)
    images, labels = make()
    _write(path, images, labels)
    return images, labels


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 in [0,1]."""
    return images.float().div_(255.0)
