"""Synthetic printed digits: an SVHN-like source domain rendered with Pillow's built-in font.

Each image: a random background and a contrasting foreground colour, the label digit at a random
size and offset near the centre, distractor digits at the sides (partly cut off, as in house
numbers), and pixel noise. Rendered at 2x then downsampled (antialiased). Deterministic from seed.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from rt_core.experiment.config import AT_LEAST_ONE, FRACTION, SEED, Check
from rt_core.experiment.data.cache import cached

SPLIT_OFFSET = {"train": 0, "val": 1, "test": 2}


def _colours(rng: np.random.Generator) -> tuple[tuple, tuple]:
    """Background and foreground RGB with a luminance difference of at least 0.35."""
    weights = np.array([0.299, 0.587, 0.114])
    while True:
        bg, fg = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        if abs(weights @ bg - weights @ fg) >= 0.35:
            return tuple(int(255 * c) for c in bg), tuple(int(255 * c) for c in fg)


def _draw_digit(draw, font, digit: int, cx: float, cy: float, fill) -> None:
    box = draw.textbbox((0, 0), str(digit), font=font)
    w, h = box[2] - box[0], box[3] - box[1]
    draw.text((cx - w / 2 - box[0], cy - h / 2 - box[1]), str(digit), font=font, fill=fill)


def render(label: int, size: int, rng: np.random.Generator, fonts: dict, distractors: float = 0.7) -> np.ndarray:
    """One (size, size, 3) uint8 image of digit ``label``."""
    big = 2 * size
    bg, fg = _colours(rng)
    img = Image.new("RGB", (big, big), bg)
    draw = ImageDraw.Draw(img)
    px = int(rng.integers(int(0.5 * big), int(0.85 * big) + 1))
    font = fonts.setdefault(px, ImageFont.load_default(size=px))
    cx, cy = big / 2 + rng.uniform(-0.1, 0.1) * big, big / 2 + rng.uniform(-0.08, 0.08) * big
    _draw_digit(draw, font, label, cx, cy, fg)
    for side in (-1, 1):
        if rng.uniform() < distractors:
            gap = rng.uniform(0.55, 0.8) * px
            _draw_digit(draw, font, int(rng.integers(0, 10)), cx + side * gap, cy, fg)
    small = np.asarray(img.resize((size, size), Image.LANCZOS), dtype=np.float32)
    noise = rng.normal(0, rng.uniform(2, 10), small.shape)
    return np.clip(small + noise, 0, 255).astype(np.uint8)


def generate(n: int, size: int, seed: int, distractors: float = 0.7) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` printed digits, balanced labels in random order: uint8 (n, 3, size, size), int64 (n,).
    ``distractors`` is the probability of a distractor digit on each side."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10)
    fonts: dict = {}
    images = np.stack([render(int(y), size, rng, fonts, distractors) for y in labels])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels).long()


def load(split: str, root=None, n_train: Annotated[int, AT_LEAST_ONE] = 5000,
         n_val: Annotated[int, Check(low=0, integer=True)] = 1000, n_test: Annotated[int, AT_LEAST_ONE] = 2000,
         size: Annotated[int, AT_LEAST_ONE] = 32, seed: Annotated[int, SEED] = 0,
         distractors: Annotated[float, FRACTION] = 0.7):
    """Split ``split`` of the printed-digit domain, generated once and cached on disk."""
    n = {"train": n_train, "val": n_val, "test": n_test}[split]
    split_seed = 1000 * seed + SPLIT_OFFSET[split]
    params = {"n": n, "size": size, "seed": split_seed, "distractors": distractors, "version": 1}
    return cached("printed_digits", params, lambda: generate(n, size, split_seed, distractors))
