"""scikit-learn's bundled handwritten digits (1,797 real 8x8 scans, 16 grey levels), upscaled to
``size`` x ``size`` RGB (bilinear, antialiased where downscaling) as the embedded target domain.

Split 60/20/20 by default (train 1,078 / val 360 / test 359) by a fixed seeded permutation,
stratified by label so each split has every class; ``val_fraction`` and ``test_fraction`` move the
cut points: the train split is the first 1 - val - test of each class's permutation, so with
val + test = 0.4 it is the default's train split. White digit on black,
as scanned.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import torch
import torch.nn.functional as F

from rt_core.errors import RtError
from rt_core.experiment.config import AT_LEAST_ONE, FRACTION, SEED
from rt_core.experiment.data.cache import cached


def _split_indices(labels: np.ndarray, seed: int, val_fraction: float = 0.2,
                   test_fraction: float = 0.2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        a = int(round((1 - val_fraction - test_fraction) * len(idx)))
        b = int(round((1 - test_fraction) * len(idx)))
        parts["train"] += list(idx[:a])
        parts["val"] += list(idx[a:b])
        parts["test"] += list(idx[b:])
    return {k: rng.permutation(np.array(v, dtype=np.int64)) for k, v in parts.items()}


def _make(split: str, size: int, seed: int, val_fraction: float,
          test_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    idx = _split_indices(digits.target, seed, val_fraction, test_fraction)[split]
    x = torch.from_numpy(digits.images[idx] / 16.0).float().unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    images = (x.repeat(1, 3, 1, 1) * 255).round().to(torch.uint8)
    return images, torch.from_numpy(digits.target[idx]).long()


def load(split: str, root=None, size: Annotated[int, AT_LEAST_ONE] = 32, seed: Annotated[int, SEED] = 0,
         val_fraction: Annotated[float, FRACTION] = 0.2, test_fraction: Annotated[float, FRACTION] = 0.2):
    """Split ``split`` of the handwritten-digit domain; the fractions are of each class's images."""
    if not (0 <= val_fraction and 0 < test_fraction and val_fraction + test_fraction < 1):
        raise RtError(f"handwritten_digits: val_fraction {val_fraction} and test_fraction {test_fraction} "
                      "must satisfy 0 <= val, 0 < test and val + test < 1 (default 0.2 and 0.2)")
    params = {"split": split, "size": size, "seed": seed, "val_fraction": val_fraction,
              "test_fraction": test_fraction, "version": 1}
    return cached("handwritten_digits", params, lambda: _make(split, size, seed, val_fraction, test_fraction))
