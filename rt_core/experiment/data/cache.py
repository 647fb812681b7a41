"""On-disk cache of generated datasets, keyed by a hash of their generation parameters.

Files live in ``$RT_CACHE`` (default ``~/.cache/rt``) as ``NAME-HASH.pt`` holding uint8 images and
int64 labels; writes are atomic (temporary file, then rename); reads use weights_only=True.
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
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"images": images, "labels": labels}, buffer)
    atomic_write(path, buffer.getvalue())


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
