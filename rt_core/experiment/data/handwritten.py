"""scikit-learn's bundled handwritten digits (1,797 real 8x8 scans, 16 grey levels), upscaled to
``size`` x ``size`` RGB (bilinear, antialiased where downscaling) as the embedded target domain.

Split 60/20/20 (train 1,078 / val 359 / test 360) by a fixed seeded permutation, stratified by
label so each split has every class. White digit on black, as scanned.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rt_core.experiment.data.cache import cached


def _split_indices(labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        a, b = int(round(0.6 * len(idx))), int(round(0.8 * len(idx)))
        parts["train"] += list(idx[:a])
        parts["val"] += list(idx[a:b])
        parts["test"] += list(idx[b:])
    return {k: rng.permutation(np.array(v)) for k, v in parts.items()}


def _make(split: str, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    idx = _split_indices(digits.target, seed)[split]
    x = torch.from_numpy(digits.images[idx] / 16.0).float().unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    images = (x.repeat(1, 3, 1, 1) * 255).round().to(torch.uint8)
    return images, torch.from_numpy(digits.target[idx]).long()


def load(split: str, root=None, size: int = 32, seed: int = 0):
    """Split ``split`` of the handwritten-digit domain."""
    params = {"split": split, "size": size, "seed": seed, "version": 1}
    return cached("handwritten_digits", params, lambda: _make(split, size, seed))
